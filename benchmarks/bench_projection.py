"""What the projection set-up costs the audience window per frame.

Prints, for a window of ``--size`` (default 1024x1024) on SDL's dummy driver: the time to build
the warp map (once per change of set-up or window size), and per frame the median and p99 of
``Display.draw`` without a projection, with a keystone corner-pin, and with a turn + mirror +
corner-pin (the map is the same gather either way), over ``--frames`` frames.

Run: ``python benchmarks/bench_projection.py [--size 1024x1024] [--frames 200]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np  # noqa: E402

from latentsketch.output.display import Display  # noqa: E402
from latentsketch.projection import Projection, WarpMap  # noqa: E402

KEYSTONE = ((0.08, 0.0), (0.92, 0.03), (1.0, 1.0), (0.0, 0.97))


def per_frame(d: Display, frames: int) -> tuple[float, float]:
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        d.draw()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 99))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1024x1024")
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    t0 = time.perf_counter()
    WarpMap(Projection(corners=KEYSTONE), (w, h))
    print(f"warp map for {w}x{h}: {(time.perf_counter() - t0) * 1e3:.0f} ms (once per change)")
    d = Display((w, h), fit="fit", fps=0)
    try:
        rng = np.random.default_rng(0)
        d.pipeline.feed(rng.integers(0, 256, (64, 64, 3), np.uint8), {}, 0.0)
        for name, proj in (("no projection", Projection()),
                           ("turn 90 + mirror", Projection(90, True)),
                           ("keystone", Projection(corners=KEYSTONE)),
                           ("turn 90 + mirror + keystone", Projection(90, True, KEYSTONE))):
            d.projection = proj
            d.draw()   # builds the map
            med, p99 = per_frame(d, args.frames)
            print(f"{name:28s} draw median {med:5.2f} ms, p99 {p99:5.2f} ms")
    finally:
        d.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
