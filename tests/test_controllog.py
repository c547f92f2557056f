"""Control logs: bit-exact state and replay, resampling, malformed files, crashes, cost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
import pytest

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.latent.space import LatentSpace
from latentsketch.output.controllog import (
    ControlLog,
    ControlLogError,
    read_log,
    state_from_json,
    state_to_json,
)
from latentsketch.render import replay_clip

MODEL = "0123456789ab"
DIM = 8

# frame index -> commands: every kind of engine command, pauses, a rejected value, numpy values
SCRIPT: dict[int, list[C.Command]] = {
    3: [C.NudgeDim(0, 0.7)],
    7: [C.SetDim(1, np.float32(1.3)), C.StoreSlot(2)],
    12: [C.SetParam("walk.mode", "tour")],
    20: [C.CycleMode(), C.SetParam("walk.speed", 2.5)],
    28: [C.RecallSlot(2), C.SetTarget(0.5, -1.0)],
    33: [C.ReleaseDim()],
    40: [C.SetPause(True), C.OffsetDim(np.int64(2), -0.5)],
    44: [C.SetPause(False), C.GotoPoint(tuple(np.full(DIM, 0.25, np.float32)))],
    50: [C.NewTarget(), C.SetVector((0.1, -0.2))],
    55: [C.Record(True), C.SetParam("look.posterize", 3), C.SetParam("walk.speed", 99.0)],
    58: [C.Reset(), C.SetParam("walk.glide", object())],
}


def make_space(dim: int = DIM) -> LatentSpace:
    rng = np.random.default_rng(3)
    return LatentSpace(dim, tuple(reversed(range(dim))), rng.normal(0, 0.2, dim).astype(np.float32),
                       rng.uniform(0.6, 1.4, dim).astype(np.float32),
                       rng.normal(0, 1, (4, dim)).astype(np.float32))


def warm_state(space: LatentSpace) -> engine.State:
    """A state well into a performance: walked, a slot stored, a pin, tour mode mid-segment."""
    s = engine.State.initial(space, seed=11)
    rng = np.random.default_rng(5)
    for i in range(40):
        cmds = {5: [C.StoreSlot(4)], 9: [C.SetDim(3, -1.0)],
                20: [C.SetParam("walk.mode", "tour"), C.SetParam("walk.dwell", 0.1)]}.get(i, [])
        s = engine.step(s, cmds, float(rng.uniform(0.005, 0.03)), space)
    return s


def perform(space: LatentSpace, state: engine.State, dts: list[float], log: ControlLog | None,
            script: dict[int, list[C.Command]] = SCRIPT, preset_at: int = 25) -> list[np.ndarray]:
    """Drive the engine like the live loop, logging each step; returns each frame's z."""
    zs, t = [], 0.0
    for i, dt in enumerate(dts):
        cmds = script.get(i, [])
        if i == preset_at:  # a preset loaded between frames, as the app does
            state = engine.with_preset(state, space, {"walk.temperature": 0.7},
                                       {1: [0.5] * DIM}, None)
            if log is not None:
                log.load_preset("calm", {"walk.temperature": 0.7}, {1: [0.5] * DIM}, None)
        state = engine.step(state, cmds, dt, space)
        t += dt
        if log is not None:
            log.frame(t, dt, cmds)
        zs.append(engine.output_z(state, space))
    return zs


def _same(a: object, b: object, where: str = "state") -> None:
    """Bit-equal, recursively through dataclasses, arrays (and their dtype), tuples, maps."""
    if is_dataclass(a):
        assert type(a) is type(b), where
        for f in fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, Mapping):
        assert dict(a) == dict(b), where
    else:
        assert a == b, where


def test_state_round_trips_bit_exactly_through_json() -> None:
    space = make_space()
    s = warm_state(space)
    s = engine.with_preset(s, space, None, None, [[0.5] * DIM, [-0.5] * DIM], [2.0, None])
    back = state_from_json(json.loads(json.dumps(state_to_json(s))), space)
    _same(s, back)
    assert back.tour is not None and back.tour.holds == (2.0, None)
    for i in range(30):  # and it evolves identically
        cmds = [C.NudgeDim(1, 0.3)] if i == 10 else []
        s, back = (engine.step(x, cmds, 1 / 45, space) for x in (s, back))
        assert np.array_equal(engine.output_z(s, space), engine.output_z(back, space))


def test_state_of_another_dimension_is_refused() -> None:
    d = state_to_json(warm_state(make_space(8)))
    with pytest.raises(ValueError, match="8 dimensions, the model 6"):
        state_from_json(d, make_space(6))


def test_replay_of_a_log_started_mid_performance_is_bit_exact(tmp_path: Path) -> None:
    space = make_space()
    start = warm_state(space)
    rng = np.random.default_rng(7)
    dts = [float(x) for x in rng.uniform(0.002, 0.05, 60)]
    dts[15], dts[16] = 0.4, 0.0          # a stall longer than MAX_DT, then a zero step
    path = tmp_path / "perf.log.jsonl"
    with ControlLog.open(path, start, MODEL, "default", backend="fp32", size=(96, 64),
                         fit="fill", fps=60.0) as log:
        live = perform(space, start, dts, log)
    data = read_log(path, MODEL)
    assert len(data.frames) == 60 and not data.truncated
    assert data.header["preset"] == "default" and data.header["seed"] == 11
    assert (data.opt("backend"), data.opt("size"), data.opt("fit")) == ("fp32", [96, 64], "fill")
    assert data.frames[25].preset is not None and data.frames[25].preset.name == "calm"
    clip = replay_clip(data, space)
    replayed = [f.z for f in clip.frames]
    assert len(replayed) == clip.count == 60
    for i, (a, b) in enumerate(zip(live, replayed, strict=True)):
        assert a.tobytes() == b.tobytes(), f"frame {i} differs"
    assert not np.array_equal(live[0], live[-1])  # it did move


def test_replay_at_another_fps_follows_the_same_path(tmp_path: Path) -> None:
    space = make_space()
    start = engine.State.initial(space, seed=2)
    rng = np.random.default_rng(9)
    ticks_choice = [2, 4, 5, 6]              # frames of 1/120 .. 1/40 s: varying dts
    dts, ticks, total = [], [], 0
    while total < 8 * 60:                    # two seconds
        k = int(rng.choice(ticks_choice))
        dts.append(k / 240)
        total += k
        ticks.append(total)
    # commands only at frames that start on the 30 fps grid (so both runs apply them together)
    starts = [0] + ticks[:-1]
    grid = [i for i, s in enumerate(starts) if s % 8 == 0 and i > 0]
    script = {grid[1]: [C.NudgeDim(0, 1.0)], grid[4]: [C.SetParam("walk.mode", "orbit")],
              grid[7]: [C.SetDim(2, -1.5), C.SetParam("walk.speed", 3.0)]}
    path = tmp_path / "p.log.jsonl"
    with ControlLog.open(path, start, MODEL, None) as log:
        live = perform(space, start, dts, log, script, preset_at=grid[5])
    clip = replay_clip(read_log(path), space, fps=30)
    out = [f.z for f in clip.frames]
    assert clip.count == len(out) == 60
    live_at = {t: z for t, z in zip(ticks, live, strict=True)}
    compared = 0
    for j, z in enumerate(out):
        if 8 * (j + 1) in live_at:
            np.testing.assert_allclose(z, live_at[8 * (j + 1)], atol=1e-5)
            compared += 1
    assert compared >= 15


def _valid_log(tmp_path: Path) -> Path:
    space = make_space()
    path = tmp_path / "v.log.jsonl"
    with ControlLog.open(path, warm_state(space), MODEL, "p") as log:
        perform(space, warm_state(space), [1 / 60] * 6, log)
    return path


def _edit_line(n: int, fn):
    def edit(lines: list[str]) -> list[str]:
        lines[n - 1] = fn(lines[n - 1])
        return lines
    return edit


def _header(**kw):
    def fn(line: str) -> str:
        return json.dumps({**json.loads(line), **kw})
    return _edit_line(1, fn)


def _nan_state(line: str) -> str:
    d = json.loads(line)
    d["state"]["centre"]["a"][0] = float("nan")
    return json.dumps(d)


MALFORMED = [
    ("garbage", _edit_line(3, lambda s: "{not json"), ["line 3", "not JSON"]),
    ("command", _edit_line(2, lambda s: '{"t":1,"dt":0.1,"cmds":[{"cmd":"warp"}]}'),
     ["line 2", "command 1", "unknown command"]),
    ("no-dt", _edit_line(4, lambda s: '{"t":1,"cmds":[]}'), ["line 4", "'dt'"]),
    ("cmds", _edit_line(2, lambda s: '{"t":1,"dt":0.1,"cmds":5}'), ["line 2", "'cmds'"]),
    ("array", _edit_line(5, lambda s: "[1, 2]"), ["line 5", "not a JSON object"]),
    ("format", _header(format="something"), ["line 1", "not a latentsketch control log"]),
    ("version", _header(version=99), ["line 1", "version 99", "update latentsketch"]),
    ("version-1", _header(version=1), ["line 1", "version 1", "cannot replay exactly"]),
    ("no-version", _header(version=None), ["line 1", "no version"]),
    ("empty", lambda lines: [], ["empty"]),
    ("nan", _edit_line(1, _nan_state), ["line 1", "NaN"]),
]


@pytest.mark.parametrize("name,edit,expect", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_logs_give_one_line_errors_naming_file_and_line(
        tmp_path: Path, name: str, edit, expect: list[str]) -> None:
    path = _valid_log(tmp_path)
    lines = edit(path.read_text().splitlines())
    path.write_text("".join(line + "\n" for line in lines))
    with pytest.raises(ControlLogError) as e:
        read_log(path).initial_state(make_space())
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    for fragment in expect:
        assert fragment in msg


def test_a_truncated_last_line_is_dropped(tmp_path: Path) -> None:
    path = _valid_log(tmp_path)
    text = path.read_text()
    path.write_text(text[:-15])  # the process died mid-write
    data = read_log(path)
    assert data.truncated and len(data.frames) == 5


def test_a_log_of_another_model_is_refused(tmp_path: Path) -> None:
    path = _valid_log(tmp_path)
    with pytest.raises(ControlLogError, match=f"recorded with model {MODEL}.*ffffffffffff"):
        read_log(path, "ffffffffffff")


def test_a_killed_process_leaves_a_log_that_replays(tmp_path: Path) -> None:
    """SIGKILL after ~1 s of 60 fps logging: everything up to the last flush (0.5 s) is kept."""
    path = tmp_path / "killed.log.jsonl"
    code = f"""
import os, signal, time, numpy as np
from latentsketch import engine, commands as C
from latentsketch.output.controllog import ControlLog
from tests.test_controllog import make_space
space = make_space()
s = engine.State.initial(space, seed=4)
log = ControlLog.open({str(path)!r}, s, {MODEL!r}, None)
t0 = time.monotonic()
while time.monotonic() - t0 < 1.0:
    s = engine.step(s, [C.NudgeDim(0, 0.01)], 1 / 60, space)
    log.frame(time.monotonic() - t0, 1 / 60, [C.NudgeDim(0, 0.01)])
    time.sleep(1 / 60)
os.kill(os.getpid(), signal.SIGKILL)
"""
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-c", code], cwd=root, timeout=60)
    assert r.returncode == -signal.SIGKILL
    data = read_log(path, MODEL)
    assert len(data.frames) >= 20      # ~55 written; at most 0.5 s (30 frames) unflushed
    z = [f.z for f in replay_clip(data, make_space()).frames]
    assert len(z) == len(data.frames)


def test_logging_a_frame_costs_microseconds(tmp_path: Path) -> None:
    space = make_space()
    cmds = [C.SetDim(0, 0.5), C.SetParam("walk.speed", 1.5)]
    with ControlLog.open(tmp_path / "fast.log.jsonl", warm_state(space), MODEL, None) as log:
        n = 3000
        t = time.perf_counter()
        for i in range(n):
            log.frame(i / 60, 1 / 60, cmds if i % 4 == 0 else [])
        per_frame = (time.perf_counter() - t) / n
    assert per_frame < 0.2e-3, f"{per_frame * 1e6:.1f} us per frame"
    assert len(read_log(tmp_path / "fast.log.jsonl").frames) == n


def test_app_commands_and_non_commands_are_not_logged(tmp_path: Path) -> None:
    space = make_space()
    path = tmp_path / "a.log.jsonl"
    with ControlLog.open(path, warm_state(space), MODEL, None) as log:
        log.frame(0.1, 0.1, [C.Snapshot(), C.Reset(), "not a command"])  # type: ignore[list-item]
    (frame,) = read_log(path).frames
    assert frame.commands == (C.Reset(),)
    assert os.path.getsize(path) > 0
