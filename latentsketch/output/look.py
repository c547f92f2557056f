"""The look: cheap post-processing that turns soft VAE blobs into a bold, performable picture.

A VAE decodes soft shapes; a saturation/contrast boost and a soft posterise give them clean,
poster-like boundaries (FACTS.md, "A second trial"). Done naively in float numpy that costs
~40 ms per 512x512 frame, so the stage is split by what each step needs:

- ``pre`` runs on the small native frame (float32 is cheap there): trails (feedback with the
  previous frames), then saturation (it mixes channels, so no per-channel table can do it).
- the tone curve -- contrast, posterise, master brightness and the blackout fade -- is one
  256-entry lookup table shared by the three channels, rebuilt only when a parameter changes.
  With posterise on it must run after upscaling (``post``, at display resolution), where level
  boundaries stay crisp; without posterise it is pointwise and almost linear, so ``pre`` applies
  it to the small frame for free. ``post`` looks bytes up in pairs through a 65536-entry table,
  which halves the lookups (~2 ms for a 1024x1024 32-bit surface instead of ~6).

Trails and the blackout fade are time-based (advanced with ``dt``), so a replay at another frame
rate looks the same. Numpy only: the live window, the offline exporter and the tests share it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from latentsketch.params import param
from latentsketch.timestep import clamp_dt

FADE_SECONDS = 0.5          # blackout fade time, either way
TRAILS_REFERENCE_FPS = 60.0  # look.trails is the share of the picture kept per 1/60 s
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # Rec. 601 weights for saturation

_PAIR = np.arange(65536, dtype=np.uint32)
_PAIR_LO = (_PAIR & 0xFF).astype(np.intp)
_PAIR_HI = (_PAIR >> 8).astype(np.intp)


@dataclass(frozen=True)
class LookParams:
    """The look parameters of one frame, read from the engine's parameter values."""

    contrast: float = 1.0
    saturation: float = 1.0
    posterize: int = 0
    softness: float = 0.3
    trails: float = 0.0
    brightness: float = 1.0
    blackout: bool = False

    @classmethod
    def from_params(cls, values: Mapping[str, float]) -> LookParams:
        """Pick the ``look.*`` values (missing ones take their declared default), clamped."""

        def get(name: str) -> float:
            p = param("look." + name)
            return p.clamp(float(values.get(p.name, p.default)))

        return cls(
            contrast=get("contrast"),
            saturation=get("saturation"),
            posterize=int(get("posterize")),
            softness=get("softness"),
            trails=get("trails"),
            brightness=get("brightness"),
            blackout=get("blackout") >= 0.5,
        )


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


def tone_curve(x: np.ndarray, contrast: float, levels: int, softness: float,
               gain: float) -> np.ndarray:
    """The per-channel tone curve on values in 0..1: contrast, posterise, then gain.

    ``levels`` < 2 means no posterise. Used to build the lookup table, and by tests and
    benchmarks as the float reference.
    """
    y = np.clip((np.asarray(x, np.float64) - 0.5) * contrast + 0.5, 0.0, 1.0)
    if levels >= 2:
        s = y * (levels - 1)
        k = np.minimum(np.floor(s), levels - 2)
        y = (k + soft_step(s - k, softness)) / (levels - 1)
    return y * gain


def posterize_levels(value: float) -> int:
    """look.posterize as a level count: 0 = off, and one level is read as two (black/white)."""
    n = int(value)
    return 0 if n <= 0 else max(2, n)


class Look:
    """The post-processing stage with its state (trails accumulator, fade, cached tables).

    Per frame: ``advance(values, dt)``, then ``pre(frame)`` on the native frame, upscale,
    then ``post(buffer)`` in place on the upscaled bytes when ``needs_post``.
    """

    def __init__(self, fade_seconds: float = FADE_SECONDS) -> None:
        self.fade_seconds = max(1e-3, fade_seconds)
        self.params = LookParams()
        self.visibility = 1.0         # 1 = picture shown, 0 = blacked out; eased into the gain
        self._trails: np.ndarray | None = None
        self._keep = 0.0
        self._lut_key: tuple[float, ...] | None = None
        self._lut = np.arange(256, dtype=np.uint8)
        self._lut16: np.ndarray | None = None

    # --- state -----------------------------------------------------------------------------

    def advance(self, values: Mapping[str, float] | LookParams, dt: float) -> None:
        """Take this frame's parameters and move time-based state (the fade) by ``dt`` s."""
        self.params = values if isinstance(values, LookParams) else LookParams.from_params(values)
        dt = clamp_dt(dt)
        target = 0.0 if self.params.blackout else 1.0
        step = dt / self.fade_seconds
        if self.visibility < target:
            self.visibility = min(target, self.visibility + step)
        else:
            self.visibility = max(target, self.visibility - step)
        t = self.params.trails
        if t > 0:
            self._keep = t ** (dt * TRAILS_REFERENCE_FPS)  # frame-rate independent decay
        else:
            self._keep = 0.0
            self._trails = None
        self._update_lut()

    @property
    def gain(self) -> float:
        """Master brightness times the eased blackout fade."""
        v = self.visibility
        return self.params.brightness * v * v * (3.0 - 2.0 * v)

    @property
    def is_black(self) -> bool:
        """True when the output is all black: callers may skip decoding-side work and fill."""
        return self.gain <= 0.0

    @property
    def needs_post(self) -> bool:
        """Whether ``post`` must run on the upscaled picture (posterise on and not identity)."""
        return posterize_levels(self.params.posterize) >= 2 and not self.is_black

    @property
    def lut(self) -> np.ndarray:
        """The current 256-entry tone table (uint8), shared by the three channels."""
        return self._lut

    def reset(self) -> None:
        """Forget the trails (e.g. after a model change or a jump cut)."""
        self._trails = None

    def _update_lut(self) -> None:
        p = self.params
        levels = posterize_levels(p.posterize)
        key = (p.contrast, float(levels), p.softness if levels else 0.0, self.gain)
        if key == self._lut_key:
            return
        self._lut_key = key
        x = np.arange(256, dtype=np.float64) / 255.0
        y = tone_curve(x, p.contrast, levels, p.softness, self.gain)
        self._lut = np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)
        self._lut16 = None

    @property
    def _tone_is_identity(self) -> bool:
        return self._lut_key is not None and self._lut_key[:2] == (1.0, 0.0) and self.gain == 1.0

    # --- per frame -------------------------------------------------------------------------

    def pre(self, frame: np.ndarray) -> np.ndarray:
        """Native-resolution part: trails, saturation and (posterise off) the tone curve.

        ``frame`` is uint8 HxWx3; returns a C-contiguous uint8 HxWx3 array (the input itself
        when everything here is neutral, so the neutral look costs nothing).
        """
        p = self.params
        need_sat = p.saturation != 1.0
        if self._keep > 0 or need_sat:
            f = frame.astype(np.float32)
            if self._keep > 0:
                if self._trails is None or self._trails.shape != f.shape:
                    self._trails = f.copy()
                else:
                    self._trails *= self._keep
                    self._trails += (1.0 - self._keep) * f
                    f = self._trails.copy()
            if need_sat:
                lum = f @ LUMA
                f -= lum[..., None]
                f *= p.saturation
                f += lum[..., None]
            out = np.clip(np.rint(f), 0, 255).astype(np.uint8)
        else:
            out = np.ascontiguousarray(frame, dtype=np.uint8)
        if not self.needs_post and not self._tone_is_identity:
            out = self._lut[out]
        return out

    def post(self, buffer: np.ndarray) -> None:
        """Display-resolution part, in place: the tone table over every byte of ``buffer``.

        ``buffer`` is any C-contiguous uint8 array of pixels whose channels are all colour
        or ignored padding (RGB, BGRX, a surface's raw bytes); the table is the same for every
        channel, so byte order does not matter. Does nothing when ``needs_post`` is false.
        """
        if not self.needs_post:
            return
        flat = buffer.reshape(-1)
        if flat.size % 2:
            flat[-1] = self._lut[flat[-1]]
            flat = flat[:-1]
        if self._lut16 is None:
            # Symmetric in the two bytes, so it is right on either byte order.
            self._lut16 = (self._lut[_PAIR_LO].astype(np.uint16)
                           | (self._lut[_PAIR_HI].astype(np.uint16) << 8))
        pairs = flat.view(np.uint16)
        np.take(self._lut16, pairs, out=pairs, mode="clip")

    def process(self, frame: np.ndarray,
                upscale: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """The whole stage on a numpy frame: ``pre``, the caller's upscale, ``post``.

        For the offline exporter and tests; call ``advance`` first. ``upscale`` maps a uint8
        HxWx3 array to a larger one (None keeps the native size).
        """
        out = self.pre(frame)
        if upscale is not None:
            out = upscale(out)
        if self.needs_post:
            if out is frame or not out.flags.c_contiguous or not out.flags.writeable:
                out = np.array(out, dtype=np.uint8, order="C")
            self.post(out)
        return out
