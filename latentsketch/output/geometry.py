"""Where a picture goes in a frame of another shape: one rule for the window and the exporter.

Pure arithmetic (no pygame), so the offline exporter and the live display crop and letterbox
identically.
"""

from __future__ import annotations

from latentsketch.params import FIT_MODES

Rect = tuple[int, int, int, int]  # x, y, w, h


def fit_geometry(src: tuple[int, int], dst: tuple[int, int], mode: str) -> tuple[Rect, Rect]:
    """Where a ``src``-sized picture goes in a ``dst``-sized window.

    Returns ``(crop, rect)``: the part of the source to scale (source pixels) and where it
    lands (window pixels). ``fit`` letterboxes (the rest of the window is black), ``fill``
    crops the source's centre to the window's aspect (rounded to whole source pixels, so the
    aspect is off by at most half a source pixel), ``stretch`` ignores the aspect.
    """
    if mode not in FIT_MODES:
        raise ValueError(f"fit mode {mode!r} is not one of {', '.join(FIT_MODES)}")
    sw, sh = max(1, src[0]), max(1, src[1])
    dw, dh = max(0, dst[0]), max(0, dst[1])
    full = (0, 0, sw, sh)
    if mode == "stretch" or dw == 0 or dh == 0:
        return full, (0, 0, dw, dh)
    if mode == "fit":
        scale = min(dw / sw, dh / sh)
        w = min(dw, max(1, round(sw * scale)))
        h = min(dh, max(1, round(sh * scale)))
        return full, ((dw - w) // 2, (dh - h) // 2, w, h)
    if dw * sh >= dh * sw:   # window wider than the picture: keep the width, crop rows
        ch = min(sh, max(1, round(sw * dh / dw)))
        return (0, (sh - ch) // 2, sw, ch), (0, 0, dw, dh)
    cw = min(sw, max(1, round(sh * dw / dh)))
    return ((sw - cw) // 2, 0, cw, sh), (0, 0, dw, dh)
