"""Transcendental functions that give the same bits on every x86 CPU, for the engine's path.

NumPy dispatches float64 ``sin``, ``cos``, ``exp``, ``log``, ``arccos``, ``power``... to AVX-512
kernels where the CPU has them, and those differ from the scalar libm in the last bit
(numpy/numpy#23523). The engine promises a bit-exact latent path on any machine, so a control log
recorded on an AVX-512 machine must replay to the same bits on an AVX2 one: the engine's
transcendentals go through Python's ``math`` (glibc, one code path on every x86-64-v3 CPU), one
element at a time. The arrays are latent-sized (tens to a few hundred values per frame), so this
costs microseconds. ``tests/test_exactness.py`` keeps NumPy's versions out of the engine's modules.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

ArrayLike = float | np.ndarray


def _elementwise(fn: Callable[[float], float]) -> Callable[[ArrayLike], np.ndarray]:
    def f(x: ArrayLike) -> np.ndarray:
        a = np.asarray(x, np.float64)
        return np.fromiter(map(fn, a.ravel().tolist()), np.float64, a.size).reshape(a.shape)

    f.__name__ = fn.__name__
    f.__doc__ = f"``math.{fn.__name__}`` elementwise: float64 array of x's shape, same bits " \
                f"on every CPU."
    return f


sin = _elementwise(math.sin)
cos = _elementwise(math.cos)
log = _elementwise(math.log)
arccos = _elementwise(math.acos)
