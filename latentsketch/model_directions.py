"""``latentsketch directions``: a model's principal and attribute directions, from images.

Principal directions need the encoded training set: ``--data DIR`` (a folder of images like the
model's), or, without it, the data the model's config says it was trained on (the procedural
set is regenerated from its seed, a folder is read again if it is still there), through the
same split the trainer used, so the bundled model gets the directions of the very images its
statistics came from. Attribute directions need two folders (``--from B --to A``) and the
model's principal directions (for their scale, see ``latent.directions``).

The result goes into a sidecar (``model.direction_files``): the user's one for the model's id
by default, or ``--out FILE``. The weights are never touched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from latentsketch import encoding, measure
from latentsketch.data import procedural
from latentsketch.data.images import DataError, load_folder
from latentsketch.errors import UserError
from latentsketch.latent import directions as D
from latentsketch.model import checkpoint, direction_files
from latentsketch.train.data import split

Progress = Callable[[str], None]


class DirectionsCommandError(UserError, ValueError):
    """A directions request that cannot be done; one line saying what to pass."""


@dataclass(frozen=True)
class DirectionsResult:
    """What was computed (``added``), for which model, from how many images, and where it went."""

    model_id: str
    added: D.Directions
    path: Path | None        # None: written to standard output (``--out -``) as ``text``
    images: int
    source: str
    text: str | None = None  # the directions file's JSON, when it goes to standard output

    def summary(self) -> str:
        """A few lines for the terminal."""
        a = self.added
        if a.n_pcs:
            var = a.scale ** 2
            share = ", ".join(f"{100 * v / var.sum():.0f} %" for v in var[:6])
            head = (f"model {self.model_id}: {len(a)} principal directions from {self.images} "
                    f"images ({self.source}); pc0.. carry {share}"
                    f"{' ...' if len(a) > 6 else ''} of the spread")
        else:
            head = (f"model {self.model_id}: direction {a.names[0]!r} from {self.images} "
                    f"images ({self.source}); one standard deviation along it is "
                    f"{float(a.scale[0]):.3f} in standardised units")
        return f"{head}\nwritten to {self.path or 'standard output'}"


def encode_images(loaded: checkpoint.LoadedModel, images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 at the model's size -> u (N, D) float64: the mean of q(z|x)
    (``encoding.encode_batch``), standardised by the model's latent statistics, raw order."""
    chunks = [encoding.encode_batch(loaded, images[i : i + 256])[0]
              for i in range(0, len(images), 256)]
    z = np.concatenate(chunks) if chunks else np.empty((0, loaded.cfg.latent))
    space = loaded.space
    return (z - space.mean) / space.std.astype(np.float64)


def encode_folder(loaded: checkpoint.LoadedModel, folder: str | os.PathLike[str]) -> np.ndarray:
    """u (N, D) float64 of every readable image under ``folder`` (recursive), read and fitted
    as ``latentsketch encode`` reads them (``encoding.iter_encode``); unreadable files are
    skipped. DataError (one line) if none is readable."""
    z = [e.z for e in encoding.iter_encode(loaded, [folder]) if isinstance(e, encoding.Encoded)]
    if not z:
        raise DataError(f"images {folder}: no readable images in this folder")
    space = loaded.space
    return (np.stack(z) - space.mean) / space.std.astype(np.float64)


def training_images(loaded: checkpoint.LoadedModel, data: str | None = None
                    ) -> tuple[np.ndarray, str]:
    """The images to take principal directions from, and where they came from: ``data`` (a
    folder or ``procedural``), else the model's own training data by its config, through the
    trainer's split (``measure.N_STATS`` training images at most)."""
    size = loaded.cfg.image_size
    cfg: dict[str, Any] = (loaded.config.get("training") or {}).get("config") or {}
    source = data if data is not None else cfg.get("data")
    if source == "procedural":
        n, seed, style = (int(cfg.get("n_images", measure.N_STATS)), int(cfg.get("seed", 0)),
                          str(cfg.get("style", "bold")))
        _, train_idx = split(n, seed)
        idx = train_idx[: measure.N_STATS]
        images = np.concatenate([procedural.generate(1, seed, size, style, start=int(i))
                                 for i in idx])
        return images, f"procedural style={style} n={n} seed={seed}"
    if source is None or not Path(source).is_dir():
        trained = f"was trained on {source}" if source else "does not say what it was trained on"
        raise DirectionsCommandError(
            f"model {loaded.path} {trained}: pass --data DIR (a folder of images like its "
            f"training data) or --data procedural")
    images = load_folder(source, size, background=encoding.model_background(loaded)).images
    if data is None:   # the model's own folder: the images its statistics came from
        _, idx = split(len(images), int(cfg.get("seed", 0)))
    else:
        idx = np.random.default_rng(0).permutation(len(images))
    return images[idx[: measure.N_STATS]], f"folder {source} n={len(images)}"


def _target(out: str | None, model_id: str) -> Path | None:
    """``--out``'s file, the user's sidecar without it, None for ``-`` (standard output)."""
    if out == "-":
        return None
    return Path(out) if out else direction_files.user_file(model_id)


def _save(path: Path | None, model_id: str, directions: D.Directions
          ) -> tuple[Path | None, str | None]:
    """Write the sidecar at ``path``, or (None) return its text for standard output."""
    if path is None:
        return None, direction_files.dumps(model_id, directions)
    return direction_files.write(path, model_id, directions), None


def _stored(path: Path | None, model_id: str, dim: int) -> D.Directions:
    """What the sidecar at ``path`` holds already (nothing if there is none, or for
    standard output)."""
    if path is None or not path.is_file():
        return D.Directions.empty(dim)
    return direction_files.read(path, model_id, dim)


def principal(model: str | None = None, data: str | None = None, out: str | None = None,
              progress: Progress = lambda _: None) -> DirectionsResult:
    """Compute the principal directions of a model's (or ``data``'s) encoded images and store
    them in the model's sidecar (``out``, else the user's for its id), keeping the attribute
    directions already there. Raises UserError subclasses with one line."""
    if data is not None and data != "procedural" and not Path(data).is_dir():
        raise DirectionsCommandError(f"--data {data}: not a folder (give a folder of images or "
                                     f"'procedural')")
    loaded = checkpoint.load(model)
    progress("reading the images")
    images, source = training_images(loaded, data)
    progress(f"encoding {len(images)} images")
    pcs = D.principal(encode_images(loaded, images))
    if not len(pcs):
        raise DirectionsCommandError(f"images of {source} all encode to one point: they have "
                                     f"no principal directions")
    path = _target(out, loaded.model_id)
    stored = _stored(path, loaded.model_id, loaded.space.dim)
    path, text = _save(path, loaded.model_id, stored.merged(pcs))
    return DirectionsResult(loaded.model_id, pcs, path, len(images), source, text)


def attribute(name: str, from_dir: str, to_dir: str, model: str | None = None,
              out: str | None = None, progress: Progress = lambda _: None) -> DirectionsResult:
    """Add the direction ``name`` from the images in ``from_dir`` towards those in ``to_dir``
    to the model's sidecar (``out``, else the user's for its id). Raises UserError subclasses
    with one line: no principal directions yet, unreadable folders, equal means."""
    try:
        D.check_name(name)
    except D.DirectionError as e:
        raise DirectionsCommandError(f"--name: {e}") from None
    if D.PC_NAME.fullmatch(name):
        raise DirectionsCommandError(f"--name {name}: names pc0, pc1, ... are kept for principal "
                                     f"directions")
    for folder in (from_dir, to_dir):
        if not Path(folder).is_dir():
            raise DirectionsCommandError(f"images {folder}: not a folder")
    loaded = checkpoint.load(model)
    path = _target(out, loaded.model_id)
    stored = _stored(path, loaded.model_id, loaded.space.dim)
    basis = loaded.space.directions.merged(stored)
    progress(f"encoding {to_dir} and {from_dir}")
    u_to, u_from = encode_folder(loaded, to_dir), encode_folder(loaded, from_dir)
    try:
        added = D.attribute(name, u_to, u_from, basis)
    except D.DirectionError as e:
        raise DirectionsCommandError(str(e).replace("MODEL", str(model or "MODEL"))) from None
    path, text = _save(path, loaded.model_id, stored.merged(added))
    return DirectionsResult(loaded.model_id, added, path, len(u_to) + len(u_from),
                            f"{len(u_from)} from {from_dir}, {len(u_to)} to {to_dir}", text)
