"""What leaves the live loop besides the window: the recording, its control log, snapshots.

The loop owns one ``SessionOutputs`` and calls it at the frame's edges. Every failure here (a
full disk, an unwritable folder, an encoder error) becomes a one-line message through ``say``;
none of them reaches the loop as an exception, nothing already written is lost, and nothing
is left half-written: a snapshot that fails leaves no file, a recording that holds no frame
is removed together with the control log opened for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import numpy as np

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.errors import os_error_line
from latentsketch.latent.directions import Directions, DirectionValue
from latentsketch.output.controllog import ControlLog
from latentsketch.output.paths import OutputDir, OutputError, discard
from latentsketch.output.picture import Picture
from latentsketch.output.recorder import Recorder, RecorderState, RecorderStatus
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
        self._rec_size = (0, 0)  # fixed when a recording starts: it keeps them for its life
        self._rec_fit = "fit"    # (its control log's header says the same)
        self._rec_log: Path | None = None  # the control log opened for this recording
        self._error_shown = False
        self._failed: RecorderStatus | None = None  # a recording an error ended, not yet
        # acknowledged by the performer (the next toggle says so instead of starting anew)
        self._snap_done: SimpleQueue[tuple[str, bool]] = SimpleQueue()
        self._snap_threads: list[threading.Thread] = []

    @property
    def recording(self) -> bool:
        return self.recorder.status().recording

    def status(self) -> RecorderStatus:
        return self.recorder.status()

    # --- recording -----------------------------------------------------------------------------

    def record(self, on: bool | None, size: tuple[int, int], state: engine.State, t: float,
               ctx: LogContext) -> None:
        """Start (True), stop (False) or toggle (None) the recording.

        ``size`` (w, h, even), ``ctx.fit`` and the session's fps are the recording's for its
        whole life, as its control log's header says: whatever the window does meanwhile
        (resize, fullscreen, another fit mode), frames are rendered into them. A toggle right after
        a recording was ended by an error (the performer believes it still runs) does not
        start a new file: it says what happened; the next toggle starts one.
        """
        if on is None:
            if self._failed is not None:
                st, self._failed = self._failed, None
                self.say(f"recording had already stopped: {_failure_line(st)}; "
                         f"R starts a new recording", error=True)
                return
            on = not self.recording
        if on == self.recording:
            return
        if not on:
            self.say(f"finalising recording {self.recorder.status().path}...")
            st = self.recorder.stop()
            self._error_shown = True  # said here; ``submit`` must not say it again
            self._end_recording(st)
            msg = (f"recorded {st.frames_written} frames to {st.path}" if st.frames_written
                   else "recording stopped before any frame was written; no file kept")
            if st.frames_dropped:
                msg += f" ({st.frames_dropped} dropped)"
            self.say(msg, error=bool(st.error))
            if st.error:
                self.say(_failure_line(st), error=True)
            return
        try:
            video, logf = self.out.reserve_many([".mp4", ".log.jsonl"])
        except OutputError as e:
            self.say(f"recording not started: {e}", error=True)
            return
        previous, self._failed = self._failed, None
        self.recorder.start(video, size[0], size[1], self.fps)
        self._rec_t0 = t
        self._rec_size = (int(size[0]), int(size[1]))
        self._rec_fit = ctx.fit
        self._error_shown = False
        self._rec_log = None
        if self.control_log is None:
            self.open_log(logf, state, size, ctx)
            self._rec_log = logf if self.control_log is not None else None
        else:
            discard(logf)  # the session's own log records this recording too
        self.say(f"recording {size[0]}x{size[1]} to {video}" + (
            f" (the last one had stopped: {_failure_line(previous)})" if previous else ""))

    def submit(self, picture: Picture[Any], t: float) -> None:
        """Hand the frame just fed to ``picture`` (the pipeline the window draws) to the
        recorder, rendered at the recording's own size and fit (only while recording: reading
        the picture back costs ~1 ms at 1024 px)."""
        st = self.recorder.status()
        if st.recording:
            self.recorder.submit(picture.render(self._rec_size, self._rec_fit),
                                 t - self._rec_t0, copy=False)
        elif st.error and not self._error_shown:
            self._error_shown = True
            st = self.recorder.stop()
            if st.state is RecorderState.FAILED and st.frames_written:
                self._failed = st  # the performer saw it recording: the next R says so
            self.say(f"recording stopped: {st.error}", error=True)
            self._end_recording(st)

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

    def log_model(self, model_id: str, ref: str, state: engine.State) -> None:
        """Record a switch of model (``ControlLog.model_switch``) before the next frame."""
        if self.control_log is None:
            return
        try:
            self.control_log.model_switch(model_id, ref, state)
        except OSError as e:
            self._log_failed(e)

    def log_preset(self, name: str, params: dict, slots: dict, keyframes: list | None,
                   holds: Sequence[float | None] = (), directions: Directions | None = None,
                   direction_values: Mapping[str, DirectionValue] | None = None) -> None:
        if self.control_log is None:
            return
        try:
            self.control_log.load_preset(name, params, slots, keyframes, holds, directions,
                                         direction_values)
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
                also = f" and {files.upscaled.name}" if files.upscaled else ""
                done.put((f"snapshot {files.native}{also}", False))
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
        """Finalise the recording and the log, wait for snapshots, and say in one line what
        the recording's file now is; safe to call twice."""
        self.wait_snapshots()
        active = self.recorder.status().recording
        st = self.recorder.stop()
        unsaid = st.error is not None and not self._error_shown  # failed since the last frame
        if active or unsaid or self._failed is not None:
            self._failed = None
            if st.error or st.state is RecorderState.FAILED:
                self.say(_failure_line(st), error=True)
            elif st.path is not None and st.frames_written:
                self.say(f"recording finalised: {st.path} ({st.frames_written} frames)")
        self._error_shown = True
        self._end_recording(st)
        if self.control_log is not None:
            try:
                self.control_log.close()
            except OSError as e:
                self.say(f"control log: {os_error_line(e, self.control_log.path, 'finish')}",
                         error=True)
            self.control_log = None
        return st

    def saving(self) -> tuple[str, str | None]:
        """What ``close`` is about to save, and what a user who cannot wait keeps: for the
        line a second Ctrl-C prints (``stopping.StopSignals.saving``)."""
        st = self.recorder.status()
        if not st.recording:
            return ("closing the control log" if self.control_log is not None
                    else "stopping"), None
        what = f"finalising recording {st.path}"
        if self.control_log is not None:
            what += " and its control log"
        return what, (f"it finishes by itself; kill -KILL would leave it fragmented, which "
                      f"plays: {recover_hint(st.path)}")


def recover_hint(path: Path | None) -> str:
    """How to turn a fragmented MP4 left by a failure into an ordinary one."""
    if path is None:
        return ""
    fixed = path.with_name(f"{path.stem}-fixed{path.suffix}")
    return f"ffmpeg -i {path} -c copy {fixed} makes an ordinary MP4"


def _failure_line(st: RecorderStatus) -> str:
    """One line for a recording that did not finish cleanly: what the file now holds."""
    if st.path is None or not st.frames_written:
        return st.error or "recording failed; nothing was recorded"
    return (f"recording not finalised: {st.path} holds {st.frames_written} frames "
            f"({st.error or 'stopped on an error'}); it plays as fragmented MP4; "
            f"{recover_hint(st.path)}")
