"""The work of one bench item in Python: `rounds` passes of numpy arithmetic over a small array (no sleeping, no
clock: the same CPU work in any process), shared by the longhaul job (pybusy.py) and the bare loop (pybare.py)."""
import numpy as np


def work(index, rounds):
    """A deterministic float64 row of 8 values for item `index`."""
    x = np.linspace(0.0, 1.0, 8) + index
    for _ in range(rounds):
        x = np.sin(x) * 1.5 + 0.25
    return x
