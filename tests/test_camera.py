"""Camera as a source: a video file or a folder steers the walk through the live loop, a
missing camera or a broken file is one line while frames keep coming, and a control log of
such a show replays without the source."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.app import App
from latentsketch.control.camera_feed import CameraFeed
from latentsketch.control.sources import FolderSource, SourceError, VideoFileSource, open_source
from latentsketch.encoding import encode_array
from latentsketch.latent.space import LatentSpace
from latentsketch.model import checkpoint
from latentsketch.output.controllog import read_log
from latentsketch.render import replay_clip

DT = 1 / 60
COLOURS = [(230, 30, 30), (30, 230, 30), (30, 30, 230), (230, 230, 30), (30, 230, 230),
           (230, 30, 230), (250, 250, 250), (10, 10, 10), (128, 64, 0), (0, 64, 128)]


def write_clip(path: Path, fps: int = 10, colours=COLOURS, size: int = 64) -> Path:
    """A tiny H.264 clip: one solid colour per frame."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        for c in colours:
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), c, np.uint8), "rgb24")
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    return path


def write_folder(folder: Path, n: int = 4) -> Path:
    folder.mkdir()
    for i in range(n):
        Image.new("RGB", (48, 40), COLOURS[i]).save(folder / f"{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def loaded(tiny_model: Path) -> checkpoint.LoadedModel:
    return checkpoint.load(tiny_model)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def near(picture: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool(np.abs(picture.reshape(-1, 3).mean(0) - colour).max() < 12)


# --- the sources -----------------------------------------------------------------------------

def test_a_video_plays_at_its_own_rate_and_loops(tmp_path: Path) -> None:
    clock = Clock()
    src = VideoFileSource(write_clip(tmp_path / "clip.mp4"), clock=clock)
    try:
        for t, k in [(0.0, 0), (0.05, 0), (0.12, 1), (0.35, 3), (0.99, 9), (1.02, 0), (1.27, 2)]:
            clock.t = t
            picture = src.read()
            assert picture is not None and picture.shape == (64, 64, 3)
            assert near(picture, COLOURS[k]), (t, k, picture.reshape(-1, 3).mean(0))
        assert src.loops == 1
        clock.t = 60.0                    # a long stall: it plays on from where it was
        assert near(src.read(), COLOURS[2])
    finally:
        src.close()


def test_a_folder_gives_its_images_in_order_looping(tmp_path: Path) -> None:
    src = FolderSource(write_folder(tmp_path / "f", 3))
    got = [src.read() for _ in range(4)]
    assert [near(g, COLOURS[k]) for g, k in zip(got, [0, 1, 2, 0], strict=True)] == [True] * 4


@pytest.mark.parametrize("make,match", [
    (lambda p: p / "missing.mp4", "missing.mp4: no such file"),
    (lambda p: (p / "junk.mp4").write_bytes(b"not a video at all" * 10) and p / "junk.mp4",
     "junk.mp4: not a video PyAV can read"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "empty: no images"),
    (lambda p: p / "99", "--camera 99: no camera found"),
])
def test_an_unusable_source_is_one_line(tmp_path: Path, make, match: str) -> None:
    spec = str(make(tmp_path))
    with pytest.raises(SourceError, match=match) as e:
        open_source(spec if not spec.endswith("99") else "99")
    assert "\n" not in str(e.value)


# --- through the live loop -------------------------------------------------------------------

def run_until(app: App, done, seconds: float = 60.0, script=None) -> None:
    end = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < end, "timed out"
        app.run(max_frames=app.frames + 1, dt=DT, script=script)
        time.sleep(0.002)


def follow_still(app: App) -> None:
    """Drift at temperature 0: the walk's centre is the point followed, exactly."""
    app.run(max_frames=1, dt=DT, script=lambda i, a: [C.SetParam("walk.mode", 0.0),
                                                      C.SetParam("walk.temperature", 0.0)])


def encoded_u(loaded: checkpoint.LoadedModel, picture: np.ndarray) -> np.ndarray:
    return loaded.space.to_u(encode_array(loaded, picture).z).astype(np.float64)


def test_a_video_file_drives_the_walks_target(tmp_path: Path, make_app,
                                              loaded: checkpoint.LoadedModel) -> None:
    clip = write_clip(tmp_path / "clip.mp4")
    # what the source hands out, frame by frame, and where each picture is in the latent space
    clock = Clock()
    probe = VideoFileSource(clip, clock=clock)
    wants = []
    for k in range(10):
        clock.t = k / 10 + 0.01
        wants.append(encoded_u(loaded, probe.read()))
    probe.close()

    app = make_app(camera=str(clip), camera_fps=30)
    follow_still(app)
    assert app.camera is not None and app.camera.running
    start = app.state.centre.copy()
    run_until(app, lambda: app.camera.stats().encoded >= 3
              and not np.array_equal(app.state.centre, start))
    centre = app.state.centre
    dist = [float(np.abs(centre - w).max()) for w in wants]
    assert min(dist) < 1e-5, dist          # the centre is one of the clip's frames' points
    # the picture glides there (walk.glide) and frames kept coming meanwhile
    assert app.frames > 1 and np.isfinite(engine.output_u(app.state)).all()
    assert app.camera.stats().encode_ms > 0


def test_following_keeps_pins(make_app, tmp_path: Path) -> None:
    app = make_app(camera=str(write_folder(tmp_path / "f")), camera_fps=60)
    app.run(max_frames=1, dt=DT, script=lambda i, a: [C.SetDim(0, 2.5)])
    run_until(app, lambda: app.camera.stats().encoded >= 2)
    app.run(max_frames=app.frames + 3, dt=DT)
    i = app.space.raw_index(0)
    assert app.state.pinned[i] and app.state.pin[i] == 2.5


def test_no_camera_or_a_broken_file_is_one_line_and_frames_keep_coming(
        make_app, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"\x00" * 1000)
    for spec, said in [("7", "--camera 7: no camera found"),
                       (str(junk), "clip.mp4: not a video")]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, "latentsketch"):
            app = make_app(camera=spec)
            app.run(max_frames=5, dt=DT)
        lines = [r.getMessage() for r in caplog.records if "--camera" in r.getMessage()]
        assert len(lines) == 1 and said in lines[0] and "playing on without it" in lines[0]
        assert app.camera is None and app.frames == 5


def test_a_source_failing_mid_show_is_one_line_and_the_show_goes_on(
        make_app, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = write_folder(tmp_path / "f", 2)
    app = make_app(camera=str(folder), camera_fps=60)
    run_until(app, lambda: app.camera.stats().encoded >= 1)
    for f in folder.iterdir():                   # the pictures go away
        f.write_bytes(b"broken")
    with caplog.at_level(logging.WARNING, "latentsketch"):
        run_until(app, lambda: not app.camera.running)
        frames = app.frames
        app.run(max_frames=frames + 5, dt=DT)
    lines = [r.getMessage() for r in caplog.records if "none of its 2 images" in r.getMessage()]
    assert len(lines) == 1 and "playing on without it" in lines[0]
    assert app.frames == frames + 5


def test_newest_point_wins_when_the_loop_is_slow(tmp_path: Path,
                                                 loaded: checkpoint.LoadedModel) -> None:
    feed = CameraFeed(FolderSource(write_folder(tmp_path / "f", 3)), loaded, fps=60).start()
    try:
        end = time.monotonic() + 60
        while feed.stats().encoded < 6:
            assert time.monotonic() < end
            time.sleep(0.01)
        cmds, messages = feed.poll()
        assert len(cmds) == 1 and isinstance(cmds[0], C.FollowPoint) and not messages
        assert feed.stats().replaced >= 4           # the loop never took the older ones
    finally:
        feed.close()
    feed.close()                                    # twice is fine


def test_a_camera_show_replays_without_the_camera(tmp_path: Path, make_app,
                                                  loaded: checkpoint.LoadedModel) -> None:
    app = make_app(camera=str(write_folder(tmp_path / "f")), camera_fps=60, log_control=True)
    live: list[np.ndarray] = []

    def script(i: int, a: App) -> list[C.Command]:
        live.append(engine.output_z(a.state, a.space))   # the z frame i - 1 showed
        time.sleep(0.004)                                # let the worker keep up
        return []

    run_until(app, lambda: app.camera.stats().encoded >= 4, script=script)
    app.run(max_frames=app.frames + 10, dt=DT, script=script)
    live.append(engine.output_z(app.state, app.space))
    app.close()
    (logf,) = (tmp_path / "out").glob("*.log.jsonl")
    log = read_log(logf, loaded.model_id)
    followed = [c for f in log.frames for c in f.commands if isinstance(c, C.FollowPoint)]
    assert len(followed) >= 2
    replayed = [f.z for f in replay_clip(log, loaded.space).frames]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(live[1:], replayed, strict=True))
    assert len(set(map(bytes, replayed))) > 2


def test_space_round_trip_of_a_followed_point(loaded: checkpoint.LoadedModel) -> None:
    space: LatentSpace = loaded.space
    s = engine.State.initial(space, 0)
    u = tuple(float(v) for v in np.linspace(-1, 1, space.dim))
    s = engine.step(s, [C.SetParam("walk.temperature", 0.0), C.SetParam("walk.mode", 0.0),
                        C.OffsetDim(1, 0.5), C.FollowPoint(u)], DT, space)
    assert not s.last_errors
    np.testing.assert_array_equal(s.centre, u)
    assert s.offset[space.raw_index(1)] == 0.5        # offsets stay, as pins do


def test_following_is_said_only_once_pictures_arrive_and_a_bad_file_once(
        make_app, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A lone broken picture: one line naming it, never 'following'. A folder with one broken
    file among good ones: that file named once, then 'following' when a picture is encoded."""
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with caplog.at_level(logging.INFO, "latentsketch"):
        app = make_app(camera=str(broken))
        run_until(app, lambda: not app.camera.running)
        app.run(max_frames=app.frames + 3, dt=DT)
    lines = [r.getMessage() for r in caplog.records]
    assert not [t for t in lines if t.startswith("following ")], lines
    said = [t for t in lines if "broken.png" in t]
    assert len(said) == 1 and "none of its" not in said[0] and "not an image" in said[0], said

    folder = write_folder(tmp_path / "f", 3)
    (folder / "1b.png").write_bytes(b"broken")
    caplog.clear()
    with caplog.at_level(logging.INFO, "latentsketch"):
        app = make_app(camera=str(folder), camera_fps=60)
        run_until(app, lambda: app.camera.stats().encoded >= 5)
        app.run(max_frames=app.frames + 2, dt=DT)
    lines = [r.getMessage() for r in caplog.records]
    skipped = [t for t in lines if "1b.png" in t]
    assert len(skipped) == 1 and "skipping" in skipped[0], lines
    assert len([t for t in lines if t.startswith("following ")]) == 1, lines
    assert app.camera.running
