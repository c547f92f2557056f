"""Pictures -> points: any image file (or array) to the mean of the model's q(z|x).

A VAE has an encoder, so a picture becomes a point of the latent space in milliseconds, with no
optimisation. ``encode`` on the command line, keyframes from any image, files dropped on the
window and (later) a camera all go through this module, so an image meets the model the way
training met it:

- files are read by ``data.images`` (EXIF orientation, ICC profile, bit depth, first frame,
  transparency over the model's training background, white by default);
- the picture is centre-cropped to a square and resized (Lanczos) to the model's size, as
  ``train`` does (``data.images.fit_square``);
- the encoder gives ``mu`` and ``logvar`` per dimension; the point is ``z = mu`` (raw order,
  float64) and its spread ``sigma = exp(logvar / 2)``.

Encoding is deterministic: the same file in the same batch shape gives the same point, bit for
bit. Across batch sizes the float32 kernels may round differently (a few 1e-7 relative).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentsketch.data.images import (
    WHITE,
    Colour,
    DataError,
    ImageReadError,
    find_images,
    fit_square,
    load_image,
)
from latentsketch.model.checkpoint import LoadedModel

BATCH = 32  # images encoded per call of the network when many are given


@dataclass(frozen=True, eq=False)
class Encoded:
    """One picture's place in the latent space; vectors are float64 in raw order."""

    source: str           # the file it came from, or a label for an array ("camera", ...)
    model_id: str
    z: np.ndarray         # (latent,) mean of q(z|x)
    sigma: np.ndarray     # (latent,) exp(logvar / 2): the encoder's uncertainty per dimension
    image: np.ndarray = field(repr=False)  # (S, S, C) uint8: what the encoder saw

    def to_json(self) -> dict[str, Any]:
        """The ``latentsketch encode`` line: file, model id, z and sigma (raw order)."""
        return {"file": self.source, "model_id": self.model_id,
                "z": [float(v) for v in self.z], "sigma": [float(v) for v in self.sigma]}


@dataclass(frozen=True)
class EncodeFailure:
    """A source that could not be encoded; ``message`` is one line naming it and a fix."""

    source: str
    message: str


def model_background(model: LoadedModel) -> Colour:
    """The colour transparent pixels were composited on in training (white if unrecorded)."""
    training = model.config.get("training")
    cfg = training.get("config") if isinstance(training, dict) else None
    bg = cfg.get("background") if isinstance(cfg, dict) else None
    if isinstance(bg, list | tuple) and len(bg) == 3 and all(
            isinstance(v, int) and 0 <= v <= 255 for v in bg):
        return bg[0], bg[1], bg[2]
    return WHITE


def fit(model: LoadedModel, rgb8: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (S, S, C) uint8 at the model's size and channels (centre crop,
    Lanczos). ValueError for an array of another shape or type."""
    rgb = np.asarray(rgb8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or 0 in rgb.shape:
        raise ValueError(f"an image must be (H, W, 3) uint8, not {rgb.shape} {rgb.dtype}")
    return fit_square(rgb, model.cfg.image_size, model.cfg.channels)


@torch.inference_mode()
def encode_batch(model: LoadedModel, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, S, S, C) uint8 at the model's size -> (z, sigma), each (B, latent) float64.

    Runs the encoder on the model's device in float32, in one call (the caller chunks).
    """
    vae = model.vae
    device = next(vae.parameters()).device
    x = torch.from_numpy(np.array(images, np.uint8)).to(device)  # writable copy
    x = x.permute(0, 3, 1, 2).float().div_(255)              # (B, C, S, S) in 0..1
    mu, logvar = vae.encode(x.contiguous(memory_format=torch.channels_last))
    z = mu.float().cpu().numpy().astype(np.float64)
    sigma = np.exp(0.5 * logvar.float().cpu().numpy().astype(np.float64))
    return z, sigma


def encode_array(model: LoadedModel, rgb8: np.ndarray, source: str = "image") -> Encoded:
    """One picture (H, W, 3) uint8, any size -> its point. ValueError for another shape."""
    im = fit(model, rgb8)
    z, sigma = encode_batch(model, im[None])
    return Encoded(source, model.model_id, z[0], sigma[0], im)


def expand(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path | EncodeFailure]:
    """Files as given, folders as their images (recursively, sorted), in order.

    A folder without images yields an ``EncodeFailure`` naming it; a missing file is left for
    the reader to name.
    """
    for p in paths:
        path = Path(p)
        if not path.is_dir():
            yield path
            continue
        try:
            found = find_images(path)
        except DataError as e:
            yield EncodeFailure(str(path), str(e))
            continue
        if not found:
            yield EncodeFailure(str(path), f"images {path}: no images found in this folder")
        yield from found


def encode_paths(model: LoadedModel, paths: Sequence[str | os.PathLike[str]],
                 batch: int = BATCH) -> list[Encoded | EncodeFailure]:
    """Encode image files and folders (see ``expand``), ``batch`` images per network call.

    Returns one entry per image in order: an ``Encoded``, or an ``EncodeFailure`` with the
    reader's one line (``ImageReadError``) for a file that cannot be read; the rest go on.
    """
    return list(iter_encode(model, paths, batch))


def iter_encode(model: LoadedModel, paths: Sequence[str | os.PathLike[str]],
                batch: int = BATCH) -> Iterator[Encoded | EncodeFailure]:
    """``encode_paths`` as it goes: results in order, each batch as soon as it is encoded."""
    size, channels, background = model.cfg.image_size, model.cfg.channels, \
        model_background(model)
    pending: list[Encoded | EncodeFailure | tuple[str, np.ndarray]] = []

    def flush() -> Iterator[Encoded | EncodeFailure]:
        todo = [p for p in pending if isinstance(p, tuple)]
        z = sigma = np.empty((0, model.cfg.latent))
        if todo:
            z, sigma = encode_batch(model, np.stack([im for _, im in todo]))
        k = 0
        for p in pending:
            if isinstance(p, tuple):
                yield Encoded(p[0], model.model_id, z[k], sigma[k], p[1])
                k += 1
            else:
                yield p
        pending.clear()

    n = 0
    for item in expand(paths):
        if isinstance(item, EncodeFailure):
            pending.append(item)
            continue
        try:
            pending.append((str(item), load_image(item, size, channels, background)))
            n += 1
        except ImageReadError as e:
            pending.append(EncodeFailure(str(item), str(e)))
        if n >= batch:
            yield from flush()
            n = 0
    yield from flush()
