"""Projection set-up: turn, mirror and corner-pin (keystone) what the audience window shows.

A projector hung sideways, behind a screen (rear projection) or off-axis needs its picture
turned by 90/180/270 degrees, mirrored, or warped so that its four corners land where the
screen's are. ``Projection`` says how (a preset's ``[projection]`` table); ``WarpMap``
precomputes, once per change of set-up or window size, which source pixel each window pixel
shows, so a frame costs one gather of 32-bit pixels (nearest-neighbour): torch's
``index_select`` with 32-bit indices, about 3x faster than ``numpy.take`` on a map this
coherent, and faster than pygame's own 90-degree turn (``benchmarks/bench_projection.py``).

The warp applies to the audience window only. Recordings, snapshots and exports get the
clean picture: a projector's geometry belongs to the room, not to the work (a recording made
for one wall would be wrong on any other screen).

Coordinates: ``corners`` are where the picture's top-left, top-right, bottom-right and
bottom-left corners land, as fractions of the window's width and height (0..1; a little
outside is allowed, for a picture that overshoots). Turning comes first, then mirroring
(left-right), then the corner-pin. No pygame here: the window hands in its pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

ROTATIONS = (0, 90, 180, 270)
SQUARE: tuple[tuple[float, float], ...] = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
CORNER_LIMIT = 2.0   # |corner| in window widths/heights, beyond which a pin is a typo


class ProjectionError(ValueError):
    """A projection set-up that cannot be used; one line."""


@dataclass(frozen=True)
class Projection:
    """Turn (degrees clockwise, one of ``ROTATIONS``), mirror (left-right, for rear
    projection), and the four corners (TL, TR, BR, BL) of the corner-pin."""

    rotate: int = 0
    mirror: bool = False
    corners: tuple[tuple[float, float], ...] = SQUARE

    def __post_init__(self) -> None:
        if self.rotate not in ROTATIONS:
            raise ProjectionError(f"rotate = {self.rotate!r} is not one of "
                                  f"{', '.join(map(str, ROTATIONS))}")
        c = self.corners
        if len(c) != 4 or any(len(p) != 2 for p in c) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                and abs(v) <= CORNER_LIMIT for p in c for v in p):
            raise ProjectionError(f"corners = {c!r} are not four [x, y] pairs of fractions "
                                  f"of the window (-{CORNER_LIMIT:g}..{CORNER_LIMIT:g})")
        object.__setattr__(self, "corners", tuple((float(x), float(y)) for x, y in c))
        if not _convex(self.corners):
            raise ProjectionError(f"corners = {list(map(list, self.corners))} do not make a "
                                  f"convex shape in order top-left, top-right, bottom-right, "
                                  f"bottom-left")

    @property
    def identity(self) -> bool:
        return self.rotate == 0 and not self.mirror and self.corners == SQUARE

    def canvas(self, window: tuple[int, int]) -> tuple[int, int]:
        """The size (w, h) to draw the picture at for a window of ``window``: turned 90 or
        270 degrees, a landscape window shows a portrait picture."""
        w, h = window
        return (h, w) if self.rotate in (90, 270) else (w, h)


def _convex(c: tuple[tuple[float, float], ...]) -> bool:
    """Whether the quad turns the same way at every corner (no bow tie, no dent)."""
    signs = []
    for i in range(4):
        (x0, y0), (x1, y1), (x2, y2) = c[i], c[(i + 1) % 4], c[(i + 2) % 4]
        signs.append((x1 - x0) * (y2 - y1) - (y1 - y0) * (x2 - x1))
    return all(s > 0 for s in signs) or all(s < 0 for s in signs)


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 matrix taking the four points ``src`` (4, 2) to ``dst`` (4, 2)."""
    a, b = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    h = np.linalg.solve(np.array(a, np.float64), np.array(b, np.float64))
    return np.append(h, 1.0).reshape(3, 3)


class WarpMap:
    """For a window of ``window`` (w, h) and a canvas of ``projection.canvas(window)``: for
    each window pixel, the canvas pixel it shows (flat index), or the index one past the
    canvas (a black pixel the caller appends) where it shows nothing.

    ``apply(canvas, out)`` fills ``out`` (h, w) uint32 from ``canvas`` (ch, cw) uint32.
    """

    def __init__(self, projection: Projection, window: tuple[int, int]) -> None:
        self.projection = projection
        self.window = w, h = int(window[0]), int(window[1])
        self.canvas = cw, ch = projection.canvas(self.window)
        # window pixel centre -> the turned, mirrored picture (window-sized) by the pin's inverse
        m = np.linalg.inv(homography(np.array(SQUARE) * (w, h),
                                     np.array(projection.corners) * (w, h)))
        xs = (np.arange(w) + 0.5)[None, :]
        ys = (np.arange(h) + 0.5)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = m[2, 0] * xs + m[2, 1] * ys + m[2, 2]                       # (h, w)
            x = (m[0, 0] * xs + m[0, 1] * ys + m[0, 2]) / z
            y = (m[1, 0] * xs + m[1, 1] * ys + m[1, 2]) / z
        if projection.mirror:
            x = w - x
        # turned picture (w, h) -> canvas (cw, ch): undo a clockwise turn
        r = projection.rotate
        if r == 90:
            x, y = y, w - x
        elif r == 180:
            x, y = w - x, h - y
        elif r == 270:
            x, y = h - y, x
        inside = (x >= 0) & (x < cw) & (y >= 0) & (y < ch) & np.isfinite(x) & np.isfinite(y)
        xi = np.clip(np.nan_to_num(x), 0, cw - 1).astype(np.int64)
        yi = np.clip(np.nan_to_num(y), 0, ch - 1).astype(np.int64)
        idx = np.where(inside, yi * cw + xi, cw * ch)
        self.index = idx.astype(np.int32 if cw * ch < 2**31 - 1 else np.int64)
        self._index = torch.from_numpy(self.index.reshape(-1))
        self._src = np.zeros(cw * ch + 1, np.uint32)   # the canvas and one black pixel
        self._src_t = torch.from_numpy(self._src.view(np.int32))
        self._out = np.empty((h, w), np.uint32)

    def apply(self, canvas: np.ndarray, out: np.ndarray) -> None:
        """Warp ``canvas`` (ch, cw) 32-bit pixels into ``out`` (h, w), in place."""
        cw, ch = self.canvas
        self._src[:-1].reshape(ch, cw)[:] = canvas
        direct = out.flags.c_contiguous and out.flags.writeable
        dest = out if direct else self._out
        torch.index_select(self._src_t, 0, self._index,
                           out=torch.from_numpy(dest.view(np.int32).reshape(-1)))
        if not direct:
            out[:] = dest
