"""The look: cheap post-processing that turns soft VAE blobs into a bold, performable picture.

The effects themselves (trails, saturation, contrast, posterise, brightness, the blackout fade)
are classes in the registry of ``latentsketch.effects``; ``Look`` runs one instance of each and
splits the work by what each stage needs, since naive float numpy costs ~40 ms per 512x512
frame:

- ``pre`` runs on the small native frame (float32 is cheap there): the pixel effects.
- the tone effects and the gains are one 256-entry lookup table (``Tone``) shared by the three
  channels, rebuilt only when a setting changes. With a crisp effect on (posterise) it must run
  after upscaling (``post``, at display resolution), where level boundaries stay crisp;
  otherwise it is pointwise and almost linear, so ``pre`` applies it to the small frame for
  free. ``Tone.apply`` looks bytes up in pairs through a 65536-entry table, which halves the
  lookups (~2 ms for a 1024x1024 32-bit surface instead of ~6).
- the grain effects (film grain) come last, at display resolution: ``grain`` is this frame's
  noise (``latentsketch.grain.Grain``), which the picture pipeline has its scaler add.

Time-based effects are advanced with ``dt``, so a replay at another frame rate looks the same.
Numpy only: the one picture pipeline (``output.picture``) runs it for the window, the recorder,
snapshots, the offline exporter and the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

import numpy as np

from latentsketch import effects
from latentsketch.effects import (
    FADE_SECONDS,
    Blackout,
    GainEffect,
    GrainEffect,
    PixelEffect,
    ToneEffect,
)
from latentsketch.grain import Grain
from latentsketch.params import Param, from_knob
from latentsketch.timestep import clamp_dt

_PAIR = np.arange(65536, dtype=np.uint32)
_PAIR_LO = (_PAIR & 0xFF).astype(np.intp)
_PAIR_HI = (_PAIR >> 8).astype(np.intp)
_IDENTITY = np.arange(256, dtype=np.uint8)

E = TypeVar("E", bound=effects.Effect)


_declared_for: tuple[tuple[effects.Knob, ...], tuple[tuple[effects.Knob, Param], ...]] = ((), ())


def _declared() -> tuple[tuple[effects.Knob, Param], ...]:
    """The registered knobs with their parameters (for clamping), rebuilt when the registry
    changes; read once per frame, so it is looked up by identity."""
    global _declared_for
    knobs = effects.knobs()
    if knobs is not _declared_for[0]:
        _declared_for = (knobs, tuple((k, from_knob(k)) for k in knobs))
    return _declared_for[1]


class LookParams(Mapping[str, float]):
    """The look's values for one frame by knob key (``contrast``...), clamped into range; a
    key not given takes its declared default. Attribute access reads a value
    (``p.posterize``). Built from the registered effects, so a new effect's knobs are here."""

    __slots__ = ("_values",)

    def __init__(self, **values: float) -> None:
        declared = _declared()
        unknown = set(values) - {k.key for k, _ in declared}
        if unknown:
            raise TypeError(f"unknown look values: {', '.join(sorted(unknown))}")
        self._values = {k.key: p.clamp(float(values.get(k.key, k.default)))
                        for k, p in declared}

    @classmethod
    def from_params(cls, values: Mapping[str, float]) -> LookParams:
        """Pick the ``look.*`` values out of the engine's parameter values (once a frame)."""
        self = cls.__new__(cls)
        self._values = {k.key: p.clamp(float(values.get(k.name, k.default)))
                        for k, p in _declared()}
        return self

    def __getitem__(self, key: str) -> float:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> float:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LookParams) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        return f"LookParams({', '.join(f'{k}={v:g}' for k, v in self._values.items())})"


class Tone:
    """One 256-entry tone table (uint8), the same for the three channels.

    Immutable once made: a frame keeps the table it was advanced with, so a batch whose
    parameters change from frame to frame applies each frame's own.
    """

    def __init__(self, lut: np.ndarray) -> None:
        self.lut = lut
        self.identity = bool(np.array_equal(lut, _IDENTITY))
        self._lut16: np.ndarray | None = None

    def apply(self, buffer: np.ndarray) -> None:
        """The table over every byte of ``buffer``, in place.

        ``buffer`` is any C-contiguous uint8 array of pixels whose channels are all colour or
        ignored padding (RGB, BGRX, a surface's raw bytes); the table is the same for every
        channel, so byte order does not matter.
        """
        flat = buffer.reshape(-1)
        if flat.size % 2:
            flat[-1] = self.lut[flat[-1]]
            flat = flat[:-1]
        if self._lut16 is None:
            # Symmetric in the two bytes, so it is right on either byte order.
            self._lut16 = (self.lut[_PAIR_LO].astype(np.uint16)
                           | (self.lut[_PAIR_HI].astype(np.uint16) << 8))
        pairs = flat.view(np.uint16)
        np.take(self._lut16, pairs, out=pairs, mode="clip")


def tone_table(tones: list[ToneEffect], gain: float) -> np.ndarray:
    """The tone effects' curves in order, times ``gain``, as a uint8 table of 256 entries."""
    y = np.arange(256, dtype=np.float64) / 255.0
    for e in tones:
        if e.settings is not None:
            y = e.curve(y)
    return np.clip(np.rint(y * gain * 255.0), 0, 255).astype(np.uint8)


class Look:
    """The post-processing stage: one instance of every registered effect, with their state.

    Per frame: ``advance(values, dt)``, then ``pre(frame)`` on the native frame, upscale,
    then ``post(buffer)`` in place on the upscaled bytes when ``needs_post``.
    """

    def __init__(self, fade_seconds: float = FADE_SECONDS) -> None:
        self.effects = [cls() for cls in effects.registered()]
        self._pixel = [e for e in self.effects if isinstance(e, PixelEffect)]
        self._tones = [e for e in self.effects if isinstance(e, ToneEffect)]
        self._gains = [e for e in self.effects if isinstance(e, GainEffect)]
        self._grains = [e for e in self.effects if isinstance(e, GrainEffect)]
        self._blackout = self.effect(Blackout)
        self._blackout.fade_seconds = max(1e-3, fade_seconds)
        self.params = LookParams()
        self._gain = 1.0
        self._needs_post = False
        self._tone_key: tuple[object, ...] | None = None
        self._tone = Tone(_IDENTITY)
        self._grain: tuple[Grain, ...] = ()

    def effect(self, cls: type[E]) -> E:
        """This look's instance of an effect class."""
        return next(e for e in self.effects if isinstance(e, cls))

    # --- state -----------------------------------------------------------------------------

    def advance(self, values: Mapping[str, float] | LookParams, dt: float) -> None:
        """Take this frame's parameters (the engine's values: only ``look.*`` are read) and
        move time-based state (trails, the fade) by ``dt`` seconds."""
        self.params = values if isinstance(values, LookParams) else LookParams.from_params(values)
        dt = clamp_dt(dt)
        for e in self.effects:
            e.advance(self.params, dt)
        gain = 1.0
        for g in self._gains:
            gain *= g.gain
        self._gain = gain
        settings = tuple(e.settings for e in self._tones)
        self._needs_post = gain > 0.0 and any(
            e.crisp and s is not None for e, s in zip(self._tones, settings, strict=True))
        key = (settings, gain)
        if key != self._tone_key:
            self._tone_key = key
            self._tone = Tone(tone_table(self._tones, gain))
        grains = (e.grain(gain) for e in self._grains) if gain > 0.0 else ()
        self._grain = tuple(g for g in grains if g is not None)

    @property
    def visibility(self) -> float:
        """The blackout fade's state: 1 = picture shown, 0 = blacked out."""
        return self._blackout.visibility

    @visibility.setter
    def visibility(self, value: float) -> None:
        self._blackout.visibility = value

    @property
    def gain(self) -> float:
        """Every gain effect's factor multiplied: master brightness times the eased fade."""
        return self._gain

    @property
    def is_black(self) -> bool:
        """True when the output is all black: callers may skip decoding-side work and fill."""
        return self._gain <= 0.0

    @property
    def needs_post(self) -> bool:
        """Whether the tone table must run on the upscaled picture (a crisp effect is on)."""
        return self._needs_post

    @property
    def grain(self) -> tuple[Grain, ...]:
        """This frame's grain, added last at display resolution (empty: none)."""
        return self._grain

    @property
    def tone(self) -> Tone:
        """The current tone table (a new object whenever a setting changed)."""
        return self._tone

    @property
    def lut(self) -> np.ndarray:
        """The current 256-entry tone table (uint8), shared by the three channels."""
        return self._tone.lut

    def reset(self) -> None:
        """Forget earlier frames (trails), e.g. after a model change or a jump cut."""
        for e in self.effects:
            e.reset()

    # --- per frame -------------------------------------------------------------------------

    def pre(self, frame: np.ndarray) -> np.ndarray:
        """Native-resolution part: the pixel effects and (no crisp effect on) the tone table.

        ``frame`` is uint8 HxWx3; returns a C-contiguous uint8 HxWx3 array (the input itself
        when everything here is neutral, so the neutral look costs nothing).
        """
        active = [e for e in self._pixel if e.active]
        if active:
            f = frame.astype(np.float32)
            for e in active:
                f = e.apply(f)
            out = np.clip(np.rint(f), 0, 255).astype(np.uint8)
        else:
            out = np.ascontiguousarray(frame, dtype=np.uint8)
        if not self._needs_post and not self._tone.identity:
            out = self._tone.lut[out]
        return out

    def post(self, buffer: np.ndarray) -> None:
        """Display-resolution part, in place (see ``Tone.apply``); nothing unless
        ``needs_post``."""
        if self.needs_post:
            self._tone.apply(buffer)

    def process(self, frame: np.ndarray,
                upscale: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """The whole stage on a numpy frame: ``pre``, the caller's upscale, ``post``, grain.

        For tests; call ``advance`` first. ``upscale`` maps a uint8 HxWx3 array to a larger
        one (None keeps the native size). The picture pipeline does the same with a scaler.
        """
        out = self.pre(frame)
        if upscale is not None:
            out = upscale(out)
        if self.needs_post or self._grain:
            if out is frame or not out.flags.c_contiguous or not out.flags.writeable:
                out = np.array(out, dtype=np.uint8, order="C")
            self.post(out)
            for g in self._grain:
                g.apply(out)
        return out
