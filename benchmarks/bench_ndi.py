"""NDI out: what sending the clean picture costs the live loop at 1024x1024, 60 fps.

Prints, on the bundled model (or ``--model``), for the live loop headless (SDL dummy) in a
1024x1024 window capped at 60 fps, with ``--ndi`` (picture 1024x1024) and without, alternating
``--reps`` times: the loop's own work per frame (median, p99), the frame time (median, p99),
frames over 20 ms, and with NDI the frames sent and the frames the sender skipped (newest
frame wins). With NDI on, a cyndilib receiver in the same process pulls the stream, so the
sender really compresses and sends, and the receiver's decoding competes for the same cores
(``--no-receiver``: as when the receiver is another machine). First, the sender thread's own
cost per 1024x1024 frame: RGB -> RGBA and the NDI send (compression), wall and CPU time. The
load average is printed with each line: on a 2-core machine busy with other work, the NDI
thread's CPU time is taken from the loop.

Run: ``python benchmarks/bench_ndi.py [--model M] [--seconds 5] [--reps 2] [--no-receiver]`` (needs
``pip install "latentsketch[ndi]"``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from latentsketch.app import App, AppOptions  # noqa: E402

SIZE = (1024, 1024)


def pct(a: list[float], q: float) -> float:
    return 1e3 * float(np.percentile(np.asarray(a), q))


def receive(name: str, stop: threading.Event, got: list[int]) -> None:
    """A local cyndilib receiver pulling source ``name`` until ``stop``."""
    from cyndilib.finder import Finder
    from cyndilib.receiver import ReceiveFrameType, Receiver
    from cyndilib.video_frame import VideoRecvFrame
    from cyndilib.wrapper.ndi_recv import RecvBandwidth, RecvColorFormat

    finder = Finder()
    finder.open()
    source = None
    while source is None and not stop.is_set():
        finder.wait_for_sources(0.2)
        full = next((n for n in finder.get_source_names() if n.endswith(f"({name})")), None)
        source = finder.get_source(full) if full else None
    if source is None:
        finder.close()
        return
    r = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
    frame = VideoRecvFrame()
    r.set_video_frame(frame)
    r.connect_to(source)
    while not stop.is_set():
        if r.receive(ReceiveFrameType.recv_video, 100) & ReceiveFrameType.recv_video:
            got[0] += 1
    r.disconnect()
    finder.close()


def sink_cost(n: int = 30) -> str:
    """Median wall and process CPU ms of ``NdiSink.write`` on a 1024x1024 picture, and of the
    RGB -> RGBA conversion inside it."""
    from latentsketch.output.ndi_out import NdiSink
    from latentsketch.output.video_out import rgba

    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    frame[..., 0] = np.linspace(0, 255, SIZE[0], dtype=np.uint8)[None, :]
    frame[..., 1] = np.linspace(0, 255, SIZE[1], dtype=np.uint8)[:, None]
    sink = NdiSink(f"bench-sink-{os.getpid()}")
    wall, cpu, conv, buf = [], [], [], None
    try:
        for _ in range(n):
            c, w = time.process_time(), time.perf_counter()
            sink.write(frame)
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
            w = time.perf_counter()
            buf = rgba(frame, buf)
            conv.append(time.perf_counter() - w)
    finally:
        sink.close()
    return (f"sender thread per frame: write {pct(wall, 50):.1f} ms wall, {pct(cpu, 50):.1f} ms "
            f"CPU; of which RGB->RGBA {pct(conv, 50):.1f} ms  [load {os.getloadavg()[0]:.1f}]")


def live(model: str | None, seconds: float, ndi: bool, receiver: bool) -> str:
    name = f"bench-{os.getpid()}"
    app = App(AppOptions(model=model, seed=1, fps=60.0, size=SIZE, osc=False, midi=False,
                         out_dir=tempfile.mkdtemp(),
                         video_out=(("ndi", name),) if ndi else (), video_out_size=SIZE))
    stop, got = threading.Event(), [0]
    rx = threading.Thread(target=receive, args=(name, stop, got), daemon=True)
    if ndi and receiver:
        rx.start()
    try:
        for _ in range(60):                     # warm up decoder, window and receiver
            app.frame_step()
            app._dt = app.display.wait()
        frames, work = [], []
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
        st = app.video_outs.outs[0].status() if app.video_outs else None
    finally:
        stop.set()
        app.close()
        if rx.is_alive():
            rx.join(2.0)
    over = sum(f > 0.020 for f in frames)
    line = (f"{'NDI on ' if ndi else 'NDI off'}: loop work median {pct(work, 50):5.2f} ms  p99 "
            f"{pct(work, 99):5.2f} ms; frame median {pct(frames, 50):5.2f} ms  p99 "
            f"{pct(frames, 99):5.2f} ms  over 20 ms {over:3d}/{len(frames)}")
    if st is not None:
        line += f"; sent {st.sent}, skipped {st.replaced}, received {got[0]}"
    return line + f"  [load {os.getloadavg()[0]:.1f}]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-receiver", action="store_true",
                    help="no local receiver (as when the receiver is another machine)")
    a = ap.parse_args(argv)
    try:
        import cyndilib  # noqa: F401
    except ImportError:
        print('needs cyndilib: pip install "latentsketch[ndi]"', file=sys.stderr)
        return 2
    cfg = tempfile.mkdtemp()   # find the source on this machine even without multicast
    with open(os.path.join(cfg, "ndi-config.v1.json"), "w") as f:
        json.dump({"ndi": {"networks": {"ips": "127.0.0.1"}}}, f)
    os.environ.setdefault("NDI_CONFIG_DIR", cfg)
    torch.set_num_threads(1)
    print(sink_cost(), flush=True)
    print(f"live loop {SIZE[0]}x{SIZE[1]} at a 60 fps cap, {a.seconds:g} s each, "
          f"{os.cpu_count()} cores")
    for _ in range(a.reps):
        for ndi in (False, True):
            print(live(a.model, a.seconds, ndi, not a.no_receiver), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
