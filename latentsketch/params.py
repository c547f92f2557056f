"""Every performable parameter, declared once.

One declaration drives key bindings, OSC addresses (and OSC feedback), MIDI mappings, preset
fields, the HUD, help and validation, so adding a parameter is one line in ``PARAMS``: its range
and unit, how far a key moves it (``step`` or ``stops``), how many decimals it shows, and the key
that moves it. Values live in the engine state (``State.params``), never here. The actions
(triggers and switches) are declared the same way in ``actions.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, TypeVar

from latentsketch import effects, tempo
from latentsketch.keys import Keys
from latentsketch.latent.interp import EASINGS
from latentsketch.latent.walks import WALKS

Kind = Literal["float", "int", "bool", "enum"]

WALK_MODES: tuple[str, ...] = tuple(WALKS)   # the registry's order is the enum's
FIT_MODES: tuple[str, ...] = ("fit", "fill", "stretch")
"""How the picture meets a window of another shape (``output/geometry.py`` draws each); a
preset's ``[display] fit``, ``--fit`` and the Z key choose among them."""
PAD_AXES: tuple[str, ...] = ("dims", "pcs")
"""What the mouse pad's two axes steer (``mouse.pad``): latent dimensions, or principal
directions (``latent.directions``), both numbered by ``mouse.dim_x`` / ``mouse.dim_y``."""
UPSCALE_FILTERS: tuple[str, ...] = ("bicubic", "bilinear", "lanczos", "live")
"""How ``render`` scales the model's picture to the output size (``live``: as the window does)."""

OSC_PREFIX = "/latentsketch"
"""Every address of the instrument starts with it; addresses outside it belong to mappings."""

Z_LIMIT: float = 6.0
"""Largest |value|, in prior standard deviations, that any input (OSC, MIDI, mappings, pins)
may set a latent dimension to; beyond it decoders produce garbage, so inputs refuse or clamp."""
DIR_LIMIT: float = 4.0
"""Largest |value| of a direction (``latent.directions``), in standard deviations of the data
along it: inputs refuse or clamp beyond it. Knobs and the mouse pad span ``Z_RANGE``."""
Z_RANGE: float = 3.0
"""What a knob, the mouse pad and the HUD's bars span on a latent dimension: -3..3 std, where
nearly all of the data lies (``Z_LIMIT`` leaves room beyond it for offsets and nudges)."""


@dataclass(frozen=True)
class Param:
    """A performable parameter: name, range, default, unit, and how people step and read it.

    ``name`` is dotted (``walk.speed``); its OSC address is ``/latentsketch/walk/speed`` and its
    preset field is ``[walk] speed``. Enum values are stored as their index (a float in the
    state) and accept either the index or the choice's name on input. ``step`` is what one key
    press adds (``stops``, when given, are the values a key steps through instead: posterize
    levels are not evenly useful); ``decimals`` is the precision the HUD shows and OSC feedback
    sends; ``keys`` the key that raises it; ``label`` what help calls it.
    """

    name: str
    default: float
    lo: float
    hi: float
    unit: str = ""
    kind: Kind = "float"
    choices: tuple[str, ...] = ()
    help: str = ""
    curve: Literal["linear", "exp"] = "linear"
    step: float = 1.0
    stops: tuple[float, ...] = ()
    decimals: int = 2
    keys: Keys | None = None
    label: str = ""

    @property
    def osc_address(self) -> str:
        return f"{OSC_PREFIX}/{self.name.replace('.', '/')}"

    @property
    def title(self) -> str:
        """Its short name as the HUD shows it: ``look.posterize`` -> ``posterize``."""
        return self.key.replace("_", " ")

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.name.split(".", 1)[1]

    def coerce(self, value: object) -> float:
        """Validate and convert a user value; raises ValueError with a one-line reason."""
        if self.kind == "enum" and isinstance(value, str):
            if value not in self.choices:
                raise ValueError(f"{self.name} = {value!r} is not one of {', '.join(self.choices)}")
            return float(self.choices.index(value))
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float):
            raise ValueError(f"{self.name} = {value!r} is not a number")
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{self.name} = {value!r} is not finite")
        if v < self.lo or v > self.hi:
            raise ValueError(f"{self.name} = {value!r} is out of range {self.lo:g}..{self.hi:g}")
        if self.kind in ("int", "enum", "bool"):
            v = float(round(v))
        return v

    def clamp(self, value: float) -> float:
        """Clamp a finite value into range (for relative nudges, which must never error)."""
        if not math.isfinite(value):
            return self.default
        v = min(self.hi, max(self.lo, float(value)))
        if self.kind in ("int", "enum", "bool"):
            v = float(round(v))
        return v

    def from_unit(self, x: float) -> float:
        """Map 0..1 onto the range along the parameter's curve (for knobs and faders)."""
        x = min(1.0, max(0.0, x))
        if self.curve == "exp" and self.lo > 0:
            return self.clamp(self.lo * (self.hi / self.lo) ** x)
        return self.clamp(self.lo + (self.hi - self.lo) * x)

    def to_unit(self, v: float) -> float:
        if self.hi == self.lo:
            return 0.0
        if self.curve == "exp" and self.lo > 0:
            return math.log(max(v, self.lo) / self.lo) / math.log(self.hi / self.lo)
        return (v - self.lo) / (self.hi - self.lo)

    def stepped(self, v: float, direction: int) -> float:
        """The value one key press up (``direction`` 1) or down (-1) from ``v`` reaches."""
        if self.stops:
            if direction > 0:
                return self.clamp(next((s for s in self.stops if s > v), self.stops[-1]))
            return self.clamp(next((s for s in reversed(self.stops) if s < v), self.stops[0]))
        return self.clamp(v + direction * self.step)

    def rounded(self, v: float) -> float | int:
        """The value at the precision people see (HUD) and receivers get (OSC feedback)."""
        if self.kind != "float":
            return int(round(v))
        return round(float(v), self.decimals)

    def format(self, v: float) -> str:
        if self.kind == "enum":
            return self.choices[int(v)]
        if self.kind == "bool":
            return "on" if v else "off"
        if self.kind == "int":
            return f"{int(v)}{self.unit}"
        return f"{v:.{self.decimals}f}{self.unit}"


def from_knob(knob: effects.Knob) -> Param:
    """The parameter of a look effect's knob (the effects registry sits below this module)."""
    return Param(knob.name, knob.default, knob.lo, knob.hi, knob.unit, kind=knob.kind,
                 help=knob.help, step=knob.step, stops=knob.stops, decimals=knob.decimals,
                 keys=knob.keys, label=knob.label)


PARAMS: tuple[Param, ...] = (
    Param("walk.mode", WALK_MODES.index("tour"), 0, len(WALK_MODES) - 1, kind="enum",
          choices=WALK_MODES, help="; ".join(f"{n}: {w.help}" for n, w in WALKS.items())),
    Param("walk.speed", 1.0, 0.0, 10.0, "x", help="how fast the walk moves", step=0.25,
          keys=Keys(("K_EQUALS", "K_PLUS", "K_KP_PLUS", "K_PAGEUP"), "+ / -  (PgUp / PgDn)",
                    down=("K_MINUS", "K_KP_MINUS", "K_PAGEDOWN"), mods=None),
          label="walk speed"),
    Param("walk.temperature", 1.0, 0.0, 3.0, "x", help="spread of the walk around the data",
          step=0.1, keys=Keys(("K_t",)), label="temperature (spread)"),
    Param("walk.dwell", 1.5, 0.0, 30.0, " s", help="tour: pause on each keyframe", step=0.5),
    Param("walk.easing", tuple(EASINGS).index("cosine"), 0, len(EASINGS) - 1, kind="enum",
          choices=tuple(EASINGS), help="tour: how a move between keyframes starts and ends"),
    Param("walk.glide", 0.6, 0.0, 10.0, " s", help="time constant of every transition",
          step=0.1),
    *(from_knob(k) for k in effects.knobs()),   # look.*: each effect declares its own
    Param("mouse.dim_x", 0, 0, 127, kind="int",
          help="dimension (principal direction, with mouse.pad = pcs) under the mouse's x axis"),
    Param("mouse.dim_y", 1, 0, 127, kind="int",
          help="dimension (principal direction, with mouse.pad = pcs) under the mouse's y axis"),
    Param("mouse.pad", 0, 0, len(PAD_AXES) - 1, kind="enum", choices=PAD_AXES,
          help="what the mouse pad steers: latent dimensions or principal directions"),
    Param("tempo.bpm", 120.0, *tempo.BPM_RANGE, " BPM", step=1.0, decimals=1,
          help="the tempo clock (taps, MIDI clock and Link set it too)"),
    Param("tempo.quantise", 0, 0, len(tempo.GRIDS) - 1, kind="enum", choices=tempo.GRIDS,
          help="walk/next, slot recalls, preset switches and tour segments wait for the next "
               "beat or bar", keys=Keys(("K_j",)), label="quantise (off, beat, bar)"),
    Param("tempo.bar", 4, 1, 16, kind="int", help="beats in a bar"),
)

PARAM_BY_NAME: MappingProxyType[str, Param] = MappingProxyType({p.name: p for p in PARAMS})


T = TypeVar("T")


def declared(table: Mapping[str, T], name: str, what: str) -> T:
    """``table[name]``, or KeyError naming ``what`` and the known names (for one line)."""
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown {what} {name!r} (known: {', '.join(table)})") from None


def param(name: str) -> Param:
    """Look up a declaration; raises KeyError with the known names."""
    return declared(PARAM_BY_NAME, name, "parameter")


def defaults() -> dict[str, float]:
    return {p.name: float(p.default) for p in PARAMS}
