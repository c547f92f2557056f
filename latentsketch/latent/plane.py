"""A 2-D patch of the latent space to lay out as a grid of pictures: the latent palette.

Pure float64 numpy in ``u`` (standardised coordinates, raw order; see ``latent.space``). A
``Plane`` is four corner points, top-left, top-right, bottom-left, bottom-right, and a point
of it is the bilinear blend of the corners in ``u`` (no slerp):

    p(s, t) = (1-s)(1-t) TL + s(1-t) TR + (1-s)t BL + st BR,   s rightwards, t downwards, 0..1

Three ways to make one:

- four points (``from_corners``): the bilinear patch through them (a flat plane only when
  the four are coplanar; its edges are straight lines between neighbouring corners);
- three points: the parallelogram TL, TR, BL with BR = TR + BL - TL (then ``p`` is affine:
  ``origin + s * axes[0] + t * axes[1]``, exactly a plane);
- two directions (``from_directions``): unit vectors ``x`` and ``y`` (principal directions, or
  the two dimensions that carry most), spanning ``centre +- span * scale`` along each, with
  ``+y`` at the top as on the mouse pad.

Linear blends of two far-apart points pass closer to the origin than either (the prior's
typical points sit on a shell); over a palette's short spans that is what the eye expects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latentsketch.errors import UserError

KINDS = ("corners", "parallelogram", "directions")
_UNIT_TOL = 1e-6


class PlaneError(UserError, ValueError):
    """Points or directions that make no plane; the message is one line."""


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _points(points: Sequence[Sequence[float]] | np.ndarray, what: str) -> np.ndarray:
    try:
        a = np.array(points, np.float64)
    except (TypeError, ValueError):
        raise PlaneError(f"{what} are not lists of numbers") from None
    if a.ndim != 2 or a.shape[1] == 0:
        raise PlaneError(f"{what} must be points of one dimension count, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise PlaneError(f"{what} contain NaN or infinity")
    return a


@dataclass(frozen=True, eq=False)
class Plane:
    """Four corner points (4, D) float64 in u, raw order: TL, TR, BL, BR; ``kind`` says how
    they were made (one of ``KINDS``). Read-only; PlaneError for anything else."""

    corners: np.ndarray
    kind: str = "corners"

    def __post_init__(self) -> None:
        c = _points(self.corners, "plane corners")
        if c.shape[0] != 4:
            raise PlaneError(f"a plane has 4 corners, got {c.shape[0]}")
        if self.kind not in KINDS:
            raise PlaneError(f"plane kind {self.kind!r} is not one of {', '.join(KINDS)}")
        object.__setattr__(self, "corners", _ro(c))

    @property
    def dim(self) -> int:
        return int(self.corners.shape[1])

    @property
    def origin(self) -> np.ndarray:
        """The top-left corner, (D,)."""
        return self.corners[0]

    @property
    def axes(self) -> np.ndarray:
        """(2, D): top-left to top-right, and top-left to bottom-left."""
        c = self.corners
        return np.stack([c[1] - c[0], c[2] - c[0]])

    def point(self, s: float, t: float) -> np.ndarray:
        """The point at (s, t) in 0..1 (s rightwards, t downwards), (D,) float64."""
        tl, tr, bl, br = self.corners
        return (1 - s) * (1 - t) * tl + s * (1 - t) * tr + (1 - s) * t * bl + s * t * br

    def grid(self, n: int) -> np.ndarray:
        """(n, n, D): row r, column c is ``point(c / (n-1), r / (n-1))``; the four corner
        cells hold the corners exactly. ValueError for ``n`` < 2."""
        if n < 2:
            raise ValueError(f"a palette grid needs at least 2 cells a side, got {n}")
        f = np.arange(n, dtype=np.float64) / (n - 1)
        s, t = f[None, :, None], f[:, None, None]
        tl, tr, bl, br = self.corners
        return (1 - s) * (1 - t) * tl + s * (1 - t) * tr + (1 - s) * t * bl + s * t * br

    def cell(self, n: int, row: int, col: int) -> np.ndarray:
        """The point of cell (row, col) of an n x n grid, as ``grid(n)[row, col]``; IndexError
        outside the grid."""
        if not (0 <= row < n and 0 <= col < n):
            raise IndexError(f"cell ({row}, {col}) is outside a {n} x {n} grid")
        return self.grid(n)[row, col]


def from_corners(points: Sequence[Sequence[float]] | np.ndarray) -> Plane:
    """Three points (TL, TR, BL: a parallelogram) or four (TL, TR, BL, BR: bilinear).

    Raises PlaneError for another count, mixed dimension counts, non-finite values, or three
    points on one line (no plane to span).
    """
    p = _points(points, "corner points")
    if p.shape[0] == 4:
        return Plane(p, "corners")
    if p.shape[0] != 3:
        raise PlaneError(f"a palette needs 3 or 4 corner points, got {p.shape[0]}")
    a, b = p[1] - p[0], p[2] - p[0]
    na, nb = math.sqrt(float(a @ a)), math.sqrt(float(b @ b))
    if na == 0 or nb == 0 or abs(float(a @ b)) >= (1 - 1e-9) * na * nb:
        raise PlaneError("the three corner points lie on one line: they span no plane")
    return Plane(np.stack([p[0], p[1], p[2], p[1] + p[2] - p[0]]), "parallelogram")


def unit_axis(dim: int, index: int) -> np.ndarray:
    """The unit vector along raw dimension ``index`` of a ``dim``-dimensional space."""
    e = np.zeros(dim)
    e[index] = 1.0
    return e


def from_directions(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                    scale: tuple[float, float] = (1.0, 1.0), span: float = 2.0,
                    centre: Sequence[float] | np.ndarray | None = None) -> Plane:
    """The square ``centre + a * scale[0] * x + b * scale[1] * y`` for a, b in -span..span.

    ``x``, ``y``: unit vectors in u (raw order), not parallel; ``scale``: the data's spread
    along each (1 for a raw dimension of u; a principal direction's own spread otherwise);
    ``centre``: default the data's mean (u = 0). Right is +x, up is +y. PlaneError for
    vectors that are not unit length, parallel, or of another size than ``centre``.
    """
    v = _points([x, y], "directions")
    for k, name in enumerate("xy"):
        if abs(math.sqrt(float(v[k] @ v[k])) - 1.0) > _UNIT_TOL:
            raise PlaneError(f"direction {name} is not a unit vector")
    if abs(float(v[0] @ v[1])) > 1 - 1e-6:
        raise PlaneError("the two directions are parallel: they span no plane")
    sx, sy = (float(scale[0]), float(scale[1]))
    if not (math.isfinite(span) and span > 0 and math.isfinite(sx) and sx > 0
            and math.isfinite(sy) and sy > 0):
        raise PlaneError(f"span {span!r} and scales {scale!r} must be finite and more than 0")
    c = np.zeros(v.shape[1]) if centre is None else _points([centre], "centre")[0]
    if c.shape[0] != v.shape[1]:
        raise PlaneError(f"centre has {c.shape[0]} values, the directions {v.shape[1]}")
    dx, dy = span * sx * v[0], span * sy * v[1]
    return Plane(np.stack([c - dx + dy, c + dx + dy, c - dx - dy, c + dx - dy]), "directions")
