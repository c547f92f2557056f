"""The tour: dwell on a keyframe, travel along an eased slerp to the next, and so on.

A ``TourPlan`` says where and how long: keys (unit coordinates, raw order), a hold per key in
real seconds, a travel time per segment at ``walk.speed`` 1, and whether the tour loops or stops
at its last key. The live window builds one from a preset (its keyframes and their ``hold``),
the model's keyframes or the stored slots; ``render`` builds one from the request (``--hold``,
``--duration``, ``--seconds-per-segment``, ``--frames-per-segment``, ``--loop``). Both then run
it through ``engine.step``, so a tour plays the same live and offline.

Time is continuous: a hold or a segment may end between two engine ticks and the rest of that
tick goes on to the next phase, so a tour of T seconds takes T seconds at any frame rate (not T
rounded up to whole ticks per key).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from latentsketch.latent import randoms
from latentsketch.latent.interp import ease, slerp

TOUR_TRAVEL = 3.0      # s from one keyframe to the next at walk.speed 1
MIN_TRAVEL = 1e-3      # s: a shorter segment would need thousands of phases per frame
MAX_HOLD = 3600.0      # s
_SNAP = 1.0 + 1e-9     # a phase ending within float noise of a step's end ends in that step,
#                        so a key due on a frame boundary is shown exactly on that frame


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True, eq=False)
class TourPlan:
    """Where a tour goes and how long it takes; validated by ``TourPlan.make``.

    ``keys`` (K >= 2, D) float64 read-only, or None for random typical points (a model without
    keyframes and fewer than two stored slots). ``holds[i]`` is the hold at key ``i`` in real
    seconds, None for ``walk.dwell``; missing entries mean None.
    """

    keys: np.ndarray | None = None
    holds: tuple[float | None, ...] = ()
    travel: float = TOUR_TRAVEL
    loop: bool = True

    @classmethod
    def make(cls, keys: np.ndarray | Sequence[Sequence[float]] | None, dim: int,
             holds: Sequence[float | None] = (), travel: float = TOUR_TRAVEL,
             loop: bool = True, limit: float = math.inf) -> TourPlan:
        """A checked plan; ValueError with a one-line reason. Keys are clipped to ``limit``."""
        k = None
        if keys is not None:
            try:
                k = np.array(keys, np.float64)
            except (TypeError, ValueError):
                raise ValueError("keyframes are not lists of numbers") from None
            if k.ndim != 2 or k.shape[1] != dim:
                raise ValueError(f"keyframes must be {dim} numbers each, got shape {k.shape}")
            if len(k) < 2:
                raise ValueError(f"a tour needs at least 2 keyframes, got {len(k)}")
            if not np.all(np.isfinite(k)):
                raise ValueError("keyframes contain NaN or infinity")
            k = _ro(np.clip(k, -limit, limit))
        out: list[float | None] = []
        for i, h in enumerate(holds):
            if h is not None and not (isinstance(h, int | float) and 0.0 <= h <= MAX_HOLD):
                raise ValueError(f"hold {h!r} at keyframe {i + 1} is not 0..{MAX_HOLD:g} s")
            out.append(None if h is None else float(h))
        if not (isinstance(travel, int | float) and MIN_TRAVEL <= travel < math.inf):
            raise ValueError(f"travel time {travel!r} must be at least {MIN_TRAVEL:g} s")
        return cls(k, tuple(out), float(travel), bool(loop))

    @property
    def count(self) -> int:
        """Keys in one round (0 for random points, which never repeat)."""
        return 0 if self.keys is None else len(self.keys)

    def hold(self, seg: int, dwell: float) -> float:
        """Seconds to hold at the key segment ``seg`` starts from."""
        h = self.holds[seg % self.count] if self.count and seg % self.count < len(self.holds) \
            else None
        return dwell if h is None else h

    def ended(self, seg: int) -> bool:
        """At the last key of a tour that does not loop: it stays there."""
        return not self.loop and self.count > 0 and seg >= self.count - 1

    def point(self, seg: int, seed: int, dim: int) -> np.ndarray:
        """Key ``seg`` (cycling), or the ``seg``-th random typical point of ``seed``."""
        if self.keys is not None:
            return self.keys[seg % self.count]
        return randoms.normals(seed, randoms.TOUR, seg * dim, dim)

    def duration(self, dwell: float, speed: float = 1.0) -> float:
        """Seconds of one round: every key's hold and the travels between them, including the
        way back to the first key when looping (without, the last key's hold ends it).
        Infinite for random points or ``speed`` 0."""
        if not self.count or speed <= 0.0:
            return math.inf
        segments = self.count if self.loop else self.count - 1
        return sum(self.hold(i, dwell) for i in range(self.count)) + \
            segments * self.travel / speed


@dataclass(frozen=True, slots=True, eq=False)
class TourProgress:
    """How far a tour has come: segment ``seg`` (from point seg to seg+1), seconds held at its
    start, and the travel fraction 0..1 (0 while holding). ``start`` overrides point ``seg``:
    a tour chosen mid-show starts where the picture was."""

    seg: int = 0
    held: float = 0.0
    s: float = 0.0
    start: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class Grid:
    """Lines in walk time (seconds on the walk clock) that a quantised tour keeps to, at
    ``anchor + k * period`` for every integer k: the beats or bars of the tempo clock."""

    anchor: float
    period: float

    def wait(self, t: float) -> float:
        """Seconds from walk time ``t`` to the first line at or after it (0 on a line)."""
        k = math.ceil((t - self.anchor) / self.period - 1e-6)
        return max(0.0, self.anchor + k * self.period - t)

    def travel(self, seconds: float) -> float:
        """A travel of ``seconds`` rounded to whole periods (at least one)."""
        return max(1, round(seconds / self.period)) * self.period


def advance(p: TourProgress, plan: TourPlan, seconds: float, speed: float,
            dwell: float, grid: Grid | None = None, t0: float = 0.0) -> TourProgress:
    """Move on ``seconds``: hold ``plan.hold`` real seconds at a key, then travel at ``speed``
    (a segment takes ``plan.travel / speed`` s). A phase that ends mid-step hands the rest of
    the step to the next phase. With a ``grid`` (``t0``: the walk time now) a hold lasts until
    the first grid line at or after its end and a travel takes whole grid periods, so every
    departure and arrival falls on a line."""
    if grid is not None:
        return _advance_on_grid(p, plan, seconds, speed, dwell, grid, t0)
    seg, held, s, start = p.seg, p.held, p.s, p.start
    left = seconds
    while left > 0.0 and not plan.ended(seg):
        hold = plan.hold(seg, dwell)
        if s == 0.0 and held < hold:
            need = hold - held
            if need > left * _SNAP:
                held += left
                break
            held, left = hold, max(0.0, left - need)
        elif speed > 0.0:
            rate = speed / plan.travel            # travel fraction per second
            need = max(0.0, (1.0 - s) / rate)
            if need > left * _SNAP:
                s += left * rate
                break
            seg, held, s, start, left = seg + 1, 0.0, 0.0, None, max(0.0, left - need)
        else:
            break
    if (seg, held, s) == (p.seg, p.held, p.s) and start is p.start:
        return p
    return TourProgress(seg, held, s, start)


def _advance_on_grid(p: TourProgress, plan: TourPlan, seconds: float, speed: float,
                     dwell: float, grid: Grid, t0: float) -> TourProgress:
    """``advance`` keeping to ``grid``: a key is left on a line, and reached on one."""
    seg, held, s, start = p.seg, p.held, p.s, p.start
    left, t = seconds, t0
    while left > 0.0 and not plan.ended(seg):
        if s == 0.0:
            need = max(0.0, plan.hold(seg, dwell) - held)
            need += grid.wait(t + need)
            if need > left * _SNAP:
                held += left
                break
            used = min(need, left)
            held, left, t = held + used, left - used, t + used
        if speed <= 0.0:
            break
        rate = 1.0 / grid.travel(plan.travel / speed)     # travel fraction per second
        need = max(0.0, (1.0 - s) / rate)
        if need > left * _SNAP:
            s = max(s + left * rate, 1e-12)   # s > 0: the key is left, its hold is over
            break
        used = min(need, left)
        seg, held, s, start, left, t = seg + 1, 0.0, 0.0, None, left - used, t + used
    if (seg, held, s) == (p.seg, p.held, p.s) and start is p.start:
        return p
    return TourProgress(seg, held, s, start)


def position(p: TourProgress, point: Callable[[int], np.ndarray], easing: str) -> np.ndarray:
    """Where the tour is, in unit coordinates (float64, raw order); ``point(i)`` is key ``i``
    (``TourPlan.point``, perhaps cached: both ends of a frame usually share a segment)."""
    a = p.start if p.start is not None else point(p.seg)
    if p.s <= 0.0:
        return a
    return slerp(a, point(p.seg + 1), float(ease(min(p.s, 1.0), easing)))


def start_at(p: TourProgress, w: np.ndarray) -> TourProgress:
    """Hold at ``w`` (the picture), then travel on to the next key."""
    return replace(p, held=0.0, s=0.0, start=_ro(np.array(w, np.float64)))


def next_key(p: TourProgress, plan: TourPlan) -> TourProgress:
    """Arrive at the key the current segment heads for, and hold there (at the last key of a
    tour that does not loop, stay)."""
    return p if plan.ended(p.seg) else TourProgress(p.seg + 1)
