"""Stage-proof, real processes (issue 15): every way a process is asked to stop goes through
the same clean stop, and two runs writing one output name do not collide. Real signals to a
real ``python -m latentsketch`` child, control over real OSC, files checked with PyAV."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from latentsketch.output.controllog import read_log
from tests.test_stage_window import finalised

STARTUP = 90.0     # s: torch import and the first frame on a busy 2-core machine


class Child:
    """A ``latentsketch`` process whose output lines (stdout and stderr in one stream) are
    collected by a thread, so every wait is bounded."""

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
               "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "latentsketch", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, cwd=cwd)
        self.lines: list[str] = []     # appended by the reader thread only
        self._done = threading.Event()
        self._next = 0                 # the first line ``wait_for`` has not looked at
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
        self._done.set()

    def saw(self, needle: str) -> bool:
        return any(needle in line for line in list(self.lines))

    def wait_for(self, pred: Callable[[str], bool], timeout: float) -> str:
        """The first line not looked at yet for which ``pred`` holds; fails on timeout or exit."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lines = list(self.lines)
            for i in range(self._next, len(lines)):
                if pred(lines[i]):
                    self._next = i + 1
                    return lines[i]
            self._next = len(lines)
            if self._done.is_set() and len(self.lines) == len(lines):
                pytest.fail(f"exited ({self.proc.wait()}) before the line; output:\n{self.text}")
            time.sleep(0.01)
        pytest.fail(f"timed out waiting; output so far:\n{self.text}")

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the exit; returns the status, with every output line kept."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"did not exit; output:\n{self.text}")
        self._done.wait(10)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def children():
    made: list[Child] = []

    def make(*args: str, cwd: Path | None = None) -> Child:
        c = Child(*args, cwd=cwd)
        made.append(c)
        return c

    yield make
    for c in made:  # only our own children, by their process
        c.kill()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def osc(port: int, address: str, *args: int) -> None:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a, "i")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b.build().dgram, ("127.0.0.1", port))


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def start_recording(children, model: Path, out: Path, *extra: str) -> tuple[Child, int]:
    """A ``play`` child that is recording (started over OSC, as a controller would)."""
    port = free_udp_port()
    child = children("play", "--model", str(model), "--out-dir", str(out), "--size", "128x128",
                     "--fps", "30", "--osc-port", str(port), "--no-midi", "--backend", "fp32",
                     "--seed", "1", *extra)
    child.wait_for(lambda s: "first frame on screen" in s, STARTUP)
    osc(port, "/latentsketch/record", 1)
    child.wait_for(lambda s: s.startswith("latentsketch: recording ") and " to " in s, 30)
    return child, port


# --- 2. play: SIGINT, SIGTERM, SIGHUP -------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_play_finalises_the_recording_and_its_log_on_every_stop_signal(
        children, tiny_model: Path, tmp_path: Path, sig: signal.Signals) -> None:
    """The issue's case: SIGHUP killed ``play`` in 0.04 s, leaving the MP4 fragmented and the
    last ~0.3 s of the control log lost. All three signals now stop the same clean way."""
    out = tmp_path / "out"
    child, _ = start_recording(children, tiny_model, out)
    time.sleep(1.5)
    child.proc.send_signal(sig)
    assert child.finish() == 0, child.text
    assert "Traceback" not in child.text
    assert f"{sig.name}: stopping" in child.text
    assert "finalising recording" in child.text        # said before the work, not after
    (video,) = out.glob("*.mp4")
    (logf,) = out.glob("*.log.jsonl")
    assert f"recording finalised: {video}" in child.text
    assert finalised(video)
    frames = count_frames(video)
    assert frames >= 20
    # nothing lost from the log: one line per frame recorded
    assert len(read_log(logf).frames) == frames
    assert sorted(p.name for p in out.iterdir()) == sorted([video.name, logf.name])


def test_a_second_and_third_signal_while_finalising_do_not_destroy_the_recording(
        children, tiny_model: Path, tmp_path: Path) -> None:
    """The issue's case: a second Ctrl-C 20 ms into finalising left the MP4 fragmented. A big
    recording size makes finalising take a while; signals keep coming until the exit."""
    out = tmp_path / "out"
    child, _ = start_recording(children, tiny_model, out, "--record-size", "1600x1600")
    time.sleep(2.0)
    child.proc.send_signal(signal.SIGINT)
    child.wait_for(lambda s: "finalising recording" in s, 30)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) * 50:
        time.sleep(0.02)
        if child.saw("recording finalised") or child.proc.poll() is not None:
            break   # the save is done: what a later signal does is another matter
        child.proc.send_signal(sig)
    assert child.finish() == 0, child.text
    assert "Traceback" not in child.text
    assert "still finalising recording" in child.text   # they arrived while it saved
    (video,) = out.glob("*.mp4")
    assert finalised(video) and count_frames(video) >= 10
    assert f"recording finalised: {video}" in child.text


# --- 2. render: SIGTERM and SIGHUP clean up as SIGINT does ----------------------------------


def _partial_video(folder: Path) -> bool:
    """A hidden .mp4 with bytes in it: the export is writing (``OutputDir.check``'s probe at
    start is hidden too, but has no suffix and is gone a moment later)."""
    try:
        return any(p.suffix == ".mp4" and p.stat().st_size for p in folder.glob(".*"))
    except OSError:   # the file was renamed or removed while we looked
        return False


@pytest.mark.parametrize("sig,named", [(signal.SIGTERM, False), (signal.SIGHUP, True),
                                       (signal.SIGINT, False)])
def test_render_stopped_by_any_signal_leaves_nothing(children, tiny_model: Path, tmp_path: Path,
                                                     sig: signal.Signals, named: bool) -> None:
    """The issue's case: SIGTERM left a 262 kB ``.clip.partial.mp4`` and, with --out-dir, a
    0-byte ``latentsketch-....mp4``."""
    out = tmp_path / "out"
    target = ["--out", str(out / "clip.mp4")] if named else ["--out-dir", str(out)]
    child = children("render", "--model", str(tiny_model), "--walk", "drift", "--duration",
                     "600", "--fps", "30", "--size", "256x256", *target)
    end = time.monotonic() + STARTUP
    while not _partial_video(out):   # the export's hidden file, not the start's folder probe
        if child.proc.poll() is not None:
            pytest.fail(f"render ended early: {child.finish()}\n{child.text}")
        if time.monotonic() > end:
            pytest.fail(f"no partial video after {STARTUP:g} s:\n{child.text}")
        time.sleep(0.05)
    child.proc.send_signal(sig)
    assert child.finish() == 128 + sig, child.text
    assert "Traceback" not in child.text
    assert f"interrupted ({sig.name})" in child.text
    assert list(out.iterdir()) == []


# --- 4. two runs, one output name -----------------------------------------------------------

def test_two_renders_into_the_same_out_both_succeed_with_a_whole_file(
        children, tiny_model: Path, tmp_path: Path) -> None:
    """The issue's case: both wrote ``.same.partial.mp4``; one reported success for an
    unplayable file, the other failed naming the hidden file."""
    out = tmp_path / "same.mp4"
    args = ("render", "--model", str(tiny_model), "--walk", "drift", "--duration", "8",
            "--fps", "30", "--size", "192x192", "--out", str(out))
    a, b = children(*args), children(*args)
    ra, rb = a.finish(180), b.finish(180)
    assert (ra, rb) == (0, 0), a.text + "\n" + b.text
    assert f"wrote {out}: 240 frames" in a.text and f"wrote {out}: 240 frames" in b.text
    assert count_frames(out) == 240
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.mp4"]


# --- the helper every command uses (a child: signals to the test process itself can crash
# it once an ONNX export has run in it) ----------------------------------------------------

_HELPER_CHILD = """
import json, os, signal, sys, time
from latentsketch.stopping import Interrupted, StopSignals

out, said = {}, []
before = signal.getsignal(signal.SIGTERM)
cleaned = False
try:
    with StopSignals(say=said.append) as stop:
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(2)  # the handler raises before this ends
        finally:
            os.kill(os.getpid(), signal.SIGTERM)   # a second signal during the cleanup
            time.sleep(0.05)
            cleaned = True
except Interrupted as e:
    out["raised"] = [e.signum, e.exit_status]
out.update(cleaned=cleaned, received=stop.received, said=said,
           restored=signal.getsignal(signal.SIGTERM) is before)

said2, calls = [], []
with StopSignals(on_stop=calls.append, say=said2.append) as stop:
    with stop.saving("finalising recording x.mp4", "kill -KILL keeps x.mp4"):
        for s in (signal.SIGINT, signal.SIGTERM):
            os.kill(os.getpid(), s)
            time.sleep(0.02)
    os.kill(os.getpid(), signal.SIGHUP)
    time.sleep(0.02)
out.update(calls=calls, said2=said2)
print(json.dumps(out))
"""


def test_stop_signals_raise_once_and_never_interrupt_cleanup_or_a_save() -> None:
    """The helper every command uses, with real signals to a real child. Raise mode (render,
    info, train): the first signal raises Interrupted, later ones only say so, so the cleanup
    they interrupt runs to its end. Inside ``saving`` nothing raises, and a stop that arrived
    during it takes effect when it ends. The previous handlers come back afterwards."""
    import json

    r = subprocess.run([sys.executable, "-c", _HELPER_CHILD], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["raised"] == [signal.SIGHUP, 128 + signal.SIGHUP]
    assert out["cleaned"] and out["restored"] and out["received"] == ["SIGHUP", "SIGTERM"]
    assert out["said"] == ["SIGTERM: already stopping, please wait"]
    assert out["calls"] == ["SIGINT"]   # deferred to the end of the save, not swallowed by it
    assert out["said2"] == ["SIGINT: still finalising recording x.mp4, please wait "
                            "(kill -KILL keeps x.mp4)",
                            "SIGTERM: still finalising recording x.mp4, please wait",
                            "SIGHUP: already stopping, please wait"]
