"""The look's effects, each declared and implemented once, in a registry.

An effect is one class: its knobs (name, range, default, help: ``params.PARAMS`` takes the
``look.*`` parameters from here, so presets, OSC, MIDI and the HUD follow) and what it does to
the picture. The look (``output.look.Look``) runs the registered effects in registration order
within three stages, chosen by what an effect needs:

- ``PixelEffect``: float32 pixels of the small native frame, where mixing channels or
  remembering earlier frames is cheap (trails, saturation);
- ``ToneEffect``: a per-channel curve on 0..1; every tone effect is folded into one 256-entry
  table, so they cost one lookup per byte together. A ``crisp`` one (posterise) makes edges,
  so the table then runs after upscaling, where the edges stay sharp;
- ``GainEffect``: a factor on the whole picture (brightness, the blackout fade); a gain of 0
  lets the pipeline skip scaling and fill black;
- ``GrainEffect``: noise added to the picture at display resolution, last (film grain): a
  precomputed tile laid anew each frame (``latentsketch.grain``), since nothing else that
  touches every display pixel fits the frame budget.

This module sits below ``params`` (which reads the knobs) and imports only numpy. Adding an
effect is a decorated class here plus a test; ``register``/``unregister`` also let a test add a
temporary one.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

import numpy as np

from latentsketch.grain import Grain, GrainTile
from latentsketch.keys import Keys

GRAIN_MAX_STD = 12.0        # look.grain = 1: noise of this std in 8-bit levels
FADE_SECONDS = 0.5          # blackout fade time, either way
TRAILS_REFERENCE_FPS = 60.0  # look.trails is the share of the picture kept per 1/60 s
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # Rec. 601 weights for saturation


@dataclass(frozen=True)
class Knob:
    """One parameter of an effect; performable as ``look.<key>`` (see ``params.Param``)."""

    key: str
    default: float
    lo: float
    hi: float
    unit: str = ""
    kind: Literal["float", "int", "bool"] = "float"
    help: str = ""
    step: float = 1.0               # what a key press adds (``params.Param``)
    stops: tuple[float, ...] = ()   # or the values a key steps through
    decimals: int = 2
    keys: Keys | None = None        # the key that raises it (Shift lowers)
    label: str = ""                 # what help calls it

    @property
    def name(self) -> str:
        return "look." + self.key


class Effect(ABC):
    """One effect of the look: its knobs, its state, and (in a stage subclass) its work.

    ``advance`` receives every look value by knob key (clamped, defaults filled in) and ``dt``
    already clamped, once per frame, before any pixel is touched.
    """

    name: ClassVar[str]
    knobs: ClassVar[tuple[Knob, ...]] = ()

    @abstractmethod
    def advance(self, values: Mapping[str, float], dt: float) -> None:
        """Take this frame's values and move time-based state by ``dt`` seconds."""

    def reset(self) -> None:
        """Forget earlier frames (after a model change or a jump cut); most effects keep
        none."""
        return None


class PixelEffect(Effect):
    """Works on the native frame as float32 (H, W, 3) in 0..255, before upscaling."""

    @property
    @abstractmethod
    def active(self) -> bool:
        """False when the effect would leave the frame as it is (then it is skipped)."""

    @abstractmethod
    def apply(self, f: np.ndarray) -> np.ndarray:
        """Return the frame with the effect; ``f`` is the look's own array, free to modify."""


class ToneEffect(Effect):
    """A curve on channel values in 0..1, folded into the look's tone table."""

    crisp: ClassVar[bool] = False  # makes edges: the table must then run after upscaling

    @property
    @abstractmethod
    def settings(self) -> tuple[float, ...] | None:
        """What the curve depends on (the table is rebuilt when it changes); None = identity."""

    @abstractmethod
    def curve(self, y: np.ndarray) -> np.ndarray:
        """The curve on float64 values in 0..1 (only called when ``settings`` is not None)."""


class GainEffect(Effect):
    """A factor on the whole picture, applied after every tone curve."""

    @property
    @abstractmethod
    def gain(self) -> float:
        """The factor, 0..1; 0 is black."""


class GrainEffect(Effect):
    """Zero-mean noise added to the picture at display resolution, after the tone table."""

    @abstractmethod
    def grain(self, gain: float) -> Grain | None:
        """This frame's grain for a picture whose gains multiply to ``gain`` (so a fade to
        black takes the grain with it); None = off."""


# --- the registry ----------------------------------------------------------------------------

_REGISTRY: dict[str, type[Effect]] = {}
_KNOBS: tuple[Knob, ...] = ()   # every registered knob, kept with the registry (read per frame)
E = TypeVar("E", bound=type[Effect])


def register(cls: E) -> E:
    """Class decorator: add an effect after those registered so far (its place in its stage).

    Raises ValueError for a name or knob key that another effect already has, or a class that
    derives from no stage.
    """
    if not issubclass(cls, PixelEffect | ToneEffect | GainEffect | GrainEffect):
        raise ValueError(f"effect {cls.__name__} is not a PixelEffect, ToneEffect, GainEffect "
                         "or GrainEffect")
    if cls.name in _REGISTRY:
        raise ValueError(f"an effect named {cls.name!r} is already registered")
    taken = {k.key for k in knobs()}
    clash = [k.key for k in cls.knobs if k.key in taken]
    if clash:
        raise ValueError(f"effect {cls.name!r}: knob look.{clash[0]} belongs to another effect")
    _REGISTRY[cls.name] = cls
    _update_knobs()
    return cls


def unregister(name: str) -> None:
    """Remove an effect (a test's temporary one); looks made before keep their instance."""
    del _REGISTRY[name]
    _update_knobs()


def _update_knobs() -> None:
    global _KNOBS
    _KNOBS = tuple(k for cls in _REGISTRY.values() for k in cls.knobs)


def registered() -> tuple[type[Effect], ...]:
    """Every effect, in the order the picture goes through them within a stage."""
    return tuple(_REGISTRY.values())


def knobs() -> tuple[Knob, ...]:
    """Every effect's knobs, in registration order (the same tuple until the registry
    changes)."""
    return _KNOBS


# --- the effects -----------------------------------------------------------------------------

@register
class Trails(PixelEffect):
    """Feedback with the previous frames; the share kept decays with time, not frames."""

    name = "trails"
    knobs = (Knob("trails", 0.0, 0.0, 0.95, help="feedback: how much of the last frame stays",
                  step=0.05, keys=Keys(("K_e",)), label="trails (echo)"),)

    def __init__(self) -> None:
        self._keep = 0.0
        self._acc: np.ndarray | None = None

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        t = values["trails"]
        if t > 0:
            self._keep = t ** (dt * TRAILS_REFERENCE_FPS)  # frame-rate independent decay
        else:
            self._keep = 0.0
            self._acc = None

    def reset(self) -> None:
        self._acc = None

    @property
    def keep(self) -> float:
        """The share of the accumulated picture kept this frame (0 = trails off)."""
        return self._keep

    @property
    def active(self) -> bool:
        return self._keep > 0

    def apply(self, f: np.ndarray) -> np.ndarray:
        if self._acc is None or self._acc.shape != f.shape:
            self._acc = f.copy()
            return f
        self._acc *= self._keep
        self._acc += (1.0 - self._keep) * f
        return self._acc.copy()


@register
class Saturation(PixelEffect):
    """Mixes channels around the luma, so no per-channel table can do it: native frame."""

    name = "saturation"
    knobs = (Knob("saturation", 1.0, 0.0, 3.0, "x", help="colour saturation", step=0.1,
                  keys=Keys(("K_v",)), label="saturation (vividness)"),)

    def __init__(self) -> None:
        self._s = 1.0

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        self._s = values["saturation"]

    @property
    def active(self) -> bool:
        return self._s != 1.0

    def apply(self, f: np.ndarray) -> np.ndarray:
        lum = f @ LUMA
        f -= lum[..., None]
        f *= self._s
        f += lum[..., None]
        return f


@register
class Hue(PixelEffect):
    """Turns every colour around the grey axis by an angle, keeping its luminance: one 3x3
    matrix per pixel on the native frame. The matrix is feColorMatrix ``hueRotate`` of the W3C
    Filter Effects Module Level 1 (section 9.6), with its Rec. 709 luma weights."""

    name = "hue"
    knobs = (Knob("hue", 0.0, -180.0, 180.0, " deg", help="turn every colour around the "
                  "colour wheel", step=15.0, decimals=0, keys=Keys(("K_u",)),
                  label="hue turn"),)

    def __init__(self) -> None:
        self._m: np.ndarray | None = None
        self._deg = 0.0

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        deg = values["hue"]
        if deg != self._deg or (self._m is None and deg % 360.0):
            self._deg = deg
            self._m = hue_matrix(deg) if deg % 360.0 else None

    @property
    def active(self) -> bool:
        return self._m is not None

    def apply(self, f: np.ndarray) -> np.ndarray:
        assert self._m is not None
        out = f @ self._m.T
        np.clip(out, 0.0, 255.0, out=out)
        return out


def hue_matrix(degrees: float) -> np.ndarray:
    """The 3x3 float32 hue rotation for RGB column vectors (W3C feColorMatrix hueRotate)."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    lr, lg, lb = 0.213, 0.715, 0.072
    m = np.array([
        [lr + c * (1 - lr) - s * lr, lg - c * lg - s * lg, lb - c * lb + s * (1 - lb)],
        [lr - c * lr + s * 0.143, lg + c * (1 - lg) + s * 0.140, lb - c * lb - s * 0.283],
        [lr - c * lr - s * (1 - lr), lg - c * lg + s * lg, lb + c * (1 - lb) + s * lb],
    ])
    return m.astype(np.float32)


@register
class Contrast(ToneEffect):
    name = "contrast"
    knobs = (Knob("contrast", 1.0, 0.0, 3.0, "x", help="contrast around mid-grey", step=0.1,
                  keys=Keys(("K_c",))),)

    def __init__(self) -> None:
        self._c = 1.0

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        self._c = values["contrast"]

    @property
    def settings(self) -> tuple[float, ...] | None:
        return None if self._c == 1.0 else (self._c,)

    def curve(self, y: np.ndarray) -> np.ndarray:
        return np.clip((y - 0.5) * self._c + 0.5, 0.0, 1.0)


def soft_step(f: np.ndarray, softness: float) -> np.ndarray:
    """Map the position within a posterise step (0..1) to 0..1: hard at 0, a smooth S at 1.

    A logistic normalised to pass exactly through (0, 0) and (1, 1), so neighbouring steps join
    without a seam; ``softness`` is roughly the share of each step spent in transition.
    """
    if softness <= 1e-3:
        return (f >= 0.5).astype(np.float64)
    k = 4.4 / softness
    lo = 1.0 / (1.0 + math.exp(k / 2))
    hi = 1.0 / (1.0 + math.exp(-k / 2))
    return (1.0 / (1.0 + np.exp(-k * (f - 0.5))) - lo) / (hi - lo)


def posterize_levels(value: float) -> int:
    """look.posterize as a level count: 0 = off, and one level is read as two (black/white)."""
    n = int(value)
    return 0 if n <= 0 else max(2, n)


@register
class Posterize(ToneEffect):
    """Soft posterise: clean, poster-like boundaries out of soft VAE shapes (FACTS.md)."""

    name = "posterize"
    crisp = True
    knobs = (Knob("posterize", 0, 0, 16, kind="int", help="colour levels per channel (0 = off)",
                  stops=(0, 2, 3, 4, 5, 6, 8, 12, 16), keys=Keys(("K_p",)),
                  label="posterize levels (0 = off)"),
             Knob("softness", 0.3, 0.0, 1.0, help="softness of posterize steps", step=0.1,
                  keys=Keys(("K_o",)), label="posterize softness"))

    def __init__(self) -> None:
        self._levels = 0
        self._softness = 0.3

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        self._levels = posterize_levels(values["posterize"])
        self._softness = values["softness"]

    @property
    def settings(self) -> tuple[float, ...] | None:
        return None if self._levels < 2 else (float(self._levels), self._softness)

    def curve(self, y: np.ndarray) -> np.ndarray:
        n = self._levels
        s = y * (n - 1)
        k = np.minimum(np.floor(s), n - 2)
        return (k + soft_step(s - k, self._softness)) / (n - 1)


@register
class Brightness(GainEffect):
    name = "brightness"
    knobs = (Knob("brightness", 1.0, 0.0, 1.0, help="master brightness", step=0.05,
                  keys=Keys(("K_l",)), label="master brightness (light)"),)

    def __init__(self) -> None:
        self._b = 1.0

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        self._b = values["brightness"]

    @property
    def gain(self) -> float:
        return self._b


@register
class Blackout(GainEffect):
    """A fade to black and back over ``fade_seconds``, eased; ``visibility`` is its state (a
    replay starts from the one its log recorded)."""

    name = "blackout"
    knobs = (Knob("blackout", 0, 0, 1, kind="bool", help="fade to black"),)

    def __init__(self, fade_seconds: float = FADE_SECONDS) -> None:
        self.fade_seconds = max(1e-3, fade_seconds)
        self.visibility = 1.0         # 1 = picture shown, 0 = blacked out

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        target = 0.0 if values["blackout"] >= 0.5 else 1.0
        step = dt / self.fade_seconds
        if self.visibility < target:
            self.visibility = min(target, self.visibility + step)
        else:
            self.visibility = max(target, self.visibility - step)

    @property
    def gain(self) -> float:
        v = self.visibility
        return v * v * (3.0 - 2.0 * v)


@register
class FilmGrain(GrainEffect):
    """Fine film grain / dither at display resolution: breaks the flat bands of a smooth
    gradient (8-bit steps stretched over many pixels by the upscale, banding that projectors
    make worse) into noise the eye averages away, and gives posterised flats some texture.
    Monochrome, so colours keep their hue; its strength follows brightness and the fade."""

    name = "grain"
    knobs = (Knob("grain", 0.0, 0.0, 1.0, help="film grain / dither at display resolution "
                  "(0 = off)", step=0.05, keys=Keys(("K_g",)), label="film grain"),)

    def __init__(self) -> None:
        self._amount = 0.0
        self._frame = -1
        self._tile: GrainTile | None = None

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        self._amount = values["grain"]
        self._frame += 1          # the grain's clock: frames, so a replay meets the same grain

    def grain(self, gain: float) -> Grain | None:
        std = self._amount * gain * GRAIN_MAX_STD
        if std < 0.05:            # rounds to no noise at all
            return None
        if self._tile is None or self._tile.std != std:
            self._tile = GrainTile(std)
        return Grain(self._tile, self._frame)
