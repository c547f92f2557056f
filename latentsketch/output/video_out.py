"""Video out to other programs (NDI, Syphon, Spout): the clean picture, newest frame wins.

The loop renders the picture without the HUD once a frame and hands it to ``VideoOut.send``,
which only swaps a reference: a sender thread takes the newest frame and publishes it, so a slow
receiver or a stalled network never stalls the loop (frames it could not take in time are
replaced and counted, not queued). Each protocol is a small ``Sink`` (``output/ndi_out.py``,
``output/syphon_out.py``, ``output/spout_out.py``) that opens in the sender thread (Spout and Syphon
want their GPU context on the thread that uses it) and writes RGB frames. A sink whose library
is missing or fails raises ``VideoOutUnavailable`` with one line, and the show goes on without it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from latentsketch.errors import UserError
from latentsketch.workers import lower_priority

log = logging.getLogger("latentsketch.video_out")

OPEN_TIMEOUT = 10.0   # s a sink may take to open (the NDI runtime loads once)


class VideoOutUnavailable(UserError):
    """A video out that cannot run here (library missing, wrong OS, runtime failing)."""


class Sink(Protocol):
    """One protocol's sender, used from the sender thread only."""

    def write(self, frame: np.ndarray) -> None:
        """Publish ``frame`` (uint8 HxWx3 RGB, C-contiguous); raises on failure."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class VideoOutStatus:
    """What the sender did: frames published, frames replaced before it took them, and the
    error that stopped it (None while fine)."""

    sent: int
    replaced: int
    error: str | None


class VideoOut:
    """A sender thread around a ``Sink``: ``send`` from the loop, ``close`` at the end.

    Args:
        name: what the show calls it in messages (``NDI 'latentsketch'``).
        open_sink: builds the sink, in the sender thread; raises VideoOutUnavailable (or any
            error, reported as one line) when it cannot.
    """

    def __init__(self, name: str, open_sink: Callable[[], Sink]) -> None:
        self.name = name
        self._open_sink = open_sink
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._stop = False
        self._opened = threading.Event()
        self._sent = 0
        self._replaced = 0
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"latentsketch-{name}",
                                        daemon=True)

    def start(self, timeout: float = OPEN_TIMEOUT) -> VideoOut:
        """Start the thread and wait until the sink is open; VideoOutUnavailable if it
        could not open (the thread has ended then)."""
        self._thread.start()
        if not self._opened.wait(timeout):
            self.close(0.0)
            raise VideoOutUnavailable(f"{self.name}: did not open within {timeout:g} s")
        if self._error is not None:
            self._thread.join(1.0)
            raise VideoOutUnavailable(self._error)
        return self

    def send(self, frame: np.ndarray) -> None:
        """Offer the newest frame (uint8 HxWx3; the sender keeps the reference, so pass a
        frame nobody writes to afterwards). Never blocks on the receiver."""
        with self._cond:
            if self._frame is not None:
                self._replaced += 1
            self._frame = frame
            self._cond.notify()

    def status(self) -> VideoOutStatus:
        with self._cond:
            return VideoOutStatus(self._sent, self._replaced, self._error)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread (it closes the sink); safe to call twice."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        lower_priority()
        try:
            sink = self._open_sink()
        except Exception as e:  # noqa: BLE001 - any library failure is one line
            self._error = e.args[0] if isinstance(e, VideoOutUnavailable) else \
                f"{self.name}: cannot open ({type(e).__name__}: {e})"
            self._opened.set()
            return
        self._opened.set()
        try:
            while True:
                with self._cond:
                    while self._frame is None and not self._stop:
                        self._cond.wait()
                    if self._stop:
                        return
                    frame, self._frame = self._frame, None
                sink.write(np.ascontiguousarray(frame))
                with self._cond:
                    self._sent += 1
        except Exception as e:  # noqa: BLE001 - a sender failing must not take the show down
            with self._cond:
                self._error = f"{self.name}: stopped sending ({type(e).__name__}: {e})"
        finally:
            try:
                sink.close()
            except Exception as e:  # noqa: BLE001
                log.debug("closing %s: %s", self.name, e)


def rgba(frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> RGBA (H, W, 4), opaque; reuses ``out`` when it has the shape."""
    h, w = frame.shape[:2]
    if out is None or out.shape != (h, w, 4):
        out = np.empty((h, w, 4), np.uint8)
        out[..., 3] = 255
    out[..., :3] = frame
    return out


def wait_sent(out: VideoOut, count: int, timeout: float) -> bool:
    """Wait until ``out`` has sent ``count`` frames (tests, benchmarks); False on timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if out.status().sent >= count:
            return True
        time.sleep(0.005)
    return False


KINDS = ("ndi", "syphon", "spout")


def open_sink(kind: str, name: str) -> Sink:
    """The sink of ``kind`` (``KINDS``) named ``name``; VideoOutUnavailable when it cannot
    run here. Imported on demand: each library is an optional extra."""
    if kind == "ndi":
        from latentsketch.output.ndi_out import NdiSink
        return NdiSink(name)
    if kind == "syphon":
        from latentsketch.output.syphon_out import SyphonSink
        return SyphonSink(name)
    if kind == "spout":
        from latentsketch.output.spout_out import SpoutSink
        return SpoutSink(name)
    raise VideoOutUnavailable(f"video out {kind!r} is not one of {', '.join(KINDS)}")


class VideoOuts:
    """The session's video outs: opened at start (one that cannot is one line, and the show
    goes on), fed the clean picture each frame, dropped with one line if they fail."""

    def __init__(self, requests: tuple[tuple[str, str], ...],
                 say: Callable[..., None]) -> None:
        self.say = say
        self.outs: list[VideoOut] = []
        for kind, name in requests:
            label = f"{kind.upper() if kind == 'ndi' else kind.title()} {name!r}"
            try:
                out = VideoOut(label, lambda k=kind, n=name: open_sink(k, n)).start()
            except VideoOutUnavailable as e:
                say(f"{e}; playing on without it", error=True)
                continue
            self.outs.append(out)
            say(f"sending the picture as {label}")

    def __bool__(self) -> bool:
        return bool(self.outs)

    def send(self, frame: np.ndarray) -> None:
        """Offer ``frame`` (new, uint8 HxWx3) to every out; report and drop a failed one."""
        for out in list(self.outs):
            st = out.status()
            if st.error is not None or not out.alive:
                self.say(f"{st.error or out.name + ': stopped'}; playing on without it",
                         error=True)
                out.close(0.0)
                self.outs.remove(out)
                continue
            out.send(frame)

    def close(self) -> None:
        for out in self.outs:
            out.close()
        self.outs = []
