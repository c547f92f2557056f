"""Pictures that say more than text: labelled image grids and a loss curve, with Pillow only.

Labels and titles are laid out word by word (``text_layout``): Pillow's small default font
leaves a space barely wider than the gaps between letters, so its words ran together.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

LABEL_W = 120                  # at least; wider when a label needs it
BG = (18, 18, 22)
FG = (230, 230, 230)
FONT_SIZE = 13
WORD_GAP = 0.4                 # the space between words, in font sizes (Pillow's is ~0.2)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=1)
def label_font() -> Font:
    """Pillow's bundled font at ``FONT_SIZE`` (its bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except (TypeError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def text_layout(text: str, font: Font | None = None, x: float = 0.0) -> list[tuple[str, float]]:
    """Each word of ``text`` with the x where it starts: words are one word gap apart."""
    font = font or label_font()
    gap = max(font.getlength(" "), WORD_GAP * getattr(font, "size", 10))
    out = []
    for word in text.split():
        out.append((word, x))
        x += font.getlength(word) + gap
    return out


def text_width(text: str, font: Font | None = None) -> int:
    font = font or label_font()
    words = text_layout(text, font)
    return math.ceil(words[-1][1] + font.getlength(words[-1][0])) if words else 0


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str,
              fill: tuple[int, int, int], font: Font | None = None) -> None:
    """``draw.text`` with the word spacing of ``text_layout``."""
    font = font or label_font()
    for word, x in text_layout(text, font, xy[0]):
        draw.text((x, xy[1]), word, fill=fill, font=font)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) or (N, H, W, C) float 0..1 -> (N, H, W, 3) uint8."""
    a = np.asarray(images, np.float32)
    if a.ndim == 4 and a.shape[1] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(0, 2, 3, 1)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return np.clip(np.round(a * 255), 0, 255).astype(np.uint8)


def grid(images: np.ndarray, cols: int) -> np.ndarray:
    """Tile (N, H, W, 3) uint8 into rows of ``cols`` with a 2-px gap."""
    n, h, w, c = images.shape
    rows = math.ceil(n / cols)
    gap = 2
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), BG[0], np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = images[i]
    return out


def labelled_sheet(rows: Sequence[tuple[str, np.ndarray]], scale: int = 2,
                   title: str = "") -> Image.Image:
    """One labelled row per (label, (N, H, W, 3) uint8 images), under an optional title."""
    label_w = max([LABEL_W] + [text_width(label) + 16 for label, _ in rows])
    strips = []
    for label, imgs in rows:
        g = Image.fromarray(grid(imgs, len(imgs)))
        g = g.resize((g.width * scale, g.height * scale), Image.Resampling.NEAREST)
        strip = Image.new("RGB", (label_w + g.width, g.height + 6), BG)
        strip.paste(g, (label_w, 3))
        draw_text(ImageDraw.Draw(strip), (6, g.height // 2 - 6), label, FG)
        strips.append(strip)
    head = 24 if title else 0
    width = max([s.width for s in strips] + [text_width(title) + 12 if title else 0])
    sheet = Image.new("RGB", (width, head + sum(s.height for s in strips)), BG)
    if title:
        draw_text(ImageDraw.Draw(sheet), (6, 5), title, FG)
    y = head
    for s in strips:
        sheet.paste(s, (0, y))
        y += s.height
    return sheet


def loss_curve(history: dict[str, Sequence[float]], path: Path, title: str = "training loss",
               size: tuple[int, int] = (900, 520)) -> None:
    """Plot each series (log scale where all values are positive) into one PNG."""
    w, h = size
    im = Image.new("RGB", size, (250, 250, 250))
    d = ImageDraw.Draw(im)
    colours = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]
    series = [(k, np.asarray(v, np.float64)) for k, v in history.items() if len(v) > 1]
    d.text((10, 6), title, fill=(0, 0, 0))
    panel_h = (h - 30) // max(1, len(series))
    for i, (name, y) in enumerate(series):
        top = 30 + i * panel_h
        x0, x1, y0, y1 = 60, w - 15, top + 4, top + panel_h - 16
        d.rectangle((x0, y0, x1, y1), outline=(180, 180, 180))
        finite = y[np.isfinite(y)]
        if finite.size < 2:
            continue
        k = max(1, len(y) // 200)
        ys = np.convolve(np.nan_to_num(y), np.ones(k) / k, mode="valid") if k > 1 else y
        log = bool(np.all(finite > 0))
        v = np.log10(ys) if log else ys
        lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
        hi = hi if hi > lo else lo + 1
        xs = x0 + (x1 - x0) * np.arange(len(v)) / max(1, len(v) - 1)
        yy = y1 - (y1 - y0) * (v - lo) / (hi - lo)
        d.line(list(zip(xs.tolist(), yy.tolist(), strict=True)), fill=colours[i % 5], width=2)
        fmt = (lambda t: f"{10**t:.3g}") if log else (lambda t: f"{t:.3g}")
        d.text((4, y0), fmt(hi), fill=(60, 60, 60))
        d.text((4, y1 - 10), fmt(lo), fill=(60, 60, 60))
        d.text((x0 + 6, y0 + 4), f"{name}{' (log)' if log else ''}  last {y[-1]:.4g}",
               fill=colours[i % 5])
    save_png(im, path)


def save_png(im: Image.Image, path: Path) -> None:
    """Write a PNG whole or not at all: a temp file beside it, renamed; removed on failure
    (a full disk must not leave a 0-byte sheet that looks like a picture)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        im.save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
