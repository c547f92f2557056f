"""Recorder: frames go through the thread into a real file; failures stay inside it."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from latentsketch.output.recorder import Recorder, RecorderState
from latentsketch.output.video import FrameWriter, H264Writer

PALETTE = [(230, 30, 30), (30, 200, 60), (40, 60, 220), (240, 220, 40), (20, 20, 20),
           (250, 250, 250), (200, 80, 200), (60, 200, 210)]



def frame(i: int, w: int = 64, h: int = 64) -> np.ndarray:
    """Flat background plus a moving square: easy for codecs, distinct frame to frame."""
    a = np.empty((h, w, 3), np.uint8)
    a[:] = PALETTE[i % len(PALETTE)]
    x = (i * 8) % (w - 16)
    a[16:32, x:x + 16] = PALETTE[(i + 3) % len(PALETTE)]
    return a


def decoded(path: Path) -> list[np.ndarray]:
    """Frames a player would show: decode until the data ends, even if it ends mid-packet."""
    out: list[np.ndarray] = []
    with av.open(str(path)) as c:
        try:
            for f in c.decode(video=0):
                out.append(f.to_ndarray(format="rgb24"))
        except av.FFmpegError:
            pass
    return out


def close_to(got: np.ndarray, i: int) -> bool:
    return float(np.abs(got.astype(np.int16) - frame(i)).mean()) < 4.0


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def run_child(body: str, *args: str, **kw) -> subprocess.Popen[str]:
    src = ("import sys, time, json, numpy as np\n"
           "from latentsketch.output.recorder import Recorder\n"
           f"PALETTE = {PALETTE!r}\n{inspect.getsource(frame)}\n{textwrap.dedent(body)}")
    return subprocess.Popen([sys.executable, "-c", src, *args], stdout=subprocess.PIPE,
                            text=True, **kw)


def test_records_frames_with_their_times(tmp_path: Path) -> None:
    path = tmp_path / "rec.mp4"
    with Recorder() as rec:
        assert rec.start(path, 64, 64, 30)
        assert not rec.start(tmp_path / "other.mp4", 64, 64, 30), "already recording"
        for i in range(40):
            assert rec.submit(frame(i), 1000.0 + i / 30)
        assert rec.status().recording
    status = rec.status()
    assert status.state is RecorderState.IDLE and status.error is None
    assert (status.frames_written, status.frames_dropped, status.frames_queued) == (40, 0, 0)
    assert status.path == path and status.elapsed > 0
    frames = decoded(path)
    assert len(frames) == 40 and all(close_to(f, i) for i, f in enumerate(frames))
    with av.open(str(path)) as c:
        times = [f.time for f in c.decode(video=0)]
    assert times[0] == 0 and times[-1] == pytest.approx(39 / 30)
    assert rec.stop() == status, "stop is idempotent"
    assert not rec.submit(frame(0)), "not recording: nothing queued"
    assert not (tmp_path / "other.mp4").exists()


def test_submit_copies_the_frame(tmp_path: Path) -> None:
    """The loop may reuse its buffer right after submit; the recording must not change."""
    buf = np.zeros((64, 64, 3), np.uint8)
    with Recorder() as rec:
        rec.start(tmp_path / "c.mp4", 64, 64, 30)
        for i in range(10):
            buf[:] = frame(i)
            rec.submit(buf)
        buf[:] = 0
    frames = decoded(tmp_path / "c.mp4")
    assert len(frames) == 10 and all(close_to(f, i) for i, f in enumerate(frames))


class GatedWriter(FrameWriter):
    """A real H.264 writer that waits on a gate before each frame: an encoder that stalls."""

    def __init__(self, path: Path, w: int, h: int, fps: Fraction, gate: threading.Event):
        super().__init__(path, w, h, fps)
        self.gate = gate
        self.inner = H264Writer(path, w, h, fps)

    def _write(self, frame: np.ndarray, pts: int) -> None:
        self.gate.wait()
        self.inner.write(frame)

    def _close(self) -> None:
        self.inner.close()


def test_full_queue_drops_and_counts_with_bounded_memory(tmp_path: Path) -> None:
    gate = threading.Event()
    frame_bytes = 64 * 64 * 3
    rec = Recorder(queue_bytes=5 * frame_bytes,
                   writer_factory=lambda p, w, h, fps: GatedWriter(p, w, h, fps, gate))
    rec.start(tmp_path / "slow.mp4", 64, 64, 30)
    accepted = []
    for i in range(200):
        t0 = time.perf_counter()
        if rec.submit(frame(i)):
            accepted.append(i)
        assert time.perf_counter() - t0 < 0.05, "submit never waits for the encoder"
        assert rec.status().frames_queued <= 5
        time.sleep(0.0005)
    status = rec.status()
    assert len(accepted) <= 6 + 1  # the queue plus the frame the thread holds
    assert status.frames_dropped == 200 - len(accepted)
    gate.set()
    final = rec.stop()
    assert final.state is RecorderState.IDLE
    assert final.frames_written == len(accepted) and final.frames_dropped == 200 - len(accepted)
    frames = decoded(tmp_path / "slow.mp4")
    assert len(frames) == len(accepted)
    assert all(close_to(f, i) for f, i in zip(frames, accepted, strict=True))


def test_unwritable_folder_fails_quietly(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with Recorder() as rec:
        assert rec.start(blocker / "rec.mp4", 64, 64, 30)
        wait_for(lambda: rec.status().state is RecorderState.FAILED)
        assert not rec.submit(frame(0)), "the show goes on; frames are refused"
        err = rec.status().error
    assert err and "\n" not in err and str(blocker / "rec.mp4") in err
    assert "Not a directory" in err


def test_disk_full_at_start(tmp_path: Path) -> None:
    rec = Recorder()
    rec.start("/dev/full", 64, 64, 30)
    wait_for(lambda: rec.status().state is RecorderState.FAILED)
    assert "No space left on device" in (rec.status().error or "")
    rec.submit(frame(1))
    assert rec.stop().state is RecorderState.FAILED
    assert rec.start(tmp_path / "next.mp4", 64, 64, 30), "a failed recorder can start again"
    rec.submit(frame(0))
    assert rec.stop().frames_written == 1


def test_wrong_frame_type_is_reported(tmp_path: Path) -> None:
    """A frame of another size is fitted in (test_stage_window); one that is not uint8 RGB is
    a bug: reported in one line, what was written kept."""
    with Recorder() as rec:
        rec.start(tmp_path / "s.mp4", 64, 64, 30)
        rec.submit(frame(0))
        rec.submit(np.zeros((64, 64, 3), np.float32))
        wait_for(lambda: rec.status().state is RecorderState.FAILED)
    assert "expected a uint8 64x64x3 frame" in (rec.status().error or "")
    assert rec.status().frames_written == 1
    assert len(decoded(tmp_path / "s.mp4")) == 1, "what was written is kept"


def test_file_size_limit_mid_recording_keeps_what_was_written(tmp_path: Path) -> None:
    """A real write error part-way (RLIMIT_FSIZE, EFBIG) in a child process."""
    path = tmp_path / "full.mp4"
    child = run_child("""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))
        rng = np.random.default_rng(0)
        rec = Recorder(fragment_seconds=0.1)
        rec.start(sys.argv[1], 128, 128, 30)
        sent = 0
        for i in range(300):
            sent += rec.submit(rng.integers(0, 256, (128, 128, 3), np.uint8), i / 30)
            time.sleep(0.003)
            if rec.status().state.value == "failed":
                break
        time.sleep(0.05)
        after = rec.submit(np.zeros((128, 128, 3), np.uint8))
        s = rec.stop()
        print(json.dumps({"state": s.state.value, "error": s.error, "written": s.frames_written,
                          "sent": sent, "after": after}))
    """, str(path))
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "failed" and not result["after"]
    assert "File too large" in result["error"] and str(path) in result["error"]
    assert 0 < result["written"] < 300
    assert 3 <= len(decoded(path)) <= result["written"]


def test_sigkill_leaves_a_playable_file(tmp_path: Path) -> None:
    path = tmp_path / "killed.mp4"
    child = run_child("""
        rec = Recorder(fragment_seconds=0.25)
        rec.start(sys.argv[1], 64, 64, 30)
        for i in range(100_000):
            rec.submit(frame(i), i / 30)
            time.sleep(1 / 240)
            if i % 4 == 0:
                s = rec.status()
                print(s.frames_written, s.frames_dropped, flush=True)
    """, str(path))
    written = dropped = 0
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 20
        while written < 60 and time.monotonic() < deadline:
            written, dropped = map(int, child.stdout.readline().split())
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL and written >= 60
    frames = decoded(path)
    assert len(frames) >= written - 20, f"{len(frames)} of {written} frames survived"
    if dropped == 0:
        assert all(close_to(f, i) for i, f in enumerate(frames))


def test_stop_without_waiting_then_restart(tmp_path: Path) -> None:
    rec = Recorder()
    rec.start(tmp_path / "a.mp4", 64, 64, 30)
    for i in range(20):
        rec.submit(frame(i))
    status = rec.stop(wait=False)
    assert status.state in (RecorderState.STOPPING, RecorderState.IDLE)
    assert not rec.submit(frame(0)), "no frames after stop"
    assert rec.start(tmp_path / "b.mp4", 64, 64, 30), "waits for the previous file"
    assert len(decoded(tmp_path / "a.mp4")) == 20
    rec.submit(frame(0))
    assert rec.stop().frames_written == 1
