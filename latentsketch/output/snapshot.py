"""Snapshots: the current frame as PNG, carrying the latent vector that made it.

A snapshot is written twice — at the model's native size, and at a size worth sharing (the
live window's picture as shown, or an upscale) — and both files hold the same PNG text chunks,
so either can be loaded back as a keyframe (``--start-from shot.png``, or dropped on the
window)::

    latentsketch:z         JSON list, the latent vector in the checkpoint's raw order
    latentsketch:model_id  first 12 hex digits of the weights' sha256
    latentsketch:preset    preset name (absent if none)
    latentsketch:seed      walk seed (absent if unknown)
    latentsketch:time      walk clock in seconds (absent if unknown)
    latentsketch:created   local ISO 8601 time the snapshot was taken

Floats are written with Python's shortest round-trip repr, so a float32 z reads back bit-exact.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from latentsketch.data.images import (
    READ_ERRORS,
    DataError,
    ImageReadError,
    describe_read_error,
    open_image,
)
from latentsketch.output.paths import (
    OutputDir,
    output_error,
    removed_on_failure,
)

KEY_PREFIX = "latentsketch:"


class SnapshotError(DataError):
    """An image cannot be read, or its latentsketch metadata is damaged; one line.

    A DataError (so a UserError and a ValueError): the command line prints it as one line with
    exit status 2.
    """


@dataclass(frozen=True)
class SnapshotMeta:
    """What a snapshot remembers; ``z`` is in raw order."""

    z: tuple[float, ...]
    model_id: str
    preset: str | None = None
    seed: int | None = None
    time: float | None = None
    created: str | None = None

    def __post_init__(self) -> None:
        if not self.z or not all(math.isfinite(v) for v in self.z):
            raise ValueError("snapshot z must be a non-empty list of finite numbers")
        if not self.model_id:
            raise ValueError("snapshot needs a model id")
        if self.time is not None and not math.isfinite(self.time):
            raise ValueError("snapshot time must be finite")

    @classmethod
    def from_z(cls, z: np.ndarray, model_id: str, **fields: Any) -> SnapshotMeta:
        """From a float32 latent vector (raw order), stamped with the current time."""
        fields.setdefault("created", datetime.now().isoformat(timespec="seconds"))
        return cls(tuple(float(v) for v in np.asarray(z, np.float32).ravel()), model_id,
                   **fields)

    def z_array(self) -> np.ndarray:
        return np.asarray(self.z, np.float32)

    def text_chunks(self) -> dict[str, str]:
        """The PNG text chunks (key -> value) this metadata is stored as."""
        chunks = {"z": json.dumps(list(self.z)), "model_id": self.model_id,
                  "preset": self.preset, "seed": None if self.seed is None else str(self.seed),
                  "time": None if self.time is None else repr(float(self.time)),
                  "created": self.created}
        return {KEY_PREFIX + k: v for k, v in chunks.items() if v is not None}


@dataclass(frozen=True)
class SnapshotFiles:
    native: Path
    upscaled: Path | None  # None when the frame is already at least the upscaled size


def upscaled_dims(width: int, height: int, long_side: int) -> tuple[int, int] | None:
    """Size with the long side at ``long_side``, aspect kept; None if that is no larger."""
    scale = long_side / max(width, height)
    if scale <= 1:
        return None
    return max(1, round(width * scale)), max(1, round(height * scale))


def write_png(path: str | os.PathLike[str], image: np.ndarray | Image.Image,
              meta: SnapshotMeta, compress_level: int = 3) -> Path:
    """Write one RGB PNG with the snapshot metadata; OutputError names the file on failure
    (the caller removes what a failed write left: ``save_snapshot`` does)."""
    path = Path(path)
    im = image if isinstance(image, Image.Image) else Image.fromarray(
        np.ascontiguousarray(image, np.uint8), "RGB")
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "latentsketch")
    for key, value in meta.text_chunks().items():
        info.add_itxt(key, value)
    try:
        im.save(path, format="PNG", pnginfo=info, compress_level=compress_level)
    except OSError as e:
        raise output_error(e, path, "write snapshot") from e
    return path


def save_snapshot(frame: np.ndarray, meta: SnapshotMeta, out: OutputDir,
                  upscaled_size: int = 1024, picture: np.ndarray | None = None) -> SnapshotFiles:
    """Write ``frame`` (uint8 HxWx3, native size) and a larger copy under fresh names.

    The larger copy is ``picture`` when given (the live window passes the picture as shown,
    at its on-screen size: ``...-1024x576.png``), else ``frame`` upscaled (Lanczos) to
    ``upscaled_size`` on its long side (``...-1024.png``). Names share a stem:
    ``latentsketch-20261123-193012.png``. Raises OutputError (one line) if the folder or a
    file cannot be written; then neither file is left behind (a snapshot is both or none).
    """
    h, w = frame.shape[:2]
    if picture is not None:
        ph, pw = picture.shape[:2]
        suffixes = [".png", f"-{pw}x{ph}.png"]
        dims = None
    else:
        dims = upscaled_dims(w, h, upscaled_size)
        suffixes = [".png"] if dims is None else [".png", f"-{max(dims)}.png"]
    paths = out.reserve_many(suffixes)
    with removed_on_failure(*paths):
        image = Image.fromarray(np.ascontiguousarray(frame, np.uint8), "RGB")
        write_png(paths[0], image, meta)
        if picture is not None:
            write_png(paths[1], picture, meta)
        elif dims is not None:
            write_png(paths[1], image.resize(dims, Image.Resampling.LANCZOS), meta)
        else:
            return SnapshotFiles(paths[0], None)
    return SnapshotFiles(paths[0], paths[1])


def read_snapshot_meta(path: str | os.PathLike[str]) -> SnapshotMeta | None:
    """The latentsketch metadata of an image, or None if it carries none (any other image).

    Raises SnapshotError (one line naming the file) if the file cannot be read as an image
    or its latentsketch metadata is damaged.
    """
    try:
        with open_image(path, decode=False) as im:
            try:  # PNG text may follow the pixels: ``text`` decodes them (to the last frame)
                text: dict[str, str] = dict(getattr(im, "text", {}) or {})
            except READ_ERRORS as e:
                raise ImageReadError(describe_read_error(path, e)) from e
    except ImageReadError as e:
        raise SnapshotError(str(e)) from e
    if KEY_PREFIX + "z" not in text:
        return None
    try:
        return _parse(text)
    except (ValueError, TypeError) as e:
        raise SnapshotError(f"{path}: damaged latentsketch metadata ({e})") from e


def _parse(text: dict[str, str]) -> SnapshotMeta:
    def get(key: str) -> str | None:
        return text.get(KEY_PREFIX + key)

    z = json.loads(get("z") or "")
    if not isinstance(z, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in z):
        raise ValueError("z is not a list of numbers")
    model_id = get("model_id")
    if not model_id:
        raise ValueError("model_id is missing")
    seed, t = get("seed"), get("time")
    return SnapshotMeta(
        z=tuple(float(v) for v in z), model_id=model_id, preset=get("preset"),
        seed=None if seed is None else int(seed),
        time=None if t is None else float(t), created=get("created"))
