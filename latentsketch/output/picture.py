"""The one picture pipeline: a decoded native frame -> the look -> fit -> scale -> frames.

    native frame -> Look.pre -> [steepen edges, 2x bicubic] -> crop for the fit -> Scaler
                 -> tone table (post) -> grain -> letterbox

Everything that makes a picture goes through ``Picture``: the live window (``draw``: into the
scaler's reused image, which the window blits), the recorder and snapshots (``render``: the
same fed frame at their own size and fit), the offline exporter (``batch``) and the tests. A
look effect or a change of the fit rule is written once and reaches all of them.

Grain (``latentsketch.grain``) is added at display resolution by the scaler too: pygame's
SIMD blend blits on the window's surface, numpy's saturating arithmetic on arrays, the same
bytes either way.

Only the scaler differs, behind the ``Scaler`` protocol: ``output.display.SurfaceScaler``
(pygame-ce's smoothscale on reused surfaces: the window's filter, and the exporter's ``live``
one, so a replay matches its recording bit for bit) or ``ArrayScaler`` (torch's uint8
bicubic/bilinear, a batch in one call; Pillow's lanczos) for quality offline. Fill crops the
native frame before scaling (a 16:9 projector gets a centred 64x36 band scaled to the full
screen) rather than scaling a larger picture and cropping, which would cost more.

With a crisp effect on (posterise), the thresholds run on the upscaled picture, so the
upscale's own artefacts become edges. pygame's ``smoothscale`` (the window's scaler) upscales
along its source's pixel grid, and posterise draws that grid as stair-steps; torch's bilinear
and bicubic do not. So a scaler says how much it wants a crisp frame upscaled first
(``Scaler.crisp_prestep``), and the pipeline does that with a bicubic step on the small
frame: for the window's scaler 2x, which takes a two-level posterise of soft discs at 512 px
from 1.6 % of pixels more than 24 levels off an ideal (the posterise of a float bicubic
upscale) to 0.8 %, for about 0.35 ms a frame at 1024 px (``benchmarks/bench_look.py``, crisp
section; 4x: 0.5 %, about 1.1 ms). Torch's scalers are within 0.2 % without it.
Before that, a crisp frame's soft edges are steepened (``steepen_edges``): posterise turns a
soft edge into rings of the intermediate levels it passes through (an orange face drawn with
a red and a green band around it); with edges three times steeper those bands become thin
lines, while flats and ramps stay as they were.

No pygame here (import-linter keeps it so): the recorder, the exporter and the tests run the
pipeline without a window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np
import torch
from PIL import Image

from latentsketch.grain import Grain
from latentsketch.output.geometry import Rect, fit_geometry
from latentsketch.output.look import Look, LookParams, Tone
from latentsketch.params import UPSCALE_FILTERS

Size = tuple[int, int]  # w, h
EDGE_RADIUS = 2     # native pixels: a VAE's soft edge spans ~2-4 of them at 64-128 px
EDGE_GAIN = 3.0     # how much steeper a crisp effect's edges get (steepen_edges)
ImageT = TypeVar("ImageT")


class Scaler(Protocol[ImageT]):
    """Scales the ``crop`` (x, y, w, h) of uint8 HxWx3 native frames to ``size`` (w, h).

    ``ImageT`` is what the scaler scales into for the window (a pygame surface, or an array):
    the pipeline applies the tone table to its bytes in place and the window blits it, so
    the live path never reads pixels back unless something records them.

    ``crisp_prestep`` is how many times the pipeline upscales a frame (bicubic) before it
    reaches the scaler when a crisp effect is on: more than 1 where the scaler's upscale
    leaves its source's pixel grid in the picture, which posterise would draw as stair-steps.
    """

    crisp_prestep: int

    def scale(self, frames: Sequence[np.ndarray], crop: Rect, size: Size) -> list[np.ndarray]:
        """Each frame's crop scaled: new writable C-contiguous uint8 (h, w, 3) RGB arrays."""
        ...

    def draw(self, frame: np.ndarray, crop: Rect, size: Size) -> ImageT:
        """The frame's crop scaled into the scaler's reused image (valid until the next
        ``draw``)."""
        ...

    def pixels(self, image: ImageT) -> np.ndarray:
        """The image's bytes as a writable uint8 array (any channel order, padding allowed);
        the caller deletes it before using the image again (a surface stays locked)."""
        ...

    def read(self, image: ImageT, w: int, h: int) -> np.ndarray:
        """The top-left ``w`` x ``h`` of the image as a new uint8 (h, w, 3) RGB array."""
        ...

    def add_grain(self, image: ImageT, grain: Grain, w: int, h: int) -> None:
        """Add ``grain`` to the top-left ``w`` x ``h`` of the image in place, saturating:
        the same bytes as ``Grain.apply`` on an RGB array."""
        ...


class ArrayScaler:
    """Scaling on numpy arrays, for offline quality: ``bicubic`` and ``bilinear`` are torch's
    uint8 kernels with antialiasing (bicubic gives Pillow's result at a tenth of its cost, and
    a batch in one call costs 5x less per frame), ``lanczos`` is Pillow's."""

    FILTERS = tuple(f for f in UPSCALE_FILTERS if f != "live")   # live: the window's own
    crisp_prestep = 1   # torch's kernels interpolate off the grid: posterise edges are clean

    def __init__(self, filter: str = "bicubic") -> None:
        if filter not in self.FILTERS:
            raise ValueError(f"filter {filter!r} is not one of {', '.join(self.FILTERS)}")
        self.filter = filter

    def scale(self, frames: Sequence[np.ndarray], crop: Rect, size: Size) -> list[np.ndarray]:
        cx, cy, cw, ch = crop
        w, h = size
        crops = [f[cy:cy + ch, cx:cx + cw] for f in frames]
        if not crops:
            return []
        if (cw, ch) == (w, h):
            return [np.array(c, np.uint8, order="C") for c in crops]
        if self.filter == "lanczos":
            return [np.array(Image.fromarray(np.ascontiguousarray(c)).resize(
                (w, h), Image.Resampling.LANCZOS)) for c in crops]
        x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)  # (B, 3, H, W) uint8
        y = torch.nn.functional.interpolate(x, size=(h, w), mode=self.filter, antialias=True)
        return list(y.permute(0, 2, 3, 1).contiguous().numpy())   # (B, H, W, 3)

    def draw(self, frame: np.ndarray, crop: Rect, size: Size) -> np.ndarray:
        return self.scale([frame], crop, size)[0]

    def pixels(self, image: np.ndarray) -> np.ndarray:
        return image

    def read(self, image: np.ndarray, w: int, h: int) -> np.ndarray:
        return np.array(image[:h, :w], np.uint8, order="C")

    def add_grain(self, image: np.ndarray, grain: Grain, w: int, h: int) -> None:
        grain.apply(image[:h, :w])


def bicubic_up(frame: np.ndarray, factor: int) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (factor*H, factor*W, 3), bicubic (Keys a = -0.75, torch's
    uint8 kernel, clamped to 0..255): a sharper source for the scaler than the frame itself."""
    x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).unsqueeze(0)
    h, w = frame.shape[:2]
    y = torch.nn.functional.interpolate(x, size=(h * factor, w * factor), mode="bicubic",
                                        antialias=True)
    return y[0].permute(1, 2, 0).contiguous().numpy()


def _running(frame: np.ndarray, radius: int, op: np.ufunc) -> np.ndarray:
    """The min or max (``op``: np.minimum, np.maximum) of each (2r+1)^2 neighbourhood, per
    channel, edges repeated: two separable passes of 2r in-place ufunc calls on views."""
    out = frame
    for axis in (0, 1):
        n = out.shape[axis]
        pad = [(radius, radius) if a == axis else (0, 0) for a in range(out.ndim)]
        p = np.pad(out, pad, mode="edge")
        view = [slice(None)] * out.ndim
        view[axis] = slice(0, n)
        acc = p[tuple(view)].copy()
        for k in range(1, 2 * radius + 1):
            view[axis] = slice(k, k + n)
            op(acc, p[tuple(view)], out=acc)
        out = acc
    return out


def steepen_edges(frame: np.ndarray, radius: int = EDGE_RADIUS,
                  gain: float = EDGE_GAIN) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (H, W, 3): soft edges made ``gain`` times steeper.

    Each value moves away from the middle of its neighbourhood's range (the min and max of
    the (2r+1)^2 pixels around it, per channel) by ``gain``, clipped to that range: a
    relaxed toggle mapping (Kramer & Bruckner 1975, the discrete shock filter of Osher &
    Rudin 1990 used as a sharpener). Flats and straight ramps sit at their local middle and
    stay; a soft edge's ramp narrows, and nothing overshoots its neighbours, so no new halo.
    A crisp effect (posterise) thresholds the upscale of this frame: the intermediate levels
    that a soft edge passes through (the rings around shapes) become lines ~``gain`` times
    thinner. ~0.3 ms at 128x128 (numpy, ``benchmarks/bench_look.py``)."""
    if radius < 1 or gain <= 1.0:
        return frame
    hi = _running(frame, radius, np.maximum)
    lo = _running(frame, radius, np.minimum)
    mid = (hi.astype(np.float32) + lo) * 0.5
    y = (frame - mid) * np.float32(gain) + mid
    return np.clip(np.rint(y), lo, hi).astype(np.uint8)


@dataclass(frozen=True, slots=True, eq=False)
class _Fed:
    """One frame after the look's native stage, ready to be scaled to any size and fit."""

    pre: np.ndarray        # uint8 HxWx3 at the model's size
    tone: Tone | None      # the table still to apply after scaling (a crisp effect is on)
    black: bool            # the gains are 0: every picture of this frame is black
    grain: tuple[Grain, ...]  # added last, at display resolution
    source: np.ndarray     # what the scaler scales: ``pre``, or its bicubic upscale
    factor: int            # source size / native size (1, or the scaler's crisp_prestep)

    def crop(self, crop: Rect) -> Rect:
        """A crop of the native frame as a crop of ``source``."""
        f = self.factor
        return crop[0] * f, crop[1] * f, crop[2] * f, crop[3] * f


class Picture(Generic[ImageT]):
    """The picture pipeline, with the look's state (trails, fade) and a pluggable scaler.

    Live: ``feed`` each decoded frame once, then ``draw`` it for the window and ``render`` it
    for whatever else wants it (a recording at its own size and fit, a snapshot), any number
    of times. Offline: ``batch`` feeds and renders consecutive frames, scaling them in one call.
    """

    def __init__(self, scaler: Scaler[ImageT], look: Look | None = None) -> None:
        self.scaler = scaler
        self.look = look if look is not None else Look()
        self._fed: _Fed | None = None
        self._drawn: tuple[ImageT, str, Size] | None = None  # image, fit, its size

    @property
    def native_size(self) -> Size:
        """(w, h) of the frames fed; (0, 0) before the first."""
        if self._fed is None:
            return 0, 0
        return self._fed.pre.shape[1], self._fed.pre.shape[0]

    def feed(self, frame: np.ndarray, params: Mapping[str, float] | LookParams,
             dt: float) -> None:
        """Take the next decoded frame (uint8 HxWx3): the look advances by ``dt`` with
        ``params`` (the engine's values; only ``look.*`` are read) and runs its native stage."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 HxWx3, got {frame.dtype} {frame.shape}")
        self._fed = self._stage(frame, params, dt)
        self._drawn = None

    def _stage(self, frame: np.ndarray, params: Mapping[str, float] | LookParams,
               dt: float) -> _Fed:
        look = self.look
        look.advance(params, dt)
        pre = look.pre(frame)               # also keeps the trails moving while blacked out
        crisp = look.needs_post
        factor = self.scaler.crisp_prestep if crisp else 1
        source = steepen_edges(pre) if crisp else pre
        source = bicubic_up(source, factor) if factor > 1 else source
        return _Fed(pre, look.tone if crisp else None, look.is_black, look.grain, source, factor)

    def draw(self, size: Size, fit: str) -> tuple[ImageT | None, Rect]:
        """The frame fed last as a window of ``size`` shows it: the picture in the scaler's
        reused image (None when black or empty) and the rectangle where it goes."""
        self._drawn = None
        fed = self._fed
        crop, rect = fit_geometry(self.native_size, size, fit)
        x, y, w, h = rect
        if fed is None or fed.black or w == 0 or h == 0:
            return None, rect
        image = self.scaler.draw(fed.source, fed.crop(crop), (w, h))
        if fed.tone is not None:
            buf = self.scaler.pixels(image)
            fed.tone.apply(buf)
            del buf                          # unlock a surface before it is blitted
        for g in fed.grain:
            self.scaler.add_grain(image, g, w, h)
        self._drawn = (image, fit, (w, h))
        return image, rect

    def render(self, size: Size, fit: str) -> np.ndarray:
        """The frame fed last as a picture of ``size`` (w, h) and ``fit``: a new uint8 HxWx3
        array, black bars included.

        The size and fit just drawn, or one pixel less (rounding to even for video), is read
        from the drawn image, so a recording holds exactly the pixels shown; anything else
        is scaled again from the native frame.
        """
        w, h = int(size[0]), int(size[1])
        if w <= 0 or h <= 0:
            raise ValueError(f"picture size must be positive, got {w}x{h}")
        fed = self._fed
        if fed is None or fed.black:
            return np.zeros((h, w, 3), np.uint8)
        if self._drawn is not None:
            image, drawn_fit, (dw, dh) = self._drawn
            if drawn_fit == fit and 0 <= dw - w <= 1 and 0 <= dh - h <= 1:
                return self.scaler.read(image, w, h)
        crop, rect = fit_geometry(self.native_size, (w, h), fit)
        rw, rh = rect[2], rect[3]
        scaled = self.scaler.scale([fed.source], fed.crop(crop), (rw, rh))[0] if rw and rh else None
        return _frame(scaled, fed, rect, (w, h))

    def native(self) -> np.ndarray | None:
        """The frame fed last at the model's size with the look (what ``render`` shows before
        upscaling; grain, a display-resolution texture, is not in it): a new uint8 HxWx3
        array, or None before the first ``feed``."""
        fed = self._fed
        if fed is None:
            return None
        out = np.array(fed.pre, np.uint8, order="C")
        if fed.black:
            out[:] = 0
        elif fed.tone is not None:
            fed.tone.apply(out)
        return out

    def batch(self, frames: Sequence[np.ndarray],
              params: Sequence[Mapping[str, float] | LookParams], dts: Sequence[float],
              size: Size, fit: str) -> list[np.ndarray]:
        """Consecutive frames, fed in order (the look advances frame by frame) and rendered
        at ``size`` and ``fit`` with one scaler call per source size (frames with a crisp
        effect on are scaled from their 2x upscale); each keeps its own tone table."""
        fed = [self._stage(f, p, dt) for f, p, dt in zip(frames, params, dts, strict=True)]
        if not fed:
            return []
        self._fed, self._drawn = fed[-1], None
        crop, rect = fit_geometry(self.native_size, size, fit)
        rw, rh = rect[2], rect[3]
        scaled: list[np.ndarray | None] = [None] * len(fed)
        for factor in sorted({f.factor for f in fed}):
            idx = [i for i, f in enumerate(fed) if f.factor == factor and not f.black]
            if not (idx and rw and rh):
                continue
            out = self.scaler.scale([fed[i].source for i in idx], fed[idx[0]].crop(crop),
                                    (rw, rh))
            for i, image in zip(idx, out, strict=True):
                scaled[i] = image
        return [_frame(s, f, rect, size) for f, s in zip(fed, scaled, strict=True)]


def _frame(scaled: np.ndarray | None, fed: _Fed, rect: Rect, size: Size) -> np.ndarray:
    """The output frame: ``scaled`` (ours to change) with its tone table and grain,
    letterboxed."""
    w, h = size
    if scaled is None:
        return np.zeros((h, w, 3), np.uint8)
    if fed.tone is not None:
        fed.tone.apply(scaled)
    for g in fed.grain:
        g.apply(scaled)
    x, y, rw, rh = rect
    if (rw, rh) == (w, h):
        return scaled
    out = np.zeros((h, w, 3), np.uint8)
    out[y:y + rh, x:x + rw] = scaled
    return out
