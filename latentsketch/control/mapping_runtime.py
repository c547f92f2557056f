"""The moving parts of mappings: control values in, commands out, plus MIDI/OSC learn.

Buttons (switches, triggers) produce their command as the control moves. Continuous targets
(latent dimensions, parameters) only record where the control wants the value to go; once per
frame ``update(dt, current)`` advances a one-pole glide towards it and emits one command per target
whose value changed. So a jumpy knob glides, a burst of a thousand messages costs one command per
frame, and the glide is frame-rate independent (the pole is ``exp(-dt / smooth)``).

``current`` maps target keys to the values in the engine state after the previous frame's commands
(``"walk.speed"`` -> 1.0, ``"z/0"`` -> -0.4 std in KL-rank order, ``"pc/0"`` and ``"dir/round"``
-> where the picture is along those directions: ``engine.direction_values``). It drives soft
takeover (a knob does nothing until it crosses the current value), lets relative encoders
continue from the current value, and tells a mapping that someone else (keys, a preset) moved
its target.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from collections.abc import Mapping as AbstractMapping
from typing import Any

import numpy as np

from latentsketch import engine
from latentsketch.commands import (
    Command,
    OffsetDim,
    OffsetDirection,
    SetDim,
    SetDirection,
    SetParam,
)
from latentsketch.control.droplog import DropLog
from latentsketch.latent.space import LatentSpace
from latentsketch.mapping import ControlMapping, MappingError, Target, parse_target, shape, unshape
from latentsketch.params import OSC_PREFIX
from latentsketch.timestep import clamp_dt

log = logging.getLogger("latentsketch.mapping")

PICKUP = 0.02
"""Soft-takeover window and "moved by someone else" tolerance, as a share of the output range."""


class _Live:
    """Per-mapping state that changes as controls move (the ControlMapping itself stays frozen)."""

    __slots__ = ("m", "t", "in_lo", "in_hi", "out_lo", "out_hi", "curve", "tol", "edge", "knob",
                 "engaged", "goal", "y", "sent", "pos", "msb", "offsets")

    def __init__(self, m: ControlMapping, t: Target) -> None:
        self.m, self.t = m, t
        self.in_lo, self.in_hi = m.input_range()
        self.out_lo, self.out_hi = m.output_range()
        self.curve = m.effective_curve()
        self.offsets = m.offsets
        self.tol = PICKUP * abs(self.out_hi - self.out_lo)
        self.edge = 0.0
        self.knob: float | None = None
        self.engaged = m.takeover == "jump" or m.mode == "relative"
        self.goal: float | None = None
        self.y: float | None = None
        self.sent: float | None = None
        self.pos: float | None = None
        self.msb = 0

    def unit(self, raw: float) -> float:
        return min(1.0, max(0.0, (raw - self.in_lo) / (self.in_hi - self.in_lo)))

    def finish(self, y: float) -> float:
        if self.t.param is not None:
            return self.t.param.clamp(y)
        return min(self.t.limit, max(-self.t.limit, y))


def _relative_ticks(raw: float, encoding: str) -> float:
    if encoding == "delta":
        return raw
    v = int(raw) & 0x7F
    if encoding == "twos":
        return float(v - 128 if v >= 64 else v)
    if encoding == "offset64":
        return float(v - 64)
    return float(-(v & 0x3F) if v & 0x40 else v & 0x3F)  # signbit


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        f = float(v)
        return f if math.isfinite(f) else None
    return None


class MappingRuntime:
    """Runs a set of mappings for a model with ``latent_dim`` dimensions.

    Feed it controls (``feed_midi``, ``feed_osc``), then call ``update`` once per frame. Learn:
    ``arm(target)``, and the next MIDI control moved (or OSC address outside /latentsketch/)
    becomes a mapping to that target; ``take_learned()`` returns it once.
    """

    def __init__(self, mappings: Iterable[ControlMapping] = (), latent_dim: int = 0,
                 logger: logging.Logger = log) -> None:
        self.latent_dim = latent_dim
        self.dropped = DropLog(logger, "mapping")
        self._log = logger
        self._mappings: tuple[ControlMapping, ...] = ()
        self._lives: list[_Live] = []
        self._by_cc: dict[int, list[_Live]] = {}
        self._by_note: dict[int, list[_Live]] = {}
        self._by_osc: dict[str, list[_Live]] = {}
        self._by_source: dict[str, list[_Live]] = {}
        self._current: AbstractMapping[str, float] = {}
        self._armed: str | None = None
        self._learned: ControlMapping | None = None
        self.set_mappings(mappings)

    # --- configuration -------------------------------------------------------------------------

    @property
    def mappings(self) -> tuple[ControlMapping, ...]:
        """All mappings, including inactive ones (kept so a saved preset loses nothing)."""
        return self._mappings

    def set_mappings(self, mappings: Iterable[ControlMapping]) -> None:
        """Replace the mappings; unchanged ones keep their glide and takeover state."""
        old: dict[ControlMapping, list[_Live]] = {}
        for live in self._lives:
            old.setdefault(live.m, []).append(live)
        self._mappings = tuple(mappings)
        self._lives, self._by_cc, self._by_note, self._by_osc = [], {}, {}, {}
        self._by_source = {}
        for m in self._mappings:
            t = m.parsed_target
            if t.kind in ("dim", "direction") and t.index >= self.latent_dim:
                self._log.warning("mapping %s -> %s ignored: the model has %d latent dimensions",
                                  m.describe_source(), m.target, self.latent_dim)
                continue
            reuse = old.get(m)
            live = reuse.pop(0) if reuse else _Live(m, t)
            self._lives.append(live)
            if m.source is not None:
                self._by_source.setdefault(m.source, []).append(live)
            elif m.osc is not None:
                self._by_osc.setdefault(m.osc, []).append(live)
            elif m.cc is not None:
                self._by_cc.setdefault(m.cc, []).append(live)
                if m.cc14:
                    self._by_cc.setdefault(m.cc + 32, []).append(live)
            else:
                assert m.note is not None
                self._by_note.setdefault(m.note, []).append(live)

    def arm(self, target: str) -> None:
        """Arm learn: the next control moved binds to ``target``; raises MappingError."""
        t = parse_target(target)
        if t.kind in ("dim", "direction") and t.index >= self.latent_dim:
            raise MappingError(f"target = {target!r}: the model has {self.latent_dim} dimensions")
        self._armed = target

    def cancel_learn(self) -> None:
        self._armed = None

    @property
    def learning(self) -> str | None:
        """The armed target, or None."""
        return self._armed

    def take_learned(self) -> ControlMapping | None:
        """The mapping made by the last completed learn, once (for the HUD and 'save preset')."""
        m, self._learned = self._learned, None
        return m

    def accepts_osc(self, address: str) -> bool:
        """Whether ``feed_osc`` wants this address (mapped, or learn armed and address foreign)."""
        return address in self._by_osc or (
            self._armed is not None and not address.startswith(OSC_PREFIX + "/"))

    # --- input ---------------------------------------------------------------------------------

    def feed_midi(self, msg: Any) -> list[Command]:
        """Apply one MIDI message (a ``mido.Message`` or anything with the same attributes)."""
        kind = getattr(msg, "type", None)
        if kind == "control_change":
            ch, num, val = msg.channel + 1, msg.control, msg.value
            if self._armed is not None:
                return self._learn(ControlMapping(self._armed, cc=num, channel=ch, smooth=0.1))
            out: list[Command] = []
            for live in self._by_cc.get(num, ()):
                m = live.m
                if m.channel is not None and m.channel != ch:
                    continue
                if not m.cc14:
                    raw = val
                elif num == m.cc:  # MSB: the LSB resets to 0 until it arrives (MIDI 1.0 spec)
                    live.msb = val
                    raw = val << 7
                else:
                    raw = (live.msb << 7) | val
                out += self._input(live, float(raw), note=False)
            return out
        if kind in ("note_on", "note_off"):
            ch, num = msg.channel + 1, msg.note
            vel = msg.velocity if kind == "note_on" else 0
            if self._armed is not None:
                return self._learn(ControlMapping(self._armed, note=num, channel=ch)) if vel else []
            out = []
            for live in self._by_note.get(num, ()):
                if live.m.channel is None or live.m.channel == ch:
                    out += self._input(live, float(vel), note=True)
            return out
        return []

    def feed_osc(self, address: str, args: Sequence[Any]) -> list[Command]:
        """Apply one OSC message to the mappings on ``address`` (or learn it when armed)."""
        lives = self._by_osc.get(address)
        if lives is None:
            if self._armed is not None and not address.startswith(OSC_PREFIX + "/") and args:
                first = _number(args[0])
                if first is None:
                    return []
                # a bridge sending MIDI-style 0..127 integers gets that input range
                rng = (0.0, 127.0) if isinstance(args[0], int) and first > 1 else None
                return self._learn(ControlMapping(self._armed, osc=address, in_range=rng,
                                                  smooth=0.1))
            return []
        out: list[Command] = []
        for live in lives:
            arg = live.m.arg
            if arg >= len(args):
                self.dropped.drop("arity", "%s: mapping wants argument %d, message has %d",
                                  address, arg, len(args))
                continue
            v = _number(args[arg])
            if v is None:
                self.dropped.drop("type", "%s: argument %d = %r is not a finite number",
                                  address, arg, args[arg])
                continue
            out += self._input(live, v, note=False)
        return out

    @property
    def source_names(self) -> frozenset[str]:
        """The modulation sources some mapping listens to (a producer may skip the others)."""
        return frozenset(self._by_source)

    def feed_source(self, name: str, value: float) -> list[Command]:
        """Apply one value of modulation source ``name`` (``modsources``) to its mappings, as
        ``feed_osc`` applies a control's: continuous targets glide there at the next
        ``update``, triggers fire when the value rises through the middle of its range.
        Never learns (a source would bind the instant learn is armed); a non-finite value is
        counted and dropped."""
        lives = self._by_source.get(name)
        if not lives:
            return []
        v = _number(value)
        if v is None:
            self.dropped.drop("source", "source %s: value %r is not a finite number", name,
                              value)
            return []
        out: list[Command] = []
        for live in lives:
            out += self._input(live, v, note=False)
        return out

    def feed_sources(self, samples: Iterable[tuple[str, float]]) -> list[Command]:
        """``feed_source`` for each (name, value) in order (``ModulationBus.drain``'s)."""
        out: list[Command] = []
        for name, value in samples:
            out += self.feed_source(name, value)
        return out

    def update(self, dt: float,
               current: AbstractMapping[str, float] | None = None) -> list[Command]:
        """Advance glides by ``dt`` seconds; one command per continuous target that changed."""
        if current is not None:
            self._current = current
        dt = clamp_dt(dt)
        out: list[Command] = []
        for live in self._lives:
            if live.goal is None:
                continue
            c = self._current_of(live)
            if (live.m.takeover == "soft" and live.m.mode == "absolute" and live.sent is not None
                    and c is not None and abs(c - live.sent) > live.tol):
                # someone else moved it: the knob must pick it up again
                live.engaged, live.knob = False, None
                live.goal = live.y = live.sent = None
                continue
            y = live.y if live.y is not None else (c if c is not None else live.goal)
            tau = live.m.smooth
            y += (live.goal - y) * (1.0 if tau <= 0 else -math.expm1(-dt / tau))
            if abs(live.goal - y) <= 1e-4 * abs(live.out_hi - live.out_lo):
                y = live.goal
            live.y = y
            v = live.finish(y)
            if v != live.sent:
                live.sent = v
                out.append(self._set(live, v))
        return out

    # --- internals -----------------------------------------------------------------------------

    def _learn(self, m: ControlMapping) -> list[Command]:
        self._armed = None
        self.set_mappings([*(x for x in self._mappings if not x.same_source(m)), m])
        self._learned = m
        self._log.info("learned %s -> %s", m.describe_source(), m.target)
        return []

    def _current_of(self, live: _Live) -> float | None:
        if live.t.kind in ("dim", "direction") and live.offsets:
            return live.sent if live.sent is not None else 0.0
        v = self._current.get(live.t.key)
        if v is None:
            return None
        v = float(v)
        return v if math.isfinite(v) else None

    def _set(self, live: _Live, v: float) -> Command:
        t = live.t
        if t.kind == "dim":
            return OffsetDim(t.index, v) if live.offsets else SetDim(t.index, v)
        if t.kind == "direction":
            return (OffsetDirection(t.direction, v) if live.offsets
                    else SetDirection(t.direction, v))
        return SetParam(t.name, v)

    def _input(self, live: _Live, raw: float, note: bool) -> list[Command]:
        t = live.t
        if t.kind in ("dim", "direction", "param"):
            self._continuous(live, raw)
            return []
        x = (1.0 if raw > 0 else 0.0) if note else live.unit(raw)
        on, was = x > 0.5, live.edge > 0.5
        live.edge = x
        if t.kind == "trigger":
            return [t.command()] if on and not was else []
        if live.m.button == "gate":
            return [self._switch(t, on)] if on != was else []
        return [self._switch(t, None)] if on and not was else []

    def _switch(self, t: Target, on: bool | None) -> Command:
        """Gate (``on`` given) or toggle (``on`` None) of a switch action or a bool parameter."""
        if t.action is not None:
            return t.action.command(on, self._current)
        if on is None:
            assert t.param is not None
            cur = self._current.get(t.name, t.param.default)
            on = not (math.isfinite(float(cur)) and float(cur) > 0.5)
        return SetParam(t.name, 1.0 if on else 0.0)

    def _continuous(self, live: _Live, raw: float) -> None:
        m = live.m
        c = self._current_of(live)
        lo, hi = live.out_lo, live.out_hi
        if m.mode == "relative":
            ticks = _relative_ticks(raw, m.encoding)
            if ticks == 0:
                return
            moved = c is not None and live.sent is not None and abs(c - live.sent) > live.tol
            if live.pos is None or moved:
                live.pos = unshape(c, lo, hi, live.curve) if c is not None else 0.5
                live.y = None
            live.pos = min(1.0, max(0.0, live.pos + ticks / (live.in_hi - live.in_lo)))
            out = shape(live.pos, lo, hi, live.curve)
        else:
            out = shape(live.unit(raw), lo, hi, live.curve)
            if not live.engaged:
                prev, live.knob = live.knob, out
                crossed = prev is not None and c is not None and (prev - c) * (out - c) <= 0
                if c is not None and abs(out - c) > live.tol and not crossed:
                    return
                live.engaged = True
            live.knob = out
        live.goal = out  # update() glides there, starting from the current value


def current_values(state: engine.State, space: LatentSpace) -> dict[str, float]:
    """The ``current`` that ``MappingRuntime.update`` compares with, from an engine state: its
    parameters, ``z/<i>`` in KL-rank order (a pinned dimension's pin, not the glide on
    screen) and where the picture is along each direction. The live loop and offline
    modulation (``render --audio``) both use it."""
    current = dict(state.params)
    u = np.where(state.pinned, state.pin, engine.output_u(state))
    current.update({f"z/{i}": float(v) for i, v in enumerate(space.to_ranked(u))})
    current.update(engine.direction_values(state))
    return current
