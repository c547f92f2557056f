"""Mappings: a control (OSC channel, MIDI CC or note) bound to a target, as presets store them.

A mapping says where a value comes from (``osc`` address + ``arg`` index, or ``cc``/``note`` +
``channel``, optionally a 14-bit CC pair), what it drives (``z/<i>``, a principal direction
``pc/<i>``, a direction ``dir/<name>``, any declared parameter, any action declared in
``actions``: ``pause``, ``record``, ``snapshot``, ``slot/recall/<n>``...), and how: input and
output ranges, curve, smoothing, absolute or relative (endless encoders), pin or offset for
latent dimensions and directions (``z_mode``: ``z/`` and ``pc/`` pin by default, ``dir/``
offsets: attribute directions cannot be pinned), soft takeover, toggle or gate for buttons.
A ``source`` instead of a control is a modulation source (``audio.low``, declared in
``modsources``): the same ranges, curves and smoothing, its values pushed by the program.
It is a frozen value, read from and written to TOML tables; the moving parts live in
``control/mapping_runtime.py``. Pure data below ``preset`` and ``control``, which both read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

from latentsketch.actions import ACTION_BY_NAME, Action, target_names
from latentsketch.commands import Command, ReleaseDim, ReleaseDirection
from latentsketch.errors import UserError
from latentsketch.latent.directions import NAME as DIRECTION_NAME
from latentsketch.latent.directions import pc_name
from latentsketch.modsources import MOD_SOURCE_BY_NAME
from latentsketch.params import DIR_LIMIT, PARAM_BY_NAME, Z_LIMIT, Z_RANGE, Param

EXP_K = 4.0
"""Steepness of the ``exp`` curve on ranges that touch zero: half a turn gives 1/5 of the range."""

CURVES = ("linear", "exp")
MODES = ("absolute", "relative")
ENCODINGS = ("twos", "offset64", "signbit", "delta")
Z_MODES = ("pin", "offset")
TAKEOVERS = ("jump", "soft")
BUTTONS = ("toggle", "gate")


class MappingError(UserError, ValueError):
    """Invalid mapping; the message starts with the offending key (``curve = 'log' is ...``)."""


@dataclass(frozen=True)
class Target:
    """What a mapping drives. ``kind``: dim, direction, param (continuous), switch (on/off) or
    trigger; a switch or trigger declared in ``actions`` carries its ``action`` (and a slot its
    ``index``), a bool parameter used as a switch its ``param``, a direction (or its release)
    its ``direction`` name (``pc/<i>`` is direction ``pc<i>``, with ``index`` i)."""

    kind: Literal["dim", "direction", "param", "switch", "trigger"]
    name: str
    index: int = -1
    param: Param | None = None
    action: Action | None = None
    direction: str = ""

    @property
    def default_z_mode(self) -> str:
        """``offset`` for ``dir/<name>`` (attribute directions cannot be pinned), else ``pin``."""
        return "offset" if self.kind == "direction" and self.name.startswith("dir/") else "pin"

    @property
    def limit(self) -> float:
        """Largest |value| a latent dimension or a direction may be set to."""
        return DIR_LIMIT if self.kind == "direction" else Z_LIMIT

    @property
    def key(self) -> str:
        """Key of this target's value in the ``current`` mapping handed to
        ``MappingRuntime.update``."""
        return self.name

    def command(self) -> Command:
        """The command a trigger target fires."""
        if self.action is not None:
            return self.action.command(self.index if self.action.kind == "slot" else None)
        if self.direction:
            return ReleaseDirection(self.direction)  # pc/<i>/release, dir/<name>/release
        return ReleaseDim(self.index)     # z/<i>/release


def _small_int(text: str, limit: int) -> int | None:
    if text.isascii() and text.isdigit() and len(text) <= 4 and int(text) <= limit:
        return int(text)
    return None


def parse_target(text: object) -> Target:
    """Parse a target name; raises MappingError listing what is accepted."""
    if isinstance(text, str):
        p = PARAM_BY_NAME.get(text)
        if p is not None:
            return Target("switch" if p.kind == "bool" else "param", text, param=p)
        a = ACTION_BY_NAME.get(text)
        if a is not None and a.kind != "slot":
            return Target("switch" if a.kind == "switch" else "trigger", text, action=a)
        parts = text.split("/")
        if parts[0] == "z" and len(parts) in (2, 3):
            i = _small_int(parts[1], 4095)
            if i is not None and len(parts) == 2:
                return Target("dim", text, index=i)
            if i is not None and parts[2] == "release":
                return Target("trigger", text, index=i)
        if parts[0] == "pc" and len(parts) in (2, 3) and (len(parts) == 2 or parts[2] == "release"):
            i = _small_int(parts[1], 4095)
            if i is not None:
                return Target("direction" if len(parts) == 2 else "trigger", text, index=i,
                              direction=pc_name(i))
        if (parts[0] == "dir" and len(parts) in (2, 3) and DIRECTION_NAME.fullmatch(parts[1])
                and (len(parts) == 2 or parts[2] == "release")):
            return Target("direction" if len(parts) == 2 else "trigger", text,
                          direction=parts[1])
        a = ACTION_BY_NAME.get("/".join(parts[:-1]))
        if a is not None and a.kind == "slot" and text in a.targets:
            return Target("trigger", text, index=int(parts[-1]), action=a)
    raise MappingError(
        f"target = {text!r} is not a target (z/<i>, z/<i>/release, pc/<i>, dir/<name>, their "
        f"/release, a parameter such as walk.speed, {', '.join(target_names())})"
    )


def shape(x: float, lo: float, hi: float, curve: str) -> float:
    """Map 0..1 onto lo..hi along ``curve`` (geometric when both ends share a sign)."""
    if curve == "exp":
        if lo * hi > 0:
            return lo * (hi / lo) ** x
        x = (2.0 ** (EXP_K * x) - 1.0) / (2.0 ** EXP_K - 1.0)
    return lo + (hi - lo) * x


def unshape(v: float, lo: float, hi: float, curve: str) -> float:
    """Inverse of ``shape``, clamped to 0..1 (where a relative encoder picks up a value)."""
    if hi == lo:
        return 0.0
    if curve == "exp" and lo * hi > 0:
        r = v / lo
        return min(1.0, max(0.0, math.log(r) / math.log(hi / lo))) if r > 0 else 0.0
    t = min(1.0, max(0.0, (v - lo) / (hi - lo)))
    if curve == "exp":
        t = math.log2(t * (2.0 ** EXP_K - 1.0) + 1.0) / EXP_K
    return t


def _pair(key: str, v: Any) -> tuple[float, float]:
    ok = (isinstance(v, list | tuple) and len(v) == 2
          and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v))
    if not ok or not all(math.isfinite(x) for x in v):
        raise MappingError(f"{key} = {v!r} is not two finite numbers [low, high]")
    lo, hi = float(v[0]), float(v[1])
    if lo == hi:
        raise MappingError(f"{key} = {v!r} is an empty range")
    return lo, hi


def _choice(key: str, v: Any, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise MappingError(f"{key} = {v!r} is not one of {', '.join(choices)}")
    return v


def _int(key: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise MappingError(f"{key} = {v!r} is not a whole number in {lo}..{hi}")
    return v


_TOML_KEYS = {"in_range": "in", "out_range": "out"}


def _declared_range(t: Target) -> tuple[float, float]:
    """A continuous target's default output range: its parameter's declared range, or
    -Z_RANGE..Z_RANGE std for a latent dimension or a direction."""
    return (t.param.lo, t.param.hi) if t.param is not None else (-Z_RANGE, Z_RANGE)


@dataclass(frozen=True)
class ControlMapping:
    """One binding from a control to a target. Exactly one of ``osc``, ``cc``, ``note``,
    ``source`` (a modulation source, ``modsources``) is set.

    ``in_range``/``out_range`` of None mean the source's natural range (0..1 for OSC, 0..127 for
    MIDI, 0..16383 for 14-bit CC, a modulation source's declared range) and the target's
    declared range (the parameter's, or -3..3 std for a latent dimension or a direction:
    ``params.Z_RANGE``); an ``out_range`` equal to the
    declared one is stored as None, so a file that spells the default out loads equal to one
    that leaves it out. TOML spells them ``in`` and ``out``. ``z_mode`` None is the target's
    default (``Target.default_z_mode``); spelled out, the default is stored as None too.
    """

    target: str
    osc: str | None = None
    arg: int = 0
    cc: int | None = None
    note: int | None = None
    channel: int | None = None
    cc14: bool = False
    in_range: tuple[float, float] | None = None
    out_range: tuple[float, float] | None = None
    curve: str | None = None
    smooth: float = 0.0
    mode: str = "absolute"
    encoding: str = "twos"
    z_mode: str | None = None
    takeover: str = "jump"
    button: str = "toggle"
    source: str | None = None

    def __post_init__(self) -> None:
        t = parse_target(self.target)
        sources = [k for k in ("osc", "cc", "note", "source") if getattr(self, k) is not None]
        if len(sources) != 1:
            got = ", ".join(sources) or "none"
            raise MappingError(f"source: needs exactly one of osc, cc, note, source (got {got})")
        if self.source is not None:
            if self.source not in MOD_SOURCE_BY_NAME:
                raise MappingError(f"source = {self.source!r} is not a modulation source "
                                   f"({', '.join(MOD_SOURCE_BY_NAME)})")
            if self.channel is not None or self.cc14:
                raise MappingError("channel: only MIDI sources (cc, note) have a channel or cc14")
        elif self.osc is not None:
            ok = (isinstance(self.osc, str) and self.osc.startswith("/") and self.osc.isprintable()
                  and " " not in self.osc and 1 < len(self.osc) <= 256)
            if not ok:
                raise MappingError(f"osc = {self.osc!r} is not an OSC address like /knob1")
            _int("arg", self.arg, 0, 255)
            if self.channel is not None or self.cc14:
                raise MappingError("channel: only MIDI sources (cc, note) have a channel or cc14")
        else:
            if self.cc14 is True and self.cc is None:
                raise MappingError("cc14 = true needs a cc source (the MSB controller, 0..31)")
            if self.cc is not None:
                _int("cc", self.cc, 0, 31 if self.cc14 is True else 127)
            else:
                _int("note", self.note, 0, 127)
            if self.channel is not None:
                _int("channel", self.channel, 1, 16)
        for key in ("in_range", "out_range"):
            v = getattr(self, key)
            if v is not None:
                object.__setattr__(self, key, _pair(_TOML_KEYS[key], v))
        if self.curve is not None:
            _choice("curve", self.curve, CURVES)
        ok = (isinstance(self.smooth, int | float) and not isinstance(self.smooth, bool)
              and math.isfinite(self.smooth) and 0.0 <= self.smooth <= 60.0)
        if not ok:
            raise MappingError(f"smooth = {self.smooth!r} is not a time constant in 0..60 s")
        object.__setattr__(self, "smooth", float(self.smooth))
        _choice("mode", self.mode, MODES)
        _choice("encoding", self.encoding, ENCODINGS)
        if self.z_mode is not None:
            _choice("z_mode", self.z_mode, Z_MODES)
            if self.z_mode == t.default_z_mode:
                object.__setattr__(self, "z_mode", None)
        _choice("takeover", self.takeover, TAKEOVERS)
        _choice("button", self.button, BUTTONS)
        if not isinstance(self.cc14, bool):
            raise MappingError(f"cc14 = {self.cc14!r} is not true or false")
        if self.mode == "relative":
            if t.kind not in ("dim", "direction", "param"):
                raise MappingError(
                    f"mode = 'relative' needs a continuous target, not {self.target}")
            if self.note is not None or self.source is not None:
                raise MappingError("mode = 'relative' needs a cc or osc source, not a note or "
                                   "a modulation source")
        if self.out_range is not None and t.kind in ("dim", "direction", "param"):
            lo, hi = (t.param.lo, t.param.hi) if t.param else (-t.limit, t.limit)
            if not all(lo <= v <= hi for v in self.out_range):
                raise MappingError(f"out = {list(self.out_range)} is outside {self.target}'s range "
                                   f"{lo:g}..{hi:g}")
            if self.out_range == _declared_range(t):
                object.__setattr__(self, "out_range", None)  # the default, spelled out

    @property
    def parsed_target(self) -> Target:
        return parse_target(self.target)

    @property
    def offsets(self) -> bool:
        """A latent dimension or direction target adds to the walk instead of pinning."""
        return (self.z_mode or self.parsed_target.default_z_mode) == "offset"

    def input_range(self) -> tuple[float, float]:
        if self.in_range is not None:
            return self.in_range
        if self.source is not None:
            src = MOD_SOURCE_BY_NAME[self.source]
            return (src.lo, src.hi)
        if self.osc is not None:
            return (0.0, 1.0)
        return (0.0, 16383.0) if self.cc14 else (0.0, 127.0)

    def output_range(self) -> tuple[float, float]:
        return self.out_range if self.out_range is not None else _declared_range(
            self.parsed_target)

    def effective_curve(self) -> str:
        if self.curve is not None:
            return self.curve
        p = self.parsed_target.param
        return p.curve if p is not None else "linear"

    def same_source(self, other: ControlMapping) -> bool:
        return (self.osc, self.arg if self.osc else 0, self.cc, self.note, self.channel,
                self.source) == (other.osc, other.arg if other.osc else 0, other.cc,
                                 other.note, other.channel, other.source)

    def describe_source(self) -> str:
        if self.source is not None:
            return f"source {self.source}"
        if self.osc is not None:
            return self.osc if self.arg == 0 else f"{self.osc} arg {self.arg}"
        ch = f" ch {self.channel}" if self.channel is not None else ""
        if self.cc is not None:
            return f"{'cc14' if self.cc14 else 'cc'} {self.cc}{ch}"
        return f"note {self.note}{ch}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ControlMapping:
        """Build from a TOML table; raises MappingError naming the key."""
        if not isinstance(d, dict):
            raise MappingError(f"= {d!r} is not a table")
        names = {f.name for f in fields(cls)}
        rev = {v: k for k, v in _TOML_KEYS.items()}
        kwargs: dict[str, Any] = {}
        for k, v in d.items():
            name = rev.get(k, k)
            if name not in names:
                known = ", ".join(_TOML_KEYS.get(f.name, f.name) for f in fields(cls))
                raise MappingError(f"{k}: unknown key (known: {known})")
            kwargs[name] = v
        if "target" not in kwargs:
            raise MappingError("target: missing (e.g. target = \"z/0\" or \"walk.speed\")")
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise MappingError(f"source: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        """Only the keys that differ from the defaults, so written presets stay readable."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name != "target" and v == f.default:
                continue
            out[_TOML_KEYS.get(f.name, f.name)] = list(v) if isinstance(v, tuple) else v
        return out
