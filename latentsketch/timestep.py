"""The one clamp on time steps: every consumer of a frame's ``dt`` goes through ``clamp_dt``.

A frame's wall-clock dt can be anything: seconds after ``kill -STOP``, a suspended laptop, a
long GC or disk stall; NaN or negative from a broken clock. Whatever moves with time (the
walk, held-key nudges, mapping glides, trails and fades) must not leap by that much in one
frame: after a stall the show resumes where it was, it does not catch up. One function, so
the live loop, the offline exporter and a replay all advance by the same amount for the same
logged dt.
"""

from __future__ import annotations

import math

MAX_DT = 0.25  # s; the longest step anything advances in one frame


def clamp_dt(dt: float) -> float:
    """``dt`` in seconds as a step to advance by: 0 for NaN, inf, negative or non-numbers,
    at most ``MAX_DT``."""
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(dt) or dt <= 0.0:
        return 0.0
    return min(dt, MAX_DT)
