"""Live recording: an encoder thread behind a bounded queue, so the render loop never waits.

The loop owns a ``Recorder`` and calls it from its own thread only::

    recorder = Recorder()
    recorder.start(out.reserve(".mp4"), 1024, 1024, fps=60)
    ...every frame:  recorder.submit(frame, t)       # returns at once, never raises
    ...HUD:          status = recorder.status()      # immutable snapshot, any thread
    ...on quit:      recorder.stop()                 # drain, close, remux; idempotent

``with Recorder() as recorder:`` (or ``try/finally: recorder.stop()``) in the app's main
function finalises on quit, Esc, window close and Ctrl-C alike; there is no atexit magic.

Defined behaviour when the encoder falls behind: the queue holds at most ``queue_bytes`` of
frames; a frame submitted while it is full is dropped and counted in ``frames_dropped``.
When writing fails (disk full, folder gone, encoder error) the thread stops recording, keeps
what is on disk, and puts one line in ``status().error``; the render loop never sees an
exception. The default writer is crash-safe MP4 (``video.H264Writer``): after a SIGKILL the
file plays up to its last fragment (half a second by default).

When a recording ends, ``frames_written`` is what the file holds (counted in the file after a
failure: a full disk loses the fragment being written), and a recording that holds no frame
is removed rather than left as an empty file.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path

import numpy as np

from latentsketch.output.geometry import fit_geometry
from latentsketch.output.paths import describe_os_error, discard
from latentsketch.output.video import FrameWriter, H264Writer, as_fps

WriterFactory = Callable[..., FrameWriter]   # (path, width, height, fps[, audio=]) -> writer

_POLL_SECONDS = 0.05
AUDIO_BLOCKS = 1024   # sound blocks queued at most (~10 s of 512-sample blocks at 48 kHz)


class RecorderState(StrEnum):
    IDLE = "idle"  # not recording; the last recording (if any) finished cleanly
    RECORDING = "recording"
    STOPPING = "stopping"  # draining the queue and finalising the file
    FAILED = "failed"  # writing failed; ``error`` says why, the file keeps what was written


@dataclass(frozen=True)
class RecorderStatus:
    """What the HUD shows; counters belong to the current (or last) recording."""

    state: RecorderState
    path: Path | None
    frames_written: int
    frames_dropped: int
    frames_queued: int
    elapsed: float
    error: str | None

    @property
    def recording(self) -> bool:
        return self.state is RecorderState.RECORDING


class _Take:
    """One take (one recording, named apart from ``output/session.py``'s session outputs): its
    queue, thread and counters, so a finishing take never mixes with the next."""

    def __init__(self, path: Path, width: int, height: int, fps: float | Fraction,
                 maxsize: int, audio: tuple[int, int] | None = None) -> None:
        self.path, self.width, self.height, self.fps = path, width, height, fps
        self.queue: queue.Queue[tuple[np.ndarray, float]] = queue.Queue(maxsize)
        self.audio = audio     # (rate, channels) of the sound recorded beside, or None
        self.sound: queue.Queue[np.ndarray] = queue.Queue(AUDIO_BLOCKS)
        self.sound_dropped = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.state = RecorderState.RECORDING
        self.written = 0
        self.dropped = 0
        self.error: str | None = None
        self.started = time.monotonic()
        self.ended: float | None = None
        self.thread: threading.Thread | None = None

    def finish(self, state: RecorderState, error: str | None) -> None:
        with self.lock:
            self.state, self.error = state, error
            if self.ended is None:
                self.ended = time.monotonic()


class Recorder:
    """Records frames to a video file from a thread of its own, and optionally the sound
    heard meanwhile (``start(..., audio=...)``, ``submit_audio``).

    Args:
        preset, crf, fragment_seconds: for the default crash-safe H.264 writer.
        queue_bytes: most memory queued frames may hold; sets the queue length per size
            (128 MiB is 42 frames at 1024x1024, about 0.7 s at 60 fps).
        max_queue_frames: upper bound on the queue length for small frames.
        writer_factory: ``(path, width, height, fps) -> FrameWriter`` to record another
            format (``video.open_writer`` picks by extension).
    """

    def __init__(self, *, preset: str = "ultrafast", crf: int = 20,
                 fragment_seconds: float = 0.5, queue_bytes: int = 128 * 2**20,
                 max_queue_frames: int = 120, writer_factory: WriterFactory | None = None
                 ) -> None:
        self.queue_bytes = queue_bytes
        self.max_queue_frames = max_queue_frames
        self._factory: WriterFactory = writer_factory or (
            lambda path, w, h, fps, **sound: H264Writer(
                path, w, h, fps, preset=preset, crf=crf, crash_safe=True,
                fragment_seconds=fragment_seconds, **sound))
        self._take: _Take | None = None

    def start(self, path: str | os.PathLike[str], width: int, height: int,
              fps: float | Fraction, audio: tuple[int, int] | None = None) -> bool:
        """Begin recording ``width`` x ``height`` frames to ``path``; False if already on.
        ``audio`` (sample rate, channels) adds a sound stream fed by ``submit_audio``.

        Never raises: the file is opened in the recording thread, and a failure shows up as
        ``status().state == FAILED`` a moment later. If the previous recording is still
        finalising, this waits for it first.
        """
        current = self._take
        if current is not None:
            if current.state is RecorderState.RECORDING:
                return False
            if current.thread is not None:
                current.thread.join()
        frame_bytes = max(1, int(width) * int(height) * 3)
        maxsize = min(self.max_queue_frames, max(2, self.queue_bytes // frame_bytes))
        take = _Take(Path(path), int(width), int(height), fps, maxsize, audio)
        take.thread = threading.Thread(target=self._run, args=(take,),
                                          name="latentsketch-recorder", daemon=True)
        self._take = take
        take.thread.start()
        return True

    def submit(self, frame: np.ndarray, t: float | None = None, *, copy: bool = True) -> bool:
        """Queue one frame shown at time ``t`` (seconds, any monotonic clock; default now).

        Returns at once. True if queued; False if not recording or the queue was full (the
        frame is dropped and counted). A uint8 RGB frame of another size (the window changed)
        is letterboxed into the recording's size: a recording keeps its size for its life;
        any other kind of frame is a caller's bug that ends the recording with one line.
        ``copy=False`` skips the copy when the caller hands over a fresh array it will not
        touch again.
        """
        take = self._take
        if take is None or take.state is not RecorderState.RECORDING:
            return False
        if take.queue.full():
            with take.lock:
                take.dropped += 1
            return False
        if (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3
                and frame.shape[2] == 3 and frame.shape[:2] != (take.height, take.width)):
            frame, copy = fit_frame(frame, take.width, take.height), False
        item = np.array(frame, copy=True) if copy else frame
        try:
            take.queue.put_nowait((item, time.monotonic() if t is None else float(t)))
        except queue.Full:
            with take.lock:
                take.dropped += 1
            return False
        return True

    def submit_audio(self, block: np.ndarray, rate: int) -> bool:
        """Queue a block of sound (n, channels) float32 for the recording's sound stream; any
        thread (the audio worker's tap), returns at once. False when not recording sound at
        ``rate`` or the queue is full (the block is dropped and counted)."""
        take = self._take
        if (take is None or take.audio is None or take.audio[0] != rate
                or take.state is not RecorderState.RECORDING):
            return False
        try:
            take.sound.put_nowait(block)
        except queue.Full:
            take.sound_dropped += 1
            return False
        return True

    def stop(self, wait: bool = True, timeout: float | None = None) -> RecorderStatus:
        """Finish the recording: write what is queued, close and finalise the file.

        Idempotent and safe in any state. ``wait=False`` returns at once while the thread
        finalises (state STOPPING); call ``stop()`` again, or ``start()``, to wait for it.
        """
        take = self._take
        if take is not None:
            with take.lock:
                if take.state is RecorderState.RECORDING:
                    take.state = RecorderState.STOPPING
            take.stop.set()
            if wait and take.thread is not None:
                take.thread.join(timeout)
        return self.status()

    def status(self) -> RecorderStatus:
        """An immutable snapshot of the current or last recording (for the HUD)."""
        take = self._take
        if take is None:
            return RecorderStatus(RecorderState.IDLE, None, 0, 0, 0, 0.0, None)
        with take.lock:
            end = take.ended if take.ended is not None else time.monotonic()
            return RecorderStatus(take.state, take.path, take.written,
                                  take.dropped, take.queue.qsize(),
                                  end - take.started, take.error)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, take: _Take) -> None:
        try:
            sound = {"audio": take.audio} if take.audio is not None else {}
            writer = self._factory(take.path, take.width, take.height,
                                   as_fps(take.fps), **sound)
        except Exception as e:  # any failure to open becomes a status line, never a crash
            discard(take.path)  # the reserved name: no empty file is left behind
            take.finish(RecorderState.FAILED, _one_line("recording not started", e))
            return
        while True:
            try:
                frame, t = take.queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if take.stop.is_set():
                    break
                continue
            try:
                _write_sound(take, writer)
                writer.write(frame, t)
            except Exception as e:  # disk full, encoder error, wrong frame shape
                writer.abort()
                kept = _settle(take, writer)
                take.finish(RecorderState.FAILED, _one_line(
                    f"recording stopped after {kept} frames{_gone(kept)}", e))
                _drain(take.queue)
                return
            with take.lock:
                take.written += 1
        try:
            _write_sound(take, writer)
            writer.close()
        except Exception as e:
            writer.abort()
            kept = _settle(take, writer)
            take.finish(RecorderState.FAILED, _one_line(
                f"could not finish {take.path} ({kept} frames kept{_gone(kept)})", e))
            return
        _settle(take, writer)
        take.finish(RecorderState.IDLE, getattr(writer, "remux_error", None))


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """A uint8 HxWx3 ``frame`` scaled to fit ``width`` x ``height`` with black bars,
    nearest-neighbour: a cheap rescue for a frame whose size changed under a running
    recording, never its normal path. A new array."""
    out = np.zeros((height, width, 3), np.uint8)
    _, (x, y, w, h) = fit_geometry((frame.shape[1], frame.shape[0]), (width, height), "fit")
    if w and h and frame.shape[0] and frame.shape[1]:
        rows = np.arange(h) * frame.shape[0] // h
        cols = np.arange(w) * frame.shape[1] // w
        out[y:y + h, x:x + w] = frame[rows[:, None], cols[None, :]]
    return out


def _write_sound(take: _Take, writer: FrameWriter) -> None:
    """Write the sound queued so far (a writer without a sound stream drops it)."""
    write = getattr(writer, "write_audio", None)
    while True:
        try:
            block = take.sound.get_nowait()
        except queue.Empty:
            return
        if write is not None and take.audio is not None:
            write(block)


def _settle(take: _Take, writer: FrameWriter) -> int:
    """Set the frame count to what the finished file holds; remove a file that holds none."""
    try:
        kept = writer.frames_on_disk()
    except Exception:  # counting is a courtesy: fall back to what was handed over
        kept = take.written
    with take.lock:
        take.written = kept
    if kept == 0:
        discard(take.path)
    return kept


def _gone(kept: int) -> str:
    return " (nothing recorded: the file was removed)" if kept == 0 else ""


def _one_line(context: str, err: BaseException) -> str:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else describe_os_error(err)
    return f"{context}: {reason}"


def _drain(q: queue.Queue[tuple[np.ndarray, float]]) -> None:
    """Free the memory of frames that will not be written."""
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return
