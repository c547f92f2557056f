"""Training's resident memory against the folder's size: streamed from the on-disk cache.

Writes ``--files`` JPEGs of 256 px into a temporary folder, then, in this process, decodes
them into the cache (``--workers`` DataLoader processes) and trains a tiny model at ``--size``
px (128) for ``--steps`` steps streaming from it, sampling this process's RSS every 20 ms.
Prints the peak RSS of each phase (cache build, training, the measuring after it) in MB, and
what the images would take in memory. Deletes the folder and the cache afterwards. The
training phase should not grow with the folder; the measuring holds the held-out images
(5 %, at most 512) and encodes up to 4,000, so it grows up to 10,000 files and then stops.

Run (the 20,000-file case takes minutes; nice it on a shared machine):
``nice python benchmarks/bench_train_rss.py --files 2000`` and ``--files 20000``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from latentsketch.train import TrainConfig, Trainer, stream


def rss_mb() -> float:
    """This process's resident set (VmRSS, Linux) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sampler:
    """Peak RSS per phase, sampled in a thread."""

    def __init__(self) -> None:
        self.phase, self.peaks = "start", {"start": rss_mb()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss_mb())

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.peaks[phase] = rss_mb()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def write_jpegs(folder: Path, n: int, size: int = 256) -> None:
    """``n`` JPEGs of smooth random colour fields (fast to make; decode like photos)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        small = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        small.resize((size, size), Image.Resampling.BICUBIC).save(folder / f"{i:06d}.jpg",
                                                                  quality=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--size", type=int, default=128, help="training size in px")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tmp", default=None, help="where the files and cache go (default: /tmp)")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ls-rss-", dir=a.tmp))
    try:
        t = time.perf_counter()
        write_jpegs(root / "pics", a.files)
        print(f"wrote {a.files} JPEGs of 256 px in {time.perf_counter() - t:.0f} s")
        s = Sampler()
        s.enter("cache build")
        t = time.perf_counter()
        stream.build(root / "pics", a.size, root / "cache", workers=a.workers)
        build_s = time.perf_counter() - t
        s.enter("training")
        cfg = TrainConfig(data=str(root / "pics"), out=str(root / "out"), size=a.size,
                          latent=8, width=8, steps=a.steps, batch_size=a.batch_size,
                          threads=2, ema=0.0, precision="fp32", cache=str(root / "cache"))
        tr = Trainer(cfg)
        t = time.perf_counter()
        tr.run()
        train_s = time.perf_counter() - t
        s.enter("measuring after")
        tr.finalise()
        s.close()
        in_memory = a.files * a.size * a.size * 3 / 2**20
        print(f"files {a.files}, {a.size} px: cache build {build_s:.0f} s, {a.steps} steps "
              f"{train_s:.0f} s; images in memory would be {in_memory:.0f} MB")
        for phase, mb in s.peaks.items():
            print(f"  peak RSS {phase:16s} {mb:7.0f} MB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
