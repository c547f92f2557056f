"""Which playlist scene plays at playlist time t, and whether the show is open: pure functions.

The playlist clock counts seconds of show (it stands still outside opening hours and while the
program is not running), so a restart resumes at the saved clock and the same scene. Scenes
follow one another in cycles: each cycle plays every scene once, in the file's order or in a
shuffled order that depends only on (seed, cycle), so a test, a restart and a second machine
with the same seed agree. A shuffled cycle never starts with the scene that ended the one
before (no scene twice in a row).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OUTSIDE = ("blackout", "pause")


@dataclass(frozen=True)
class Slot:
    """One scene's turn: ``entry`` indexes the playlist, ``position`` counts turns since the
    playlist began (cycle * scenes + place in the cycle); ``start``/``end`` in playlist
    seconds."""

    position: int
    entry: int
    start: float
    end: float


def cycle_order(n: int, cycle: int, *, shuffle: bool = False, seed: int = 0) -> list[int]:
    """The entries of cycle ``cycle`` in playing order (``n`` >= 1 entries).

    Shuffled: a permutation seeded by (seed, cycle); if it would begin with the entry that
    ended the previous cycle, its first two places swap. With two entries every cycle is
    cycle 0's order, so they alternate.
    """
    if n < 1:
        raise ValueError("a playlist needs at least one entry")
    if not shuffle or n == 1:
        return list(range(n))
    if n == 2:
        cycle = 0
    order = _permutation(n, cycle, seed)
    if cycle > 0 and order[0] == _permutation(n, cycle - 1, seed)[-1]:
        order[0], order[1] = order[1], order[0]   # n > 2: the swap never moves a last place
    return order


def _permutation(n: int, cycle: int, seed: int) -> list[int]:
    order = list(range(n))
    random.Random(f"latentsketch-playlist/{seed}/{cycle}").shuffle(order)
    return order


def slot_at(durations: Sequence[float], t: float, *, shuffle: bool = False,
            seed: int = 0) -> Slot:
    """The scene playing at playlist time ``t`` >= 0 (seconds); ``durations`` in seconds,
    each > 0, in the file's order. Raises ValueError for an empty playlist or a bad duration."""
    n = len(durations)
    if n == 0 or any(not d > 0 for d in durations):
        raise ValueError("a playlist needs entries with durations > 0")
    total = float(sum(durations))
    t = max(0.0, float(t))
    cycle = int(t // total)
    start = cycle * total
    order = cycle_order(n, cycle, shuffle=shuffle, seed=seed)
    for k, entry in enumerate(order):
        end = start + durations[entry]
        if t < end or k == n - 1:   # float rounding at the cycle's end stays in this cycle
            return Slot(cycle * n + k, entry, start, end)
        start = end
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Hours:
    """Opening hours: open from ``opens`` to ``closes`` local time (across midnight when
    ``closes`` <= ``opens``) on ``days`` (0 = Monday; a night that crosses midnight belongs
    to the day it began). ``outside``: what the show does when closed, "blackout" (fade to
    black) or "pause" (the picture holds still)."""

    opens: dt.time
    closes: dt.time
    days: frozenset[int] = frozenset(range(7))
    outside: str = "blackout"


def is_open(hours: Hours | None, when: dt.datetime) -> bool:
    """Whether the show plays at local time ``when`` (always, without hours)."""
    if hours is None:
        return True
    now = when.time()
    if hours.opens < hours.closes:
        return hours.opens <= now < hours.closes and when.weekday() in hours.days
    if now >= hours.opens:   # the evening part of a night across midnight
        return when.weekday() in hours.days
    if now < hours.closes:   # the small hours: yesterday's night
        return (when.weekday() - 1) % 7 in hours.days
    return False
