"""The images a run trains on: loading, the held-out split, and the batches in epoch order.

The split is a function of the seed alone and the batch order comes from one numpy generator
that the run state saves (``Batches``), so a resumed run sees the images an unbroken run would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from latentsketch import measure
from latentsketch.data import procedural
from latentsketch.data.images import load_folder
from latentsketch.train.config import TrainConfig

MIN_HOLD_OUT = 20  # images: below this nothing is held out (one held-out image measures nothing)
SMALL_SET = 1000   # training images: below this batches get random crops as well as flips


def load_data(cfg: TrainConfig) -> tuple[np.ndarray, str]:
    """The run's images (N, H, W, 3) uint8 and a one-line description of where they came from."""
    if cfg.data == "procedural":
        imgs = procedural.generate(cfg.n_images, seed=cfg.seed, size=cfg.size, style=cfg.style)
        return imgs, f"procedural style={cfg.style} n={cfg.n_images} seed={cfg.seed}"
    s = load_folder(cfg.data, cfg.size, background=cfg.background)
    desc = f"folder {cfg.data} n={len(s.images)}"
    if s.skipped:
        desc += f" skipped={len(s.skipped)}"
    if s.transparent:
        desc += f" transparent={s.transparent} on #{bytes(s.background).hex()}"
    return s.images, desc


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

    images: np.ndarray      # (N, H, W, 3) uint8
    desc: str               # where they came from, for the first line and the sheets' titles
    hold_idx: np.ndarray
    train_idx: np.ndarray

    @classmethod
    def load(cls, cfg: TrainConfig) -> TrainingSet:
        images, desc = load_data(cfg)
        hold_idx, train_idx = split(len(images), cfg.seed)
        return cls(images, desc, hold_idx, train_idx)

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
        some = self.images[self.train_idx[:4096]]
        return torch.from_numpy(some.reshape(-1, 3).mean(0) / 255).float()

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
        some = self.images[self.train_idx[:4096]]
        if n == 1:
            text += "; one image, so the model learns one picture"
        elif (some == some[0]).all():
            text += "; every image is the same, so the model learns one picture"
        return text


class Batches:
    """Augmented batches in epoch order; ``rng``, ``order``, ``pos`` and ``epoch`` are the data's
    part of the run state, so the state saves and restores them."""

    def __init__(self, data: TrainingSet, batch_size: int, seed: int,
                 device: torch.device) -> None:
        self.data, self.batch_size, self.device = data, batch_size, device
        self.rng = np.random.default_rng(seed)  # data order, flips, crops
        self.order: np.ndarray | None = None    # this epoch's image order; None: draw a new one
        self.pos = 0                            # images of ``order`` already trained on
        self.epoch = 0                          # completed passes over the data

    def next(self) -> tuple[torch.Tensor, bool]:
        """The next batch (B, 3, H, W) and whether it ends an epoch."""
        bs = self.batch_size
        if self.order is None or self.pos + bs > len(self.order):
            self.order, self.pos = epoch_order(self.rng, self.data.train_idx, bs), 0
        idx = self.order[self.pos : self.pos + bs]
        self.pos += bs
        flip = self.rng.random(len(idx)) < 0.5
        crop = self.rng.random((len(idx), 3)) if self.data.crops else None
        x = measure.batch(self.data.images, idx, self.device, flip, crop)
        ends = self.pos + bs > len(self.order)
        if ends:
            self.order, self.pos = None, 0
            self.epoch += 1
        return x, ends
