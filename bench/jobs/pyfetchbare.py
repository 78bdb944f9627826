"""What an asyncio script without longhaul does: CONCURRENCY calls in flight to URL, each answer appended to OUT as a
JSON line (as json.dumps writes it, no fsync), until ITEMS are made.

    python3 pyfetchbare.py URL CONCURRENCY ITEMS OUT
"""
import asyncio
import json
import sys

from pyhttp import get_json


async def main(url, concurrency, items, out):
    next_index = 0
    with open(out, "a") as file:

        async def worker():
            nonlocal next_index
            while next_index < items:
                index = next_index
                next_index += 1
                file.write(json.dumps(await get_json(f"{url}/item/{index}"), separators=(",", ":")) + "\n")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
