"""Latent walks: seeded, tick-based paths in unit coordinates, pure functions of (seed, ticks).

A walk is a ``WalkState`` value plus two pure functions: ``advance`` moves it on by a number of
fixed ticks and ``position`` says where it is, in unit coordinates ``w`` (typical spread 1 per
dimension). The engine maps ``w`` to standardised coordinates as ``u = centre + temperature * w``
and owns pins, glides and the clock; nothing here knows about frames.

Randomness is counter-based: every random number is a hash of (seed, stream, index), with the
index derived from the tick counter or the epoch, so a path does not depend on how ticks are
grouped into frames (the frame rate) and no generator object lives in the state. ``advance``
over k ticks is closed-form, so a frame costs the same whether it spans 1 tick or 60.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from latentsketch.latent import exactmath as xm
from latentsketch.latent.interp import ease, slerp

# Rates at walk.speed = 1, chosen so every mode moves each dimension about 0.5 std per second.
DRIFT_TAU = 2.0            # s, time constant of the (smoothed) Ornstein-Uhlenbeck drift
NOISE_RATES = (0.15, 0.75)  # rad/s, range of the per-dimension noise frequencies
NOISE_TERMS = 6            # cosines per dimension
ORBIT_RATE = 0.5           # rad/s around the great circle
TOUR_TRAVEL = 3.0          # s from one keyframe to the next
TOUR_EASING = "cosine"

_DRIFT, _TARGET, _ORBIT, _NOISE, _TOUR = 1, 2, 3, 4, 5  # random streams

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_U_GOLDEN = np.uint64(_GOLDEN)
_U_M1 = np.uint64(0xBF58476D1CE4E5B9)
_U_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(n) for n in (30, 27, 31, 11))


def _mix_int(x: int) -> int:
    """splitmix64's finaliser on a Python int (for keys)."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def uniforms(seed: int, stream: int, start: int, count: int) -> np.ndarray:
    """Uniforms in (0, 1) at indices ``start .. start+count-1`` of the (seed, stream) sequence."""
    key = np.uint64(_mix_int(_mix_int(seed) + stream * _GOLDEN))
    z = np.arange(start, start + count, dtype=np.uint64) * _U_GOLDEN + key
    z = (z ^ (z >> _S30)) * _U_M1
    z = (z ^ (z >> _S27)) * _U_M2
    z = z ^ (z >> _S31)
    return ((z >> _S11).astype(np.float64) + 0.5) * (1.0 / (1 << 53))


def normals(seed: int, stream: int, start: int, count: int) -> np.ndarray:
    """Standard normals at indices ``start .. start+count-1`` (Box-Muller on index pairs)."""
    p0 = start // 2
    pairs = (start + count + 1) // 2 - p0
    u = uniforms(seed, stream, 2 * p0, 2 * pairs)
    r = np.sqrt(-2.0 * xm.log(u[0::2]))
    a = 2.0 * np.pi * u[1::2]
    out = np.empty(2 * pairs)
    out[0::2] = r * xm.cos(a)
    out[1::2] = r * xm.sin(a)
    off = start - 2 * p0
    return out[off:off + count]


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True, eq=False)
class WalkState:
    """Where every walk mode is; arrays are float64, read-only, replaced and never mutated."""

    dim: int
    seed: int
    epoch: int               # bumped by new_target: fresh orbit plane, noise field, drift point
    clock: float             # speed-scaled seconds: the phase of noise and orbit
    drift_x: np.ndarray      # Ornstein-Uhlenbeck state (variance ~2)
    drift_y: np.ndarray      # x low-passed: the drift's smooth position (variance 1)
    tour_seg: int            # travelling from point seg to point seg+1
    tour_dwelt: float        # seconds spent at the segment's start
    tour_s: float            # travel fraction 0..1 (0 while dwelling)
    tour_start: np.ndarray | None  # overrides point seg (the tour starts where the picture was)
    basis: np.ndarray        # (2, dim) orthonormal orbit plane of this epoch
    freq: np.ndarray         # (dim, NOISE_TERMS) rad/s
    phase: np.ndarray        # (dim, NOISE_TERMS) rad


def _epoch_arrays(dim: int, seed: int, epoch: int) -> tuple[np.ndarray, ...]:
    e1, e2 = normals(seed, _ORBIT, 2 * dim * epoch, 2 * dim).reshape(2, dim)
    e1 = e1 / max(math.sqrt(np.sum(e1 * e1)), 1e-12)  # np.sum, not BLAS: bit-reproducible
    e2 = e2 - np.sum(e2 * e1) * e1
    e2 = e2 / max(math.sqrt(np.sum(e2 * e2)), 1e-12)
    n = dim * NOISE_TERMS
    u = uniforms(seed, _NOISE, 2 * n * epoch, 2 * n)
    lo, hi = NOISE_RATES
    freq = (lo + (hi - lo) * u[:n]).reshape(dim, NOISE_TERMS)
    phase = (2.0 * np.pi * u[n:]).reshape(dim, NOISE_TERMS)
    y, dx = normals(seed, _TARGET, 2 * dim * epoch, 2 * dim).reshape(2, dim)
    return _ro(np.stack([e1, e2])), _ro(freq), _ro(phase), _ro(y), _ro(y + dx)


def initial_walk(dim: int, seed: int) -> WalkState:
    """Epoch 0, with the drift already spread like its stationary distribution."""
    basis, freq, phase, y, x = _epoch_arrays(dim, seed, 0)
    return WalkState(dim, seed, 0, 0.0, x, y, 0, 0.0, 0.0, None, basis, freq, phase)


def new_target(ws: WalkState, mode: str) -> WalkState:
    """A fresh destination: the next keyframe in a tour, a new random epoch otherwise."""
    if mode == "tour":  # arrive at the point the current segment heads for, and dwell there
        return replace(ws, tour_seg=ws.tour_seg + 1, tour_dwelt=0.0, tour_s=0.0, tour_start=None)
    basis, freq, phase, y, x = _epoch_arrays(ws.dim, ws.seed, ws.epoch + 1)
    return replace(ws, epoch=ws.epoch + 1, basis=basis, freq=freq, phase=phase,
                   drift_x=x, drift_y=y)


def start_at(ws: WalkState, mode: str, w: np.ndarray) -> WalkState:
    """Continue ``mode`` from the unit point ``w`` where it can (drift, tour); else unchanged."""
    if mode == "drift":
        p = _ro(np.array(w, np.float64))
        return replace(ws, drift_x=p, drift_y=p)
    if mode == "tour":
        return replace(ws, tour_start=_ro(np.array(w, np.float64)), tour_dwelt=0.0, tour_s=0.0)
    return ws


def drift_noise(seed: int, tick0: int, ticks: int, dim: int) -> np.ndarray:
    """The drift's white noise for ticks ``tick0 .. tick0+ticks-1``: shape (ticks, dim).

    Zero-mean, unit-variance uniform draws (half the cost of Gaussian ones): the smoothed drift
    sums hundreds of ticks per time constant, so its path is Gaussian by the central limit.
    """
    u = uniforms(seed, _DRIFT, tick0 * dim, ticks * dim).reshape(ticks, dim)
    return (u - 0.5) * math.sqrt(12.0)


def _drift(
    x0: np.ndarray, y0: np.ndarray, xi: np.ndarray, a: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed form of ``x <- a x + b xi; y <- a y + (1-a) x`` over m = len(xi) ticks.

    Returns (x_m, y_m, y_{m-1}). ``b`` makes y's stationary variance exactly 1:
    Var(y) = b^2 (1+a^2) / ((1-a^2) (1+a)^2). The weighted sums add rows elementwise (no BLAS),
    so results are bit-reproducible.
    """
    m = xi.shape[0]
    b = (1.0 + a) * math.sqrt((1.0 - a * a) / (1.0 + a * a))
    c = 1.0 - a
    pw = [a ** n for n in range(m + 1)]   # a^0 .. a^m
    w = np.array([
        [pw[m], 0.0] + [b * pw[m - 1 - j] for j in range(m)],
        [c * m * pw[m], pw[m]] + [c * b * (m - j) * pw[m - 1 - j] for j in range(m)],
        [c * (m - 1) * pw[m - 1], pw[m - 1]]
        + [c * b * (m - 1 - j) * pw[m - 2 - j] for j in range(m - 1)] + [0.0],
    ])
    r = (w[:, :, None] * np.vstack((x0, y0, xi))[None]).sum(axis=1)
    return _ro(r[0]), _ro(r[1]), r[2]


def _tour(ws: WalkState, ticks: int, h: float, speed: float, dwell: float) -> WalkState:
    """Dwell ``dwell`` real seconds at a segment's start, then travel at ``speed``."""
    seg, dwelt, s, start = ws.tour_seg, ws.tour_dwelt, ws.tour_s, ws.tour_start
    rate = speed * h / TOUR_TRAVEL
    left = ticks
    while left > 0:
        if s == 0.0 and dwelt < dwell:
            need = max(1, math.ceil((dwell - dwelt) / h - 1e-9))
            m = min(need, left)
            dwelt = max(dwelt + m * h, dwell) if m == need else dwelt + m * h
        elif rate > 0.0:
            need = max(1, math.ceil((1.0 - s) / rate - 1e-9))
            m = min(need, left)
            if m == need:
                seg, dwelt, s, start = seg + 1, 0.0, 0.0, None
            else:
                s += m * rate
        else:
            break
        left -= m
    return replace(ws, tour_seg=seg, tour_dwelt=dwelt, tour_s=s, tour_start=start)


def advance(
    ws: WalkState, mode: str, tick0: int, ticks: int, *, h: float, speed: float, dwell: float,
    noise: np.ndarray | None = None,
) -> WalkState:
    """Move the walk on by ``ticks`` ticks of ``h`` seconds, starting at global tick ``tick0``.

    Only the active mode's state moves (the others restart from the picture when chosen), plus
    the shared clock. ``noise`` may pass ``drift_noise(...)`` precomputed for these ticks.
    """
    if ticks <= 0:
        return ws
    clock = ws.clock + ticks * speed * h
    if mode == "drift":
        xi = drift_noise(ws.seed, tick0, ticks, ws.dim) if noise is None else noise
        x, y, _ = _drift(ws.drift_x, ws.drift_y, xi, math.exp(-speed * h / DRIFT_TAU))
        return replace(ws, clock=clock, drift_x=x, drift_y=y)
    if mode == "tour":
        return replace(_tour(ws, ticks, h, speed, dwell), clock=clock)
    return replace(ws, clock=clock)


def move(
    ws: WalkState, mode: str, tick0: int, ticks: int, *, h: float, speed: float, dwell: float,
    keys: np.ndarray | None = None,
) -> tuple[WalkState, np.ndarray, np.ndarray]:
    """``advance`` by ``ticks`` >= 1 and also say where the walk was one tick before the end.

    Returns (new state, position at tick ``tick0+ticks-1``, position at ``tick0+ticks``): the
    two points the engine interpolates between, computed in one pass per frame.
    """
    if mode == "drift":
        xi = drift_noise(ws.seed, tick0, ticks, ws.dim)
        x, y, y_prev = _drift(ws.drift_x, ws.drift_y, xi, math.exp(-speed * h / DRIFT_TAU))
        return replace(ws, clock=ws.clock + ticks * speed * h, drift_x=x, drift_y=y), y_prev, y
    if mode == "tour":
        mid = _tour(ws, ticks - 1, h, speed, dwell)
        new = replace(_tour(mid, 1, h, speed, dwell), clock=ws.clock + ticks * speed * h)
        points: dict[int, np.ndarray] = {}  # both ticks usually share a segment: fetch once

        def point(i: int) -> np.ndarray:
            if i not in points:
                points[i] = tour_point(ws, keys, i)
            return points[i]

        return new, _tour_at(mid, point), _tour_at(new, point)
    new = replace(ws, clock=ws.clock + ticks * speed * h)
    prev = position(replace(ws, clock=ws.clock + (ticks - 1) * speed * h), mode)
    return new, prev, position(new, mode)


def tour_point(ws: WalkState, keys: np.ndarray | None, i: int) -> np.ndarray:
    """Keyframe ``i`` of the tour, cycling through ``keys``; random typical points without keys."""
    if keys is not None and len(keys) >= 2:
        return np.asarray(keys[i % len(keys)], np.float64)
    return normals(ws.seed, _TOUR, i * ws.dim, ws.dim)


def position(ws: WalkState, mode: str, keys: np.ndarray | None = None) -> np.ndarray:
    """Where ``mode`` is, in unit coordinates (float64, raw order)."""
    if mode == "drift":
        return ws.drift_y
    if mode == "noise":
        c = xm.cos(ws.freq * ws.clock + ws.phase).sum(axis=1)
        return c * math.sqrt(2.0 / NOISE_TERMS)
    if mode == "orbit":
        t = ORBIT_RATE * ws.clock
        return math.sqrt(ws.dim) * (math.cos(t) * ws.basis[0] + math.sin(t) * ws.basis[1])
    if mode == "tour":
        return _tour_at(ws, lambda i: tour_point(ws, keys, i))
    raise ValueError(f"unknown walk mode {mode!r}")


def _tour_at(ws: WalkState, point: Callable[[int], np.ndarray]) -> np.ndarray:
    a = ws.tour_start if ws.tour_start is not None else point(ws.tour_seg)
    if ws.tour_s <= 0.0:
        return a
    return slerp(a, point(ws.tour_seg + 1), float(ease(ws.tour_s, TOUR_EASING)))
