"""Seconds from launching ``latentsketch`` to its first frame, on a cold and a warm engine cache.

Starts the real command in a subprocess (SDL dummy driver, no OSC/MIDI) and reads what it logs:
the first frame on screen, and the moment it swaps in the engine measured fastest
(``decoding on ...``). Cold: a fresh user cache, so the engines are built and measured in the
background while the picture already moves (target: first frame under 2 s after ``import
torch``'s floor, no wait for the build). Warm: the measured winner is used from the first frame.
Also times ``python -c "import torch"``, the floor no launch can beat.
Run: ``python benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def launch(cache: str, wait_for_engine: bool, limit_s: float = 600.0
           ) -> tuple[float, float | None, str]:
    """(seconds to the first frame, seconds to the engine swap or None, the swap line)."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "XDG_CACHE_HOME": cache}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "latentsketch", "--no-osc", "--no-midi",
                          "--out-dir", os.path.join(cache, "out")], stderr=subprocess.PIPE,
                         text=True, env=env)
    first = None
    try:
        for line in p.stderr:
            now = time.perf_counter() - t0
            if "first frame" in line and first is None:
                first = now
                if not wait_for_engine:
                    return first, None, ""
            if line.startswith("latentsketch: decoding on"):
                return first or now, now, line.strip()
            if now > limit_s:
                break
        if first is None:
            raise RuntimeError("latentsketch exited before its first frame")
        return first, None, ""
    finally:
        p.terminate()
        p.wait(30)


def main() -> None:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    floor = time.perf_counter() - t0
    print(f"import torch alone: {floor:.2f} s")
    with tempfile.TemporaryDirectory() as cache:
        first, swap, line = launch(cache, wait_for_engine=True)
        print(f"cold cache: first frame {first:.2f} s; engines measured in the background, "
              f"swap at {swap if swap is None else f'{swap:.1f}'} s")
        if line:
            print(f"  {line}")
        warm = [launch(cache, wait_for_engine=False)[0] for _ in range(3)]
        print(f"warm cache: first frame {', '.join(f'{w:.2f}' for w in warm)} s "
              f"(median {sorted(warm)[1]:.2f} s)")


if __name__ == "__main__":
    main()
