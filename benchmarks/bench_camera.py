"""Camera as a source: what the encoder costs, and what it costs the live loop.

Prints, on the bundled model (or ``--model``):
- the encoder at batch 1 on 1 torch thread: pictures per second for a 640x480 frame (fit to
  the model's size + encode, as the camera worker does) and for the network alone;
- the palette: seconds to decode an 8x8 grid on 1 thread (the window makes it in a worker);
- the GIL: how long the main thread waits to get it back after releasing it (``sleep(0)``
  round trips, p99 and p99.9) with the camera worker encoding a video at ``--camera-fps`` and
  without it;
- the live loop, headless (SDL dummy), 512x512 at a 60 fps cap, with ``--camera`` a video file
  (a generated 640x480 clip at 25 fps, encoded at ``--camera-fps``) and without, alternating
  ``--reps`` times: frame time median and p99, frames over 33 ms, the loop's own work per
  frame (median, p99: it includes any wait for the GIL), and the points encoded meanwhile.

On a machine whose cores are busy with other work the on/off difference is within the
run-to-run spread; the load average is printed to judge it.

Run: ``python benchmarks/bench_camera.py [--model M] [--seconds 5] [--reps 2] [--camera-fps 10]``.
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

import av  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from latentsketch.app import App, AppOptions  # noqa: E402
from latentsketch.control.camera_feed import CameraFeed  # noqa: E402
from latentsketch.control.sources import VideoFileSource  # noqa: E402
from latentsketch.encoding import encode_array, encode_batch, fit  # noqa: E402
from latentsketch.model import checkpoint  # noqa: E402
from latentsketch.model.inference import Decoder  # noqa: E402
from latentsketch.output.palette import axes_plane, decode_cells, model_axes  # noqa: E402


def clip(path: Path, seconds: float = 4.0, fps: int = 25) -> Path:
    """A 640x480 clip of a moving, colour-changing disc on a gradient."""
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            t = i / fps
            cx, cy = w / 2 + 200 * np.cos(t), h / 2 + 150 * np.sin(1.3 * t)
            disc = (xx - cx) ** 2 + (yy - cy) ** 2 < 90 ** 2
            img = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 90)], -1)
            img[disc] = [255 * (0.5 + 0.5 * np.sin(t)), 40, 255 * (0.5 + 0.5 * np.cos(t))]
            for p in s.encode(av.VideoFrame.from_ndarray(img.astype(np.uint8), "rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def rate(fn, n: int) -> tuple[float, float]:
    """Calls per second over ``n`` calls after 3 warm-up calls, and the median ms."""
    for _ in range(3):
        fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return n / sum(ts), 1e3 * float(np.median(ts))


def pct(a: list[float], q: float) -> float:
    return 1e3 * float(np.percentile(np.asarray(a), q))


def live(model: str | None, seconds: float, camera: str | None, fps: float) -> str:
    app = App(AppOptions(model=model, seed=1, fps=60.0, size=(512, 512), osc=False, midi=False,
                         out_dir=tempfile.mkdtemp(), camera=camera, camera_fps=fps))
    try:
        for _ in range(30):                     # warm up the decoder and the window
            app.frame_step()
            app._dt = app.display.wait()
        frames, work = [], []
        before = app.camera.stats().encoded if app.camera is not None else 0
        last = time.perf_counter()
        end = last + seconds
        while time.perf_counter() < end:
            w = time.perf_counter()
            app.frame_step()
            work.append(time.perf_counter() - w)
            app._dt = app.display.wait()
            now = time.perf_counter()
            frames.append(now - last)
            last = now
        enc = app.camera.stats() if app.camera is not None else None
    finally:
        app.close()
    over = sum(f > 0.0334 for f in frames)
    line = (f"frame median {pct(frames, 50):5.2f} ms  p99 {pct(frames, 99):5.2f} ms  over 33 ms "
            f"{over:3d}/{len(frames)}; loop work median {pct(work, 50):5.2f} ms  p99 "
            f"{pct(work, 99):5.2f} ms")
    if enc is not None:
        n = enc.encoded - before
        line += f"; encoded {n} ({n / seconds:.1f}/s, median {enc.encode_ms:.1f} ms)"
    return line + f"  [load {os.getloadavg()[0]:.1f}]"


def gil_wait(seconds: float = 3.0) -> str:
    """p99 and p99.9 of the main thread's ``sleep(0)`` round trip: releasing the GIL and
    getting it back (plus the OS's scheduling, which a busy machine adds to both)."""
    lat = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        time.sleep(0)
        lat.append(time.perf_counter() - t)
        sum(range(200))                  # a little Python work, holding the GIL
    return f"p99 {pct(lat, 99):.3f} ms  p99.9 {pct(lat, 99.9):.3f} ms  (n {len(lat)})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--camera-fps", type=float, default=10.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    m = checkpoint.load(a.model)
    print(f"model {m.model_id}  latent {m.space.dim}  {m.cfg.image_size}px  "
          f"torch threads {torch.get_num_threads()}  load {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    per_s, ms = rate(lambda: encode_array(m, frame), 50)
    print(f"encoder, batch 1, 1 thread: {per_s:6.1f} pictures/s ({ms:.2f} ms median) for a "
          f"640x480 frame, fit + encode")
    x = fit(m, frame)[None]
    per_s, ms = rate(lambda: encode_batch(m, x), 50)
    print(f"encoder, batch 1, 1 thread: {per_s:6.1f} pictures/s ({ms:.2f} ms median), network "
          f"alone")
    dec = Decoder(m.vae, backend="fp32", threads=1)
    plane = axes_plane(model_axes(m))
    t = time.perf_counter()
    decode_cells(dec.decode_batch, m.space, plane, 8, chunk=4)
    print(f"palette 8x8 on 1 thread: {time.perf_counter() - t:.2f} s "
          f"(single decode {dec.timings[0].ms:.1f} ms)")
    with tempfile.TemporaryDirectory() as d:
        video = str(clip(Path(d) / "clip.mp4"))
        print(f"GIL wait (switch interval {sys.getswitchinterval() * 1e3:g} ms):")
        for _ in range(a.reps):
            print(f"  worker off: {gil_wait()}")
            feed = CameraFeed(VideoFileSource(video), m, a.camera_fps).start()
            try:
                time.sleep(0.3)
                print(f"  worker on:  {gil_wait()}  ({a.camera_fps:g} fps)")
            finally:
                feed.close()
        print(f"live loop, 512x512, 60 fps cap, {a.seconds:g} s each; camera: a 640x480 "
              f"25 fps clip encoded at {a.camera_fps:g} fps:")
        for _ in range(a.reps):
            print(f"  camera off: {live(a.model, a.seconds, None, a.camera_fps)}")
            print(f"  camera on:  {live(a.model, a.seconds, video, a.camera_fps)}")


if __name__ == "__main__":
    main()
