"""Directions in the latent space: principal directions of the data, and attribute directions.

Everything here lives in ``u``, the standardised coordinates of ``latent.space`` (raw dimension
order), and is pure float64 numpy: a value of the model, computed once, stored as JSON and read
back bit for bit.

- **Principal directions** (``kind = "pc"``, named ``pc0``, ``pc1``...): the right singular
  vectors of the centred encoded training set ``U - mean(U)`` (N, D), in order of decreasing
  spread. Orthonormal; each sign is fixed so that its largest-magnitude component is positive
  (the first one on a tie), so the same data gives the same directions on any machine.
- **Attribute directions** (``kind = "attribute"``): ``mean(u over A) - mean(u over B)``,
  normalised: from the pictures of folder B towards those of folder A.

Each direction ``v`` (a unit vector) carries its ``scale``: the standard deviation of the
training data's projection onto it, ``scale = std_n(U @ v)`` (population std). A direction's
*value* is in those units: ``value = 1`` is one typical spread of the data along it. For a
principal direction ``k`` that is ``s_k / sqrt(N)`` (its singular value over the root of the
count). For an attribute direction it comes from the principal directions, which carry the
data's whole covariance ``C = sum_k scale_k^2 p_k p_k^T``: ``scale = sqrt(v^T C v)``, with the
spread the stored principal directions leave out (at most ``MAX_PCS`` are kept) shared evenly
by the dimensions they do not span. The engine adds ``value * scale * v`` to the point (an
offset) or sets ``u . v = value * scale`` (a pin, principal directions only: they are
orthonormal, so pinning some leaves the others where the walk puts them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from latentsketch.errors import UserError

KINDS = ("pc", "attribute")
MAX_PCS = 64          # principal directions stored at most: the rest carry little and cost D^2
NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
PC_NAME = re.compile(r"pc(0|[1-9][0-9]{0,3})")
_TOL = 1e-6           # unit length and orthogonality, after a JSON round trip
_MIN_SCALE = 1e-9     # below this a principal direction carries nothing and is dropped


class DirectionError(UserError, ValueError):
    """A direction or a set of them that cannot be used; the message is one line."""


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def pc_name(i: int) -> str:
    """The name of principal direction ``i`` (``pc0`` carries most)."""
    return f"pc{i}"


def check_name(name: object) -> str:
    """A direction's name (letters, digits, ``_``, ``-``; 1-32 characters) or DirectionError."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise DirectionError(f"direction name {str(name)[:40]!r} is not 1-32 letters, digits, "
                             f"'_' or '-'")
    return name


@dataclass(frozen=True, eq=False)
class Directions:
    """Named unit vectors in u-space (raw order) with their scales; read-only float64 arrays.

    ``unit`` is (K, D), ``scale`` (K,) positive, ``kinds[k]`` "pc" or "attribute". Principal
    directions come first, ``pc0``, ``pc1``... in order, and are orthonormal. An empty set has
    ``unit`` of shape (0, D) (D may be 0: no model yet). Raises DirectionError on anything else.
    """

    names: tuple[str, ...]
    unit: np.ndarray
    scale: np.ndarray
    kinds: tuple[str, ...]

    def __post_init__(self) -> None:
        k = len(self.names)
        unit = np.array(self.unit, np.float64)
        scale = np.array(self.scale, np.float64).reshape(-1)
        if unit.size == 0:
            unit = unit.reshape(0, unit.shape[-1] if unit.ndim == 2 else 0)
        if unit.ndim != 2 or unit.shape[0] != k or scale.shape != (k,) or len(self.kinds) != k:
            raise DirectionError(f"{k} directions need {k} unit vectors, scales and kinds")
        if not (np.all(np.isfinite(unit)) and np.all(np.isfinite(scale))):
            raise DirectionError("a direction holds NaN or infinity")
        if np.any(scale <= 0):
            raise DirectionError("a direction's scale must be more than 0")
        for n in self.names:
            check_name(n)
        if len(set(self.names)) != k:
            raise DirectionError("two directions share a name")
        bad = [x for x in self.kinds if x not in KINDS]
        if bad:
            raise DirectionError(f"kind {bad[0]!r} is not one of {', '.join(KINDS)}")
        norms = np.sqrt(np.add.reduce(unit * unit, axis=1))
        if k and np.max(np.abs(norms - 1.0)) > _TOL:
            raise DirectionError("a direction is not a unit vector")
        pcs = [i for i, x in enumerate(self.kinds) if x == "pc"]
        if pcs != list(range(len(pcs))) or any(self.names[i] != pc_name(i) for i in pcs):
            raise DirectionError("principal directions must come first, named pc0, pc1, ...")
        if not all(x == "pc" or not PC_NAME.fullmatch(n)
                   for n, x in zip(self.names, self.kinds, strict=True)):
            raise DirectionError("names pc0, pc1, ... are kept for principal directions")
        p = unit[: len(pcs)]
        if len(pcs) > 1 and np.max(np.abs(p @ p.T - np.eye(len(pcs)))) > _TOL:
            raise DirectionError("principal directions are not orthonormal")
        object.__setattr__(self, "unit", _ro(unit))
        object.__setattr__(self, "scale", _ro(scale))
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "kinds", tuple(self.kinds))

    def __eq__(self, other: object) -> bool:
        """Same names, kinds and bits (two empty sets are equal whatever their dimension)."""
        if not isinstance(other, Directions):
            return NotImplemented
        if not len(self) and not len(other):
            return True
        return (self.names == other.names and self.kinds == other.kinds
                and self.unit.shape == other.unit.shape
                and self.unit.tobytes() == other.unit.tobytes()
                and self.scale.tobytes() == other.scale.tobytes())

    def __hash__(self) -> int:
        return hash((self.names, self.kinds, self.unit.tobytes(), self.scale.tobytes()))

    @classmethod
    def empty(cls, dim: int = 0) -> Directions:
        return cls((), np.zeros((0, dim)), np.zeros(0), ())

    def __len__(self) -> int:
        return len(self.names)

    @property
    def dim(self) -> int:
        return int(self.unit.shape[1])

    @property
    def n_pcs(self) -> int:
        return sum(1 for x in self.kinds if x == "pc")

    def index(self, name: object) -> int:
        """Position of direction ``name``; DirectionError naming the known ones."""
        try:
            return self.names.index(name)  # type: ignore[arg-type]
        except ValueError:
            known = ", ".join(self.names[:8]) + (" ..." if len(self) > 8 else "")
            raise DirectionError(f"no direction {str(name)[:40]!r} (known: {known or 'none'}; "
                                 f"'latentsketch directions MODEL' makes them)") from None

    def principal(self) -> Directions:
        """Only the principal directions."""
        return self.select(range(self.n_pcs))

    def attributes(self) -> Directions:
        return self.select(i for i, x in enumerate(self.kinds) if x != "pc")

    def select(self, idx: Iterable[int]) -> Directions:
        i = list(idx)
        return Directions(tuple(self.names[k] for k in i), self.unit[i].reshape(len(i), self.dim),
                          self.scale[i], tuple(self.kinds[k] for k in i))

    def merged(self, other: Directions) -> Directions:
        """``self`` updated by ``other``: principal directions in ``other`` replace all of
        ``self``'s (a set of them belongs together), attribute directions replace the ones of
        the same name or are added. DirectionError if the two are of different dimensions."""
        if not len(other):
            return self
        if not len(self):
            return other
        if other.dim != self.dim:
            raise DirectionError(f"directions have {other.dim} values, the model {self.dim}")
        pcs = other.principal() if other.n_pcs else self.principal()
        attrs: dict[str, tuple[np.ndarray, float]] = {}
        for src in (self, other):   # a dict keeps a replaced name where it first was
            for k, n in enumerate(src.names):
                if src.kinds[k] == "attribute":
                    attrs[n] = (src.unit[k], float(src.scale[k]))
        rows = np.array([u for u, _ in attrs.values()], np.float64).reshape(len(attrs), self.dim)
        return Directions(pcs.names + tuple(attrs), np.concatenate([pcs.unit, rows]),
                          np.concatenate([pcs.scale, [s for _, s in attrs.values()]]),
                          pcs.kinds + ("attribute",) * len(attrs))

    # --- JSON ----------------------------------------------------------------------------------

    def to_json(self) -> list[dict[str, Any]]:
        """A list of ``{"name", "kind", "scale", "u"}``; floats as Python's shortest repr,
        so ``from_json`` gives the same bits back."""
        return [{"name": n, "kind": x, "scale": float(s), "u": [float(v) for v in u]}
                for n, x, s, u in zip(self.names, self.kinds, self.scale, self.unit, strict=True)]

    @classmethod
    def from_json(cls, items: object, dim: int) -> Directions:
        """Inverse of ``to_json`` for a model with ``dim`` dimensions; DirectionError."""
        if not isinstance(items, list):
            raise DirectionError("directions are not a list")
        names, units, scales, kinds = [], [], [], []
        for i, d in enumerate(items):
            if not isinstance(d, dict) or set(d) != {"name", "kind", "scale", "u"}:
                raise DirectionError(f"direction {i + 1} needs exactly name, kind, scale, u")
            u = d["u"]
            if not isinstance(u, list) or len(u) != dim or not all(_number(v) for v in u):
                raise DirectionError(f"direction {str(d['name'])[:40]!r}: u is not {dim} numbers")
            if not _number(d["scale"]):
                raise DirectionError(f"direction {str(d['name'])[:40]!r}: scale is not a number")
            names.append(d["name"])
            units.append(u)
            scales.append(d["scale"])
            kinds.append(d["kind"])
        return cls(tuple(names), np.array(units, np.float64).reshape(len(units), dim),
                   np.array(scales, np.float64), tuple(kinds))


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass(frozen=True)
class DirectionValue:
    """Where a preset sets a direction: ``offset`` (added, in its standard deviations) and
    ``pin`` (None: free; principal directions only)."""

    offset: float = 0.0
    pin: float | None = None


DirectionValues = Mapping[str, DirectionValue]


# --- computing them --------------------------------------------------------------------------

def _points(u: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(u, np.float64)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise DirectionError(f"{what}: need a (N, D) array of encoded points, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise DirectionError(f"{what}: encoded points hold NaN or infinity")
    return a


def principal(u: np.ndarray, max_k: int = MAX_PCS) -> Directions:
    """The principal directions of points ``u`` (N, D), at most ``max_k``; those along which
    the points do not spread at all (N <= D, identical points) are left out.

    Deterministic: the sign of each is fixed by its largest-magnitude component (positive).
    """
    a = _points(u, "principal directions")
    n, d = a.shape
    c = a - a.mean(axis=0)
    _, s, vt = np.linalg.svd(c, full_matrices=False)
    scale = s / math.sqrt(n)
    keep = int(np.sum(scale > _MIN_SCALE * max(1.0, float(scale[0]) if len(s) else 1.0)))
    keep = min(keep, max_k)
    vt, scale = vt[:keep], scale[:keep]
    lead = np.argmax(np.abs(vt), axis=1)              # first index of the largest |component|
    signs = np.where(vt[np.arange(keep), lead] < 0, -1.0, 1.0)
    vt = vt * signs[:, None]
    return Directions(tuple(pc_name(i) for i in range(keep)), vt.reshape(keep, d), scale,
                      ("pc",) * keep)


def spread_along(v: np.ndarray, basis: Directions) -> float:
    """The standard deviation of the data along unit vector ``v``, from the data's principal
    directions ``basis`` (which carry its covariance). The part of ``v`` outside them gets the
    spread they leave out, shared evenly: the total variance of standardised data is D."""
    pcs = basis.principal()
    d = pcs.dim
    w = pcs.unit @ v                                     # (K,) components along each pc
    var = float(np.sum(pcs.scale ** 2 * w ** 2))
    rest = d - len(pcs)
    if rest > 0:
        left = max(0.0, d - float(np.sum(pcs.scale ** 2))) / rest
        var += left * max(0.0, 1.0 - float(np.sum(w * w)))
    return math.sqrt(var)


def attribute(name: str, u_to: np.ndarray, u_from: np.ndarray, basis: Directions) -> Directions:
    """One attribute direction: from the mean of ``u_from`` (N, D) to the mean of ``u_to``
    (M, D), as a unit vector, with its spread along it from ``basis`` (``spread_along``).
    DirectionError if the two means coincide or ``basis`` has no principal directions."""
    check_name(name)
    if PC_NAME.fullmatch(name):
        raise DirectionError(f"direction name {name!r} is kept for principal directions")
    a, b = _points(u_to, f"direction {name}"), _points(u_from, f"direction {name}")
    if a.shape[1] != b.shape[1]:
        raise DirectionError(f"direction {name}: the two sets have {a.shape[1]} and "
                             f"{b.shape[1]} dimensions")
    if not basis.n_pcs or basis.dim != a.shape[1]:
        raise DirectionError(f"direction {name}: the model's principal directions are needed "
                             f"for its scale; compute them first ('latentsketch directions "
                             f"MODEL --data DIR')")
    diff = a.mean(axis=0) - b.mean(axis=0)
    norm = math.sqrt(float(np.sum(diff * diff)))
    if not norm > 1e-12:
        raise DirectionError(f"direction {name}: the two sets encode to the same mean point")
    v = diff / norm
    return Directions((name,), v[None], np.array([spread_along(v, basis)]), ("attribute",))
