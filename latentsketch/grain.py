"""Film grain for the picture at display resolution: a noise tile made once, placed anew each
frame.

Fresh noise per frame costs far too much at 1024x1024 (``np.random`` + float + clip: ~20 ms,
benchmarks/bench_look.py); the grain here is a 256x256 tile of zero-mean noise, made when its
strength changes, that each frame lays over the picture in 256x256 blocks, every block from
its own offset into the tile. The offsets come from a counter-based hash of (frame, block), so
the grain changes every frame yet an export that replays the frames gets the same grain.

The noise is split into a positive and a negative tile and added with saturation,
``min(a + plus, 255)`` then ``max(a - minus, 0)``: the window does it with pygame-ce's SIMD
``BLEND_RGB_ADD``/``BLEND_RGB_SUB`` blits (``output.display.SurfaceScaler``), arrays with the
same saturating arithmetic in numpy (``Grain.apply``); the two give the same bytes.

Numpy only: the effects registry (``effects.FilmGrain``) makes these, the picture pipeline
applies them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TILE = 256                 # side of the noise tile and of the blocks it is laid in
_SEED = 20261130           # the tile's noise; fixed, so every run has the same grain
_M64 = (1 << 64) - 1

Block = tuple[int, int, int, int, int, int]  # dest x, y, tile x, y, w, h


@lru_cache(maxsize=1)
def unit_noise() -> np.ndarray:
    """The tile's noise at unit strength: float32 (TILE, TILE), mean 0, std 1, wrapping.

    Gaussian white noise smoothed by the binomial kernel [1, 2, 1] / 4 along each axis (with
    wrap-around, so the tile repeats without a seam): grains of 1-2 px, like film's, rather
    than single-pixel fizz.
    """
    n = np.random.default_rng(_SEED).standard_normal((TILE, TILE))
    for axis in (0, 1):
        n = (np.roll(n, 1, axis) + 2 * n + np.roll(n, -1, axis)) / 4
    n -= n.mean()
    n /= n.std()
    return n.astype(np.float32)


def splitmix64(x: int) -> int:
    """One step of SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
    generators", OOPSLA 2014): a counter in, 64 well-mixed bits out."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


class GrainTile:
    """The noise tile at one strength, split into what is added and what is subtracted.

    ``plus`` and ``minus`` are uint8 (2 TILE - 1, 2 TILE - 1): the tile repeated so that any
    TILE x TILE window of them is the tile turned by some offset. Immutable; a scaler may
    cache its own form of them (surfaces) keyed by the object.
    """

    def __init__(self, std: float) -> None:
        self.std = std
        n = np.clip(np.rint(unit_noise() * std), -255, 255).astype(np.int16)
        self.plus = _wrap(np.maximum(n, 0).astype(np.uint8))
        self.minus = _wrap(np.maximum(-n, 0).astype(np.uint8))
        self._rgb: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def rgb(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``plus``, ``minus`` and ``255 - plus`` with three equal channels, for numpy (a
        broadcast channel axis makes numpy's in-place ops ~50x slower)."""
        if self._rgb is None:
            plus = np.repeat(self.plus[..., None], 3, axis=2)
            minus = np.repeat(self.minus[..., None], 3, axis=2)
            self._rgb = (plus, minus, 255 - plus)
        return self._rgb


def _wrap(tile: np.ndarray) -> np.ndarray:
    """The tile repeated to (2 TILE - 1) square: every TILE x TILE window is the tile turned."""
    return np.ascontiguousarray(np.tile(tile, (2, 2))[:2 * TILE - 1, :2 * TILE - 1])


@dataclass(frozen=True, slots=True, eq=False)
class Grain:
    """One frame's grain: a tile and where each block of the picture takes it from."""

    tile: GrainTile
    frame: int

    def blocks(self, w: int, h: int) -> Iterator[Block]:
        """The TILE x TILE blocks covering a ``w`` x ``h`` picture, each with its offset in
        the tile: (dest x, dest y, tile x, tile y, width, height)."""
        i = 0
        for y in range(0, h, TILE):
            for x in range(0, w, TILE):
                r = splitmix64((self.frame << 24) ^ i)
                yield x, y, r % TILE, (r >> 32) % TILE, min(TILE, w - x), min(TILE, h - y)
                i += 1

    def apply(self, rgb: np.ndarray) -> None:
        """Add the grain to a uint8 (h, w, 3) array in place, saturating at 0 and 255."""
        plus, minus, headroom = self.tile.rgb()
        h, w = rgb.shape[:2]
        for x, y, sx, sy, bw, bh in self.blocks(w, h):
            a = rgb[y:y + bh, x:x + bw]
            tile = (slice(sy, sy + bh), slice(sx, sx + bw))
            np.minimum(a, headroom[tile], out=a)     # min(a + p, 255) = min(a, 255 - p) + p
            a += plus[tile]
            np.maximum(a, minus[tile], out=a)        # max(a - m, 0) = max(a, m) - m
            a -= minus[tile]
