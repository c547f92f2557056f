"""Interpolation between latent points: lerp, slerp and easing (the tour uses them).

The prior is Gaussian, so a straight line between two typical points dips through low-norm,
washed-out regions; slerp keeps the norm (and so the "typicality") while it turns. Everything
here is pure numpy and works on single vectors ``(D,)`` or batches ``(..., D)``, with ``t``
broadcasting over the leading axes: ``slerp(a, b, np.linspace(0, 1, 30))`` gives ``(30, D)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from latentsketch.latent import exactmath as xm

_PARALLEL = 1e-6   # below this sin(angle), the great circle is ill-defined: special-case it
_TINY = 1e-12      # norms below this count as the zero vector


def _out_dtype(a: ArrayLike, b: ArrayLike) -> np.dtype:
    """float32 in, float32 out; anything else gives float64."""
    f32 = np.dtype(np.float32)
    if getattr(a, "dtype", None) == f32 and getattr(b, "dtype", None) == f32:
        return f32
    return np.dtype(np.float64)


def lerp(a: ArrayLike, b: ArrayLike, t: ArrayLike) -> np.ndarray:
    """Straight line from ``a`` (t=0) to ``b`` (t=1)."""
    a64 = np.asarray(a, np.float64)
    b64 = np.asarray(b, np.float64)
    t64 = np.asarray(t, np.float64)[..., None]
    return (a64 + (b64 - a64) * t64).astype(_out_dtype(a, b))


def slerp(a: ArrayLike, b: ArrayLike, t: ArrayLike) -> np.ndarray:
    """Spherical interpolation: direction along the great circle, norm interpolated linearly.

    Robust where the textbook formula divides by zero: a zero endpoint falls back to lerp (the
    other direction is the only one there is), nearly parallel vectors lerp their directions,
    and antiparallel ones turn through a fixed perpendicular (any great circle is valid; this
    one is deterministic).
    """
    a64 = np.asarray(a, np.float64)
    b64 = np.asarray(b, np.float64)
    t64 = np.asarray(t, np.float64)
    if a64.ndim == 1 and b64.shape == a64.shape and t64.ndim == 0:
        return _slerp1(a64, b64, float(t64)).astype(_out_dtype(a, b), copy=False)
    t64 = t64[..., None]
    na = np.sqrt(np.sum(a64 * a64, axis=-1, keepdims=True))
    nb = np.sqrt(np.sum(b64 * b64, axis=-1, keepdims=True))
    ua = a64 / np.where(na > _TINY, na, 1.0)
    ub = b64 / np.where(nb > _TINY, nb, 1.0)
    cos = np.clip(np.sum(ua * ub, axis=-1, keepdims=True), -1.0, 1.0)
    theta = xm.arccos(cos)
    sin = xm.sin(theta)
    safe = sin > _PARALLEL
    direction = (xm.sin((1.0 - t64) * theta) * ua + xm.sin(t64 * theta) * ub) / np.where(
        safe, sin, 1.0
    )
    if not np.all(safe):  # rare: compute the fallbacks only when some pair needs them
        near = ua + (ub - ua) * t64
        near = near / np.maximum(np.linalg.norm(near, axis=-1, keepdims=True), _TINY)
        # antiparallel: turn towards the axis least aligned with a, made orthogonal to a
        axis = np.argmin(np.abs(ua), axis=-1)[..., None]
        perp = -np.take_along_axis(ua, axis, axis=-1) * ua
        np.put_along_axis(perp, axis, np.take_along_axis(perp, axis, axis=-1) + 1.0, axis=-1)
        perp = perp / np.maximum(np.linalg.norm(perp, axis=-1, keepdims=True), _TINY)
        opposite = xm.cos(np.pi * t64) * ua + xm.sin(np.pi * t64) * perp
        direction = np.where(safe, direction, np.where(cos > 0, near, opposite))
    out = direction * (na + (nb - na) * t64)
    degenerate = (na <= _TINY) | (nb <= _TINY)
    if np.any(degenerate):
        out = np.where(degenerate, a64 + (b64 - a64) * t64, out)
    return out.astype(_out_dtype(a, b))


def _slerp1(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """``slerp`` for two vectors and a scalar t, with scalar maths in Python (the walk's case)."""
    na = math.sqrt(float(np.add.reduce(a * a)))
    nb = math.sqrt(float(np.add.reduce(b * b)))
    if na <= _TINY or nb <= _TINY:
        return a + (b - a) * t
    ua, ub = a / na, b / nb
    cos = min(1.0, max(-1.0, float(np.add.reduce(ua * ub))))
    theta = math.acos(cos)
    sin = math.sin(theta)
    if sin <= _PARALLEL:
        return slerp(a[None], b[None], np.array([t]))[0]
    direction = (math.sin((1.0 - t) * theta) / sin) * ua + (math.sin(t * theta) / sin) * ub
    return direction * (na + (nb - na) * t)


# --- easing: maps 0..1 onto 0..1, slow at the ends so keyframes are arrived at, not hit ---------

def linear(t: np.ndarray) -> np.ndarray:
    return t


def smoothstep(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def smootherstep(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (6.0 * t - 15.0) + 10.0)


def cosine(t: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * xm.cos(np.pi * t)


def cubic(t: np.ndarray) -> np.ndarray:
    s = 1.0 - t
    return np.where(t < 0.5, 4.0 * t * t * t, 1.0 - 4.0 * s * s * s)


# The order is the ``walk.easing`` enum, stored as an index: append new easings, never insert.
EASINGS: MappingProxyType[str, Callable[[np.ndarray], np.ndarray]] = MappingProxyType({
    "linear": linear,
    "smoothstep": smoothstep,
    "smootherstep": smootherstep,
    "cosine": cosine,
    "cubic": cubic,
})


def ease(t: ArrayLike, name: str = "cosine") -> np.ndarray:
    """Apply the easing ``name`` to ``t`` clipped to 0..1; ValueError names the known ones."""
    try:
        fn = EASINGS[name]
    except KeyError:
        raise ValueError(f"unknown easing {name!r} (known: {', '.join(EASINGS)})") from None
    return fn(np.clip(np.asarray(t, np.float64), 0.0, 1.0))
