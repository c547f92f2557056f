"""The live loop end to end, headless (SDL dummy driver), on the bundled model.

Prints, in one run:
- decode latency (median, p99) of the live Decoder, and the machine's matmul GFLOP/s; the loop
  runs on the engine measured fastest for the model here (built first if the cache is cold);
- for 512x512 and 1024x1024 windows, capped at 60 fps and unthrottled: median and p99 frame
  time, achieved fps, frames over 33 ms, and CPU cores used (process CPU time / wall time);
- the same for a naive loop (eager fp32 decode under no_grad with default threads,
  surfarray.make_surface + transform.smoothscale each frame, no warm-up), with the ratio;
- the loop with recording on vs off (issue 5: recording should cost < 10 % of frame time);
- OSC absorbed by the running loop: a sender thread floods /latentsketch/z/0 at a given rate on
  127.0.0.1 while the loop runs at 60 fps; prints messages applied per second, frames over
  33 ms, and message-to-frame latency (send -> the frame whose state applied it), median/p99.

Run: ``python benchmarks/bench_live.py [--model PATH] [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import torch  # noqa: E402
from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: E402

from latentsketch import commands as C  # noqa: E402
from latentsketch.app import App, AppOptions  # noqa: E402
from latentsketch.model import checkpoint  # noqa: E402


def stats(ts: list[float]) -> str:
    a = np.asarray(ts[10:] if len(ts) > 20 else ts) * 1e3  # after warm-up
    return (f"median {np.median(a):6.2f} ms  p99 {np.percentile(a, 99):6.2f} ms  "
            f"over 33 ms {int((a > 33.4).sum()):3d}/{len(a)}")


def run_app(model: str | None, size: int, fps: float, seconds: float, record: bool = False,
            osc_port: int | None = None, work: list[float] | None = None
            ) -> tuple[list[float], float, App]:
    out = tempfile.mkdtemp()
    app = App(AppOptions(model=model, seed=1, fps=fps, size=(size, size), osc=osc_port is not None,
                         osc_port=osc_port or 9000, midi=False, out_dir=out, engines=True))
    settle = time.perf_counter() + 900   # as the product plays: on the engine measured fastest
    while app.upgrade is not None and app.upgrade.state in ("building", "loading") \
            and time.perf_counter() < settle:
        app.frame_step()
        app._dt = app.display.wait() if fps else 1 / 60
    if record:
        app._apply_app(C.Record(True))
    frame_times: list[float] = []
    t_end = time.perf_counter() + seconds
    c0, w0 = time.process_time(), time.perf_counter()
    last = w0
    while time.perf_counter() < t_end:
        w = time.perf_counter()
        app.frame_step()
        if work is not None:
            work.append(time.perf_counter() - w)
        app._dt = app.display.wait() if fps else (time.perf_counter() - last)
        now = time.perf_counter()
        frame_times.append(now - last)
        last = now
    cores = (time.process_time() - c0) / (time.perf_counter() - w0)
    return frame_times, cores, app


def naive_loop(model: str | None, size: int, seconds: float) -> tuple[list[float], float]:
    torch.set_num_threads(os.cpu_count() or 2)
    m = checkpoint.load(model)
    pygame.display.init()
    screen = pygame.display.set_mode((size, size))
    rng = np.random.default_rng(0)
    z = np.zeros(m.space.dim, np.float32)
    ts: list[float] = []
    t_end = time.perf_counter() + seconds
    c0, w0 = time.process_time(), time.perf_counter()
    last = w0
    while time.perf_counter() < t_end:
        z = 0.98 * z + 0.1 * rng.standard_normal(m.space.dim).astype(np.float32)
        with torch.no_grad():
            x = m.vae.decode(torch.from_numpy(z)[None])[0]
        arr = (x.permute(2, 1, 0).numpy() * 255).astype(np.uint8)  # (W, H, 3) for surfarray
        surf = pygame.surfarray.make_surface(arr)
        screen.blit(pygame.transform.smoothscale(surf, (size, size)), (0, 0))
        pygame.display.flip()
        pygame.event.pump()
        now = time.perf_counter()
        ts.append(now - last)
        last = now
    cores = (time.process_time() - c0) / (time.perf_counter() - w0)
    pygame.display.quit()
    return ts, cores


def osc_flood(model: str | None, rate: float, seconds: float) -> None:
    port = _free_port()
    sent: list[tuple[float, float]] = []   # (value, send time)
    stop = threading.Event()

    def sender() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        i, t0 = 0, time.perf_counter()
        while not stop.is_set():
            due = t0 + i / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(min(due - now, 0.002))
                continue
            v = float(np.float32(1.0 + (i % 100_000) / 100_000))  # unique, as sent (float32)
            b = OscMessageBuilder("/latentsketch/z/0")
            b.add_arg(v, "f")
            sock.sendto(b.build().dgram, ("127.0.0.1", port))
            sent.append((v, time.perf_counter()))
            i += 1
        sock.close()

    app = App(AppOptions(model=model, seed=1, fps=60, size=(512, 512), osc=True, osc_port=port,
                         midi=False, out_dir=tempfile.mkdtemp()))
    th = threading.Thread(target=sender, daemon=True)
    lat: list[float] = []
    frames: list[float] = []
    applied0 = 0
    t_end = time.perf_counter() + seconds
    th.start()
    last = time.perf_counter()
    while time.perf_counter() < t_end:
        app.frame_step()
        now = time.perf_counter()
        # the receiver reads an f argument as its shortest decimal: compare as float32
        pin = float(np.float32(app.state.pin[app.space.raw_index(0)]))
        for v, ts in reversed(sent[-2000:]):
            if v == pin:
                lat.append(now - ts)
                break
        app._dt = app.display.wait()
        frames.append(time.perf_counter() - last)
        last = time.perf_counter()
    stop.set()
    th.join()
    applied = app.osc.messages - applied0 if app.osc else 0
    app.close()
    a = np.asarray(lat) * 1e3
    print(f"  OSC {rate:6.0f} msg/s: {applied / seconds:8.0f} msg/s received+applied, frames "
          f"{stats(frames)}; message->frame latency median {np.median(a):5.1f} ms "
          f"p99 {np.percentile(a, 99):5.1f} ms")


def _free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    m = checkpoint.load(a.model)
    print(f"model {m.model_id}  latent {m.space.dim}  {m.cfg.image_size}px")
    n = 2048
    x = torch.randn(n, n)
    torch.set_num_threads(1)
    t = time.perf_counter()
    for _ in range(5):
        x @ x
    print(f"matmul fp32 1 thread: {2 * n**3 * 5 / (time.perf_counter() - t) / 1e9:.0f} GFLOP/s")

    for size in (512, 1024):
        for fps in (60.0, 0.0):
            ts, cores, app = run_app(a.model, size, fps, a.seconds)
            dec = app.decoder
            app.close()
            label = f"{size}x{size} {'60 fps cap' if fps else 'unthrottled'}"
            print(f"{label:>26}: {stats(ts)}  {1 / np.median(ts[10:] or ts):6.1f} fps  "
                  f"{cores:.2f} cores  (decoder {dec.engine})")
        ts, cores = naive_loop(a.model, size, a.seconds)
        print(f"{f'{size}x{size} naive unthrottled':>26}: {stats(ts)}  "
              f"{1 / np.median(ts[10:] or ts):6.1f} fps  {cores:.2f} cores")
    for size in (512, 1024):
        off, _, app = run_app(a.model, size, 0.0, a.seconds)
        app.close()
        on, _, app = run_app(a.model, size, 0.0, a.seconds, record=True)
        st = app.outputs.status()
        app.close()
        mo, mn = np.median(off[10:] or off), np.median(on[10:] or on)
        print(f"recording {size}x{size} unthrottled: off {1 / mo:6.1f} fps, on {1 / mn:6.1f} fps "
              f"(+{100 * (mn - mo) / mo:4.1f} % frame time), dropped {st.frames_dropped}")
        w_off: list[float] = []
        w_on: list[float] = []
        _, _, app = run_app(a.model, size, 60.0, a.seconds, work=w_off)
        app.close()
        on60, _, app = run_app(a.model, size, 60.0, a.seconds, record=True, work=w_on)
        st = app.outputs.status()
        app.close()
        extra = np.median(w_on[10:]) - np.median(w_off[10:])
        print(f"recording {size}x{size} at 60 fps: {stats(on60)}, written "
              f"{st.frames_written}, dropped {st.frames_dropped}; loop work per frame "
              f"{1e3 * np.median(w_off[10:]):.2f} -> {1e3 * np.median(w_on[10:]):.2f} ms "
              f"(+{100 * extra * 60:.1f} % of the 16.7 ms frame)")
    for rate in (1000, 5000, 10000):
        osc_flood(a.model, rate, a.seconds)


if __name__ == "__main__":
    main()
