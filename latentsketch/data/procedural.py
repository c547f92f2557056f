"""A seeded, generated generative-art data set, so the project trains with no download.

Two styles. ``bold`` (the default model's data) draws what survives a small VAE: a two-colour
gradient background from a curated palette and one or two large flat shapes with anti-aliased
edges, sometimes a thick curve. ``mixed`` adds stripes, checkers, concentric rings and thinner
curves for variety. Every image is a pure function of (seed, index), so any subset regenerates.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# Curated palettes (hex): harmonious sets that keep decodes from turning muddy.
PALETTES: tuple[tuple[str, ...], ...] = (
    ("264653", "2a9d8f", "e9c46a", "f4a261", "e76f51"),
    ("003049", "d62828", "f77f00", "fcbf49", "eae2b7"),
    ("0b132b", "1c2541", "3a506b", "5bc0be", "ffffff"),
    ("22223b", "4a4e69", "9a8c98", "c9ada7", "f2e9e4"),
    ("ff006e", "fb5607", "ffbe0b", "8338ec", "3a86ff"),
    ("10002b", "240046", "5a189a", "9d4edd", "e0aaff"),
    ("081c15", "1b4332", "40916c", "95d5b2", "d8f3dc"),
    ("f72585", "7209b7", "3a0ca3", "4361ee", "4cc9f0"),
    ("2b2d42", "8d99ae", "edf2f4", "ef233c", "d90429"),
    ("006d77", "83c5be", "edf6f9", "ffddd2", "e29578"),
    ("000000", "14213d", "fca311", "e5e5e5", "ffffff"),
    ("590d22", "a4133c", "ff4d6d", "ff8fa3", "fff0f3"),
)

SHAPES: tuple[str, ...] = ("circle", "ring", "rect", "triangle", "diamond", "blob")
STYLES: tuple[str, ...] = ("bold", "mixed")


def _palette_rgb(rng: np.random.Generator) -> np.ndarray:
    pal = PALETTES[rng.integers(len(PALETTES))]
    cols = np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in pal], np.float32) / 255
    return cols[rng.permutation(len(cols))]


def _coverage(sdf: np.ndarray, px: float) -> np.ndarray:
    """Anti-aliased coverage from a signed distance (negative inside)."""
    return np.clip(0.5 - sdf / px, 0.0, 1.0)


def _shape_sdf(kind: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cx, cy = rng.uniform(-0.35, 0.35, 2)
    r = rng.uniform(0.3, 0.6)
    a = rng.uniform(0, 2 * np.pi)
    dx, dy = x - cx, y - cy
    rx = dx * np.cos(a) + dy * np.sin(a)
    ry = -dx * np.sin(a) + dy * np.cos(a)
    if kind == "circle":
        return np.hypot(dx, dy) - r
    if kind == "ring":
        t = rng.uniform(0.09, 0.18)
        return np.abs(np.hypot(dx, dy) - r + t) - t
    if kind == "rect":
        w, h = r * rng.uniform(0.6, 1.0), r * rng.uniform(0.45, 0.9)
        rad = rng.uniform(0.0, 0.12)
        qx, qy = np.abs(rx) - w + rad, np.abs(ry) - h + rad
        out = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
        return out + np.minimum(np.maximum(qx, qy), 0) - rad
    if kind == "triangle":
        # Equilateral triangle SDF (Inigo Quilez's formula), rotated.
        k = np.sqrt(3.0)
        px, py = np.abs(rx) - r, ry + r / k
        flip = px + k * py > 0
        px2 = np.where(flip, (px - k * py) / 2, px)
        py2 = np.where(flip, (-k * px - py) / 2, py)
        px2 = px2 - np.clip(px2, -2 * r, 0)
        return -np.hypot(px2, py2) * np.sign(py2)
    if kind == "diamond":
        return (np.abs(rx) + np.abs(ry)) / np.sqrt(2) - r * 0.75
    # blob: a circle with a low-frequency wobble of the radius
    ang = np.arctan2(dy, dx)
    k = rng.integers(2, 5)
    wob = 1 + rng.uniform(0.1, 0.25) * np.sin(k * ang + rng.uniform(0, 2 * np.pi))
    return np.hypot(dx, dy) - r * wob


def _curve_sdf(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, width: float) -> np.ndarray:
    """Distance to a sampled quadratic Bezier band."""
    p = rng.uniform(-0.9, 0.9, (3, 2))
    t = np.linspace(0, 1, 48)[:, None]
    pts = (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t**2 * p[2]  # (48, 2)
    d = np.hypot(x[..., None] - pts[:, 0], y[..., None] - pts[:, 1]).min(-1)
    return d - width


def _background(x: np.ndarray, y: np.ndarray, c0: np.ndarray, c1: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        a = rng.uniform(0, 2 * np.pi)
        t = (x * np.cos(a) + y * np.sin(a)) / 2.8 + 0.5
    else:
        cx, cy = rng.uniform(-0.6, 0.6, 2)
        t = np.hypot(x - cx, y - cy) / 1.8
    t = np.clip(t, 0, 1)[..., None]
    return c0 * (1 - t) + c1 * t


def _pattern(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, px: float) -> np.ndarray:
    """Coverage of a repeating pattern: stripes, checker or concentric rings."""
    kind = rng.integers(3)
    f = rng.uniform(2.0, 5.0)
    a = rng.uniform(0, np.pi)
    u = x * np.cos(a) + y * np.sin(a)
    v = -x * np.sin(a) + y * np.cos(a)
    if kind == 0:
        s = np.sin(np.pi * f * u)
    elif kind == 1:
        s = np.sin(np.pi * f * u) * np.sin(np.pi * f * v)
    else:
        s = np.sin(np.pi * f * np.hypot(u, v) * 1.5)
    return np.clip(0.5 + s / (np.pi * f * px * 2), 0, 1)


def render(seed: int, index: int, size: int = 64, style: str = "bold") -> np.ndarray:
    """One image as float32 (size, size, 3) in 0..1; a pure function of its arguments."""
    if style not in STYLES:
        raise ValueError(f"unknown procedural style {style!r} (known: {', '.join(STYLES)})")
    rng = np.random.default_rng([seed, index])
    lin = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    x, y = np.meshgrid(lin, lin)
    px = 2.0 / size
    cols = _palette_rgb(rng)
    img = _background(x, y, cols[0], cols[1], rng)
    if style == "mixed" and rng.random() < 0.5:
        img = img * (1 - (m := _pattern(x, y, rng, px)[..., None])) + cols[2] * m
    n_shapes = 1 + int(rng.random() < (0.35 if style == "bold" else 0.6))
    for i in range(n_shapes):
        kind = SHAPES[rng.integers(len(SHAPES))]
        m = _coverage(_shape_sdf(kind, x, y, rng), px)[..., None]
        img = img * (1 - m) + cols[2 + i] * m
    if rng.random() < (0.2 if style == "bold" else 0.5):
        width = rng.uniform(0.06, 0.12) if style == "bold" else rng.uniform(0.02, 0.08)
        m = _coverage(_curve_sdf(x, y, rng, width), px)[..., None]
        img = img * (1 - m) + cols[4] * m
    return img.astype(np.float32)


def generate(n: int, seed: int = 0, size: int = 64, style: str = "bold",
             start: int = 0) -> np.ndarray:
    """``n`` images as uint8 (n, size, size, 3); uint8 keeps a 25k set at 300 MB for 64 px."""
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        out[i] = np.round(render(seed, start + i, size, style) * 255).astype(np.uint8)
    return out


def iter_images(seed: int = 0, size: int = 64, style: str = "bold") -> Iterator[np.ndarray]:
    i = 0
    while True:
        yield render(seed, i, size, style)
        i += 1
