"""A scene crossfade: parameters ramp and the picture's jump fades out over a fixed time.

When a preset is switched with a fade of F seconds, the engine (``engine.SwitchScene``) sets
what cannot be blended at once (the walk mode, the tour, whole-number parameters), lets the
continuous parameters ramp from where they were to the preset's values, and keeps the picture
where it was by an offset (the jump the switch caused, in ``u``) that shrinks to nothing over
the same time. Both follow one smoothstep curve of the fade's progress, so the switch starts
and ends without a kink. Pure values and functions: the engine counts ticks, this says where
a fade is after so many.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

MAX_FADE = 600.0   # seconds: a fade longer than ten minutes is a walk, not a switch
DEFAULT_FADE = 2.0  # seconds of a preset switch that neither the preset nor the caller times


def ease(x: float) -> float:
    """Smoothstep of ``x`` clamped to 0..1: 0 -> 0, 1 -> 1, flat at both ends."""
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True, slots=True, eq=False)
class Fade:
    """A fade under way, ``ticks`` of ``length`` engine ticks done.

    ``start`` and ``end`` map each ramping parameter to its value when the fade began and the
    value it reaches; ``offset`` (D,) is the jump the switch caused (raw order, standardised),
    added to the picture in full at the start and not at all at the end.
    """

    start: Mapping[str, float]
    end: Mapping[str, float]
    offset: np.ndarray
    length: int
    ticks: int = 0
    name: str = ""

    @classmethod
    def make(cls, start: Mapping[str, float], end: Mapping[str, float], offset: np.ndarray,
             length: int, name: str = "") -> Fade:
        """A fade of ``length`` >= 1 ticks; ValueError for a non-finite offset or value."""
        if length < 1:
            raise ValueError(f"a fade lasts at least one tick, not {length}")
        off = np.array(offset, np.float64)
        if not np.all(np.isfinite(off)):
            raise ValueError("a fade's offset holds NaN or infinity")
        values = [*start.values(), *end.values()]
        if not all(math.isfinite(v) for v in values) or set(start) != set(end):
            raise ValueError("a fade needs finite start and end values for the same parameters")
        off.flags.writeable = False
        return cls(MappingProxyType(dict(start)), MappingProxyType(dict(end)), off, int(length),
                   0, name)

    def progress(self, ahead: int = 0) -> float:
        """Eased progress 0..1 ``ahead`` ticks from now."""
        return ease((self.ticks + ahead) / self.length)

    @property
    def done(self) -> bool:
        return self.ticks >= self.length

    def values(self, step: int = 1) -> dict[str, float]:
        """Each ramping parameter's value now, moving in whole ``step``s of ticks (a frame
        rate that ends a frame inside a step sees the step's start), and its end value
        exactly once done."""
        if self.done:
            return dict(self.end)
        p = ease((self.ticks - self.ticks % step) / self.length)
        return {k: a + (self.end[k] - a) * p for k, a in self.start.items()}

    def remaining(self, ahead: int = 0) -> np.ndarray:
        """The part of the offset still on the picture ``ahead`` ticks from now (D,)."""
        return self.offset * (1.0 - self.progress(ahead))

    def advanced(self, ticks: int) -> Fade:
        return replace(self, ticks=min(self.length, self.ticks + ticks))

    def without(self, name: str) -> Fade:
        """The fade with parameter ``name`` no longer ramping (someone set it by hand)."""
        if name not in self.start:
            return self
        return replace(self, start=MappingProxyType({k: v for k, v in self.start.items()
                                                     if k != name}),
                       end=MappingProxyType({k: v for k, v in self.end.items() if k != name}))


def fade_ticks(seconds: float, tick_hz: int) -> int:
    """``seconds`` of fade as whole engine ticks (0: no fade); ValueError outside
    0..MAX_FADE or not finite."""
    if not (isinstance(seconds, int | float) and math.isfinite(seconds)
            and 0.0 <= seconds <= MAX_FADE):
        raise ValueError(f"fade = {seconds!r} is not a time in 0..{MAX_FADE:g} s")
    return round(seconds * tick_hz)
