"""Latent walks: seeded, tick-based paths in unit coordinates, one class per mode in a registry.

A walk is a ``WalkState`` value plus a ``WalkMode`` that moves it on by a number of fixed ticks
(``advance``) and says where it is (``position``), in unit coordinates ``w`` (typical spread 1 per
dimension). The engine maps ``w`` to standardised coordinates as ``u = centre + temperature * w``
and owns pins, glides and the clock; nothing here knows about frames.

``WALKS`` is the registry: its order is the ``walk.mode`` enum (stored as an index in presets'
state and control logs, so new modes are appended, never inserted), and ``params.WALK_MODES``,
the OSC enum, MIDI targets and the help derive from it. Adding a mode is one class with
``@register`` plus a test.

Randomness is counter-based (``randoms``), so a path does not depend on how ticks are grouped
into frames (the frame rate) and no generator object lives in the state. Moving over k ticks is
closed-form, so a frame costs the same whether it spans 1 tick or 60.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from latentsketch.latent import exactmath as xm
from latentsketch.latent import randoms, tour
from latentsketch.latent.tour import Grid, TourPlan, TourProgress

# Rates at walk.speed = 1, chosen so every mode moves each dimension about 0.5 std per second.
DRIFT_TAU = 2.0            # s, time constant of the (smoothed) Ornstein-Uhlenbeck drift
NOISE_RATES = (0.15, 0.75)  # rad/s, range of the per-dimension noise frequencies
NOISE_TERMS = 6            # cosines per dimension
ORBIT_RATE = 0.5           # rad/s around the great circle


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
    tour: TourProgress
    basis: np.ndarray        # (2, dim) orthonormal orbit plane of this epoch
    freq: np.ndarray         # (dim, NOISE_TERMS) rad/s
    phase: np.ndarray        # (dim, NOISE_TERMS) rad


@dataclass(frozen=True, slots=True)
class Motion:
    """What a step of the walk needs besides its state: tick length ``h`` (s), ``speed`` (x),
    the tour's ``dwell`` (s, for keys without a hold), its ``plan`` and ``easing``, and the
    ``grid`` (beats or bars in walk time) a quantised tour keeps to."""

    h: float
    speed: float = 1.0
    dwell: float = 0.0
    plan: TourPlan = field(default_factory=TourPlan)
    easing: str = "cosine"
    grid: Grid | None = None


def _epoch_arrays(dim: int, seed: int, epoch: int) -> tuple[np.ndarray, ...]:
    e1, e2 = randoms.normals(seed, randoms.ORBIT, 2 * dim * epoch, 2 * dim).reshape(2, dim)
    e1 = e1 / max(math.sqrt(np.sum(e1 * e1)), 1e-12)  # np.sum, not BLAS: bit-reproducible
    e2 = e2 - np.sum(e2 * e1) * e1
    e2 = e2 / max(math.sqrt(np.sum(e2 * e2)), 1e-12)
    n = dim * NOISE_TERMS
    u = randoms.uniforms(seed, randoms.NOISE, 2 * n * epoch, 2 * n)
    lo, hi = NOISE_RATES
    freq = (lo + (hi - lo) * u[:n]).reshape(dim, NOISE_TERMS)
    phase = (2.0 * np.pi * u[n:]).reshape(dim, NOISE_TERMS)
    y, dx = randoms.normals(seed, randoms.TARGET, 2 * dim * epoch, 2 * dim).reshape(2, dim)
    return _ro(np.stack([e1, e2])), _ro(freq), _ro(phase), _ro(y), _ro(y + dx)


def initial_walk(dim: int, seed: int) -> WalkState:
    """Epoch 0, with the drift already spread like its stationary distribution."""
    basis, freq, phase, y, x = _epoch_arrays(dim, seed, 0)
    return WalkState(dim, seed, 0, 0.0, x, y, TourProgress(), basis, freq, phase)


def _new_epoch(ws: WalkState) -> WalkState:
    basis, freq, phase, y, x = _epoch_arrays(ws.dim, ws.seed, ws.epoch + 1)
    return replace(ws, epoch=ws.epoch + 1, basis=basis, freq=freq, phase=phase,
                   drift_x=x, drift_y=y)


# --- modes ---------------------------------------------------------------------------------

class WalkMode(ABC):
    """One way of walking. Subclasses set ``name`` and ``help`` and override ``position``;
    modes with state of their own (drift, tour) override ``advance`` and the rest."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    uses_tour: ClassVar[bool] = False   # reads ``Motion.plan`` (the engine builds it only then)

    @abstractmethod
    def position(self, ws: WalkState, m: Motion) -> np.ndarray:
        """Where the walk is, in unit coordinates (float64, raw order)."""

    def advance(self, ws: WalkState, tick0: int, ticks: int, m: Motion) -> WalkState:
        """Move on ``ticks`` >= 1 ticks from global tick ``tick0``. The default moves the
        shared clock, which clock-driven modes (noise, orbit, spiral) read."""
        return replace(ws, clock=ws.clock + ticks * m.speed * m.h)

    def frame(self, ws: WalkState, tick0: int, ticks: int,
              m: Motion) -> tuple[WalkState, np.ndarray, np.ndarray]:
        """A frame's move: advance ``ticks`` >= 1 ticks and say where the walk is then and one
        tick later (the two points the engine interpolates between). Modes with a cheaper
        joint form (drift) override it."""
        new = self.advance(ws, tick0, ticks, m)
        ahead = self.advance(new, tick0 + ticks, 1, m)
        return new, self.position(new, m), self.position(ahead, m)

    def start_at(self, ws: WalkState, w: np.ndarray) -> WalkState:
        """Continue from the unit point ``w`` (the picture) where the mode can; else unchanged."""
        return ws

    def new_target(self, ws: WalkState, m: Motion) -> WalkState:
        """A fresh destination; by default a new random epoch."""
        return _new_epoch(ws)

    def goto(self, ws: WalkState, u: np.ndarray, centre: np.ndarray, t: float,
             m: Motion) -> tuple[np.ndarray, WalkState]:
        """Make the walk pass through the standardised point ``u`` at temperature ``t``;
        returns (new centre, new walk). By default the path is shifted to pass through it."""
        return u - t * self.position(ws, m), ws

    def reset(self, ws: WalkState) -> WalkState:
        """Back to the origin of the data (the engine zeroes the centre)."""
        return replace(ws, tour=replace(ws.tour, start=None))


WALKS: dict[str, WalkMode] = {}


def register(cls: type[WalkMode]) -> type[WalkMode]:
    """Add a mode at the end of the registry (the enum index of each mode never changes)."""
    if not cls.name or cls.name in WALKS:
        raise ValueError(f"walk mode {cls.name!r} is unnamed or registered twice")
    WALKS[cls.name] = cls()
    return cls


def mode(name: str) -> WalkMode:
    """The registered mode ``name``; ValueError names the known ones."""
    try:
        return WALKS[name]
    except KeyError:
        raise ValueError(f"unknown walk mode {name!r} (known: {', '.join(WALKS)})") from None


def drift_noise(seed: int, tick0: int, ticks: int, dim: int) -> np.ndarray:
    """The drift's white noise for ticks ``tick0 .. tick0+ticks-1``: shape (ticks, dim).

    Zero-mean, unit-variance uniform draws (half the cost of Gaussian ones): the smoothed drift
    sums hundreds of ticks per time constant, so its path is Gaussian by the central limit.
    """
    u = randoms.uniforms(seed, randoms.DRIFT, tick0 * dim, ticks * dim).reshape(ticks, dim)
    return (u - 0.5) * math.sqrt(12.0)


def _drift(
    x0: np.ndarray, y0: np.ndarray, xi: np.ndarray, a: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed form of ``x <- a x + b xi; y <- a y + (1-a) x`` over m = len(xi) - 1 ticks, plus
    y one tick later from the last noise row: (x_m, y_m, y_{m+1}) in one weighted sum, so a
    frame's look-ahead costs no second pass.

    ``b`` makes y's stationary variance exactly 1: Var(y) = b^2 (1+a^2) / ((1-a^2) (1+a)^2).
    The weighted sums add rows elementwise (no BLAS), so results are bit-reproducible.
    """
    m = xi.shape[0] - 1
    b = (1.0 + a) * math.sqrt((1.0 - a * a) / (1.0 + a * a))
    c = 1.0 - a
    pw = [a ** n for n in range(m + 2)]   # a^0 .. a^(m+1)
    w = np.array([
        [pw[m], 0.0] + [b * pw[m - 1 - j] for j in range(m)] + [0.0],
        [c * m * pw[m], pw[m]] + [c * b * (m - j) * pw[m - 1 - j] for j in range(m)] + [0.0],
        [c * (m + 1) * pw[m + 1], pw[m + 1]]
        + [c * b * (m + 1 - j) * pw[m - j] for j in range(m + 1)],
    ])
    r = (w[:, :, None] * np.vstack((x0, y0, xi))[None]).sum(axis=1)
    return _ro(r[0]), _ro(r[1]), r[2]


@register
class Drift(WalkMode):
    """A smoothed Ornstein-Uhlenbeck process around the centre (Uhlenbeck and Ornstein 1930)."""

    name = "drift"
    help = "wanders smoothly around the centre"

    def position(self, ws: WalkState, m: Motion) -> np.ndarray:
        return ws.drift_y

    def advance(self, ws: WalkState, tick0: int, ticks: int, m: Motion) -> WalkState:
        return self.frame(ws, tick0, ticks, m)[0]

    def frame(self, ws: WalkState, tick0: int, ticks: int,
              m: Motion) -> tuple[WalkState, np.ndarray, np.ndarray]:
        xi = drift_noise(ws.seed, tick0, ticks + 1, ws.dim)     # the look-ahead tick's too
        x, y, y_next = _drift(ws.drift_x, ws.drift_y, xi, math.exp(-m.speed * m.h / DRIFT_TAU))
        return replace(ws, clock=ws.clock + ticks * m.speed * m.h, drift_x=x, drift_y=y), \
            y, y_next

    def start_at(self, ws: WalkState, w: np.ndarray) -> WalkState:
        p = _ro(np.array(w, np.float64))
        return replace(ws, drift_x=p, drift_y=p)

    def goto(self, ws: WalkState, u: np.ndarray, centre: np.ndarray, t: float,
             m: Motion) -> tuple[np.ndarray, WalkState]:
        return u.copy(), self.start_at(ws, np.zeros(ws.dim))  # drift around the point

    def reset(self, ws: WalkState) -> WalkState:
        return self.start_at(ws, np.zeros(ws.dim))


@register
class Noise(WalkMode):
    """Per dimension a sum of cosines at random rates and phases: smooth, never repeating."""

    name = "noise"
    help = "smooth random waves in every dimension"

    def position(self, ws: WalkState, m: Motion) -> np.ndarray:
        c = xm.cos(ws.freq * ws.clock + ws.phase).sum(axis=1)
        return c * math.sqrt(2.0 / NOISE_TERMS)


@register
class Orbit(WalkMode):
    """A great circle at the typical radius sqrt(D) in a random plane."""

    name = "orbit"
    help = "circles through typical points"

    def position(self, ws: WalkState, m: Motion) -> np.ndarray:
        t = ORBIT_RATE * ws.clock
        return math.sqrt(ws.dim) * (math.cos(t) * ws.basis[0] + math.sin(t) * ws.basis[1])


@register
class Tour(WalkMode):
    """Hold on each keyframe, then an eased slerp to the next (``latent.tour``)."""

    name = "tour"
    help = "visits the keyframes one after another"
    uses_tour = True

    def position(self, ws: WalkState, m: Motion) -> np.ndarray:
        return tour.position(ws.tour, lambda i: m.plan.point(i, ws.seed, ws.dim), m.easing)

    def advance(self, ws: WalkState, tick0: int, ticks: int, m: Motion) -> WalkState:
        return replace(ws, clock=ws.clock + ticks * m.speed * m.h,
                       tour=tour.advance(ws.tour, m.plan, ticks * m.h, m.speed, m.dwell,
                                         m.grid, tick0 * m.h))

    def start_at(self, ws: WalkState, w: np.ndarray) -> WalkState:
        return replace(ws, tour=tour.start_at(ws.tour, w))

    def new_target(self, ws: WalkState, m: Motion) -> WalkState:
        p = tour.next_key(ws.tour, m.plan)
        return ws if p is ws.tour else replace(ws, tour=p)

    def goto(self, ws: WalkState, u: np.ndarray, centre: np.ndarray, t: float,
             m: Motion) -> tuple[np.ndarray, WalkState]:
        return centre, self.start_at(ws, (u - centre) / t)  # hold at the point, then on


@register
class Spiral(WalkMode):
    """Spirals over a sphere at the typical radius sqrt(D): the orbit's plane plus a third
    direction of this epoch, azimuth at ``ORBIT_RATE`` and elevation swinging at that rate
    over the golden ratio, so the path winds over the whole sphere and never quite repeats."""

    name = "spiral"
    help = "winds over a sphere of typical points, never quite repeating"
    _GOLDEN = (1.0 + math.sqrt(5.0)) / 2.0

    def position(self, ws: WalkState, m: Motion) -> np.ndarray:
        e1, e2 = ws.basis
        e3 = randoms.normals(ws.seed, randoms.stream(self.name), ws.dim * ws.epoch, ws.dim)
        e3 = e3 - np.sum(e3 * e1) * e1 - np.sum(e3 * e2) * e2   # np.sum: bit-reproducible
        e3 = e3 / max(math.sqrt(np.sum(e3 * e3)), 1e-12)
        a = ORBIT_RATE * ws.clock
        b = 0.5 * math.pi * math.sin(ORBIT_RATE * ws.clock / self._GOLDEN)  # -90..90 deg
        return math.sqrt(ws.dim) * (math.cos(b) * (math.cos(a) * e1 + math.sin(a) * e2)
                                    + math.sin(b) * e3)
