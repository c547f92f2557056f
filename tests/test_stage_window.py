"""Stage-proof, in process (issue 15): what is fixed when a recording starts stays fixed while
the window changes; every consumer of a frame's dt goes through one clamp; --log leaves no
empty file; long output names work. The dummy video driver with injected window events."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import av
import numpy as np
import pygame
import pytest

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.app import App
from latentsketch.control.keyboard import ARROW_RATE, Keyboard, KeyContext
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.effects import Trails
from latentsketch.mapping import ControlMapping
from latentsketch.output.look import Look
from latentsketch.output.recorder import Recorder, RecorderState
from latentsketch.output.video import H264Writer
from latentsketch.render import RenderRequest, render
from latentsketch.timestep import MAX_DT, clamp_dt
from tests.test_video import atoms

DT = 1 / 60


def key(k: int, unicode: str = "", *, up: bool = True) -> list[pygame.event.Event]:
    down = pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, scancode=0, unicode=unicode)
    return [down, pygame.event.Event(pygame.KEYUP, key=k, mod=0, scancode=0, unicode=unicode)
            ] if up else [down]


def resize(a: App, w: int, h: int) -> list[pygame.event.Event]:
    """What a window manager does: the window changes size, then SDL reports it."""
    a.display.resize((w, h))
    return [pygame.event.Event(pygame.VIDEORESIZE, w=w, h=h, size=(w, h)),
            pygame.event.Event(pygame.WINDOWRESIZED, x=w, y=h)]


def finalised(path: Path) -> bool:
    """An ordinary MP4 with its index in front: moov before mdat, no fragments."""
    names = atoms(path)
    return ("moov" in names and "mdat" in names and "moof" not in names
            and names.index("moov") < names.index("mdat"))


def video_frames(path: Path) -> tuple[int, tuple[int, int], list[np.ndarray]]:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return len(frames), (frames[0].shape[1], frames[0].shape[0]) if frames else (0, 0), frames




# --- 1. a setting fixed at start stays fixed ------------------------------------------------

def test_recording_keeps_its_size_through_resize_maximize_and_fullscreen(
        make_app, caplog: pytest.LogCaptureFixture) -> None:
    """The issue's case: R, then resize / maximize / F ended the recording with "expected a
    uint8 400x400x3 frame, got (300, 300, 3)". Now the picture is fitted into the size the
    recording started with, and the file is finalised with every frame."""
    app = make_app(fit="fill")
    changes = {10: lambda a: resize(a, 300, 300), 20: lambda a: resize(a, 1000, 560),  # maximize
               30: lambda a: key(pygame.K_f, "f"), 40: lambda a: key(pygame.K_f, "f"),
               50: lambda a: resize(a, 333, 777), 55: lambda a: key(pygame.K_z, "z")}  # fit mode

    shown: dict[int, np.ndarray] = {}

    def script(i: int, a: App) -> list:
        if i in (36, 54, 61):   # frame i - 1 at the recording's size, as the recorder got it
            shown[i - 1] = a.display.picture((256, 256), "fill")
        if i == 3:
            return key(pygame.K_r, "r")
        if i == 70:
            return key(pygame.K_r, "r")
        return changes[i](a) if i in changes else []

    with caplog.at_level(logging.INFO, logger="latentsketch"):
        app.run(max_frames=75, dt=DT, script=script)
        app.close()
    said = [r.getMessage() for r in caplog.records]
    assert not [s for s in said if "stopped" in s or "expected a uint8" in s], said
    (video,) = app.out.root.glob("*.mp4")
    count, size, frames = video_frames(video)
    assert (count, size) == (67, (256, 256))       # frames 3..69, at the size it started with
    assert finalised(video)
    assert all(f.mean() > 5 for f in frames)      # a picture in every frame, never black
    # fullscreen, a 333x777 window, another fit mode: each frame is the picture as a window of
    # the recording's size shows it
    for i, pic in shown.items():
        assert np.abs(frames[i - 3].astype(int) - pic.astype(int)).mean() < 6
    (logf,) = app.out.root.glob("*.log.jsonl")
    header = json.loads(logf.read_text().splitlines()[0])
    assert header["size"] == [256, 256] and header["fit"] == "fill"   # as it started


def test_a_recording_keeps_the_framing_its_log_header_states(make_app) -> None:
    """Size and fit are in the control log's header, which a replay follows: another fit mode
    (Z) or a window of another shape mid-recording must not reframe the file."""
    app = make_app(record_size=(320, 180), fit="fit")
    app.run(max_frames=40, dt=DT, script=lambda i, a: (
        [C.Record(True)] if i == 2 else key(pygame.K_z, "z") if i == 10 else
        resize(a, 180, 400) if i == 20 else [C.Record(False)] if i == 30 else []))
    assert app.display.fit == "fill"
    (video,) = app.out.root.glob("*.mp4")
    count, size, frames = video_frames(video)
    assert (count, size) == (28, (320, 180))
    for f in frames:   # a square picture letterboxed in 16:9 from the first frame to the last
        assert f[:, :60].max() < 30 and f[:, 100:220].mean() > 5
    header = json.loads(next(app.out.root.glob("*.log.jsonl")).read_text().splitlines()[0])
    assert header["size"] == [320, 180] and header["fit"] == "fit"


def test_a_frame_of_another_size_is_fitted_into_the_recording(tmp_path: Path) -> None:
    """The recorder itself never ends a recording over a frame's size: whoever hands it a
    frame after a window change, it is letterboxed into the size the recording started with."""
    rec = Recorder()
    path = tmp_path / "r.mp4"
    rec.start(path, 64, 48, 30)
    rng = np.random.default_rng(0)
    shapes = [(48, 64), (300, 300), (10, 200), (48, 64), (1, 1), (47, 63), (0, 5)]
    for i, (h, w) in enumerate(shapes):
        assert rec.submit(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), i / 30)
    st = rec.stop()
    assert st.state is RecorderState.IDLE and st.error is None
    count, size, frames = video_frames(path)
    assert (count, size) == (len(shapes), (64, 48))
    assert frames[1][:, :4].mean() < 20 and frames[1][:, 10:50].std() > 30  # square: bars


class _FailsAfter(H264Writer):
    """A crash-safe writer whose disk "fills" after ``limit`` frames."""

    limit = 8

    def _write(self, frame: np.ndarray, pts: int) -> None:
        if self.frames_written >= self.limit:
            raise OSError(28, "No space left on device")
        super()._write(frame, pts)


def test_after_a_failed_recording_the_exit_line_and_the_next_r_tell_the_truth(
        make_app, caplog: pytest.LogCaptureFixture) -> None:
    """The file an error cut short is fragmented: the exit line must not call it finalised,
    and the next R (the performer thinks it still records) says so instead of silently
    starting a new file; the R after that starts one, saying so."""
    app = make_app()
    app.outputs.recorder = Recorder(writer_factory=lambda p, w, h, fps: _FailsAfter(
        p, w, h, fps, preset="ultrafast", crash_safe=True))
    presses = {3: True, 40: True, 50: True}

    def script(i: int, a: App) -> list:
        return key(pygame.K_r, "r") if presses.get(i) else []

    with caplog.at_level(logging.INFO, logger="latentsketch"):
        app.run(max_frames=45, dt=DT, script=script)
        assert len(list(app.out.root.glob("*.mp4"))) == 1   # the 2nd R started nothing
        said = [r.getMessage() for r in caplog.records]
        assert any(s.startswith("recording had already stopped") for s in said), said
        app.run(max_frames=55, dt=DT, script=script)   # 5 frames: under the writer's limit
        app.close()
    said = [r.getMessage() for r in caplog.records]
    first, second = (Path(s.split(" to ")[1]) for s in said
                     if s.startswith("recording 256x256 to "))
    assert not finalised(first) and video_frames(first)[0] == _FailsAfter.limit
    (ack,) = [s for s in said if s.startswith("recording had already stopped")]
    assert f"{first} holds {_FailsAfter.limit} frames" in ack and "-c copy" in ack
    finals = [s for s in said if "finalised" in s]
    assert all(str(first) not in s or "not finalised" in s for s in finals), finals
    assert any(s.startswith(f"recording finalised: {second}") for s in finals)


def test_a_flood_of_r_leaves_only_whole_finalised_recordings(make_app) -> None:
    """R pressed many times quickly (several in one frame, then one per frame) left an
    800-byte, 0-frame MP4: every file left must hold frames and be finalised, and every log
    belongs to a video."""
    app = make_app()

    def script(i: int, a: App) -> list:
        if i == 2:
            return key(pygame.K_r, "r") * 7
        if 5 <= i < 25:
            return key(pygame.K_r, "r")
        if i == 30:
            return key(pygame.K_r, "r") * 3 + resize(a, 200, 320) + key(pygame.K_r, "r")
        return []

    app.run(max_frames=40, dt=DT, script=script)
    app.close()
    videos = sorted(app.out.root.glob("*.mp4"))
    assert len(videos) >= 10
    for v in videos:
        assert finalised(v) and video_frames(v)[0] >= 1, v
    logs = {p.name.removesuffix(".log.jsonl") for p in app.out.root.glob("*.log.jsonl")}
    assert logs == {v.stem for v in videos}
    assert not [p for p in app.out.root.iterdir() if p.stat().st_size == 0]


def test_closing_the_window_while_recording_finalises(make_app) -> None:
    app = make_app()
    app.run(max_frames=100, dt=DT, script=lambda i, a: (
        key(pygame.K_r, "r") if i == 3 else [pygame.event.Event(pygame.QUIT)] if i == 20
        else []))
    assert app.frames == 21
    app.close()
    (video,) = app.out.root.glob("*.mp4")
    assert finalised(video) and video_frames(video)[0] == 18


# --- 3. one clamp on dt ---------------------------------------------------------------------

def test_a_stall_with_an_arrow_held_moves_one_step_not_seconds(make_app,
                                                              monkeypatch) -> None:
    """The issue's case: after kill -STOP with an arrow held, dimension 0 jumped 3.98 -> 6.82
    in one frame (``held(5.0)`` -> ``NudgeDim(0, 7.5)``). The loop's real pacing path, with
    one 5 s frame."""
    app = make_app(fps=60)
    waits = iter([DT] * 10 + [5.0] + [DT] * 10)
    monkeypatch.setattr(app.display, "wait", lambda: next(waits))
    logged: list[tuple[float, list[C.Command]]] = []
    monkeypatch.setattr(app.outputs, "log_frame",
                        lambda t, dt, cmds: logged.append((dt, list(cmds))))
    before = {}

    def script(i: int, a: App) -> list:
        if i == 2:
            return [C.SetPause(True), *key(pygame.K_UP, up=False)]   # held from now on
        if i == 11:
            before["u"] = engine.ranked_u(a.state, a.space)[0]
        return []

    app.run(max_frames=13, script=script)
    nudges = [(dt, c.delta) for dt, cmds in logged for c in cmds if isinstance(c, C.NudgeDim)]
    assert len(nudges) == 12       # the press's tap, then one per frame while held (2..12)
    stall_dt, stall_nudge = nudges[-2]   # frame 11 steps the 5 s stall
    assert stall_dt == MAX_DT and stall_nudge == pytest.approx(ARROW_RATE * MAX_DT)
    assert max(abs(d) for _, d in nudges) <= ARROW_RATE * MAX_DT + 1e-9
    assert max(dt for dt, _ in logged) == MAX_DT     # the log (and a replay) sees the step
    app.run(max_frames=200, dt=DT)   # let the glide settle: the point moved one step's worth
    assert abs(engine.ranked_u(app.state, app.space)[0] - before["u"]) < 0.5


@pytest.mark.parametrize("stall", [0.3, 5.0, 3600.0])
def test_every_consumer_of_dt_advances_a_stall_as_one_clamped_step(stall: float) -> None:
    """Held keys, mapping glides, trails and the blackout fade: a stall moves each of them
    exactly as MAX_DT does, never more (the walk has its own test in test_engine)."""
    assert clamp_dt(stall) == MAX_DT
    assert clamp_dt(float("nan")) == clamp_dt(float("inf")) == clamp_dt(-1.0) == 0.0

    kb = Keyboard()
    ctx = KeyContext({}, latent_dim=8)
    kb.handle(key(pygame.K_UP, up=False)[0], ctx)
    assert kb.held(stall, ctx) == kb.held(MAX_DT, ctx)

    def glide(dt: float) -> list[C.Command]:
        m = MappingRuntime([ControlMapping("walk.speed", osc="/s", smooth=2.0)], 8)
        m.feed_osc("/s", (1.0,))
        return m.update(dt, {"walk.speed": 0.0})
    assert glide(stall) == glide(MAX_DT) != glide(MAX_DT / 2)

    def look(dt: float) -> tuple[float, float]:
        lk = Look()
        lk.advance({"look.blackout": 1.0, "look.trails": 0.9}, dt)
        return lk.visibility, lk.effect(Trails).keep
    assert look(stall) == look(MAX_DT)


# --- 4. output names ------------------------------------------------------------------------

def test_log_flag_leaves_no_empty_log_beside_each_recording(make_app) -> None:
    """With --log, every recording left a 0-byte <stem>.log.jsonl beside it (replay then says
    "empty file"): the session's one log records the recordings too."""
    from latentsketch.output.controllog import read_log

    app = make_app(log_control=True)
    toggles = {5, 15, 25, 35}
    app.run(max_frames=45, dt=DT, script=lambda i, a: key(pygame.K_r, "r") if i in toggles
            else [])
    app.close()
    files = sorted(app.out.root.iterdir())
    assert not [p for p in files if p.stat().st_size == 0], files
    assert len([p for p in files if p.suffix == ".mp4"]) == 2
    (logf,) = [p for p in files if p.name.endswith(".log.jsonl")]
    assert len(read_log(logf, app.loaded.model_id).frames) == 45


def test_a_255_byte_output_name_renders(tiny_model: Path, tmp_path: Path) -> None:
    """The temporary name added characters: "File name too long" for a legal name."""
    out = tmp_path / ("a" * 251 + ".mp4")
    r = render(RenderRequest(model=str(tiny_model), walk="drift", duration=0.5, fps=10,
                             size=(64, 64), out=out))
    assert r.path == out and video_frames(out)[0] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
