"""Soak: installation mode, headless, for a long time, with a scene change every few seconds.

Runs ``latentsketch play --kiosk`` as a gallery would (SDL dummy driver, a playlist of the
bundled presets switching every ``--scene-seconds``, log file and resume state in a temporary
state folder) until ``--frames`` frames or ``--minutes`` minutes, whichever comes first, and
prints: RSS at start, after warm-up, at the end and its maximum (growth after warm-up is the
leak figure; target < 5 %), exceptions caught (frames lost, decode failures, kiosk errors,
log records at error level; target 0), scene switches and skips, and frame times (worst
frame, frames over 33 ms: meaningful only on a quiet machine).

Run: ``python benchmarks/soak.py [--model PATH] [--frames 216000] [--minutes 30]
[--size 256] [--fps 60] [--scene-seconds 4]``. The suite runs a 2,000-frame version
(tests/test_kiosk.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from latentsketch.app import App, AppOptions  # noqa: E402
from latentsketch.app.kiosk import Kiosk, KioskOptions  # noqa: E402

SCENES = ("default", "gallery", "ambient", "pulse", "touchdesigner")
MODEL_SCENES = ("soak-shapes", "soak-emoji")   # user presets naming a bundled model each


@dataclass
class SoakReport:
    frames: int
    seconds: float
    rss_start_mb: float
    rss_warm_mb: float
    rss_end_mb: float
    rss_max_mb: float
    exceptions: int
    switches: int
    skipped: int
    worst_ms: float
    over_33ms: int

    def lines(self) -> list[str]:
        growth = 100.0 * (self.rss_end_mb / self.rss_warm_mb - 1.0) if self.rss_warm_mb else 0.0
        return [
            f"frames {self.frames} in {self.seconds:.0f} s "
            f"({self.frames / max(self.seconds, 1e-9):.1f} fps)",
            f"RSS start {self.rss_start_mb:.1f} MB, after warm-up {self.rss_warm_mb:.1f} MB, "
            f"end {self.rss_end_mb:.1f} MB, max {self.rss_max_mb:.1f} MB "
            f"(growth after warm-up {growth:+.2f} %)",
            f"exceptions caught {self.exceptions}",
            f"scene switches {self.switches}, skipped {self.skipped}",
            f"worst frame {self.worst_ms:.1f} ms, frames over 33 ms {self.over_33ms}",
        ]


def rss_mb() -> float:
    """Resident set size now, in MB (Linux /proc; elsewhere the maximum so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def write_playlist(folder: Path, scene_seconds: float, scenes: tuple[str, ...] = SCENES) -> Path:
    """A playlist of ``scenes`` (bundled presets), each ``scene_seconds`` long, shuffled."""
    path = folder / "soak-playlist.toml"
    body = [f'order = "shuffle"\nseed = 1\nduration = {scene_seconds}\nfade = '
            f'{min(1.0, scene_seconds / 2)}\n']
    body += [f'[[scene]]\npreset = "{name}"\n' for name in scenes]
    path.write_text("\n".join(body), encoding="utf-8")
    return path


def write_model_scenes(folder: Path) -> None:
    """User presets that switch models: ``soak-<name>`` plays bundled model ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    for scene in MODEL_SCENES:
        name = scene.removeprefix("soak-")
        (folder / f"{scene}.toml").write_text(
            f'name = "{scene}"\n[walk]\nmode = "tour"\n[scene]\nmodel = "{name}"\n'
            f'fade = 1.0\n', encoding="utf-8")


def soak(model: str | None, frames: int, minutes: float | None = None,
         size: tuple[int, int] = (256, 256), fps: float = 60.0, scene_seconds: float = 4.0,
         dt: float | None = None, folder: Path | None = None,
         progress: float | None = None, models: bool = False) -> SoakReport:
    """Run installation mode for ``frames`` frames or ``minutes`` minutes; ``dt`` fixes each
    frame's step (the suite), else wall-clock time paced at ``fps``; ``progress``: print a
    line every so many seconds; ``models``: scenes that switch between the bundled models
    too (their presets go to a user preset folder in the work folder: this sets
    ``XDG_CONFIG_HOME``)."""
    work = Path(folder or tempfile.mkdtemp(prefix="latentsketch-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    scenes = SCENES
    if models:
        os.environ["XDG_CONFIG_HOME"] = str(work / "config")
        write_model_scenes(work / "config" / "latentsketch" / "presets")
        scenes = SCENES + MODEL_SCENES
    playlist = write_playlist(work, scene_seconds, scenes)
    errors = _ErrorCount()
    logging.getLogger("latentsketch").addHandler(errors)
    opts = AppOptions(model=model, seed=1, fps=fps, size=size, osc=False, midi=False,
                      out_dir=str(work / "out"))
    kiosk = Kiosk(opts, KioskOptions(playlist=str(playlist), folder=str(work / "state"),
                                     fullscreen=False))
    rss_start = rss_mb()
    warm_at = max(1, frames // 10)   # warm-up: a tenth of the frames or of the minutes
    warm_seconds = minutes * 6 if minutes else float("inf")
    sample_every = 250
    rss = {"warm": 0.0, "max": rss_start}
    marks = {"warm": 0}
    times: list[float] = []
    end_at = time.monotonic() + minutes * 60 if minutes else None
    last = [time.perf_counter()]
    t0 = time.perf_counter()
    next_line = [t0 + (progress or 0.0)]

    def watch(i: int, app: App) -> list:
        now = time.perf_counter()
        if i > 0:
            times.append(now - last[0])
        last[0] = now
        warm = not rss["warm"] and (i >= warm_at or now - t0 >= warm_seconds)
        if i % sample_every == 0 or warm:
            r = rss_mb()
            rss["max"] = max(rss["max"], r)
            if warm:
                rss["warm"] = r
                marks["warm"] = len(times)
        if end_at is not None and time.monotonic() >= end_at:
            app.request_stop("soak time is up")
        if progress and now >= next_line[0]:
            next_line[0] = now + progress
            prog = kiosk.programme
            print(f"  {now - t0:6.0f} s: frame {i}, RSS {rss_mb():.1f} MB, "
                  f"switches {prog.switches if prog else 0}, lost frames {app.failures}",
                  flush=True)
        return []

    try:
        kiosk.run(max_frames=frames, dt=dt, script=watch)
        seconds = time.perf_counter() - t0
        rss_end = rss_mb()
        app = kiosk.app
        prog = kiosk.programme
        exceptions = app.failures + kiosk.errors + kiosk.decode_failures + errors.count
        warm_times = times[marks["warm"]:] or times
        return SoakReport(app.frames, seconds, rss_start, rss["warm"] or rss_end, rss_end,
                          max(rss["max"], rss_end), exceptions,
                          prog.switches if prog else 0, prog.skipped if prog else 0,
                          1e3 * max(warm_times, default=0.0),
                          sum(t > 0.0334 for t in warm_times))
    finally:
        kiosk.close()
        logging.getLogger("latentsketch").removeHandler(errors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="model (default: the bundled one)")
    ap.add_argument("--frames", type=int, default=216_000)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--size", type=int, default=256, help="window side in pixels")
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--scene-seconds", type=float, default=4.0)
    ap.add_argument("--no-model-switches", action="store_true",
                    help="only scenes of one model (default: two scenes switch models too)")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="latentsketch: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.WARNING)   # the log file hears the rest
    print(f"soak: up to {a.frames} frames or {a.minutes:g} min, {a.size}x{a.size}, "
          f"{a.fps:g} fps, a scene every {a.scene_seconds:g} s", flush=True)
    report = soak(a.model, a.frames, a.minutes, (a.size, a.size), a.fps, a.scene_seconds,
                  progress=300.0, models=not a.no_model_switches)
    for line in report.lines():
        print(line, flush=True)


if __name__ == "__main__":
    main()
