"""A picture source steering the walk: its pictures encoded in a worker thread, their points
handed to the loop.

The worker reads the source (``control.sources``) at a set rate (``--camera-fps``), encodes
each picture with the model's encoder (``encoding.encode_array``: the mean of q(z|x)), and
puts the point, in standardised coordinates, into a one-place queue where the newest point
replaces one the loop has not taken yet: a slow loop never piles up stale points, and a slow
encoder never holds the loop up (the loop only ever takes what is there). The loop turns the
point into a ``FollowPoint`` command, which the engine glides to with the walk's usual glide
and the control log records: ``render --replay`` plays the show back without the camera.

Torch runs the encoder on the process's intra-op threads, one in the live window (its
decoder sets it so), and releases the GIL inside each operation, so the worker costs the
loop little more than a core it does not use (``benchmarks/bench_camera.py`` measures it).
A source that fails, at any time, is one message; the worker ends and the show goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from latentsketch import commands as C
from latentsketch.control.sources import FrameSource, SourceError, open_source
from latentsketch.encoding import encode_array
from latentsketch.model.checkpoint import LoadedModel
from latentsketch.workers import lower_priority

log = logging.getLogger("latentsketch")

FPS = 10.0
FPS_RANGE = (0.1, 60.0)
IDLE = 0.005      # seconds between polls of a source that has no new picture yet


@dataclass(frozen=True)
class FeedStats:
    """What the worker did so far: points encoded, points the loop never took (replaced by
    newer ones), and the median encode time (picture -> point) in ms."""

    encoded: int
    replaced: int
    encode_ms: float


class CameraFeed:
    """Encode ``source``'s pictures at ``fps`` in a worker thread; ``poll`` once a frame.

    Args:
        source: where the pictures come from (closed by ``close``).
        model: the running model (its encoder and latent space).
        fps: pictures encoded per second at most (``FPS_RANGE``).
    """

    def __init__(self, source: FrameSource, model: LoadedModel, fps: float = FPS) -> None:
        lo, hi = FPS_RANGE
        if not lo <= fps <= hi:
            raise ValueError(f"--camera-fps {fps:g} is out of range {lo:g}..{hi:g}")
        self.source = source
        self.model = model
        self.fps = fps
        self._points: queue.Queue[np.ndarray] = queue.Queue(maxsize=1)
        self._messages: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latentsketch-camera",
                                        daemon=True)
        self._ms: list[float] = []
        self._encoded = 0
        self._replaced = 0
        self._closed = False

    def start(self) -> CameraFeed:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        lower_priority()
        period = 1.0 / self.fps
        due = time.monotonic()
        while not self._stop.is_set():
            try:
                picture = self.source.read()
            except SourceError as e:
                self._pass_notes()
                self._messages.put(f"{e}; playing on without it")
                return
            except Exception as e:  # noqa: BLE001 - a source's bug must not end the show
                self._messages.put(f"{self.source.name} failed ({type(e).__name__}: {e}); "
                                   f"playing on without it")
                return
            self._pass_notes()
            if picture is None:          # nothing new yet: ask again soon
                self._stop.wait(IDLE)
                continue
            try:
                self._put(self._encode(picture))
            except ValueError as e:      # a picture of an odd shape: skip it, say it once
                self._messages.put(f"{self.source.name}: picture skipped ({e})")
            due += period
            wait = due - time.monotonic()
            if wait < 0:                 # encoding is slower than asked: no catching up
                due = time.monotonic()
            else:
                self._stop.wait(wait)

    def _pass_notes(self) -> None:
        """What the source skipped (``FrameSource.notes``), said once each."""
        notes = getattr(self.source, "notes", None)
        while notes:
            self._messages.put(notes.pop(0))

    def _encode(self, picture: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        z = encode_array(self.model, picture, self.source.name).z
        self._ms.append((time.perf_counter() - t0) * 1e3)
        del self._ms[:-200]
        u = self.model.space.to_u(z).astype(np.float64)
        if not np.all(np.isfinite(u)):
            raise ValueError("the encoder gave a non-finite point")
        self._encoded += 1
        return u

    def _put(self, u: np.ndarray) -> None:
        """Newest wins: replace a point the loop has not taken yet."""
        while True:
            try:
                self._points.put_nowait(u)
                return
            except queue.Full:
                try:
                    self._points.get_nowait()
                    self._replaced += 1
                except queue.Empty:
                    pass

    def poll(self) -> tuple[list[C.Command], list[str]]:
        """The newest point as a ``FollowPoint`` (or none), and messages to show."""
        messages: list[str] = []
        while True:
            try:
                messages.append(self._messages.get_nowait())
            except queue.Empty:
                break
        try:
            u = self._points.get_nowait()
        except queue.Empty:
            return [], messages
        return [C.FollowPoint(tuple(float(v) for v in u))], messages

    def stats(self) -> FeedStats:
        ms = float(np.median(self._ms)) if self._ms else float("nan")
        return FeedStats(self._encoded, self._replaced, ms)

    def close(self) -> None:
        """Stop the worker (after the picture being encoded) and close the source; safe
        twice."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._closed:
            return
        self._closed = True
        try:
            self.source.close()
        except Exception as e:  # noqa: BLE001 - closing must not fail a shutdown
            log.warning("%s: not closed cleanly (%s)", self.source.name, e)


def open_feed(spec: str, model: LoadedModel, fps: float = FPS) -> CameraFeed:
    """``--camera SPEC`` (``sources.open_source``) encoded at ``fps``, started. SourceError
    (one line) if the source cannot be opened; ValueError for ``fps`` out of range."""
    lo, hi = FPS_RANGE
    if not lo <= fps <= hi:
        raise ValueError(f"--camera-fps {fps:g} is out of range {lo:g}..{hi:g}")
    return CameraFeed(open_source(spec), model, fps).start()

