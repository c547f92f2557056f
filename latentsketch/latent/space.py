"""Where the walk lives: the standardised coordinates of a model's latent space.

A VAE decodes samples of N(0, I) far worse than it reconstructs data, because the encoded data
does not fill the prior. Walks therefore run in coordinates ``u`` standardised by the
per-dimension mean and std of the encoded training set (``z = mean + std * u``), so ``u ~ N(0, I)``
is "looks like the data". The space also carries the KL ranking, which maps the rank indices
people touch to the raw indices everything stores, and the model's directions
(``latent.directions``: principal and attribute directions in ``u``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from latentsketch.latent.directions import Directions


@dataclass(frozen=True)
class LatentSpace:
    """Immutable description of a latent space; arrays are float32 in raw order."""

    dim: int
    rank: tuple[int, ...]            # rank[k] = raw index of the k-th most informative dimension
    mean: np.ndarray = field(repr=False)
    std: np.ndarray = field(repr=False)
    keyframes: np.ndarray = field(repr=False)  # (K, dim) in u coordinates, raw order; K may be 0
    directions: Directions = field(default_factory=Directions.empty, repr=False)  # in u

    def __post_init__(self) -> None:
        if sorted(self.rank) != list(range(self.dim)):
            raise ValueError(f"rank must be a permutation of 0..{self.dim - 1}")
        for name in ("mean", "std"):
            a = getattr(self, name)
            if a.shape != (self.dim,) or not np.all(np.isfinite(a)):
                raise ValueError(f"latent {name} must be {self.dim} finite numbers")
        if np.any(self.std <= 0):
            raise ValueError("latent std must be positive")
        if self.keyframes.ndim != 2 or self.keyframes.shape[1] != self.dim:
            raise ValueError(f"keyframes must have shape (K, {self.dim})")
        if len(self.directions) and self.directions.dim != self.dim:
            raise ValueError(f"directions have {self.directions.dim} values, not {self.dim}")

    @classmethod
    def standard(cls, dim: int, rank: tuple[int, ...] | None = None) -> LatentSpace:
        """N(0, I): the fallback for checkpoints that stored no statistics."""
        return cls(
            dim=dim,
            rank=tuple(range(dim)) if rank is None else tuple(rank),
            mean=np.zeros(dim, np.float32),
            std=np.ones(dim, np.float32),
            keyframes=np.zeros((0, dim), np.float32),
        )

    def raw_index(self, rank_index: int) -> int:
        return self.rank[rank_index]

    def to_z(self, u: np.ndarray) -> np.ndarray:
        """Standardised -> model latent (raw order, float32). Works on (..., dim)."""
        return (self.mean + self.std * u).astype(np.float32)

    def to_u(self, z: np.ndarray) -> np.ndarray:
        return ((np.asarray(z, np.float32) - self.mean) / self.std).astype(np.float32)

    def to_ranked(self, v: np.ndarray) -> np.ndarray:
        """Raw order -> KL-rank order (what the HUD and OSC out show)."""
        return np.asarray(v)[..., list(self.rank)]

    def from_ranked(self, v: np.ndarray) -> np.ndarray:
        out = np.empty_like(np.asarray(v))
        out[..., list(self.rank)] = v
        return out
