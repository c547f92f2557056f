"""The engine: ``State`` and ``step``, the one place where time advances.

``step(state, commands, dt, space)`` applies the frame's commands, then advances a fixed 240 Hz
tick clock by ``dt`` through an accumulator. The walk's randomness is a hash of (seed, tick), so
a performance is a pure function of (initial state, timed commands, dts): the live loop passes
wall-clock dt, the exporter 1/fps, a replay the logged dts, and all three agree (bit for bit on
the same dts, on the same path at any other frame rate).

Coordinates are standardised (``u``, raw order; see ``latent.space``). The displayed point is
``target + transit`` where ``target`` is where the walk, centre, temperature, pins and offsets
put it, and ``transit`` absorbs every jump a command causes and decays with ``walk.glide``: a
one-pole glide on the discontinuities only, so transitions never jump and the walk's own motion
is not smeared. ``cur_u``/``next_u`` hold the point at the current tick and the one after;
``output_u`` interpolates them by the accumulator fraction, so motion is smooth at any display
rate and a frame at walk time t shows the path at t (a keyframe due at a frame is on it).

Directions (``latent.directions``: principal and attribute directions, unit vectors in ``u``)
act on that composed target: an offset adds ``value * scale * unit``, a pin (principal
directions only) sets the projection on its direction to ``value * scale`` while the walk moves
the rest. The table of directions lives in the state, so a control log replays without the
files it came from.

``step`` ignores ``AppCommand``s (the app acts on them); every rejected ``EngineCommand`` leaves
a one-line reason in ``State.last_errors`` for the caller to log, and changes nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from latentsketch import commands as C
from latentsketch.latent import walks
from latentsketch.latent.directions import Directions, DirectionValue, DirectionValues, pc_name
from latentsketch.latent.fade import Fade, fade_ticks
from latentsketch.latent.space import LatentSpace
from latentsketch.latent.tour import Grid, TourPlan, TourProgress
from latentsketch.params import (
    DIR_LIMIT,
    PAD_AXES,
    PARAM_BY_NAME,
    WALK_MODES,
    Z_LIMIT,
    Param,
    defaults,
    param,
)
from latentsketch.tempo import GRIDS, TempoState, beats_to_line, crossed, grid_beats
from latentsketch.timestep import MAX_DT as MAX_DT  # re-exported: callers read engine.MAX_DT
from latentsketch.timestep import clamp_dt

TICK_HZ = 240
TICK = 1.0 / TICK_HZ
PIN_LIMIT = Z_LIMIT  # |value| of pins, offsets and nudges, in std
CENTRE_LIMIT = 12.0  # |centre| per dimension, in std
U_LIMIT = 8.0        # |u| per dimension of what is decoded
NORM_LIMIT = 5.0     # |u| <= NORM_LIMIT * sqrt(dim) for what is decoded
SLOTS = 9
FADE_CHUNK = 4       # ticks between a fade's parameter updates: 60 Hz on the engine's clock
EASING_NAMES = PARAM_BY_NAME["walk.easing"].choices
_RANDOM_TOUR = TourPlan()
_MIN_T = 0.05        # below this temperature a walk cannot be steered by dividing by it
_NO_VALUES = np.zeros(0)
_NO_VALUES.flags.writeable = False
_NO_PINS = np.zeros(0, bool)
_NO_PINS.flags.writeable = False


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True, eq=False)
class State:
    """Everything that evolves, as a plain value: arrays are read-only and replaced, never edited.

    Vectors are float64 in raw order, standardised units. ``params`` maps every declared
    parameter name to its value (enum values are indices). ``slots[i]`` is slot ``i + 1``.
    """

    dim: int
    seed: int
    params: Mapping[str, float]
    walk: walks.WalkState
    paused: bool
    tick: int                  # walk-clock ticks so far: the randomness counter
    acc: float                 # real seconds toward the next tick, 0 <= acc < TICK
    centre: np.ndarray         # the walk's centre (drift target, click, nudges, recall)
    pinned: np.ndarray         # bool: dimension held at ``pin``
    pin: np.ndarray
    offset: np.ndarray         # added to free dimensions on top of the walk
    transit: np.ndarray        # decaying remainder of command-caused jumps
    cur_u: np.ndarray          # displayed point at the current tick
    next_u: np.ndarray         # displayed point one tick later (for interpolation)
    slots: tuple[np.ndarray | None, ...]
    tour: TourPlan | None      # a preset's or a render's tour; None: the model's keyframes,
    #                            else the stored slots, else random typical points
    # directions (latent.directions): the model's and the presets', and per direction its
    # offset and pin in standard deviations of the data along it (see _directed)
    directions: Directions = Directions.empty()
    dir_offset: np.ndarray = field(default_factory=lambda: _NO_VALUES)  # (K,)
    dir_pinned: np.ndarray = field(default_factory=lambda: _NO_PINS)    # (K,) bool: pinned
    dir_pin: np.ndarray = field(default_factory=lambda: _NO_VALUES)     # (K,)
    last_errors: tuple[str, ...] = ()
    # the tempo clock (``tempo``): runs on real time, paused walk or not; ``deferred`` holds
    # quantised commands (as JSON) waiting for the next beat or bar line (``tempo.quantise``)
    tempo: TempoState = TempoState()
    deferred: tuple[str, ...] = ()
    fade: Fade | None = None   # a scene switch under way (``SwitchScene``, latent.fade)

    @property
    def mode(self) -> str:
        return WALK_MODES[int(self.params["walk.mode"])]

    @property
    def walker(self) -> walks.WalkMode:
        return walks.WALKS[self.mode]

    @property
    def easing(self) -> str:
        return EASING_NAMES[int(self.params["walk.easing"])]

    @property
    def walk_time(self) -> float:
        """Seconds on the walk clock (stops while paused)."""
        return self.tick * TICK

    @classmethod
    def initial(
        cls,
        space: LatentSpace,
        seed: int = 0,
        params: Mapping[str, object] | None = None,
        slots: Mapping[int, Sequence[float]] | None = None,
        keyframes: Sequence[Sequence[float]] | np.ndarray | None = None,
        holds: Sequence[float | None] = (),
        tour: TourPlan | None = None,
        directions: Directions | None = None,
        direction_values: DirectionValues | None = None,
    ) -> State:
        """A fresh state; ``params``, ``slots`` (1-9, raw-order u), ``keyframes`` and their
        ``holds`` (seconds, None: ``walk.dwell``) come from a preset and are validated
        (ValueError with a one-line reason). ``tour`` gives a whole plan instead (a render's:
        its travel time and whether it loops); it wins over ``keyframes``. The model's
        directions (``space.directions``) are there from the start; a preset's ``directions``
        are added to them and ``direction_values`` set (``with_preset``)."""
        d, seed = space.dim, int(seed) & ((1 << 64) - 1)
        zeros = _ro(np.zeros(d))
        state = cls(
            dim=d, seed=seed, params=MappingProxyType(_coerce(defaults(), params)),
            walk=walks.initial_walk(d, seed), paused=False, tick=0, acc=0.0, centre=zeros,
            pinned=_ro(np.zeros(d, bool)), pin=zeros, offset=zeros, transit=zeros,
            cur_u=zeros, next_u=zeros, slots=(None,) * SLOTS, tour=None,
        )
        state = _retable(state, space.directions)
        state = _with_directions(state, directions, direction_values)
        state = _with_preset(state, slots, keyframes, holds)
        if tour is not None:
            state = replace(state, tour=_checked_plan(tour, d))
        u = _ro(_target(state, space))
        return replace(state, cur_u=u, next_u=_ro(_compose(state, _peek(state, space))))


def _param(name: object) -> Param:
    try:
        return param(str(name))
    except KeyError as e:
        raise ValueError(e.args[0]) from None


def _coerce(values: dict[str, float], params: Mapping[str, object] | None) -> dict[str, float]:
    for name, v in (params or {}).items():
        values[name] = _param(name).coerce(v)
    return values


def _vector(v: object, dim: int, what: str) -> np.ndarray:
    try:
        a = np.asarray(v, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not a list of numbers") from None
    if a.shape != (dim,):
        raise ValueError(f"{what} has {a.size} values, the model has {dim} dimensions")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or infinity")
    return _ro(np.clip(a, -U_LIMIT, U_LIMIT))


def _checked_plan(plan: TourPlan, dim: int) -> TourPlan:
    return TourPlan.make(plan.keys, dim, plan.holds, plan.travel, plan.loop, U_LIMIT)


def _with_preset(state: State, slots: Mapping[int, Sequence[float]] | None,
                 keyframes: Sequence[Sequence[float]] | np.ndarray | None,
                 holds: Sequence[float | None] = ()) -> State:
    new_slots = list(state.slots)
    for i, v in (slots or {}).items():
        if not isinstance(i, int) or not 1 <= i <= SLOTS:
            raise ValueError(f"slot {i!r} is not 1..{SLOTS}")
        new_slots[i - 1] = _vector(v, state.dim, f"slot {i}")
    plan = state.tour
    if keyframes is not None:
        rows = [_vector(k, state.dim, f"keyframe {n + 1}") for n, k in enumerate(keyframes)]
        if len(rows) == 1:   # a preset built one picture at a time: its tour stays there
            rows, holds = rows * 2, list(holds[:1]) * 2
        plan = TourPlan.make(np.stack(rows), state.dim, holds) if rows else None
    return replace(state, slots=tuple(new_slots), tour=plan)


def with_preset(
    state: State,
    space: LatentSpace,
    params: Mapping[str, object] | None = None,
    slots: Mapping[int, Sequence[float]] | None = None,
    keyframes: Sequence[Sequence[float]] | np.ndarray | None = None,
    holds: Sequence[float | None] = (),
    directions: Directions | None = None,
    direction_values: DirectionValues | None = None,
) -> State:
    """Load a preset into a running state: all-or-nothing validation, and the picture glides.

    Given slots replace those slots and keep the others; ``keyframes=None`` keeps the current
    tour, an empty list clears it (back to the model's keyframes or the slots); ``holds`` are
    the keyframes' hold seconds (None: ``walk.dwell``). ``directions`` are added to the
    state's (same name: replaced), then each of ``direction_values`` sets its direction's
    offset and pin (the others keep theirs).
    """
    values = _coerce(dict(state.params), params)
    new = _with_directions(state, directions, direction_values)
    new = _with_preset(new, slots, keyframes, holds)
    for name, v in values.items():
        new = _set(new, name, v)
    return _absorb(new, space)


# --- the walk's target ---------------------------------------------------------------------

def _plan(s: State, space: LatentSpace) -> TourPlan:
    """The tour the walk follows: the state's own, the model's keyframes, the stored slots
    (two or more), else random typical points."""
    if s.tour is not None:
        return s.tour
    if space.keyframes.shape[0] >= 2:
        keys = np.clip(np.nan_to_num(space.keyframes.astype(np.float64)), -U_LIMIT, U_LIMIT)
        return TourPlan(_ro(keys))
    stored = [v for v in s.slots if v is not None]
    return TourPlan(_ro(np.stack(stored))) if len(stored) >= 2 else _RANDOM_TOUR


def _motion(s: State, space: LatentSpace) -> walks.Motion:
    p = s.params
    plan = _plan(s, space) if s.walker.uses_tour else _RANDOM_TOUR
    return walks.Motion(TICK, p["walk.speed"], p["walk.dwell"], plan, s.easing)


def _compose(s: State, w: np.ndarray) -> np.ndarray:
    """Walk position (unit coordinates) -> displayed target: centre, temperature, pins, offsets,
    then the directions' offsets and pins."""
    free = s.centre + s.params["walk.temperature"] * w + s.offset
    return _directed(s, np.where(s.pinned, s.pin, free))


def _project(u: np.ndarray, v: np.ndarray) -> float:
    """``u . v``, exactly rounded (``math.fsum``): the same bits on every CPU."""
    return math.fsum((u * v).tolist())


def _along(s: State) -> np.ndarray:
    """The directions' offsets as one vector: sum of offset * scale * unit, in table order."""
    out = np.zeros(s.dim)
    d = s.directions
    for k in np.flatnonzero(s.dir_offset).tolist():
        out = out + (s.dir_offset[k] * d.scale[k]) * d.unit[k]
    return out


def _directed(s: State, u: np.ndarray) -> np.ndarray:
    """Apply the directions to a composed point ``u``: add each offset (value * scale * unit),
    then set the projection on each pinned principal direction to value * scale. Principal
    directions are orthonormal, so one pin moves nothing along another; all projections are
    read before any is set, so the order of the pins does not matter."""
    if not len(s.directions):
        return u
    if s.dir_offset.any():
        u = u + _along(s)
    if s.dir_pinned.any():
        d = s.directions
        pins = np.flatnonzero(s.dir_pinned).tolist()
        gaps = [s.dir_pin[k] * d.scale[k] - _project(u, d.unit[k]) for k in pins]
        for k, gap in zip(pins, gaps, strict=True):
            u = u + gap * d.unit[k]
    return u


def _target(s: State, space: LatentSpace) -> np.ndarray:
    return _compose(s, s.walker.position(s.walk, _motion(s, space)))


def _peek(s: State, space: LatentSpace) -> np.ndarray:
    """The walk's position one tick after the current one (unit coordinates)."""
    if s.paused:
        return s.walker.position(s.walk, _motion(s, space))
    m = _motion(s, space)
    return s.walker.position(s.walker.advance(s.walk, s.tick, 1, m), m)


def _absorb(s: State, space: LatentSpace) -> State:
    """Keep the displayed point where it is; the jump the commands caused glides away (the
    part a scene fade carries fades with it)."""
    if s.fade is not None:
        return replace(s, transit=_ro(s.cur_u - _target(s, space) - s.fade.remaining()))
    return replace(s, transit=_ro(s.cur_u - _target(s, space)))


def _here(s: State) -> np.ndarray:
    """The displayed point in the walk's unit coordinates (to continue a walk from it)."""
    t = s.params["walk.temperature"]
    if t < _MIN_T:
        return np.zeros(s.dim)
    free = s.cur_u - s.centre - s.offset - _along(s)
    return np.clip(free / t, -U_LIMIT / _MIN_T, U_LIMIT / _MIN_T)


# --- commands ------------------------------------------------------------------------------

def _num(v: object, what: str) -> float:
    if isinstance(v, bool):
        return float(v)
    if not isinstance(v, int | float | np.integer | np.floating):
        raise ValueError(f"{what} = {v!r} is not a number")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{what} = {v!r} is not finite")
    return f


def _int(v: object, what: str, lo: int, hi: int) -> int:
    f = _num(v, what)
    if f != int(f) or not lo <= f <= hi:
        raise ValueError(f"{what} = {v!r} is not an integer in {lo}..{hi}")
    return int(f)


def _raw(s: State, space: LatentSpace, index: object, what: str = "dimension") -> int:
    return space.raw_index(_int(index, what, 0, s.dim - 1))


def _set(s: State, name: str, v: float) -> State:
    if s.params[name] == v:
        return s
    values = dict(s.params)
    values[name] = v
    new = replace(s, params=MappingProxyType(values))
    if name == "walk.mode":  # drift and tour carry on from the picture; the rest glide in
        new = replace(new, walk=new.walker.start_at(new.walk, _here(s)))
    return new


def _put(a: np.ndarray, i: int | slice, v: object) -> np.ndarray:
    out = a.copy()
    out[i] = v
    return _ro(out)


def _release(s: State) -> State:
    """Every dimension and direction free, no offsets."""
    k = len(s.directions)
    return replace(s, pinned=_ro(np.zeros(s.dim, bool)), offset=_ro(np.zeros(s.dim)),
                   dir_pinned=_ro(np.zeros(k, bool)), dir_offset=_ro(np.zeros(k)))


# --- directions ----------------------------------------------------------------------------

def _retable(s: State, table: Directions) -> State:
    """``s`` with directions ``table``: values follow their names, a direction that is no
    longer principal is unpinned, a new one starts free."""
    if len(table) and table.dim != s.dim:
        raise ValueError(f"directions have {table.dim} values, the model {s.dim}")
    k = len(table)
    offset, pin, pinned = np.zeros(k), np.zeros(k), np.zeros(k, bool)
    old = {n: i for i, n in enumerate(s.directions.names)}
    for j, n in enumerate(table.names):
        i = old.get(n)
        if i is not None:
            offset[j] = s.dir_offset[i]
            pin[j] = s.dir_pin[i]
            pinned[j] = s.dir_pinned[i] and table.kinds[j] == "pc"
    return replace(s, directions=table, dir_offset=_ro(offset), dir_pin=_ro(pin),
                   dir_pinned=_ro(pinned))


def _direction(s: State, name: object) -> int:
    return s.directions.index(name)   # DirectionError (a ValueError): one line


def _dir_value(v: object, what: str) -> float:
    return float(np.clip(_num(v, what), -DIR_LIMIT, DIR_LIMIT))


def _pin_direction(s: State, k: int, v: float) -> State:
    name = s.directions.names[k]
    if s.directions.kinds[k] != "pc":
        raise ValueError(f"direction {name} is an attribute direction: it can be offset "
                         f"(/latentsketch/dir/{name}), not pinned")
    return replace(s, dir_pinned=_put(s.dir_pinned, k, True), dir_pin=_put(s.dir_pin, k, v))


def _with_directions(s: State, table: Directions | None,
                     values: DirectionValues | None) -> State:
    if table is not None:
        s = _retable(s, s.directions.merged(table))
    for name, dv in (values or {}).items():
        k = _direction(s, name)
        s = replace(s, dir_offset=_put(s.dir_offset, k, _dir_value(dv.offset, name)),
                    dir_pinned=_put(s.dir_pinned, k, False))
        if dv.pin is not None:
            s = _pin_direction(s, k, _dir_value(dv.pin, name))
    return s


def _target_along_pcs(s: State, x: float, y: float) -> State:
    """A click on the pad in ``pcs`` mode: the centre's projections on the two principal
    directions become x and y standard deviations."""
    c = s.centre
    for axis, v in (("mouse.dim_x", x), ("mouse.dim_y", y)):
        k = _direction(s, pc_name(int(s.params[axis])))
        p = s.directions.unit[k]
        c = c + (_dir_value(v, axis) * s.directions.scale[k] - _project(c, p)) * p
    return replace(s, centre=_ro(np.clip(c, -CENTRE_LIMIT, CENTRE_LIMIT)))


def _goto(s: State, u: np.ndarray, space: LatentSpace, release: bool = True) -> State:
    """Go to ``u`` (glides) and walk on from there; pins and offsets are released unless
    ``release`` is False (a live source steering: ``FollowPoint``)."""
    if release:
        s = _release(s)
    t = s.params["walk.temperature"]
    if t < _MIN_T:
        return replace(s, centre=_ro(u.copy()))
    centre, ws = s.walker.goto(s.walk, u, s.centre, t, _motion(s, space))
    return replace(s, centre=_ro(np.clip(centre, -CENTRE_LIMIT, CENTRE_LIMIT)), walk=ws)


def _tour_of(s: State, points: object) -> State:
    """Tour ``points`` from the first, in order (the picture glides to it); pins, offsets and
    the centre are released so the tour passes through the points themselves."""
    if not isinstance(points, tuple | list):
        raise ValueError("points is not a list of points")
    plan = TourPlan.make(points, s.dim, limit=U_LIMIT)
    s = _set(_release(s), "walk.mode", float(WALK_MODES.index("tour")))
    return replace(s, tour=plan, centre=_ro(np.zeros(s.dim)),
                   walk=replace(s.walk, tour=TourProgress()))


def _apply(s: State, cmd: C.EngineCommand, space: LatentSpace) -> State:
    if isinstance(cmd, C.SetParam):
        p = _param(cmd.name)
        return _unfaded(_set(s, p.name, p.coerce(cmd.value)), p.name)
    if isinstance(cmd, C.NudgeParam):
        p = _param(cmd.name)
        return _unfaded(_set(s, p.name, p.clamp(s.params[p.name] + _num(cmd.delta,
                                                                        p.name + " delta"))),
                        p.name)
    if isinstance(cmd, C.SwitchScene):
        return _switch(s, cmd, space)
    if isinstance(cmd, C.CycleMode):
        step = _int(cmd.step, "step", -len(WALK_MODES), len(WALK_MODES))
        return _set(s, "walk.mode", float((int(s.params["walk.mode"]) + step) % len(WALK_MODES)))
    if isinstance(cmd, C.SetDim):
        i, v = _raw(s, space, cmd.index), _num(cmd.value, "value")
        return replace(s, pinned=_put(s.pinned, i, True),
                       pin=_put(s.pin, i, np.clip(v, -PIN_LIMIT, PIN_LIMIT)))
    if isinstance(cmd, C.OffsetDim):
        i, v = _raw(s, space, cmd.index), _num(cmd.value, "value")
        return replace(s, offset=_put(s.offset, i, np.clip(v, -PIN_LIMIT, PIN_LIMIT)))
    if isinstance(cmd, C.NudgeDim):
        i, d = _raw(s, space, cmd.index), _num(cmd.delta, "delta")
        if s.pinned[i]:
            return replace(s, pin=_put(s.pin, i, np.clip(s.pin[i] + d, -PIN_LIMIT, PIN_LIMIT)))
        return replace(s, centre=_put(s.centre, i, np.clip(s.centre[i] + d, -CENTRE_LIMIT,
                                                           CENTRE_LIMIT)))
    if isinstance(cmd, C.ReleaseDim):
        if cmd.index is None:
            return _release(s)
        i = _raw(s, space, cmd.index)
        return replace(s, pinned=_put(s.pinned, i, False), offset=_put(s.offset, i, 0.0))
    if isinstance(cmd, C.SetVector):
        vals = [_num(v, f"z[{k}]") for k, v in enumerate(tuple(cmd.values))]
        if len(vals) > s.dim:
            raise ValueError(f"{len(vals)} values for a model with {s.dim} dimensions")
        idx = [space.raw_index(k) for k in range(len(vals))]
        return replace(s, pinned=_put(s.pinned, idx, True),
                       pin=_put(s.pin, idx, np.clip(vals, -PIN_LIMIT, PIN_LIMIT)))
    if isinstance(cmd, C.SetDirection):
        k = _direction(s, cmd.name)
        return _pin_direction(s, k, _dir_value(cmd.value, "value"))
    if isinstance(cmd, C.OffsetDirection):
        k = _direction(s, cmd.name)
        return replace(s, dir_offset=_put(s.dir_offset, k, _dir_value(cmd.value, "value")))
    if isinstance(cmd, C.ReleaseDirection):
        if cmd.name is None:
            n = len(s.directions)
            return replace(s, dir_pinned=_ro(np.zeros(n, bool)), dir_offset=_ro(np.zeros(n)))
        k = _direction(s, cmd.name)
        return replace(s, dir_pinned=_put(s.dir_pinned, k, False),
                       dir_offset=_put(s.dir_offset, k, 0.0))
    if isinstance(cmd, C.GotoPoint):
        return _goto(s, _vector(cmd.u, s.dim, "point"), space)
    if isinstance(cmd, C.SetTour):
        return _tour_of(s, cmd.points)
    if isinstance(cmd, C.FollowPoint):
        return _goto(s, _vector(cmd.u, s.dim, "point"), space, release=False)
    if isinstance(cmd, C.StoreSlot):
        i = _int(cmd.slot, "slot", 1, SLOTS)
        u = _ro(output_u(s).astype(np.float64))
        return replace(s, slots=s.slots[:i - 1] + (u,) + s.slots[i:])
    if isinstance(cmd, C.RecallSlot):
        i = _int(cmd.slot, "slot", 1, SLOTS)
        if s.slots[i - 1] is None:
            raise ValueError(f"slot {i} is empty")
        return _goto(s, s.slots[i - 1], space)
    if isinstance(cmd, C.SetTarget):
        x, y = _num(cmd.x, "x"), _num(cmd.y, "y")
        if cmd.axes not in PAD_AXES:
            raise ValueError(f"axes = {cmd.axes!r} is not one of {', '.join(PAD_AXES)}")
        if cmd.axes == "pcs":
            return _target_along_pcs(s, x, y)
        ix = _raw(s, space, s.params["mouse.dim_x"], "mouse.dim_x")
        iy = _raw(s, space, s.params["mouse.dim_y"], "mouse.dim_y")
        c = _put(s.centre, ix, np.clip(x, -CENTRE_LIMIT, CENTRE_LIMIT))
        return replace(s, centre=_put(c, iy, np.clip(y, -CENTRE_LIMIT, CENTRE_LIMIT)))
    if isinstance(cmd, C.NewTarget):
        return replace(s, walk=s.walker.new_target(s.walk, _motion(s, space)))
    if isinstance(cmd, C.Reset):
        return replace(_release(s), centre=_ro(np.zeros(s.dim)), walk=s.walker.reset(s.walk))
    if isinstance(cmd, C.SetPause):
        return replace(s, paused=(not s.paused) if cmd.on is None else bool(_num(cmd.on, "on")))
    if isinstance(cmd, C.SetBeat):
        beat = _num(cmd.beat, "beat")
        if abs(beat) > 1e9:
            raise ValueError(f"beat = {beat!r} is out of range -1e9..1e9")
        running = s.tempo.running if cmd.running is None else bool(_num(cmd.running, "running"))
        return replace(s, tempo=TempoState(beat, running))
    raise ValueError("not an engine command")


# --- the tempo clock -----------------------------------------------------------------------

def _grid_step(s: State) -> float | None:
    """Beats from one quantise line to the next; None when quantised things happen at once
    (``tempo.quantise`` off, or the transport stopped: no line would come)."""
    grid = GRIDS[int(s.params["tempo.quantise"])]
    if grid == "off" or not s.tempo.running:
        return None
    return grid_beats(grid, int(s.params["tempo.bar"]))


def _tour_grid(s: State, step: float | None) -> Grid | None:
    """The quantise lines in walk time from this step on, for a tour (``tour.Grid``)."""
    if step is None or not s.walker.uses_tour:
        return None
    beat_s = 60.0 / s.params["tempo.bpm"]
    now = s.tick * TICK + s.acc   # the walk time this step starts at, between ticks
    return Grid(now + beats_to_line(s.tempo.beat, step) * beat_s, step * beat_s)


def _fire_deferred(s: State, space: LatentSpace, errors: list[str]) -> State:
    """Apply the quantised commands that waited, in the order they came."""
    for text in s.deferred:
        try:
            cmd = C.from_json(json.loads(text))
            if not isinstance(cmd, C.EngineCommand):
                raise ValueError("not an engine command")
            s = _apply(s, cmd, space)
        except (ValueError, TypeError, IndexError, OverflowError) as e:
            errors.append(f"deferred {text[:60]}: {e}"[:200])
    return replace(s, deferred=())


def crosses(state: State, dt: float) -> bool:
    """Whether the step of ``dt`` seconds from ``state`` reaches a quantise line (or nothing
    is quantised now): the frame a quantised app command (a preset switch) takes effect."""
    step = _grid_step(state)
    if step is None:
        return True
    after = state.tempo.advance(clamp_dt(dt), state.params["tempo.bpm"])
    return crossed(state.tempo.beat, after.beat, step)
# --- scenes --------------------------------------------------------------------------------

def _unfaded(s: State, name: str) -> State:
    """A parameter set by hand stops ramping with a scene fade: the person wins."""
    return s if s.fade is None else replace(s, fade=s.fade.without(name))


def _scene_directions(cmd: C.SwitchScene, dim: int) -> tuple[Directions | None,
                                                              dict[str, DirectionValue]]:
    table = None
    if cmd.directions:
        names, kinds, scales, units = zip(*((n, k, _num(sc, "scale"), u)
                                            for n, k, sc, u in cmd.directions), strict=True)
        rows = [_vector(u, dim, f"direction {n}") for n, u in zip(names, units, strict=True)]
        table = Directions(tuple(names), np.stack(rows), np.array(scales), tuple(kinds))
    values = {str(n): DirectionValue(_num(off, f"{n} offset"),
                                     None if pin is None else _num(pin, f"{n} pin"))
              for n, off, pin in cmd.direction_values}
    return table, values


def _switch(s: State, cmd: C.SwitchScene, space: LatentSpace) -> State:
    """``SwitchScene``: the preset's content at once, except the continuous parameters, which
    ramp over the fade, and the picture, which holds and lets its jump fade out (``Fade``).
    A fade under way is replaced: its parameters ramp on from where they are to its targets
    unless the new scene sets them."""
    n = fade_ticks(_num(cmd.fade, "fade"), TICK_HZ)
    table, values = _scene_directions(cmd, s.dim)
    slots = {_int(i, "slot", 1, SLOTS): u for i, u in cmd.slots}
    keyframes = None if cmd.keyframes is None else list(cmd.keyframes)
    holds = [None if h is None else _num(h, "hold") for h in cmd.holds]
    wanted = dict(s.fade.end) if s.fade is not None else {}
    wanted.update({str(k): _param(k).coerce(v) for k, v in cmd.params})
    if n == 0:
        return with_preset(replace(s, fade=None), space, wanted, slots, keyframes, holds,
                           table, values)
    ramp = {k: v for k, v in wanted.items() if PARAM_BY_NAME[k].kind == "float"
            and v != s.params[k]}
    now = {k: v for k, v in wanted.items() if k not in ramp}
    new = with_preset(replace(s, fade=None), space, now, slots, keyframes, holds, table, values)
    fade = Fade.make({k: s.params[k] for k in ramp}, ramp, s.cur_u - _target(new, space), n,
                     str(cmd.name)[:80])
    return replace(new, fade=fade, transit=_ro(np.zeros(s.dim)))


# --- time ----------------------------------------------------------------------------------

def step(
    state: State, commands: Iterable[C.Command], dt: float, space: LatentSpace
) -> State:
    """Apply ``commands`` (in order) at the current tick, then advance ``dt`` seconds.

    Deterministic in (state, commands, dt, space). Never raises on bad commands or dt: rejected
    commands are reported in ``last_errors``; a non-finite or negative dt counts as 0.
    """
    if space.dim != state.dim:
        raise ValueError(f"state has {state.dim} dimensions, the model {space.dim}")
    s, errors, changed = state, [], False
    for cmd in commands:
        if isinstance(cmd, C.AppCommand):
            continue
        if not isinstance(cmd, C.EngineCommand):
            errors.append(f"not a command: {cmd!r}"[:200])
            continue
        if cmd.quantised and _grid_step(s) is not None:
            try:
                s = replace(s, deferred=(*s.deferred, json.dumps(cmd.to_json())))
            except (TypeError, ValueError) as e:
                errors.append(f"{cmd.kind}: {e}"[:200])
            continue
        try:
            s = _apply(s, cmd, space)
            changed = True
        except (ValueError, TypeError, IndexError, OverflowError) as e:
            errors.append(f"{cmd.kind}: {e}"[:200])

    try:
        dt = float(dt)
    except (TypeError, ValueError):
        dt = math.nan
    if not math.isfinite(dt) or dt < 0.0:
        errors.append(f"dt = {dt!r} is not a finite non-negative number; counted as 0")
        dt = 0.0
    step_beats = _grid_step(s)
    tempo = s.tempo.advance(clamp_dt(dt), s.params["tempo.bpm"])
    if s.deferred and (step_beats is None or crossed(s.tempo.beat, tempo.beat, step_beats)):
        s, changed = _fire_deferred(s, space, errors), True
    if changed:
        s = _absorb(s, space)
    grid = _tour_grid(s, step_beats)
    s = replace(s, tempo=tempo)

    total = s.acc + clamp_dt(dt)
    k = int(total * TICK_HZ + 1e-6)
    acc = max(0.0, total - k * TICK)
    if k == 0:
        return replace(s, acc=acc, last_errors=tuple(errors))

    while k > 0:   # a fade updates its parameters every FADE_CHUNK ticks of its own
        n = k if s.fade is None else min(k, FADE_CHUNK - s.fade.ticks % FADE_CHUNK)
        s = _ticks(s, n, space, grid)
        k -= n
    return replace(s, acc=acc, last_errors=tuple(errors))


def _ticks(s: State, k: int, space: LatentSpace, grid: Grid | None) -> State:
    """Advance ``k`` >= 1 ticks: the walk (a tour on the quantise ``grid``, in walk time), the
    glide, and a scene fade (its parameters take their values at the end of the ``k`` ticks)."""
    glide = s.params["walk.glide"]
    g = math.exp(-TICK / glide) if glide > 0.0 else 0.0
    ws, tick = s.walk, s.tick
    if s.paused:
        cur_t = next_t = _target(s, space)
    else:
        m = replace(_motion(s, space), grid=grid)
        ws, cur_w, next_w = s.walker.frame(ws, tick, k, m)
        tick += k
        cur_t, next_t = _compose(s, cur_w), _compose(s, next_w)
    transit = _ro(s.transit * g ** k)
    if s.fade is None:
        return replace(s, walk=ws, tick=tick, transit=transit,
                       cur_u=_ro(cur_t + transit), next_u=_ro(next_t + transit * g))
    fade = s.fade.advanced(k)
    params = MappingProxyType({**s.params, **fade.values(FADE_CHUNK)})
    return replace(s, walk=ws, tick=tick, transit=transit, params=params,
                   fade=None if fade.done else fade,
                   cur_u=_ro(cur_t + transit + fade.remaining()),
                   next_u=_ro(next_t + transit * g + fade.remaining(1)))


# --- output --------------------------------------------------------------------------------

def _output_u64(state: State) -> np.ndarray:
    alpha = min(1.0, max(0.0, state.acc * TICK_HZ))
    u = state.cur_u + (state.next_u - state.cur_u) * alpha
    if not np.isfinite(u).all():  # cannot happen by construction; z must never see it anyway
        u = np.nan_to_num(u, nan=0.0, posinf=U_LIMIT, neginf=-U_LIMIT)
    u = np.minimum(np.maximum(u, -U_LIMIT), U_LIMIT)
    n = math.sqrt(float(np.add.reduce(u * u)))
    cap = NORM_LIMIT * math.sqrt(state.dim)
    if n > cap:
        u = u * (cap / n)
    return u


def output_u(state: State) -> np.ndarray:
    """The point to decode now: standardised, raw order, float32, finite and within limits."""
    return _output_u64(state).astype(np.float32)


def output_z(state: State, space: LatentSpace) -> np.ndarray:
    """The latent vector for the decoder (float32, raw order): ``mean + std * output_u``,
    computed in float64 and rounded once."""
    z = space.to_z(_output_u64(state))
    return z if np.all(np.isfinite(z)) else space.mean.astype(np.float32)


def direction_values(state: State) -> dict[str, float]:
    """Where each direction is now, in its standard deviations, keyed as mapping targets
    (``pc/<i>`` and ``dir/<name>``): its pin if pinned, else the displayed point's projection
    on it. Soft takeover and relative encoders start from these."""
    d = state.directions
    if not len(d):
        return {}
    u = _output_u64(state)
    out: dict[str, float] = {}
    for k, name in enumerate(d.names):
        v = float(state.dir_pin[k]) if state.dir_pinned[k] else _project(u, d.unit[k]) / d.scale[k]
        out[f"dir/{name}"] = v
        if d.kinds[k] == "pc":
            out[f"pc/{name[2:]}"] = v
    return out


def ranked_u(state: State, space: LatentSpace) -> np.ndarray:
    """``output_u`` in KL-rank order, for the HUD's bars and OSC feedback."""
    return space.to_ranked(output_u(state))
