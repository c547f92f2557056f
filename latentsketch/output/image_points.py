"""Any picture -> the latent point it stands for: a snapshot's stored point, else the encoder's.

A latentsketch snapshot carries the exact point that made it (``output.snapshot``); any other
image (a photo, a drawing, a frame of another program) is encoded (``encoding``). Keyframes
(``render --keyframes``), ``play --start-from`` and files dropped on the window all come here,
so they agree on what a picture means.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentsketch import encoding
from latentsketch.data.images import ImageReadError
from latentsketch.model.checkpoint import LoadedModel
from latentsketch.model.identity import which_model
from latentsketch.output.snapshot import SnapshotError, SnapshotMeta, read_snapshot_meta


@dataclass(frozen=True, eq=False)
class ImagePoint:
    """Where a picture sits: ``z`` (latent,) float64 in raw order."""

    source: str
    z: np.ndarray
    snapshot: bool                       # True: the stored point of a snapshot of this model
    encoded: encoding.Encoded | None = field(default=None, repr=False)  # None for snapshots

    def u(self, model: LoadedModel) -> tuple[float, ...]:
        """Standardised coordinates (raw order), as commands and keyframes hold them."""
        return tuple(float(v) for v in model.space.to_u(self.z))


def _stored(path: Path, model: LoadedModel) -> ImagePoint | None:
    """A snapshot's point, None for any other image; SnapshotError (one line) for a snapshot
    of another model or of another latent size, or a file that cannot be read."""
    meta: SnapshotMeta | None = read_snapshot_meta(path)
    if meta is None:
        return None
    if meta.model_id != model.model_id:
        raise SnapshotError(f"{path}: snapshot of model {meta.model_id}, but the model in use "
                            f"is {model.model_id}; pass {which_model(meta.model_id)}")
    if len(meta.z) != model.space.dim:
        raise SnapshotError(f"{path}: snapshot has {len(meta.z)} values, the model "
                            f"{model.space.dim}")
    return ImagePoint(str(path), meta.z_array().astype(np.float64), True)


def iter_points(model: LoadedModel, paths: Sequence[str | os.PathLike[str]]
                ) -> Iterator[ImagePoint | encoding.EncodeFailure]:
    """The point of each picture in order; folders give their images (sorted). Snapshots of
    this model give their stored point, other images are encoded (in batches). A picture that
    cannot be used yields an ``EncodeFailure`` with its one line, and the rest go on."""
    items: list[ImagePoint | encoding.EncodeFailure | Path] = []
    for p in encoding.expand(paths):
        if isinstance(p, encoding.EncodeFailure):
            items.append(p)
            continue
        try:
            items.append(_stored(p, model) or p)
        except (SnapshotError, ImageReadError) as e:
            items.append(encoding.EncodeFailure(str(p), str(e)))
    encoded = iter(encoding.encode_paths(model, [p for p in items if isinstance(p, Path)]))
    for item in items:
        if not isinstance(item, Path):
            yield item
            continue
        e = next(encoded)
        yield e if isinstance(e, encoding.EncodeFailure) else ImagePoint(e.source, e.z, False, e)


def image_points(model: LoadedModel, paths: Sequence[str | os.PathLike[str]]
                 ) -> list[ImagePoint]:
    """Every picture's point, or the first failure as ``SnapshotError`` (one line naming the
    file): for keyframes and ``--start-from``, where a missing picture changes the show."""
    out = []
    for p in iter_points(model, paths):
        if isinstance(p, encoding.EncodeFailure):
            raise SnapshotError(p.message)
        out.append(p)
    return out
