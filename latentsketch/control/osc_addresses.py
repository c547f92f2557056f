"""The OSC address space: received messages -> validated commands.

These names are a public interface (TouchDesigner networks and controller layouts depend on them),
and all of them come from declarations: every parameter in ``params.PARAMS`` has
``/latentsketch/<section>/<name>`` and every action in ``actions.ACTIONS`` has
``/latentsketch/<name>``. Only the latent vector, directions and preset loading are written here:

    /latentsketch/z/<i> f            pin dimension i (KL rank) at f prior standard deviations
    /latentsketch/z/<i>/release      unpin dimension i                       (trigger)
    /latentsketch/z f f f ...        pin the leading dimensions at once
    /latentsketch/pc/<i> f           pin principal direction i at f std of the data along it
    /latentsketch/pc/<i>/release     unpin principal direction i             (trigger)
    /latentsketch/dir/<name> f       offset along direction <name> by f std of the data along it
    /latentsketch/dir/<name>/release release direction <name>               (trigger)
    /latentsketch/preset s [f]       switch to a preset by name from the preset folders

``markdown_table()`` writes the whole space for README (tests keep the two equal).

Numbers may arrive as i, h, f, d or T/F (TouchDesigner sends floats for everything). A message
missing its argument is ignored, never taken as a toggle. A trigger fires on a message without
arguments, or when its value rises above 0.5 (so a button held down in a sender that repeats its
value every frame fires once). Anything else — wrong type or arity, NaN/inf, out of range, unknown
address — is ignored, counted and logged at a bounded rate with the address and sender.
Normalised 0..1 variants are the job of mappings, not of duplicate addresses. Addresses outside
/latentsketch/ go to the user's mappings.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

from latentsketch.actions import ACTIONS, Action
from latentsketch.commands import (
    Command,
    LoadPreset,
    OffsetDirection,
    ReleaseDim,
    ReleaseDirection,
    SetDim,
    SetDirection,
    SetParam,
    SetVector,
    preset_name,
)
from latentsketch.control.droplog import DropLog
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.osc import OscInput
from latentsketch.engine import SLOTS
from latentsketch.latent.directions import NAME as DIRECTION_NAME
from latentsketch.latent.directions import DirectionError, Directions, pc_name
from latentsketch.latent.fade import DEFAULT_FADE, MAX_FADE
from latentsketch.params import DIR_LIMIT, PARAMS, Z_LIMIT, Param
from latentsketch.params import OSC_PREFIX as PREFIX

log = logging.getLogger("latentsketch.osc")


class _Reject(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _as_float(v: Any) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if not isinstance(v, int | float):
        raise _Reject("type", f"{v!r} is not a number")
    f = float(v)
    if not math.isfinite(f):
        raise _Reject("nonfinite", f"{v!r} is not finite")
    return f


def _one(args: tuple[Any, ...]) -> Any:
    if not args:
        raise _Reject("missing", "missing argument")
    if len(args) > 1:
        raise _Reject("arity", f"expected 1 argument, got {len(args)}")
    return args[0]


def _slot(args: tuple[Any, ...]) -> int:
    v = _as_float(_one(args))
    i = round(v)
    if abs(v - i) > 1e-6 or not 1 <= i <= SLOTS:
        raise _Reject("range", f"slot {v:g} is not one of 1..{SLOTS}")
    return i


Handler = Callable[[str, tuple[Any, ...]], list[Command]]


class OscTranslator:
    """Turns ``OscInput`` messages into commands for a model with ``latent_dim`` dimensions.

    Keeps the small state trigger edges need (per address). With a ``mapper``, addresses the
    user mapped (or any foreign address while MIDI/OSC learn is armed) go to it first.
    """

    def __init__(self, latent_dim: int, *, mapper: MappingRuntime | None = None,
                 logger: logging.Logger = log) -> None:
        self.latent_dim = latent_dim
        self.mapper = mapper
        self.dropped = DropLog(logger, "OSC")
        self._edges: dict[str, float] = {}
        self._table: dict[str, Handler] = {p.osc_address: self._param_handler(p) for p in PARAMS}
        self._table.update({a.osc_address: self._action_handler(a) for a in ACTIONS})
        self._table.update({f"{PREFIX}/z": self._vector, f"{PREFIX}/preset": self._preset})

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every fixed address understood (plus ``/latentsketch/z/<i>`` and its ``/release``)."""
        return tuple(sorted(self._table))

    def translate(self, msg: OscInput, directions: Directions | None = None) -> list[Command]:
        """Commands for one message; never raises, never returns a non-finite value. With
        ``directions`` (the engine's table now), a direction not in it is dropped here, with
        the address and sender, rather than refused by the engine without either."""
        address, args = msg.address, msg.args
        try:
            if self.mapper is not None and self.mapper.accepts_osc(address):
                return self.mapper.feed_osc(address, args)
            handler = self._table.get(address)
            if handler is not None:
                return handler(address, args)
            if address.startswith(f"{PREFIX}/z/"):
                return self._dim(address, args)
            if address.startswith((f"{PREFIX}/pc/", f"{PREFIX}/dir/")):
                return self._direction(address, args, directions)
            raise _Reject("unknown", "unknown address")
        except _Reject as e:
            shown = " ".join(x for x in (address[:80], _show(args)) if x)
            self.dropped.drop(e.reason, "%s from %s: %s", shown, msg.sender or "?", e)
            return []

    def translate_all(self, msgs: Iterable[OscInput],
                      directions: Directions | None = None) -> list[Command]:
        """``translate`` for each message, in order."""
        out: list[Command] = []
        for m in msgs:
            out += self.translate(m, directions)
        return out

    # --- handlers ------------------------------------------------------------------------------

    def _param_handler(self, p: Param) -> Handler:
        def handle(address: str, args: tuple[Any, ...]) -> list[Command]:
            v = _one(args)
            if not (p.kind == "enum" and isinstance(v, str)):
                v = _as_float(v)
                slack = 1e-6 * (p.hi - p.lo)  # a float32 of the range's end may land just outside
                if p.lo - slack <= v < p.lo or p.hi < v <= p.hi + slack:
                    v = p.clamp(v)
            try:
                return [SetParam(p.name, p.coerce(v))]
            except ValueError as e:
                raise _Reject("range", str(e)) from None
        return handle

    def _action_handler(self, a: Action) -> Handler:
        """Triggers fire on an edge, switches gate on their value, slot actions take a slot."""
        def trigger(address: str, args: tuple[Any, ...]) -> list[Command]:
            return [a.command()] if self._edge(address, args) else []

        def gate(address: str, args: tuple[Any, ...]) -> list[Command]:
            return [a.command(_as_float(_one(args)) > 0.5)]

        def slot(address: str, args: tuple[Any, ...]) -> list[Command]:
            return [a.command(_slot(args))]
        return {"trigger": trigger, "switch": gate, "slot": slot}[a.kind]

    def _edge(self, key: str, args: tuple[Any, ...]) -> bool:
        if not args:
            return True
        v = _as_float(_one(args))
        prev = self._edges.get(key, 0.0)
        self._edges[key] = v
        return v > 0.5 >= prev

    def _check_z(self, v: float) -> float:
        if abs(v) > Z_LIMIT:
            raise _Reject("range", f"{v:g} is out of range -{Z_LIMIT:g}..{Z_LIMIT:g} std")
        return v

    def _dim(self, address: str, args: tuple[Any, ...]) -> list[Command]:
        parts = address[len(PREFIX) + 3:].split("/")
        idx = parts[0]
        if not (idx.isascii() and idx.isdigit() and len(idx) <= 6) or len(parts) > 2 or (
                len(parts) == 2 and parts[1] != "release"):
            raise _Reject("unknown", "unknown address")
        i = int(idx)
        if i >= self.latent_dim:
            raise _Reject("range", f"dimension {i} is out of range 0..{self.latent_dim - 1}")
        if len(parts) == 2:
            key = f"{PREFIX}/z/{i}/release"  # one edge per dimension, however it is spelled
            return [ReleaseDim(i)] if self._edge(key, args) else []
        return [SetDim(i, self._check_z(_as_float(_one(args))))]

    def _direction(self, address: str, args: tuple[Any, ...],
                   directions: Directions | None) -> list[Command]:
        """``pc/<i>`` pins principal direction i, ``dir/<name>`` offsets direction <name>;
        either with ``/release``. Whether the direction exists: ``directions`` if given, else
        the engine's to say."""
        kind, *parts = address[len(PREFIX) + 1:].split("/")
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] != "release"):
            raise _Reject("unknown", "unknown address")
        if kind == "pc":
            idx = parts[0]
            if not (idx.isascii() and idx.isdigit() and len(idx) <= 6):
                raise _Reject("unknown", "unknown address")
            if int(idx) >= self.latent_dim:
                raise _Reject("range", f"principal direction {int(idx)} is out of range "
                                       f"0..{self.latent_dim - 1}")
            name = pc_name(int(idx))
        else:
            name = parts[0]
            if not DIRECTION_NAME.fullmatch(name):
                raise _Reject("unknown", "unknown address (a direction's name is 1-32 letters, "
                                         "digits, '_' or '-')")
        if directions is not None:
            try:
                directions.index(name)
            except DirectionError as e:
                raise _Reject("unknown", str(e)) from None
        if len(parts) == 2:  # one edge per direction, however it is spelled
            return [ReleaseDirection(name)] if self._edge(f"{PREFIX}/{kind}/{name}/release",
                                                          args) else []
        v = _as_float(_one(args))
        if abs(v) > DIR_LIMIT:
            raise _Reject("range", f"{v:g} is out of range -{DIR_LIMIT:g}..{DIR_LIMIT:g} std")
        return [SetDirection(name, v) if kind == "pc" else OffsetDirection(name, v)]

    def _vector(self, address: str, args: tuple[Any, ...]) -> list[Command]:
        if len(args) == 1 and isinstance(args[0], tuple):
            args = args[0]  # one OSC array argument
        if not args:
            raise _Reject("missing", "missing arguments")
        if len(args) > self.latent_dim:
            raise _Reject("arity", f"{len(args)} values for {self.latent_dim} dimensions")
        return [SetVector(tuple(self._check_z(_as_float(v)) for v in args))]

    def _preset(self, address: str, args: tuple[Any, ...]) -> list[Command]:
        fade = None
        if len(args) == 2:   # a name and a fade in seconds
            args, fade = args[:1], _as_float(args[1])
            if not 0.0 <= fade <= MAX_FADE:
                raise _Reject("range", f"fade {fade:g} is out of range 0..{MAX_FADE:g} s")
        name = _one(args)
        if not isinstance(name, str):
            raise _Reject("type", f"{name!r} is not a preset name (a string)")
        try:
            return [LoadPreset(preset_name(name), fade)]
        except ValueError as e:
            raise _Reject("range", str(e)) from None


def markdown_table() -> str:
    """The address space as README's Markdown table, generated from the declarations: each
    row's address, arguments, effect, and the mapping target (MIDI, OSC mappings, learn)."""
    rows = [
        (f"{PREFIX}/z/<i>", "f", f"pin dimension *i* (KL rank) at f standard deviations "
                                 f"(-{Z_LIMIT:g}..{Z_LIMIT:g})", "z/<i>"),
        (f"{PREFIX}/z/<i>/release", "", "unpin dimension *i*", "z/<i>/release"),
        (f"{PREFIX}/z", "f f f ...", "pin the leading dimensions at once", ""),
        (f"{PREFIX}/pc/<i>", "f", f"pin principal direction *i* at f standard deviations of "
                                  f"the data along it (-{DIR_LIMIT:g}..{DIR_LIMIT:g})", "pc/<i>"),
        (f"{PREFIX}/pc/<i>/release", "", "unpin principal direction *i*", "pc/<i>/release"),
        (f"{PREFIX}/dir/<name>", "f", f"offset along direction *name* (`pc0`... or an "
                                      f"attribute's) by f standard deviations "
                                      f"(-{DIR_LIMIT:g}..{DIR_LIMIT:g})", "dir/<name>"),
        (f"{PREFIX}/dir/<name>/release", "", "release direction *name* (its offset and pin)",
         "dir/<name>/release"),
    ]
    for p in PARAMS:
        if p.kind == "enum":
            args = "s or i"
            what = f"{', '.join(f'`{c}`' for c in p.choices)} (or 0..{len(p.choices) - 1})"
        elif p.kind == "bool":
            args, what = "i", f"{p.help}: 1 on, 0 off"
        else:
            args, what = ("i" if p.kind == "int" else "f"), f"{p.help}: {p.lo:g}..{p.hi:g}{p.unit}"
        rows.append((p.osc_address, args, what, p.name))
    for x in ACTIONS:
        what = {"trigger": x.help, "switch": f"{x.help}: 1 on, 0 off",
                "slot": f"{x.help} 1..{SLOTS}"}[x.kind]
        target = f"{x.name}/<n>" if x.kind == "slot" else x.name
        rows.append((x.osc_address, x.osc_args, what, target))
    rows.append((f"{PREFIX}/preset", "s [f]", "switch to a preset by name (only from the "
                                               "preset folders; `/` and `..` refused), "
                                               "crossfading over f seconds (default: the "
                                               "preset's `[scene] fade`, else "
                                               f"{DEFAULT_FADE:g} s)", ""))
    lines = ["| address | arguments | effect | mapping target |", "|---|---|---|---|"]
    for address, args, what, target in rows:
        lines.append(f"| `{address}` | {args} | {what} | {f'`{target}`' if target else ''} |")
    return "\n".join(lines)


def _show(args: tuple[Any, ...]) -> str:
    text = " ".join(repr(a) for a in args[:4]) + (" ..." if len(args) > 4 else "")
    return text[:80]
