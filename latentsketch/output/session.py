"""What leaves the live loop besides the window: the recording, its control log, snapshots.

The loop owns one ``SessionOutputs`` and calls it at the frame's edges. Every failure here (a
full disk, an unwritable folder, an encoder error) becomes a one-line message through ``say``;
none of them reaches the loop as an exception, nothing already written is lost, and nothing
is left half-written: a snapshot that fails leaves no file, a recording that holds no frame
is removed together with the control log opened for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue

import numpy as np

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.errors import os_error_line
from latentsketch.output.controllog import ControlLog
from latentsketch.output.paths import OutputDir, OutputError, discard
from latentsketch.output.recorder import Recorder, RecorderStatus
from latentsketch.output.snapshot import SnapshotMeta, save_snapshot

Say = Callable[..., None]  # say(text, error=False)


@dataclass(frozen=True)
class LogContext:
    """What a replay needs besides the state: how the recording was decoded and framed."""

    model_id: str
    preset: str
    backend: str
    fit: str
    fps: float
    look_visibility: float
    decoder: dict | None = None  # Decoder.describe(): engine, device, precision, CPU features


class SessionOutputs:
    """Recording (+ its control log, or one for the whole session) and snapshots."""

    def __init__(self, out: OutputDir, fps: float, say: Say, always_log: bool = False) -> None:
        self.out = out
        self.fps = fps
        self.say = say
        self.always_log = always_log
        self.recorder = Recorder()
        self.control_log: ControlLog | None = None
        self._rec_t0 = 0.0
        self._rec_log: Path | None = None  # the control log opened for this recording
        self._error_shown = False
        self._snap_done: SimpleQueue[tuple[str, bool]] = SimpleQueue()
        self._snap_threads: list[threading.Thread] = []

    @property
    def recording(self) -> bool:
        return self.recorder.status().recording

    def status(self) -> RecorderStatus:
        return self.recorder.status()

    # --- recording -----------------------------------------------------------------------------

    def record(self, on: bool, size: tuple[int, int], state: engine.State, t: float,
               ctx: LogContext) -> None:
        if on == self.recording:
            return
        if not on:
            st = self.recorder.stop()
            self._end_recording(st)
            msg = (f"recorded {st.frames_written} frames to {st.path}" if st.frames_written
                   else "recording stopped before any frame was written; no file kept")
            if st.frames_dropped:
                msg += f" ({st.frames_dropped} dropped)"
            self.say(msg, error=bool(st.error))
            if st.error:
                self.say(st.error, error=True)
            return
        try:
            video, logf = self.out.reserve_many([".mp4", ".log.jsonl"])
        except OutputError as e:
            self.say(f"recording not started: {e}", error=True)
            return
        self.recorder.start(video, size[0], size[1], self.fps)
        self._rec_t0 = t
        self._error_shown = False
        self._rec_log = None
        if self.control_log is None:
            self.open_log(logf, state, size, ctx)
            self._rec_log = logf if self.control_log is not None else None
        else:
            discard(logf)  # the session's own log records this recording too
        self.say(f"recording {size[0]}x{size[1]} to {video}")

    def submit(self, picture: Callable[[], np.ndarray], t: float) -> None:
        """Hand the frame just shown to the recorder (only while recording: reading the
        picture back costs ~1 ms at 1024 px)."""
        st = self.recorder.status()
        if st.recording:
            self.recorder.submit(picture(), t - self._rec_t0, copy=False)
        elif st.error and not self._error_shown:
            self._error_shown = True
            self.say(f"recording stopped: {st.error}", error=True)
            self._end_recording(self.recorder.stop())

    # --- control log ---------------------------------------------------------------------------

    def open_log(self, path: Path, state: engine.State, size: tuple[int, int],
                 ctx: LogContext) -> None:
        """Start the control log in ``path`` (a reserved name, removed if this fails)."""
        try:
            self.control_log = ControlLog.open(
                path, state, ctx.model_id, ctx.preset, backend=ctx.backend, size=size,
                fit=ctx.fit, fps=ctx.fps, look_visibility=ctx.look_visibility,
                decoder=ctx.decoder)
        except OSError as e:
            discard(path)
            self.say(f"control log not started: {os_error_line(e, path)}", error=True)

    def log_frame(self, t: float, dt: float, cmds: Iterable[C.Command]) -> None:
        if self.control_log is None:
            return
        try:
            self.control_log.frame(t, dt, cmds)
        except OSError as e:
            self._log_failed(e)

    def log_decoder(self, description: dict) -> None:
        """Record that the frames from the next one on decode on another engine."""
        if self.control_log is None:
            return
        try:
            self.control_log.decoder(description)
        except OSError as e:
            self.say(f"control log stopped: {e}", error=True)
            self.control_log = None

    def log_preset(self, name: str, params: dict, slots: dict, keyframes: list | None) -> None:
        if self.control_log is None:
            return
        try:
            self.control_log.load_preset(name, params, slots, keyframes)
        except OSError as e:
            self._log_failed(e)

    def _log_failed(self, e: OSError) -> None:
        """A write failed (the disk filled): say so once, stop logging, keep what was written."""
        log, self.control_log = self.control_log, None
        assert log is not None
        self.say(f"control log stopped: {os_error_line(e, log.path)}", error=True)
        try:
            log.close()
        except OSError:
            pass  # already said: the same disk refuses the rest of the buffer

    def _close_log(self) -> None:
        if self.control_log is not None and not self.always_log:
            try:
                self.control_log.close()
            except OSError as e:
                self.say(f"control log: {os_error_line(e, self.control_log.path, 'finish')}",
                         error=True)
            self.control_log = None

    def _end_recording(self, st: RecorderStatus) -> None:
        """Close the recording's log; with no frame recorded, remove it with the video."""
        log, self._rec_log = self._rec_log, None
        self._close_log()
        if log is not None and not st.frames_written and self.control_log is None:
            discard(log)

    # --- snapshots -----------------------------------------------------------------------------

    def snapshot(self, frame: np.ndarray, meta: SnapshotMeta,
                 picture: np.ndarray | None = None) -> None:
        """Write ``frame`` (model size) and ``picture`` (as shown; None: an upscale of
        ``frame``) in a short-lived thread: a 1024-px PNG takes ~100 ms, a visible stall."""
        out, done = self.out, self._snap_done

        def write() -> None:
            try:
                files = save_snapshot(frame, meta, out, picture=picture)
                done.put((f"snapshot {files.native}", False))
            except (OSError, ValueError) as e:
                done.put((f"snapshot failed: {e}", True))

        t = threading.Thread(target=write, name="latentsketch-snapshot", daemon=True)
        t.start()
        self._snap_threads = [x for x in self._snap_threads if x.is_alive()] + [t]

    def report(self) -> None:
        """Say what finished snapshots did (called once per frame)."""
        while not self._snap_done.empty():
            text, error = self._snap_done.get_nowait()
            self.say(text, error=error)

    def wait_snapshots(self, timeout: float = 5.0) -> None:
        for t in self._snap_threads:
            t.join(timeout)
        self.report()

    # --- the end -------------------------------------------------------------------------------

    def close(self) -> RecorderStatus:
        """Finalise the recording and the log, wait for snapshots; safe to call twice."""
        self.wait_snapshots()
        st = self.recorder.stop()
        self._end_recording(st)
        if self.control_log is not None:
            try:
                self.control_log.close()
            except OSError as e:
                self.say(f"control log: {os_error_line(e, self.control_log.path, 'finish')}",
                         error=True)
            self.control_log = None
        return st
