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
is not smeared. ``prev_u``/``cur_u`` hold the last two ticks; ``output_u`` interpolates them by
the accumulator fraction, so motion is smooth at any display rate.

``step`` ignores ``AppCommand``s (the app acts on them); every rejected ``EngineCommand`` leaves
a one-line reason in ``State.last_errors`` for the caller to log, and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from latentsketch import commands as C
from latentsketch.latent import walks
from latentsketch.latent.space import LatentSpace
from latentsketch.params import WALK_MODES, Z_LIMIT, Param, defaults, param
from latentsketch.timestep import MAX_DT as MAX_DT  # re-exported: callers read engine.MAX_DT
from latentsketch.timestep import clamp_dt

TICK_HZ = 240
TICK = 1.0 / TICK_HZ
PIN_LIMIT = Z_LIMIT  # |value| of pins, offsets and nudges, in std
CENTRE_LIMIT = 12.0  # |centre| per dimension, in std
U_LIMIT = 8.0        # |u| per dimension of what is decoded
NORM_LIMIT = 5.0     # |u| <= NORM_LIMIT * sqrt(dim) for what is decoded
SLOTS = 9
_MIN_T = 0.05        # below this temperature a walk cannot be steered by dividing by it


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
    prev_u: np.ndarray         # displayed point at the previous tick
    cur_u: np.ndarray          # displayed point at the current tick
    slots: tuple[np.ndarray | None, ...]
    keyframes: np.ndarray | None  # a preset's tour; None: the model's, else the slots, else random
    last_errors: tuple[str, ...] = ()

    @property
    def mode(self) -> str:
        return WALK_MODES[int(self.params["walk.mode"])]

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
    ) -> State:
        """A fresh state; ``params``, ``slots`` (1-9, raw-order u) and ``keyframes`` come from a
        preset and are validated (ValueError with a one-line reason)."""
        d, seed = space.dim, int(seed) & ((1 << 64) - 1)
        zeros = _ro(np.zeros(d))
        state = cls(
            dim=d, seed=seed, params=MappingProxyType(_coerce(defaults(), params)),
            walk=walks.initial_walk(d, seed), paused=False, tick=0, acc=0.0, centre=zeros,
            pinned=_ro(np.zeros(d, bool)), pin=zeros, offset=zeros, transit=zeros,
            prev_u=zeros, cur_u=zeros, slots=(None,) * SLOTS, keyframes=None,
        )
        state = _with_preset(state, slots, keyframes)
        u = _ro(_target(state, space))
        return replace(state, prev_u=u, cur_u=u)


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


def _with_preset(state: State, slots: Mapping[int, Sequence[float]] | None,
                 keyframes: Sequence[Sequence[float]] | np.ndarray | None) -> State:
    new_slots = list(state.slots)
    for i, v in (slots or {}).items():
        if not isinstance(i, int) or not 1 <= i <= SLOTS:
            raise ValueError(f"slot {i!r} is not 1..{SLOTS}")
        new_slots[i - 1] = _vector(v, state.dim, f"slot {i}")
    kf = state.keyframes
    if keyframes is not None:
        rows = [_vector(k, state.dim, f"keyframe {n + 1}") for n, k in enumerate(keyframes)]
        kf = _ro(np.stack(rows)) if rows else None
    return replace(state, slots=tuple(new_slots), keyframes=kf)


def with_preset(
    state: State,
    space: LatentSpace,
    params: Mapping[str, object] | None = None,
    slots: Mapping[int, Sequence[float]] | None = None,
    keyframes: Sequence[Sequence[float]] | np.ndarray | None = None,
) -> State:
    """Load a preset into a running state: all-or-nothing validation, and the picture glides.

    Given slots replace those slots and keep the others; ``keyframes=None`` keeps the current
    tour, an empty list clears it (back to the model's keyframes or the slots).
    """
    values = _coerce(dict(state.params), params)
    new = _with_preset(state, slots, keyframes)
    for name, v in values.items():
        new = _set(new, name, v)
    return _absorb(new, space)


# --- the walk's target ---------------------------------------------------------------------

def _tour_keys(s: State, space: LatentSpace) -> np.ndarray | None:
    if s.keyframes is not None and len(s.keyframes) >= 2:
        return s.keyframes
    if space.keyframes.shape[0] >= 2:
        return np.clip(np.nan_to_num(space.keyframes.astype(np.float64)), -U_LIMIT, U_LIMIT)
    stored = [v for v in s.slots if v is not None]
    return np.stack(stored) if len(stored) >= 2 else None


def _compose(s: State, w: np.ndarray) -> np.ndarray:
    """Walk position (unit coordinates) -> displayed target: centre, temperature, pins, offsets."""
    free = s.centre + s.params["walk.temperature"] * w + s.offset
    return np.where(s.pinned, s.pin, free)


def _target(s: State, space: LatentSpace) -> np.ndarray:
    keys = _tour_keys(s, space) if s.mode == "tour" else None
    return _compose(s, walks.position(s.walk, s.mode, keys))


def _absorb(s: State, space: LatentSpace) -> State:
    """Keep the displayed point where it is; the jump the commands caused glides away."""
    return replace(s, transit=_ro(s.cur_u - _target(s, space)))


def _here(s: State) -> np.ndarray:
    """The displayed point in the walk's unit coordinates (to continue a walk from it)."""
    t = s.params["walk.temperature"]
    if t < _MIN_T:
        return np.zeros(s.dim)
    return np.clip((s.cur_u - s.centre - s.offset) / t, -U_LIMIT / _MIN_T, U_LIMIT / _MIN_T)


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
        new = replace(new, walk=walks.start_at(new.walk, new.mode, _here(s)))
    return new


def _put(a: np.ndarray, i: int | slice, v: object) -> np.ndarray:
    out = a.copy()
    out[i] = v
    return _ro(out)


def _release(s: State) -> State:
    return replace(s, pinned=_ro(np.zeros(s.dim, bool)), offset=_ro(np.zeros(s.dim)))


def _goto(s: State, u: np.ndarray) -> State:
    """Go to ``u`` (glides) and walk on from there; pins and offsets are released."""
    s = _release(s)
    t = s.params["walk.temperature"]
    if t < _MIN_T:
        return replace(s, centre=_ro(u.copy()))
    if s.mode == "drift":  # drift around the point
        return replace(s, centre=_ro(u.copy()), walk=walks.start_at(s.walk, "drift",
                                                                   np.zeros(s.dim)))
    if s.mode == "tour":   # dwell at the point, then travel on to the next keyframe
        return replace(s, walk=walks.start_at(s.walk, "tour", (u - s.centre) / t))
    w = walks.position(s.walk, s.mode)  # noise/orbit: shift the path so it passes through u
    return replace(s, centre=_ro(np.clip(u - t * w, -CENTRE_LIMIT, CENTRE_LIMIT)))


def _apply(s: State, cmd: C.EngineCommand, space: LatentSpace) -> State:
    if isinstance(cmd, C.SetParam):
        p = _param(cmd.name)
        return _set(s, p.name, p.coerce(cmd.value))
    if isinstance(cmd, C.NudgeParam):
        p = _param(cmd.name)
        return _set(s, p.name, p.clamp(s.params[p.name] + _num(cmd.delta, p.name + " delta")))
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
    if isinstance(cmd, C.GotoPoint):
        return _goto(s, _vector(cmd.u, s.dim, "point"))
    if isinstance(cmd, C.StoreSlot):
        i = _int(cmd.slot, "slot", 1, SLOTS)
        u = _ro(output_u(s).astype(np.float64))
        return replace(s, slots=s.slots[:i - 1] + (u,) + s.slots[i:])
    if isinstance(cmd, C.RecallSlot):
        i = _int(cmd.slot, "slot", 1, SLOTS)
        if s.slots[i - 1] is None:
            raise ValueError(f"slot {i} is empty")
        return _goto(s, s.slots[i - 1])
    if isinstance(cmd, C.SetTarget):
        x, y = _num(cmd.x, "x"), _num(cmd.y, "y")
        ix = _raw(s, space, s.params["mouse.dim_x"], "mouse.dim_x")
        iy = _raw(s, space, s.params["mouse.dim_y"], "mouse.dim_y")
        c = _put(s.centre, ix, np.clip(x, -CENTRE_LIMIT, CENTRE_LIMIT))
        return replace(s, centre=_put(c, iy, np.clip(y, -CENTRE_LIMIT, CENTRE_LIMIT)))
    if isinstance(cmd, C.NewTarget):
        return replace(s, walk=walks.new_target(s.walk, s.mode))
    if isinstance(cmd, C.Reset):
        zero = _ro(np.zeros(s.dim))
        return replace(_release(s), centre=zero,
                       walk=walks.start_at(s.walk, "drift", zero) if s.mode == "drift"
                       else replace(s.walk, tour_start=None))
    if isinstance(cmd, C.SetPause):
        return replace(s, paused=(not s.paused) if cmd.on is None else bool(_num(cmd.on, "on")))
    raise ValueError("not an engine command")


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
        try:
            s = _apply(s, cmd, space)
            changed = True
        except (ValueError, TypeError, IndexError, OverflowError) as e:
            errors.append(f"{cmd.kind}: {e}"[:200])
    if changed:
        s = _absorb(s, space)

    try:
        dt = float(dt)
    except (TypeError, ValueError):
        dt = math.nan
    if not math.isfinite(dt) or dt < 0.0:
        errors.append(f"dt = {dt!r} is not a finite non-negative number; counted as 0")
        dt = 0.0
    total = s.acc + clamp_dt(dt)
    k = int(total * TICK_HZ + 1e-6)
    acc = max(0.0, total - k * TICK)
    if k == 0:
        return replace(s, acc=acc, last_errors=tuple(errors))

    p = s.params
    glide = p["walk.glide"]
    g = math.exp(-TICK / glide) if glide > 0.0 else 0.0
    ws, tick = s.walk, s.tick
    if s.paused:
        prev_t = cur_t = _target(s, space)
    else:
        ws, prev_w, cur_w = walks.move(
            ws, s.mode, tick, k, h=TICK, speed=p["walk.speed"], dwell=p["walk.dwell"],
            keys=_tour_keys(s, space) if s.mode == "tour" else None)
        tick += k
        prev_t, cur_t = _compose(s, prev_w), _compose(s, cur_w)
    prev = s.cur_u if k == 1 else _ro(prev_t + s.transit * g ** (k - 1))
    transit = _ro(s.transit * g ** k)
    cur = _ro(cur_t + transit)
    return replace(s, walk=ws, tick=tick, acc=acc, transit=transit, prev_u=prev, cur_u=cur,
                   last_errors=tuple(errors))


# --- output --------------------------------------------------------------------------------

def output_u(state: State) -> np.ndarray:
    """The point to decode now: standardised, raw order, float32, finite and within limits."""
    alpha = min(1.0, max(0.0, state.acc * TICK_HZ))
    u = state.prev_u + (state.cur_u - state.prev_u) * alpha
    if not np.isfinite(u).all():  # cannot happen by construction; z must never see it anyway
        u = np.nan_to_num(u, nan=0.0, posinf=U_LIMIT, neginf=-U_LIMIT)
    u = np.minimum(np.maximum(u, -U_LIMIT), U_LIMIT)
    n = math.sqrt(float(np.add.reduce(u * u)))
    cap = NORM_LIMIT * math.sqrt(state.dim)
    if n > cap:
        u = u * (cap / n)
    return u.astype(np.float32)


def output_z(state: State, space: LatentSpace) -> np.ndarray:
    """The latent vector for the decoder (float32, raw order): ``mean + std * output_u``."""
    z = space.to_z(output_u(state))
    return z if np.all(np.isfinite(z)) else space.mean.astype(np.float32)


def ranked_u(state: State, space: LatentSpace) -> np.ndarray:
    """``output_u`` in KL-rank order, for the HUD's bars and OSC feedback."""
    return space.to_ranked(output_u(state))
