"""The trivial bench job in Python: each item is {"i": index} as a JSON line, as trivial.ts makes it. With
BENCH_ANNOUNCE_FILE set, the first item at or after BENCH_ANNOUNCE_FROM made in each worker process appends
"index epoch-ms" to that file: the moment a new item was made, for the resume benchmark."""
import os
import time

import longhaul

_file = os.environ.get("BENCH_ANNOUNCE_FILE")
_from = int(os.environ.get("BENCH_ANNOUNCE_FROM", "-1"))
_announced = False


def item(index, ctx):
    global _announced
    if _file and not _announced and index >= _from >= 0:
        _announced = True
        with open(_file, "a") as out:
            out.write(f"{index} {time.time() * 1000:.3f}\n")
    return {"i": index}


job = longhaul.define_job(name="pytrivial", total=1000, item=item, output=longhaul.jsonl())
