"""The engine's cost per frame: ``engine.step`` + ``engine.output_z`` for every walk mode.

Prints, per walk mode, the median and p99 microseconds of one 60 fps frame (4 ticks of the
240 Hz clock in one call, as the live loop makes it), and a naive baseline run in the same
process: the same 4 ticks stepped one call per tick, as a frame-by-tick engine would. The
frame budget at 60 fps is 16,667 us; the engine should take well under 1 % of it.

Uses only ``engine.State.initial``, ``engine.step`` and ``engine.output_z``, so the same script
measures an older tree too (``PYTHONPATH=<tree> python benchmarks/bench_step.py``).

Run: ``python benchmarks/bench_step.py [--model PATH] [--frames 600]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from latentsketch import engine
from latentsketch.model import checkpoint


def _frames(space, mode: str, frames: int, ticks_per_call: int) -> np.ndarray:
    """Microseconds per 1/60 s frame, stepping ``4 / ticks_per_call`` calls per frame."""
    state = engine.State.initial(space, 7, {"walk.mode": mode})
    calls = 4 // ticks_per_call
    dt = ticks_per_call / 240.0
    out = np.empty(frames)
    for i in range(frames):
        t0 = time.perf_counter()
        for _ in range(calls):
            state = engine.step(state, (), dt, space)
        engine.output_z(state, space)
        out[i] = (time.perf_counter() - t0) * 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder (default: bundled)")
    ap.add_argument("--frames", type=int, default=600)
    a = ap.parse_args()
    space = checkpoint.load(a.model).space
    names = engine.WALK_MODES
    print(f"latent {space.dim}, model keyframes {space.keyframes.shape[0]}, {a.frames} frames")
    print(f"{'mode':8} {'frame us (median/p99)':>22} {'naive us':>10} {'naive/ours':>11}")
    for mode in names:
        _frames(space, mode, 30, 4)                     # warm caches
        ours = _frames(space, mode, a.frames, 4)
        naive = _frames(space, mode, a.frames, 1)
        print(f"{mode:8} {np.median(ours):11.0f} / {np.percentile(ours, 99):8.0f} "
              f"{np.median(naive):10.0f} {np.median(naive) / np.median(ours):10.2f}x")


if __name__ == "__main__":
    main()
