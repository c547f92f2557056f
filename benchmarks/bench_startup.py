"""Seconds from launching ``latentsketch`` to its first frame on screen (target: under 5 s).

Starts the real command in a subprocess (SDL dummy driver, no OSC/MIDI) and waits for the
"first frame" line it logs; also times ``python -c "import torch"`` as the floor no launch can
beat. Run: ``python benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def first_frame_seconds() -> float:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "latentsketch", "--no-osc", "--no-midi",
                          "--out-dir", "/tmp/latentsketch-bench"], stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        for line in p.stderr:
            if "first frame" in line:
                return time.perf_counter() - t0
        raise RuntimeError("latentsketch exited before its first frame")
    finally:
        p.terminate()
        p.wait(10)


def main() -> None:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    floor = time.perf_counter() - t0
    runs = [first_frame_seconds() for _ in range(3)]
    print(f"import torch alone: {floor:.2f} s")
    print(f"launch -> first frame: {', '.join(f'{r:.2f}' for r in runs)} s "
          f"(median {sorted(runs)[1]:.2f} s; target < 5 s)")


if __name__ == "__main__":
    main()
