"""The job's non-functional test: SIGKILLed and resumed, it loses nothing, duplicates nothing and makes the same items.

    python3 -m pytest test_gen.py
"""
import os

import longhaul

JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen.py")


def test_crash_safe():
    longhaul.testing.expect_crash_safe(JOB, total=200, kills=3)
