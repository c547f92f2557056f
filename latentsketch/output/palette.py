"""The latent palette: a grid of decodes over a plane of the latent space, as a PNG that
remembers its plane.

Cell (row, col) of an n x n palette shows ``plane.grid(n)[row, col]`` (``latent.plane``: the
corner cells are the corners, rows run downwards, columns rightwards); cells abut, each
``cell`` pixels square. The PNG carries one text chunk, ``latentsketch:palette``, a JSON
object, so the window (or anyone) can map a pixel back to its point::

    version   1
    model_id  the model the points belong to (first 12 hex digits of its weights' sha256)
    grid      n (cells per side)          cell   pixels per cell side
    space     "u" (standardised)          order  "raw" (the checkpoint's dimension order)
    kind      corners | parallelogram | directions
    origin    the top-left cell's point   axes   [top-left -> top-right, top-left -> bottom-left]
    corners   [TL, TR, BL, BR]: the point of cell (r, c) is their bilinear blend at
              (c / (n-1), r / (n-1)); for a parallelogram or directions, origin + s axes[0] +
              t axes[1] gives the same points
    source    what made the plane, for people ("pc0, pc1", "dims 0, 1", the corner files)

The plane of a model by default (``model_axes``): its two leading principal directions if it
has them, else its two dimensions of highest KL, +-2 standard deviations around the data's
mean. Corners (``corner_point``) are images (encoded), latentsketch snapshots (their stored
point), or ``kf:N``, the model's keyframe N.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from latentsketch.data.images import READ_ERRORS, DataError, describe_read_error, open_image
from latentsketch.encoding import EncodeFailure, encode_paths
from latentsketch.engine import U_LIMIT
from latentsketch.errors import UserError
from latentsketch.latent.plane import Plane, PlaneError, from_corners, from_directions, unit_axis
from latentsketch.latent.space import LatentSpace
from latentsketch.model.checkpoint import LoadedModel
from latentsketch.model.identity import which_model
from latentsketch.output.paths import output_error, write_atomically
from latentsketch.output.snapshot import SnapshotError, read_snapshot_meta

META_KEY = "latentsketch:palette"
VERSION = 1
GRID = 8                 # cells per side by default
GRID_RANGE = (2, 32)
CELL_RANGE = (8, 512)
SPAN = 2.0               # the default plane spans +-SPAN standard deviations
CHUNK = 16               # cells decoded per call of the decoder

Decode = Callable[[np.ndarray], np.ndarray]   # (B, latent) float32 z -> (B, H, W, 3) uint8


class PaletteError(UserError, ValueError):
    """A palette that cannot be made or read; one line naming the file or value."""


@dataclass(frozen=True)
class Axes:
    """Two unit directions in u (raw order) with the data's spread along each, and a label."""

    x: np.ndarray
    y: np.ndarray
    scale: tuple[float, float]
    label: str


@dataclass(frozen=True)
class PaletteMeta:
    """What a palette PNG remembers (see the module docstring)."""

    model_id: str
    grid: int
    cell: int
    plane: Plane
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        p = self.plane
        return {"version": VERSION, "model_id": self.model_id, "grid": self.grid,
                "cell": self.cell, "space": "u", "order": "raw", "kind": p.kind,
                "origin": p.origin.tolist(), "axes": p.axes.tolist(),
                "corners": p.corners.tolist(), "source": self.source}

    @classmethod
    def from_json(cls, d: object) -> PaletteMeta:
        """Rebuild from ``to_json``; ValueError (or PlaneError) on anything malformed."""
        if not isinstance(d, dict):
            raise ValueError("not a JSON object")
        if d.get("version") != VERSION:
            raise ValueError(f"version {d.get('version')!r} is not {VERSION}")
        if d.get("space") != "u" or d.get("order") != "raw":
            raise ValueError("points are not standardised (u) in raw order")
        model_id, grid, cell = d.get("model_id"), d.get("grid"), d.get("cell")
        if not isinstance(model_id, str) or not model_id:
            raise ValueError("model_id is missing")
        for name, v, (lo, hi) in (("grid", grid, GRID_RANGE), ("cell", cell, CELL_RANGE)):
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"{name} = {v!r} is not an integer in {lo}..{hi}")
        plane = Plane(np.asarray(d.get("corners"), np.float64), str(d.get("kind")))
        return cls(model_id, grid, cell, plane, str(d.get("source", "")))

    @property
    def side(self) -> int:
        """The picture's side in pixels."""
        return self.grid * self.cell

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(row, col) of the cell under pixel (x, y) of the picture, or None outside it."""
        if not (0 <= x < self.side and 0 <= y < self.side):
            return None
        return int(y // self.cell), int(x // self.cell)

    def point(self, row: int, col: int) -> np.ndarray:
        """The point (u, raw order, float64) cell (row, col) shows."""
        return self.plane.cell(self.grid, row, col)


# --- the plane -------------------------------------------------------------------------------

def model_axes(loaded: LoadedModel) -> Axes:
    """The model's two leading principal directions if it has them, else its two dimensions
    of highest KL (each of spread 1 in u). PaletteError for a one-dimensional model."""
    space = loaded.space
    if space.dim < 2:
        raise PaletteError(f"model {loaded.model_id} has {space.dim} latent dimension: a "
                           f"palette needs 2")
    d = space.directions
    pcs = [k for k, kind in enumerate(d.kinds) if kind == "pc"] if d is not None else []
    if len(pcs) >= 2:
        a, b = pcs[0], pcs[1]
        return Axes(np.asarray(d.unit[a], np.float64), np.asarray(d.unit[b], np.float64),
                    (float(d.scale[a]), float(d.scale[b])), f"{d.names[a]}, {d.names[b]}")
    return Axes(unit_axis(space.dim, space.raw_index(0)), unit_axis(space.dim, space.raw_index(1)),
                (1.0, 1.0), "dims 0, 1 (KL rank)")


def axes_plane(axes: Axes, span: float = SPAN) -> Plane:
    """The square of +-``span`` spreads along ``axes`` around the data's mean."""
    return from_directions(axes.x, axes.y, axes.scale, span)


def corner_point(spec: str, loaded: LoadedModel) -> np.ndarray:
    """One corner (u, raw order, float64): ``kf:N`` (the model's keyframe N, from 0), a
    latentsketch snapshot (its stored point) or any other image (encoded). PaletteError, one
    line, for a keyframe the model lacks, another model's snapshot or an unreadable file."""
    space = loaded.space
    if spec.startswith("kf:"):
        n = len(space.keyframes)
        have = f"kf:0..kf:{n - 1}" if n else "none"
        text = spec[3:]
        if not (text.isascii() and text.isdigit()):
            raise PaletteError(f"corner {spec!r}: {text!r} is not a keyframe number; give kf:N "
                               f"with N a whole number from 0 (this model's: {have})")
        k = int(text)
        if not k < n:
            raise PaletteError(f"corner {spec!r}: model {loaded.model_id} has {n} keyframes "
                               f"({have})")
        return space.keyframes[k].astype(np.float64)
    path = Path(spec)
    try:
        meta = read_snapshot_meta(path)
    except SnapshotError as e:
        raise PaletteError(f"corner {e}") from None
    if meta is not None:
        if meta.model_id != loaded.model_id:
            raise PaletteError(f"corner {path}: snapshot of model {meta.model_id}, the palette's "
                               f"model is {loaded.model_id}; pass "
                               f"{which_model(meta.model_id)}")
        if len(meta.z) != space.dim:
            raise PaletteError(f"corner {path}: its point has {len(meta.z)} values, the model "
                               f"{space.dim}")
        return space.to_u(meta.z_array()).astype(np.float64)
    (e,) = encode_paths(loaded, [path])
    if isinstance(e, EncodeFailure):
        raise PaletteError(f"corner {e.message}")
    return space.to_u(e.z).astype(np.float64)


def corners_plane(specs: Sequence[str], loaded: LoadedModel) -> Plane:
    """The plane through 3 or 4 corners (``corner_point`` each); PaletteError, one line."""
    if len(specs) not in (3, 4):
        raise PaletteError(f"--corners takes 3 or 4 points (top-left, top-right, bottom-left"
                           f"[, bottom-right]), got {len(specs)}")
    points = [corner_point(s, loaded) for s in specs]
    try:
        return from_corners(points)
    except PlaneError as e:
        raise PaletteError(f"--corners {' '.join(specs)}: {e}") from None


# --- the picture -----------------------------------------------------------------------------

def decode_cells(decode: Decode, space: LatentSpace, plane: Plane, grid: int,
                 chunk: int = CHUNK) -> np.ndarray:
    """(grid, grid, S, S, 3) uint8: each cell's point decoded, clipped to the engine's
    per-dimension limit as a glide there would be."""
    u = np.clip(plane.grid(grid).reshape(grid * grid, -1), -U_LIMIT, U_LIMIT)
    z = space.to_z(u)
    tiles = [decode(z[i:i + chunk]) for i in range(0, len(z), chunk)]
    out = np.concatenate(tiles)
    return out.reshape(grid, grid, *out.shape[1:])


def compose(tiles: np.ndarray, cell: int | None = None) -> np.ndarray:
    """(n, n, S, S, 3) tiles -> (n*cell, n*cell, 3) uint8, cells abutting; ``cell`` other
    than S resizes each tile (Lanczos)."""
    n, _, s = tiles.shape[:3]
    cell = s if cell is None else cell
    if cell != s:
        tiles = np.stack([np.asarray(Image.fromarray(t).resize((cell, cell),
                                                             Image.Resampling.LANCZOS))
                          for t in tiles.reshape(n * n, s, s, 3)]).reshape(n, n, cell, cell, 3)
    return np.ascontiguousarray(tiles.transpose(0, 2, 1, 3, 4).reshape(n * cell, n * cell, 3))


def write_palette(path: str | os.PathLike[str], image: np.ndarray, meta: PaletteMeta) -> Path:
    """Write the palette PNG with its metadata, atomically (never half-written); missing
    folders are created. OutputError (one line naming the file) on failure."""
    path = Path(path)
    if image.shape[:2] != (meta.side, meta.side):
        raise ValueError(f"palette image {image.shape[:2]} is not {meta.side} px square")
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "latentsketch")
    info.add_itxt(META_KEY, json.dumps(meta.to_json()))
    im = Image.fromarray(np.ascontiguousarray(image, np.uint8), "RGB")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(e, path.parent, "create folder") from e
    return write_atomically(path, lambda tmp: im.save(tmp, format="PNG", pnginfo=info))


def read_palette(path: str | os.PathLike[str]) -> tuple[np.ndarray, PaletteMeta]:
    """A palette PNG's picture (side x side x 3 uint8) and metadata; PaletteError (one line
    naming the file) if it cannot be read, is not a palette, or its metadata is damaged."""
    try:
        with open_image(path) as im:
            try:
                text = dict(getattr(im, "text", {}) or {})
                rgb = np.asarray(im.convert("RGB"), np.uint8)
            except READ_ERRORS as e:
                raise PaletteError(describe_read_error(path, e)) from e
    except DataError as e:
        raise PaletteError(str(e)) from None
    raw = text.get(META_KEY)
    if raw is None:
        raise PaletteError(f"{path}: not a latentsketch palette (no {META_KEY} metadata); "
                           f"make one with 'latentsketch palette'")
    try:
        meta = PaletteMeta.from_json(json.loads(raw))
    except (ValueError, TypeError) as e:
        raise PaletteError(f"{path}: damaged palette metadata ({e})") from None
    if rgb.shape[:2] != (meta.side, meta.side):
        raise PaletteError(f"{path}: the picture is {rgb.shape[1]}x{rgb.shape[0]}, its metadata "
                           f"says {meta.side}x{meta.side}")
    return rgb, meta


# --- the command -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PaletteResult:
    path: Path
    meta: PaletteMeta
    seconds: float          # decoding the cells, on this machine


def make_palette(loaded: LoadedModel, decode: Decode, out: str | os.PathLike[str],
                 corners: Sequence[str] = (), grid: int = GRID, cell: int | None = None,
                 span: float = SPAN) -> PaletteResult:
    """``latentsketch palette``: decode a grid over the plane of ``corners`` (else the
    model's axes, +-``span`` spreads) and write it to ``out``. PaletteError for a grid, cell
    or span out of range and for bad corners; OutputError if ``out`` cannot be written."""
    if Path(out).suffix.lower() != ".png":
        raise PaletteError(f"--out {out}: a palette is a PNG (its plane is kept in the PNG's "
                           f"metadata); give a file name ending in .png")
    lo, hi = GRID_RANGE
    if not lo <= grid <= hi:
        raise PaletteError(f"--grid {grid} is out of range {lo}..{hi}")
    cell = loaded.cfg.image_size if cell is None else cell
    if not CELL_RANGE[0] <= cell <= CELL_RANGE[1]:
        raise PaletteError(f"--cell {cell} is out of range {CELL_RANGE[0]}..{CELL_RANGE[1]}")
    if not (math.isfinite(span) and 0 < span <= U_LIMIT):
        raise PaletteError(f"--span {span:g} must be more than 0 and at most {U_LIMIT:g}")
    if corners:
        plane, source = corners_plane(corners, loaded), " ".join(corners)
    else:
        axes = model_axes(loaded)
        plane, source = axes_plane(axes, span), f"{axes.label}, +-{span:g} sd"
    t0 = time.perf_counter()
    tiles = decode_cells(decode, loaded.space, plane, grid)
    seconds = time.perf_counter() - t0
    meta = PaletteMeta(loaded.model_id, grid, cell, plane, source)
    return PaletteResult(write_palette(out, compose(tiles, cell), meta), meta, seconds)
