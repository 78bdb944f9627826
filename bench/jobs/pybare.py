"""What a Python script without longhaul does: the same items in a loop, saved as one .npy at the end (np.save, no
fsync).

    python3 pybare.py ROUNDS ITEMS OUT.npy [FIRST]  the loop, over items FIRST … FIRST+ITEMS-1 (FIRST: 0)
    python3 pybare.py calibrate MS             prints the rounds that take about MS ms here
"""
import sys
import time

import numpy as np
from pywork import work


def calibrate(ms):
    probe = 200
    for index in range(20):
        work(index, probe)
    # The fastest of 7 batches: on a shared machine the slower ones measure the neighbours.
    batches = []
    for _ in range(7):
        started = time.perf_counter()
        for index in range(20):
            work(index, probe)
        batches.append((time.perf_counter() - started) * 1000 / (20 * probe))
    return max(1, round(ms / min(batches)))


if __name__ == "__main__":
    if sys.argv[1] == "calibrate":
        print(calibrate(float(sys.argv[2])))
    else:
        rounds, items, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
        first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        rows = [work(index, rounds) for index in range(first, first + items)]
        np.save(out, np.stack(rows))
