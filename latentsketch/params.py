"""Every performable parameter, declared once.

One declaration drives key bindings, OSC addresses, MIDI mappings, preset fields, the HUD and
validation, so adding a parameter is one line in ``PARAMS``. Values live in the engine state
(``State.params``), never here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from latentsketch import effects

Kind = Literal["float", "int", "bool", "enum"]

WALK_MODES: tuple[str, ...] = ("drift", "noise", "orbit", "tour")

# Largest |value|, in prior standard deviations, that any input (OSC, MIDI, mappings) may set a
# latent dimension to; beyond it decoders produce garbage, so inputs refuse or clamp.
Z_LIMIT: float = 6.0


@dataclass(frozen=True)
class Param:
    """A performable parameter: name, range, default and unit.

    ``name`` is dotted (``walk.speed``); its OSC address is ``/latentsketch/walk/speed`` and its
    preset field is ``[walk] speed``. Enum values are stored as their index (a float in the
    state) and accept either the index or the choice's name on input.
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

    @property
    def osc_address(self) -> str:
        return "/latentsketch/" + self.name.replace(".", "/")

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

    def format(self, v: float) -> str:
        if self.kind == "enum":
            return self.choices[int(v)]
        if self.kind == "bool":
            return "on" if v else "off"
        if self.kind == "int":
            return f"{int(v)}{self.unit}"
        return f"{v:.2f}{self.unit}"


def from_knob(knob: effects.Knob) -> Param:
    """The parameter of a look effect's knob (the effects registry sits below this module)."""
    return Param(knob.name, knob.default, knob.lo, knob.hi, knob.unit, kind=knob.kind,
                 help=knob.help)


PARAMS: tuple[Param, ...] = (
    Param("walk.mode", 3, 0, len(WALK_MODES) - 1, kind="enum", choices=WALK_MODES,
          help="drift, noise, orbit or tour"),
    Param("walk.speed", 1.0, 0.0, 10.0, "x", help="how fast the walk moves"),
    Param("walk.temperature", 1.0, 0.0, 3.0, "x", help="spread of the walk around the data"),
    Param("walk.dwell", 1.5, 0.0, 30.0, " s", help="tour: pause on each keyframe"),
    Param("walk.glide", 0.6, 0.0, 10.0, " s", help="time constant of every transition"),
    *(from_knob(k) for k in effects.knobs()),   # look.*: each effect declares its own
    Param("mouse.dim_x", 0, 0, 127, kind="int", help="dimension under the mouse's x axis"),
    Param("mouse.dim_y", 1, 0, 127, kind="int", help="dimension under the mouse's y axis"),
)

PARAM_BY_NAME: MappingProxyType[str, Param] = MappingProxyType({p.name: p for p in PARAMS})


def param(name: str) -> Param:
    """Look up a declaration; raises KeyError with the known names."""
    try:
        return PARAM_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown parameter {name!r} (known: {', '.join(PARAM_BY_NAME)})") from None


def defaults() -> dict[str, float]:
    return {p.name: float(p.default) for p in PARAMS}
