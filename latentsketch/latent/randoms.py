"""Counter-based random numbers: every draw is a hash of (seed, stream, index).

No generator object lives in any state, so a walk's path is a pure function of the seed and the
tick counter, whatever the frame rate. The hash is splitmix64's finaliser (Steele, Lea and
Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014); normals use Box-Muller
on index pairs with ``exactmath``'s transcendental functions, so draws are bit-identical on
every CPU.
"""

from __future__ import annotations

import hashlib

import numpy as np

from latentsketch.latent import exactmath as xm

# streams: one independent sequence per use, so adding a draw never shifts another's numbers
DRIFT, TARGET, ORBIT, NOISE, TOUR = 1, 2, 3, 4, 5


def stream(name: str) -> int:
    """A stream of its own for ``name`` (a new walk mode's draws), from a hash of the name
    that is the same in every process (Python's ``hash`` of a str is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little") | (1 << 63)

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_U_GOLDEN = np.uint64(_GOLDEN)
_U_M1 = np.uint64(0xBF58476D1CE4E5B9)
_U_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(n) for n in (30, 27, 31, 11))


def _mix_int(x: int) -> int:
    """splitmix64's finaliser on a Python int (for keys)."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def uniforms(seed: int, stream: int, start: int, count: int) -> np.ndarray:
    """Uniforms in (0, 1) at indices ``start .. start+count-1`` of the (seed, stream) sequence."""
    key = np.uint64(_mix_int(_mix_int(seed) + stream * _GOLDEN))
    z = np.arange(start, start + count, dtype=np.uint64) * _U_GOLDEN + key
    z = (z ^ (z >> _S30)) * _U_M1
    z = (z ^ (z >> _S27)) * _U_M2
    z = z ^ (z >> _S31)
    return ((z >> _S11).astype(np.float64) + 0.5) * (1.0 / (1 << 53))


def normals(seed: int, stream: int, start: int, count: int) -> np.ndarray:
    """Standard normals at indices ``start .. start+count-1`` (Box-Muller on index pairs)."""
    p0 = start // 2
    pairs = (start + count + 1) // 2 - p0
    u = uniforms(seed, stream, 2 * p0, 2 * pairs)
    r = np.sqrt(-2.0 * xm.log(u[0::2]))
    a = 2.0 * np.pi * u[1::2]
    out = np.empty(2 * pairs)
    out[0::2] = r * xm.cos(a)
    out[1::2] = r * xm.sin(a)
    off = start - 2 * p0
    return out[off:off + count]
