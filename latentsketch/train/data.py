"""The images a run trains on: loading, the held-out split, and the batches in epoch order.

The split is a function of the seed alone and the batch order comes from one numpy generator
that the run state saves (``Batches``), so a resumed run sees the images an unbroken run would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentsketch import measure, userdirs
from latentsketch.data import procedural
from latentsketch.data.images import DataError, load_folder
from latentsketch.train import stream
from latentsketch.train.config import TrainConfig
from latentsketch.train.dist import Dist

MIN_HOLD_OUT = 20  # images: below this nothing is held out (one held-out image measures nothing)
SMALL_SET = 1000   # training images: below this batches get random crops as well as flips


def load_data(cfg: TrainConfig) -> tuple[np.ndarray, str]:
    """The run's images (N, H, W, 3) uint8 and a one-line description of where they came from."""
    if cfg.data == "procedural":
        imgs = procedural.generate(cfg.n_images, seed=cfg.seed, size=cfg.size, style=cfg.style)
        return imgs, f"procedural style={cfg.style} n={cfg.n_images} seed={cfg.seed}"
    s = load_folder(cfg.data, cfg.size, background=cfg.background)
    return s.images, folder_desc(cfg, len(s.images), len(s.skipped), s.transparent)


def folder_desc(cfg: TrainConfig, n: int, skipped: int, transparent: int) -> str:
    """The one-line description of a folder's images, the same in memory or streamed (a run
    resumed the other way continues its data order)."""
    desc = f"folder {cfg.data} n={n}"
    if skipped:
        desc += f" skipped={skipped}"
    if transparent:
        desc += f" transparent={transparent} on #{bytes(cfg.background).hex()}"
    return desc


def stream_data(cfg: TrainConfig, dist: Dist, say: Callable[[str], None]
                ) -> tuple[stream.CachedImages, str] | None:
    """The folder streamed from its on-disk cache when ``--cache`` asks for it or the images
    would not fit in memory (``stream.IN_MEMORY_BYTES``); None: load it in memory.

    The first process on each machine decodes the folder into the cache (once; later runs
    and resumes reuse it) while the others wait, so every file is read and every unreadable
    one counted once. Raises DataError (one line) for a folder without readable images.
    """
    if cfg.data == "procedural":
        return None
    paths, npy, index = stream.cache_paths(cfg.data, cfg.size, cfg.background, cache_dir(cfg))
    if not cfg.cache and not stream.too_big_for_memory(len(paths), cfg.size):
        return None
    if dist.local_rank == 0 and not (npy.is_file() and index.is_file()):
        say(f"decoding {len(paths)} images into the cache {npy} (once: later runs reuse it)")
        try:
            stream.build(cfg.data, cfg.size, npy.parent, cfg.background,
                         cfg.workers if cfg.workers is not None else stream.default_workers())
        except OSError as e:
            raise DataError(f"image cache {npy.parent}: cannot write there "
                            f"({e.strerror or e}); pass --cache with another folder") from None
    dist.barrier()
    images = stream.open_cache(npy, index)
    say(f"streaming {len(images)} images from the cache {npy}")
    ix = images.index
    return images, folder_desc(cfg, len(images), len(ix.skipped), ix.transparent)


def cache_dir(cfg: TrainConfig) -> Path:
    """Where a folder's cache goes: --cache, else the user's cache folder."""
    return Path(cfg.cache) if cfg.cache else userdirs.cache_dir() / "images"


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(held-out, training) indices: 5 % held out (at most 512); with fewer than MIN_HOLD_OUT
    images nothing is held out, both are every image, and measures are on training images."""
    perm = np.random.default_rng(seed + 1).permutation(n)
    if n < MIN_HOLD_OUT:
        return perm, perm
    n_hold = min(512, n // 20)
    return perm[:n_hold], perm[n_hold:]


def epoch_order(rng: np.random.Generator, train_idx: np.ndarray, batch_size: int) -> np.ndarray:
    """One epoch's image order: a permutation, repeated (each time reshuffled) until it fills
    at least one batch, so a set smaller than a batch still trains on full batches."""
    reps = max(1, math.ceil(batch_size / len(train_idx)))
    return np.concatenate([rng.permutation(train_idx) for _ in range(reps)])


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """The images and their split into held-out and training indices."""

    images: Any             # (N, H, W, 3) uint8: np.ndarray, or stream.CachedImages
    desc: str               # where they came from, for the first line and the sheets' titles
    hold_idx: np.ndarray
    train_idx: np.ndarray

    @classmethod
    def load(cls, cfg: TrainConfig, dist: Dist | None = None,
             say: Callable[[str], None] | None = None) -> TrainingSet:
        """The run's images, in memory or streamed (``stream_data``); ``say`` gets notes."""
        streamed = stream_data(cfg, dist or Dist(), say or (lambda m: None))
        images, desc = streamed if streamed is not None else load_data(cfg)
        hold_idx, train_idx = split(len(images), cfg.seed)
        return cls(images, desc, hold_idx, train_idx)

    def chunks(self, idx: np.ndarray, size: int = 256) -> Iterator[np.ndarray]:
        """images[idx] a few at a time (uint8 arrays): bounded memory for streamed data."""
        for i in range(0, len(idx), size):
            yield self.images[idx[i : i + size]]

    @property
    def held_out(self) -> bool:
        """False when the set is too small to hold any out (measures use training images)."""
        return not np.array_equal(self.hold_idx, self.train_idx)

    @property
    def crops(self) -> bool:
        """A small set is seen many times: random crops (besides flips) keep it from being
        learnt pixel by pixel."""
        return len(self.train_idx) < SMALL_SET

    @cached_property
    def mean_colour(self) -> torch.Tensor:
        """(3,) in 0..1: the flat picture a model has to beat to be worth saving."""
        idx = self.train_idx[:4096]
        total = sum(c.reshape(-1, 3).sum(0, dtype=np.float64) for c in self.chunks(idx))
        pixels = len(idx) * self.images.shape[1] * self.images.shape[2]
        return torch.from_numpy(total / pixels / 255).float()

    def steps_per_epoch(self, batch_size: int) -> int:
        """Steps in one pass; a set smaller than a batch repeats to fill it (``epoch_order``)."""
        n = len(self.train_idx)
        return max(1, n * max(1, math.ceil(batch_size / n)) // batch_size)

    def describe(self) -> str:
        """The split in words, with what it means for a set of one picture."""
        n = len(self.train_idx)
        text = (f"{n} train / {len(self.hold_idx)} held out" if self.held_out else
                f"{n} train, none held out (fewer than {MIN_HOLD_OUT}: measured on training "
                f"images)")
        if self.crops:
            text += "; random crops and flips"
        idx = self.train_idx[:4096]
        first = self.images[idx[:1]]
        if n == 1:
            text += "; one image, so the model learns one picture"
        elif all((c == first).all() for c in self.chunks(idx)):
            text += "; every image is the same, so the model learns one picture"
        return text


class Batches:
    """Augmented batches in epoch order; ``rng``, ``order``, ``pos`` and ``epoch`` are the data's
    part of the run state, so the state saves and restores them.

    Several processes (``world``) each take their ``rank``'s share of every global batch of
    ``batch_size``: all draw the same order, flips and crops from the same seeded generator
    and keep their rows, so together they see each image once per epoch, exactly what one
    process sees, and a resumed run continues every share from the state rank 0 saved. (Not
    torch's DistributedSampler: it pads and shuffles per epoch by its own generator, so one
    process would train on another order and a resume could not continue mid-epoch.)
    """

    def __init__(self, data: TrainingSet, batch_size: int, seed: int,
                 device: torch.device, flip: bool = True, rank: int = 0,
                 world: int = 1) -> None:
        self.data, self.batch_size, self.device = data, batch_size, device
        self.flip, self.rank, self.world = flip, rank, world
        self.rng = np.random.default_rng(seed)  # data order, flips, crops
        self.order: np.ndarray | None = None    # this epoch's image order; None: draw a new one
        self.pos = 0                            # images of ``order`` already trained on
        self.epoch = 0                          # completed passes over the data
        self.last: np.ndarray = np.zeros(0, np.int64)  # this process's images of the last batch

    @property
    def share(self) -> tuple[int, int]:
        """(first row, global batch) of this process's share of each batch."""
        return self.rank * (self.batch_size // self.world), self.batch_size

    def next(self) -> tuple[torch.Tensor, bool]:
        """This process's share of the next batch (B / world, 3, H, W) and whether it ends an
        epoch."""
        bs = self.batch_size
        if self.order is None or self.pos + bs > len(self.order):
            self.order, self.pos = epoch_order(self.rng, self.data.train_idx, bs), 0
        idx = self.order[self.pos : self.pos + bs]
        self.pos += bs
        flip = self.rng.random(len(idx)) < 0.5  # drawn even without flips: the same stream
        crop = self.rng.random((len(idx), 3)) if self.data.crops else None
        first, _ = self.share
        mine = slice(first, first + bs // self.world)
        self.last = idx[mine]
        x = measure.batch(self.data.images, idx[mine], self.device,
                          flip[mine] if self.flip else None,
                          crop[mine] if crop is not None else None)
        ends = self.pos + bs > len(self.order)
        if ends:
            self.order, self.pos = None, 0
            self.epoch += 1
        return x, ends
