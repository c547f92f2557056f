"""Cost of ``engine.step`` + ``output_z`` per frame, against two naive engines.

The engine runs inside the render loop, so its cost comes straight out of the frame budget
(16.7 ms at 60 fps; target: well under 0.5 ms at dim 32). Baselines:

- naive per-tick: the straightforward frame-rate-independent design: a Python loop over the
  240 Hz ticks, a fresh Philox generator per tick, an OU step, a one-pole glide and a
  copy-on-write state per tick. Its cost grows with ticks per frame.
- naive per-frame: one generator and one OU step of ``dt`` per frame. Cheapest, but its path
  depends on the frame rate (what the engine exists to avoid), so it is a floor, not a rival.

Run: ``python benchmarks/bench_engine.py``.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, replace

import numpy as np

from latentsketch import commands as C
from latentsketch.engine import TICK, State, output_z, step
from latentsketch.latent.space import LatentSpace
from latentsketch.params import WALK_MODES

FRAMES = 600


@dataclass(frozen=True)
class NaiveState:
    seed: int
    tick: int
    acc: float
    x: np.ndarray
    shown: np.ndarray


def naive_step(s: NaiveState, dt: float, speed: float = 1.0, glide: float = 0.6) -> NaiveState:
    """Per-tick loop: a new generator, an OU step, a glide and a new state every tick."""
    acc = s.acc + dt
    a = math.exp(-speed * TICK / 2.0)
    g = math.exp(-TICK / glide)
    while acc >= TICK:
        rng = np.random.Generator(np.random.Philox(key=s.seed, counter=s.tick))
        x = a * s.x + math.sqrt(1 - a * a) * rng.standard_normal(s.x.shape[0])
        shown = g * s.shown + (1 - g) * x
        s = replace(s, tick=s.tick + 1, x=x, shown=shown)
        acc -= TICK
    return replace(s, acc=acc)


def naive_frame_step(s: NaiveState, dt: float, speed: float = 1.0) -> NaiveState:
    """One generator per frame and an OU step of dt: frame-rate dependent."""
    a = math.exp(-speed * dt / 2.0)
    rng = np.random.Generator(np.random.Philox(key=s.seed, counter=s.tick))
    x = a * s.x + math.sqrt(1 - a * a) * rng.standard_normal(s.x.shape[0])
    return replace(s, tick=s.tick + 1, x=x, shown=x)


def _time(fn, frames: int = FRAMES) -> list[float]:
    out = []
    for _ in range(frames):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def bench_engine(dim: int, mode: str, fps: float, commands_every: int = 0) -> list[float]:
    space = LatentSpace.standard(dim)
    box = [State.initial(space, seed=1, params={"walk.mode": mode})]
    n = [0]
    cmds = (C.SetDim(0, 0.5), C.NudgeParam("walk.speed", 0.0))

    def frame() -> None:
        n[0] += 1
        c = cmds if commands_every and n[0] % commands_every == 0 else ()
        box[0] = step(box[0], c, 1.0 / fps, space)
        output_z(box[0], space)

    _time(frame, 60)  # warm-up
    return _time(frame)


def bench_naive(dim: int, fps: float, per_frame: bool = False) -> list[float]:
    space = LatentSpace.standard(dim)
    box = [NaiveState(1, 0, 0.0, np.zeros(dim), np.zeros(dim))]
    fn = naive_frame_step if per_frame else naive_step

    def frame() -> None:
        box[0] = fn(box[0], 1.0 / fps)
        space.to_z(box[0].shown.astype(np.float32))

    _time(frame, 60)
    return _time(frame)


def _fmt(us: list[float]) -> str:
    q = statistics.quantiles(us, n=100)
    return f"median {statistics.median(us):7.1f} us   p99 {q[98]:7.1f} us"


def main() -> None:
    print(f"engine.step + output_z per frame ({FRAMES} frames each; 240 Hz ticks)")
    for dim in (32, 128):
        print(f"\ndim {dim}")
        for fps in (144, 60, 30, 4):
            us, naive = bench_engine(dim, "drift", fps), bench_naive(dim, fps)
            ratio = statistics.median(naive) / statistics.median(us)
            print(f"  drift  {fps:3d} fps ({240 / fps:4.1f} ticks/frame)  engine {_fmt(us)}   "
                  f"naive per-tick {_fmt(naive)}   naive/engine {ratio:4.1f}x")
        floor = bench_naive(dim, 60, per_frame=True)
        print(f"  naive per-frame (frame-rate dependent) 60 fps  {_fmt(floor)}")
        for mode in WALK_MODES[1:]:
            us = bench_engine(dim, mode, 60)
            print(f"  {mode:6s}  60 fps                   engine {_fmt(us)}")
        us = bench_engine(dim, "drift", 60, commands_every=1)
        print(f"  drift   60 fps + 2 commands/frame  engine {_fmt(us)}")


if __name__ == "__main__":
    main()
