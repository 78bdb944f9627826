"""Each item is one HTTP call to `url` (the bench's local server, which answers after a delay), its answer the item's
record: a Python item that waits on another service, made many at a time with --concurrency."""
import longhaul
from pyhttp import get_json


async def item(index, ctx):
    return await get_json(f"{ctx.params['url']}/item/{index}")


job = longhaul.define_job(name="bench-pyfetch", total=1000, item=item, params={"url": ""}, output=longhaul.jsonl())
