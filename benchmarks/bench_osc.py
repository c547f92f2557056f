"""OSC ingest: rate, loss and latency of the receiver + translator vs python-osc's own server.

Another process plays TouchDesigner: it sends a burst of messages as fast as it can (ingest rate and
loss), then a paced stream with its send time in each message (latency). The latentsketch side is
``OscReceiver`` (own socket, 4 MiB buffer, parsing thread, queue) drained and translated by a 60 Hz
loop, as the app does; the naive baseline is python-osc's ``BlockingOSCUDPServer`` with a handler.
Run: ``python benchmarks/bench_osc.py [--burst 10000] [--rate 2000] [--seconds 1.5]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import threading
import time

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import BlockingOSCUDPServer

from latentsketch.control.osc import OscInput, OscReceiver, parse_datagram
from latentsketch.control.osc_addresses import OscTranslator

FRAME = 1 / 60


def _datagram(i: int, stamp: float) -> bytes:
    b = OscMessageBuilder(f"/latentsketch/z/{i % 8}")
    b.add_arg((i % 100) / 50 - 1.0, "f")
    b.add_arg(stamp, "d")  # the send time; stripped before translation (see _valid)
    return b.build().dgram


def _valid(m: OscInput) -> OscInput:
    """The message as a sender would send it: without the benchmark's time stamp."""
    return OscInput(m.address, m.args[:1], m.received, m.sender)


def _sender(port: int, burst: int, rate: float, seconds: float, go: mp.Event) -> None:
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    go.wait()
    if burst:
        grams = [_datagram(i, 0.0) for i in range(burst)]
        for g in grams:
            s.sendto(g, ("127.0.0.1", port))
        return
    n = int(rate * seconds)
    t0 = time.monotonic()
    for i in range(n):
        due = t0 + i / rate
        while (now := time.monotonic()) < due:
            time.sleep(min(0.0005, due - now))
        s.sendto(_datagram(i, time.monotonic()), ("127.0.0.1", port))


def _run_sender(port: int, burst: int = 0, rate: float = 0.0, seconds: float = 0.0):
    go = mp.Event()
    p = mp.Process(target=_sender, args=(port, burst, rate, seconds, go), daemon=True)
    p.start()
    return p, go


def ours(burst: int, rate: float, seconds: float) -> dict[str, float]:
    tr = OscTranslator(64)
    out: dict[str, float] = {}
    with OscReceiver("127.0.0.1", 0) as rx:
        # burst: how many arrive, and how fast the loop absorbs them
        p, go = _run_sender(rx.port, burst=burst)
        got, first, last, frames, max_frame_work = 0, None, None, 0, 0.0
        go.set()
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 0.5:
            t = time.monotonic()
            msgs = rx.drain()
            if msgs:
                first = first if first is not None else msgs[0].received
                for m in msgs:
                    tr.translate(_valid(m))
                got += len(msgs)
                last = time.monotonic()
                idle_since = last
                max_frame_work = max(max_frame_work, last - t)
            frames += 1
            time.sleep(max(0.0, FRAME - (time.monotonic() - t)))
        p.join()
        out["burst_received"] = got
        out["burst_rate"] = got / (last - first) if got and last > first else float("nan")
        out["burst_max_frame_ms"] = max_frame_work * 1e3
        # paced: latency from send to the receiver thread, and to the loop's dequeue
        p, go = _run_sender(rx.port, rate=rate, seconds=seconds)
        to_thread, to_loop = [], []
        go.set()
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 0.5:
            t = time.monotonic()
            msgs = rx.drain()
            for m in msgs:
                sent = m.args[1]
                to_thread.append(m.received - sent)
                to_loop.append(t - sent)
                tr.translate(_valid(m))
            if msgs:
                idle_since = time.monotonic()
            time.sleep(max(0.0, FRAME - (time.monotonic() - t)))
        p.join()
        out["paced_expected"] = int(rate * seconds)
        out["paced_received"] = len(to_loop)
        out["thread_median_ms"] = statistics.median(to_thread) * 1e3
        out["thread_p99_ms"] = _p99(to_thread) * 1e3
        out["loop_median_ms"] = statistics.median(to_loop) * 1e3
        out["loop_p99_ms"] = _p99(to_loop) * 1e3
    return out


def baseline(burst: int, rate: float, seconds: float) -> dict[str, float]:
    times: list[float] = []
    stamps: list[float] = []
    lock = threading.Lock()

    def handler(address: str, *args: object) -> None:
        with lock:
            times.append(time.monotonic())
            stamps.append(float(args[1]))  # type: ignore[arg-type]

    d = Dispatcher()
    d.set_default_handler(handler)
    server = BlockingOSCUDPServer(("127.0.0.1", 0), d)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    out: dict[str, float] = {}
    p, go = _run_sender(port, burst=burst)
    go.set()
    p.join()
    _wait_quiet(times)
    out["burst_received"] = len(times)
    out["burst_rate"] = len(times) / (times[-1] - times[0]) if len(times) > 1 else float("nan")
    times.clear()
    stamps.clear()
    p, go = _run_sender(port, rate=rate, seconds=seconds)
    go.set()
    p.join()
    _wait_quiet(times)
    lat = [t - s for t, s in zip(times, stamps, strict=True)]
    out["paced_received"] = len(lat)
    out["thread_median_ms"] = statistics.median(lat) * 1e3 if lat else float("nan")
    out["thread_p99_ms"] = _p99(lat) * 1e3 if lat else float("nan")
    server.shutdown()
    server.server_close()
    return out


def _wait_quiet(times: list[float], quiet: float = 0.3) -> None:
    n = -1
    while len(times) != n:
        n = len(times)
        time.sleep(quiet)


def _p99(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, int(0.99 * len(xs)))]


def parse_translate_rate(n: int = 20_000) -> float:
    """Messages/s the parsing + translation alone manage on one core (no sockets)."""
    grams = [_datagram(i, 0.0) for i in range(n)]
    tr = OscTranslator(64)
    t0 = time.perf_counter()
    for g in grams:
        for address, args in parse_datagram(g):
            tr.translate(OscInput(address, args[:1], 0.0))
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--burst", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=2_000.0)
    ap.add_argument("--seconds", type=float, default=1.5)
    a = ap.parse_args()
    mine = ours(a.burst, a.rate, a.seconds)
    base = baseline(a.burst, a.rate, a.seconds)
    pt = parse_translate_rate()
    lost = 100 * (1 - mine["burst_received"] / a.burst)
    base_lost = 100 * (1 - base["burst_received"] / a.burst)
    print(f"OSC ingest, {a.burst:,}-message burst from another process over 127.0.0.1")
    print(f"  latentsketch (OscReceiver + 60 Hz drain + OscTranslator): "
          f"{mine['burst_received']:,.0f}/{a.burst:,} received ({lost:.1f} % lost), "
          f"{mine['burst_rate']:,.0f} msg/s absorbed, longest frame of work "
          f"{mine['burst_max_frame_ms']:.1f} ms")
    print(f"  python-osc BlockingOSCUDPServer (naive baseline): "
          f"{base['burst_received']:,.0f}/{a.burst:,} received ({base_lost:.1f} % lost), "
          f"{base['burst_rate']:,.0f} msg/s")
    ratio = mine["burst_received"] / max(1, base["burst_received"])
    print(f"  messages delivered: {ratio:.2f}x the baseline")
    print(f"  parse + translate alone: {pt:,.0f} msg/s on one core "
          f"({1e6 / pt:.1f} us per message)")
    print(f"Latency, {a.rate:,.0f} msg/s for {a.seconds:g} s (send time inside each message)")
    print(f"  latentsketch send -> receiver thread: median {mine['thread_median_ms']:.2f} ms, "
          f"p99 {mine['thread_p99_ms']:.2f} ms "
          f"({mine['paced_received']}/{mine['paced_expected']} received)")
    print(f"  latentsketch send -> dequeued by the 60 Hz loop: median "
          f"{mine['loop_median_ms']:.2f} ms, p99 {mine['loop_p99_ms']:.2f} ms "
          f"(frame period {FRAME * 1e3:.1f} ms; target: median < 1 frame, p99 < 2)")
    print(f"  baseline send -> handler: median {base['thread_median_ms']:.2f} ms, "
          f"p99 {base['thread_p99_ms']:.2f} ms ({base['paced_received']:.0f} received)")


if __name__ == "__main__":
    main()
