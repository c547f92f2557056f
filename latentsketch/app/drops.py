"""Pictures dropped on the window -> the points they stand for, encoded off the render thread.

Encoding a picture costs 6-8 ms on one core with the bundled model (``benchmarks/
bench_encode.py``), a photo's decode and resize more; a 60 fps frame has 16.7 ms in all. So a
worker thread reads and encodes each drop (``output.image_points``: a snapshot's stored point,
any other image encoded) and decodes the model's version of each picture for the overlay, and
the loop picks the results up between two frames (``poll``). One drop is the files of one
drag (SDL's DROPBEGIN..DROPCOMPLETE, else those of one frame): one picture glides there,
several (or a folder) make a tour in the order given. The loop turns a result into an engine
command holding the points, not the pictures, so a control log replays the show without them.

The worker never raises: a failure is a line in the result, and the show goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from latentsketch import commands as C
from latentsketch.data.images import ImageReadError, load_image
from latentsketch.encoding import EncodeFailure, model_background
from latentsketch.model.checkpoint import LoadedModel
from latentsketch.output.image_points import ImagePoint, iter_points
from latentsketch.workers import lower_priority

log = logging.getLogger("latentsketch")

MAX_PAIRS = 6  # pictures of one drop kept for the overlay (a tour of hundreds keeps the first)


@dataclass(frozen=True, eq=False)
class Drop:
    """What one drop came to: its points in order, the overlay's pairs, and the failures."""

    paths: tuple[Path, ...]
    points: tuple[ImagePoint, ...] = ()
    pairs: tuple[tuple[np.ndarray, np.ndarray], ...] = field(default=(), repr=False)
    #        (picture, the model's version of it), each (S, S, 3) uint8
    failures: tuple[str, ...] = ()

    def command(self, model: LoadedModel) -> C.EngineCommand | None:
        """Glide to the one point, tour several in order; None if nothing could be read."""
        us = tuple(p.u(model) for p in self.points)
        if len(us) == 1:
            return C.GotoPoint(us[0])
        return C.SetTour(us) if us else None

    def describe(self) -> str:
        """What the performer reads: where the walk goes now."""
        if len(self.points) == 1:
            return f"going to {Path(self.points[0].source).name}"
        return f"touring {len(self.points)} pictures from {Path(self.points[0].source).name}"


def resolve(model: LoadedModel, paths: Sequence[Path]) -> Drop:
    """Read and encode one drop (any thread); never raises."""
    points: list[ImagePoint] = []
    failures: list[str] = []
    try:
        for p in iter_points(model, paths):
            if isinstance(p, EncodeFailure):
                failures.append(p.message)
            else:
                points.append(p)
        return Drop(tuple(paths), tuple(points), _pairs(model, points[:MAX_PAIRS]),
                    tuple(failures))
    except Exception as e:  # noqa: BLE001 - a worker must never take the window down
        log.debug("drop of %s failed", paths, exc_info=e)
        return Drop(tuple(paths), tuple(points), (), (*failures, f"drop failed: {e}"))


@torch.inference_mode()
def _pairs(model: LoadedModel, points: Sequence[ImagePoint]
           ) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Each picture (as the encoder saw it) beside the model's decode of its point."""
    if not points:
        return ()
    size = model.cfg.image_size
    pictures = []
    for p in points:
        if p.encoded is not None:
            pictures.append(p.encoded.image)
            continue
        try:  # a snapshot: its point is stored; the picture is read for the overlay only
            pictures.append(load_image(Path(p.source), size, model.cfg.channels,
                                       model_background(model)))
        except ImageReadError:
            pictures.append(np.zeros((size, size, model.cfg.channels), np.uint8))
    z = torch.from_numpy(np.stack([p.z for p in points]).astype(np.float32))
    device = next(model.vae.parameters()).device
    rec = model.vae.decode(z.to(device)).clamp(0, 1).mul(255).round().byte()
    rec = rec.permute(0, 2, 3, 1).cpu().numpy()                       # (B, S, S, C)
    return tuple((_rgb(a), _rgb(b)) for a, b in zip(pictures, rec, strict=True))


def _rgb(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a)


class DropEncoder:
    """A worker thread that resolves drops in order; ``submit`` and ``poll`` never block.

    ``threaded=False`` resolves in ``submit`` (benchmarks compare; scripts that want results
    on the next frame).
    """

    def __init__(self, model: LoadedModel, threaded: bool = True) -> None:
        self.model = model
        self._jobs: queue.SimpleQueue[tuple[Path, ...] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Drop] = queue.SimpleQueue()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._threaded = threaded

    def submit(self, paths: Sequence[Path]) -> None:
        """Queue one drop (the files of one drag, in order)."""
        self._pending += 1
        if not self._threaded:
            self._done.put(resolve(self.model, tuple(paths)))
            return
        if self._thread is None:   # started at the first drop: most shows drop nothing
            self._thread = threading.Thread(target=self._work, name="latentsketch-drops",
                                            daemon=True)
            self._thread.start()
        self._jobs.put(tuple(paths))

    def _work(self) -> None:
        lower_priority()
        while (job := self._jobs.get()) is not None:
            self._done.put(resolve(self.model, job))

    def poll(self) -> list[Drop]:
        """The drops resolved since the last call, in the order they were made."""
        out = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                break
        self._pending -= len(out)
        return out

    @property
    def busy(self) -> bool:
        """A drop is still being read or encoded (or waits for ``poll``)."""
        return self._pending > 0

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after the drop it is on; safe to call twice."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout)
            self._thread = None
