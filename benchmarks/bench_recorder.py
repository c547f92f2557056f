"""Recorder cost: encode throughput and what submit() costs the render loop.

For 512x512 and 1024x1024 frames (smooth gradients, like decoder output) this prints:
- recorder throughput: frames/s through submit -> queue -> thread -> crash-safe H.264 file;
- the render loop's cost per submit() (mean and 99th percentile, microseconds), both when
  flooding and when paced at 60 fps (with the frames dropped at that pace);
- the naive baseline: encoding synchronously in the caller's thread, per-frame cost and fps.

Run: ``python benchmarks/bench_recorder.py`` (about 15 s on two cores).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from latentsketch.output.recorder import Recorder
from latentsketch.output.video import H264Writer

SIZES = (512, 1024)
FLOOD_FRAMES = 90
PACED_SECONDS = 1.5
LIVE_FPS = 60


def make_frames(size: int, n: int = 24) -> list[np.ndarray]:
    """Smooth moving colour fields: compress like VAE output, not like noise."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    frames = []
    for i in range(n):
        p = 2 * np.pi * i / n
        rgb = np.stack([np.sin(6 * x + p), np.cos(5 * y - p), np.sin(4 * (x + y) + 2 * p)], -1)
        frames.append(((rgb * 0.5 + 0.5) * 255).astype(np.uint8))
    return frames


def micros(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1e6
    return float(a.mean()), float(np.percentile(a, 99))


def bench_flood(frames: list[np.ndarray], size: int, folder: Path) -> tuple[float, list[float]]:
    rec = Recorder(queue_bytes=(FLOOD_FRAMES + 1) * size * size * 3,
                   max_queue_frames=FLOOD_FRAMES + 1)
    rec.start(folder / f"flood-{size}.mp4", size, size, LIVE_FPS)
    costs = []
    t0 = time.perf_counter()
    for i in range(FLOOD_FRAMES):
        s = time.perf_counter()
        rec.submit(frames[i % len(frames)], i / LIVE_FPS)
        costs.append(time.perf_counter() - s)
    status = rec.stop()
    elapsed = time.perf_counter() - t0
    assert status.frames_written == FLOOD_FRAMES, status
    return FLOOD_FRAMES / elapsed, costs


def bench_paced(frames: list[np.ndarray], size: int, folder: Path) -> tuple[list[float], int]:
    rec = Recorder()
    rec.start(folder / f"paced-{size}.mp4", size, size, LIVE_FPS)
    costs = []
    n = int(PACED_SECONDS * LIVE_FPS)
    start = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        rec.submit(frames[i % len(frames)], s)
        costs.append(time.perf_counter() - s)
        time.sleep(max(0.0, start + (i + 1) / LIVE_FPS - time.perf_counter()))
    status = rec.stop()
    return costs, status.frames_dropped


def bench_naive(frames: list[np.ndarray], size: int, folder: Path) -> tuple[float, list[float]]:
    costs = []
    t0 = time.perf_counter()
    with H264Writer(folder / f"naive-{size}.mp4", size, size, LIVE_FPS,
                    preset="ultrafast") as w:
        for i in range(FLOOD_FRAMES):
            s = time.perf_counter()
            w.write(frames[i % len(frames)])
            costs.append(time.perf_counter() - s)
    return FLOOD_FRAMES / (time.perf_counter() - t0), costs


def main() -> None:
    print(f"{'size':>9} | {'recorder fps':>12} {'submit us mean/p99':>20} | "
          f"{'paced@60 us mean/p99':>21} {'dropped':>8} | {'naive fps':>9} "
          f"{'naive us/frame':>14} | {'caller cost ratio':>17}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in SIZES:
            frames = make_frames(size)
            fps, flood = bench_flood(frames, size, folder)
            paced, dropped = bench_paced(frames, size, folder)
            naive_fps, naive = bench_naive(frames, size, folder)
            fm, fp = micros(flood)
            pm, pp = micros(paced)
            nm, _ = micros(naive)
            print(f"{f'{size}x{size}':>9} | {fps:12.1f} {fm:9.0f} / {fp:8.0f} | "
                  f"{pm:10.0f} / {pp:8.0f} {dropped:>8d} | {naive_fps:9.1f} {nm:14.0f} | "
                  f"{nm / pm:16.0f}x")
    print(f"(caller cost ratio = naive us/frame / paced submit us; paced = {LIVE_FPS} fps "
          f"for {PACED_SECONDS:g} s; x264 preset ultrafast, crash-safe fragmented MP4)")


if __name__ == "__main__":
    main()
