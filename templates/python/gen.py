"""A longhaul map job in Python: items 0 … total-1, each made from its index alone.

    npx longhaul run gen.py --total 100
    npx longhaul preflight gen.py --target 100000   # before a production-scale run
"""
import longhaul


def item(index, ctx):
    # ctx.rng (a numpy Generator) and ctx.random depend on (seed, index) only: the same item is made the same on any
    # worker, in any order, after any crash. Draw from them, never from random.random() or np.random.
    x = float(ctx.rng.normal(0, 1))
    return {"index": index, "x": x, "label": ctx.random.randrange(4)}


def validate(record, index):
    # Checks one record as it was written; preflight runs it on every rehearsal record.
    return record["label"] in (0, 1, 2, 3) or f"label {record['label']} is not a class"


job = longhaul.define_job(name="__NAME__", total=1_000, item=item, output=longhaul.jsonl(), validate=validate)
