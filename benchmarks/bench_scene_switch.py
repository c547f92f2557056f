"""Model switches during a show: frames over 33 ms while a scene loads another model.

Runs the live loop headless (SDL dummy), 512x512 at a 60 fps cap, on the bundled models, and
switches scenes between ``shapes`` and ``emoji`` (two presets in a temporary user preset
folder, each naming its model in ``[scene] model``) every ``--every`` seconds, ``--switches``
times, in two ways in the same process:

- threaded: the way the window does it (``app.model_switch.ModelLoad`` in a worker thread,
  swapped in between two frames, the pictures crossfaded);
- naive: the same load on the loop's own thread (``App.threaded_model_load = False``), the
  baseline;
- and first without switching at all: the machine's own floor (on a busy machine frames go
  over 33 ms without any switch; compare against it).

For each it prints the frame intervals (start to start: what the audience sees) over the
window from each switch to ``--every`` seconds later: median, worst, frames over 33 ms, and
how long the load took (switch to swap). Target: 0 frames over 33 ms when threaded.

Run: ``python benchmarks/bench_scene_switch.py [--switches 4] [--every 2.5]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from latentsketch import preset as presets  # noqa: E402
from latentsketch.app import App, AppOptions  # noqa: E402


def run(mode: str, switches: int, every: float, out: Path) -> dict[str, float]:
    """``mode``: "threaded", "naive", or "none" (no switch: the machine's own floor)."""
    app = App(AppOptions(model="shapes", seed=1, fps=60, size=(512, 512), osc=False,
                         midi=False, out_dir=str(out)))
    app.threaded_model_load = mode != "naive"
    starts: list[float] = []
    switched: list[int] = []
    swaps: list[float] = []
    names = ["scene-emoji", "scene-shapes"]
    period = round(every * 60)

    def script(i: int, a: App) -> list:
        starts.append(time.perf_counter())
        if i and i % period == 0 and len(switched) < switches:
            switched.append(i)
            if mode != "none":
                a.switch_preset(names[(len(switched) + 1) % 2])
        return []

    last = app.loaded.model_id
    try:
        for i in range(period * (switches + 1)):
            app.run(max_frames=i + 1, script=script)
            if app.loaded.model_id != last:
                last = app.loaded.model_id
                swaps.append(time.perf_counter() - starts[switched[-1]])
    finally:
        app.close()
    gaps = np.diff(np.array(starts)) * 1e3
    window = np.concatenate([gaps[s:s + period - 1] for s in switched])
    return {"median": float(np.median(window)), "worst": float(window.max()),
            "over33": int((window > 33.0).sum()), "frames": int(window.size),
            "load_s": float(np.median(swaps)) if swaps else float("nan"),
            "switches": len(swaps)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--switches", type=int, default=4)
    ap.add_argument("--every", type=float, default=2.5, help="seconds between switches")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        for model in ("emoji", "shapes"):
            presets.Preset(name=f"scene-{model}", scene=presets.SceneSettings(
                fade=1.0, model=model)).save(presets.user_dir() / f"scene-{model}.toml")
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
              f"{args.switches} switches every {args.every:g} s, 512x512 at 60 fps")
        for mode in ("none", "threaded", "naive"):
            r = run(mode, args.switches, args.every, Path(tmp) / "out")
            what = {"none": "no switch (floor)", "threaded": "threaded (ModelLoad)",
                    "naive": "naive (on the loop)"}[mode]
            print(f"{what:22s} frame interval median {r['median']:5.1f} ms, worst "
                  f"{r['worst']:6.1f} ms, over 33 ms: {r['over33']} of {r['frames']}; "
                  f"switch to swap {r['load_s'] * 1e3:.0f} ms ({r['switches']} swaps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
