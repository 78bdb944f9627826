"""Lets the job's tests `import longhaul` as `longhaul run` does: from the longhaul package in node_modules."""
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
while True:
    _candidate = os.path.join(_here, "node_modules", "longhaul", "python")
    if os.path.isfile(os.path.join(_candidate, "longhaul.py")):
        sys.path.insert(0, _candidate)
        break
    if os.path.dirname(_here) == _here:
        break
    _here = os.path.dirname(_here)
