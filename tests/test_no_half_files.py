"""Files are never half-written: on a read-only or full disk every writer that reserves a name
(snapshots, recordings and their control logs, render outputs, presets) says so in one line and
leaves nothing behind, and a recording cut short reports the frames its file really holds.
Real full folders (tmpfs mounts, see conftest)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import av
import numpy as np
import pytest

from latentsketch import cli, engine
from latentsketch.errors import UserError
from latentsketch.output.controllog import ControlLog
from latentsketch.output.paths import OutputDir, OutputError
from latentsketch.output.picture import ArrayScaler, Picture
from latentsketch.output.recorder import Recorder, RecorderState
from latentsketch.output.session import LogContext, SessionOutputs
from latentsketch.output.snapshot import SnapshotMeta, save_snapshot
from latentsketch.preset import Preset, PresetError
from latentsketch.render import RenderRequest, render
from tests.conftest import listing
from tests.test_controllog import make_space

META = SnapshotMeta.from_z(np.zeros(8, np.float32), "0123456789ab")


def decoded_frames(path: Path) -> int:
    """What a player gets out of the file: frames decoded until the first error."""
    n = 0
    try:
        with av.open(str(path)) as c:
            for _ in c.decode(video=0):
                n += 1
    except av.FFmpegError:
        pass
    return n


def noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """A frame that does not compress: the disk fills after a known few frames."""
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


class Said:
    def __init__(self) -> None:
        self.lines: list[tuple[str, bool]] = []

    def __call__(self, text: str, error: bool = False) -> None:
        assert "\n" not in text
        self.lines.append((text, error))


# --- snapshots -------------------------------------------------------------------------------

def test_snapshot_into_a_full_folder_leaves_no_empty_png(full_dir: Path) -> None:
    frame = np.full((64, 64, 3), 128, np.uint8)
    with pytest.raises(OutputError) as e:
        save_snapshot(frame, META, OutputDir(full_dir))
    assert "No space left on device" in str(e.value) and str(full_dir) in str(e.value)
    assert "\n" not in str(e.value)
    assert listing(full_dir) == []  # the case: two 0-byte .png files were left


def test_snapshot_whose_upscaled_copy_fails_leaves_neither_file(small_dir: Path) -> None:
    """The native PNG fits, the 1024-px copy does not: a snapshot is both files or none."""
    frame = noise(np.random.default_rng(0), 64)
    with pytest.raises(OutputError):
        save_snapshot(frame, META, OutputDir(small_dir))
    assert listing(small_dir) == []


def test_live_snapshot_on_a_full_disk_is_one_message(full_dir: Path) -> None:
    said = Said()
    out = SessionOutputs(OutputDir(full_dir), 30.0, said)
    out.snapshot(np.zeros((64, 64, 3), np.uint8), META)
    out.wait_snapshots()
    assert len(said.lines) == 1 and said.lines[0][1] and "snapshot failed" in said.lines[0][0]
    assert listing(full_dir) == []


# --- recordings and control logs -------------------------------------------------------------

def test_recording_cut_short_by_a_full_disk_reports_the_frames_in_its_file(
        small_dir: Path) -> None:
    rng = np.random.default_rng(1)
    rec = Recorder(fragment_seconds=0.2)
    path = small_dir / "rec.mp4"
    rec.start(path, 128, 128, fps=60)
    for i in range(600):
        rec.submit(noise(rng, 128), i / 60)
        time.sleep(0.002)
        if rec.status().state is RecorderState.FAILED:
            break
    st = rec.stop()
    assert st.state is RecorderState.FAILED and "No space left on device" in st.error
    held = decoded_frames(path)
    assert held > 0
    # the encoder took more frames than the file keeps (the fragment being written is lost):
    # the count and the message say what is in the file
    assert st.frames_written == held
    assert f"recording stopped after {held} frames" in st.error


def test_recording_that_cannot_start_leaves_no_empty_files(full_dir: Path) -> None:
    said = Said()
    space = make_space()
    out = SessionOutputs(OutputDir(full_dir), 30.0, said)
    state = engine.State.initial(space, 0)
    ctx = LogContext("0123456789ab", "default", "fp32", "fit", 30.0, 1.0)
    out.record(True, (64, 64), state, 0.0, ctx)
    picture = Picture(ArrayScaler())
    picture.feed(np.zeros((64, 64, 3), np.uint8), {}, 1 / 30)
    for i in range(30):
        out.submit(picture, i / 30)
        out.log_frame(i / 30, 1 / 30, [])
        time.sleep(0.01)
    st = out.close()
    assert st.frames_written == 0
    assert any(err for _, err in said.lines)
    assert listing(full_dir) == []  # no 0-byte .mp4, no header-less .log.jsonl


def test_a_control_log_that_cannot_start_is_removed(full_dir: Path) -> None:
    said = Said()
    space = make_space()
    out = SessionOutputs(OutputDir(full_dir), 30.0, said)
    path = OutputDir(full_dir).reserve(".log.jsonl")
    ctx = LogContext("0123456789ab", "default", "fp32", "fit", 30.0, 1.0)
    out.open_log(path, engine.State.initial(space, 0), (64, 64), ctx)
    assert out.control_log is None and said.lines[0][1]
    assert "control log not started" in said.lines[0][0]
    assert listing(full_dir) == []
    with pytest.raises(OSError):
        ControlLog.open(full_dir / "direct.log.jsonl", engine.State.initial(space, 0), "x", None)


# --- render ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [".mp4", ".gif", "/"])
def test_render_into_a_full_folder_leaves_nothing(tiny_model: Path, full_dir: Path,
                                                  fmt: str) -> None:
    req = RenderRequest(model=tiny_model, walk="drift", duration=0.5, fps=10, size=(64, 64),
                        out_dir=full_dir, format=fmt)
    with pytest.raises(UserError) as e:
        render(req)
    assert "No space left on device" in str(e.value)
    assert listing(full_dir) == []


def test_png_frames_cut_short_by_a_full_disk_are_all_removed(tiny_model: Path,
                                                             small_dir: Path) -> None:
    """Some frames fit before the disk fills: the failed export removes them and its folder."""
    req = RenderRequest(model=tiny_model, walk="noise", duration=4, fps=10, size=(256, 256),
                        out_dir=small_dir, format="/", filter="bilinear")
    with pytest.raises(UserError):
        render(req)
    assert listing(small_dir) == []
    req = RenderRequest(model=tiny_model, walk="noise", duration=4, fps=10, size=(256, 256),
                        out=small_dir / "frames", filter="bilinear")
    with pytest.raises(UserError):
        render(req)
    assert listing(small_dir) == []


def test_cli_render_into_a_full_folder_is_one_line(tiny_model: Path, full_dir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["render", "--model", str(tiny_model), "--walk", "drift", "--duration",
                     "0.5", "--fps", "10", "--size", "64x64", "--out", str(full_dir / "a.mp4")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("latentsketch: error: cannot write") and "No space left" in err
    assert listing(full_dir) == []


# --- presets ---------------------------------------------------------------------------------

def test_preset_save_on_a_full_disk_leaves_no_temporary_file(full_dir: Path) -> None:
    with pytest.raises(PresetError) as e:
        Preset(name="x").save(full_dir / "x.toml")
    assert str(full_dir / "x.toml") in str(e.value) and "No space left" in str(e.value)
    assert listing(full_dir) == []


def test_cleanup_removes_only_what_a_writer_leaves(tmp_path: Path) -> None:
    """``discard`` removes regular files and empty folders, never a device, a FIFO, a symlink's
    target or a folder that holds files (``Recorder.start('/dev/full')`` must not unlink it)."""
    from latentsketch.output.paths import discard

    fifo, full, empty, target = (tmp_path / n for n in ("fifo", "full", "empty", "target"))
    os.mkfifo(fifo)
    full.mkdir()
    (full / "keep").write_text("x")
    empty.mkdir()
    target.write_text("x")
    (tmp_path / "link").symlink_to(target)
    (tmp_path / "file").write_text("x")
    discard(fifo, full, empty, tmp_path / "link", tmp_path / "file", tmp_path / "missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "full", "link", "target"]
    assert target.read_text() == "x"


def test_a_model_saved_onto_a_full_disk_keeps_the_previous_one(small_dir: Path) -> None:
    """safetensors reports a full disk as its own error type: still one line, and the old
    weights and config stay a matching pair (both temporary files are removed)."""
    from latentsketch.model import checkpoint
    from tests.conftest import fill_disk, make_tiny_model

    before = checkpoint.model_id_of(make_tiny_model(small_dir / "m", seed=0))
    fill_disk(small_dir)
    with pytest.raises(checkpoint.CheckpointError) as e:
        make_tiny_model(small_dir / "m", seed=1)
    assert str(e.value).startswith(f"cannot save model {small_dir / 'm' / 'model.safetensors'}")
    assert "No space left on device" in str(e.value)
    assert listing(small_dir) == ["m", "m/model.json", "m/model.safetensors"]
    assert checkpoint.load(small_dir / "m").model_id == before


def test_finalising_on_a_full_disk_keeps_the_fragmented_file_and_counts_it(
        small_dir: Path) -> None:
    """The clean stop remuxes into a second file: with no room for it the fragmented file stays
    (playable), the temporary copy goes, and the count is still what the file holds."""
    rng = np.random.default_rng(2)
    rec = Recorder(fragment_seconds=0.1)
    path = small_dir / "rec.mp4"
    rec.start(path, 96, 96, fps=30)
    i = 0
    while not path.exists() or path.stat().st_size < 300_000:
        assert rec.submit(noise(rng, 96), i / 30) and i < 400
        i += 1
        time.sleep(0.01)
    st = rec.stop()
    assert st.state is RecorderState.IDLE
    assert st.error is not None and "kept as fragmented MP4" in st.error
    assert st.frames_written == decoded_frames(path) == i
    assert listing(small_dir) == ["rec.mp4"]


def test_the_live_exit_line_counts_the_frames_in_the_file(
        tiny_model: Path, small_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The issue's case: after a disk-full stop the exit line said 91 frames, 83 decoded."""
    import logging

    from latentsketch import commands as C
    from latentsketch.app import App, AppOptions

    app = App(AppOptions(model=str(tiny_model), seed=3, fps=0, size=(256, 256), osc=False,
                         midi=False, out_dir=str(small_dir)))
    try:
        with caplog.at_level(logging.INFO, logger="latentsketch"):
            app.run(max_frames=2000, dt=1 / 30, script=lambda i, a: (
                [C.Record(True), C.SetParam("walk.speed", 10.0)] if i == 1 else []
                if a.outputs.recording or i < 3 else [C.Quit()]))
            app.close()
    finally:
        app.close()
    assert any("No space left on device" in r.getMessage() for r in caplog.records)
    assert app.frames < 2000  # the disk filled, the recording stopped, the script quit
    (video,) = small_dir.glob("*.mp4")
    held = decoded_frames(video)
    assert held > 0
    # the file was never finalised (the disk is full): the exit line says so, with the count
    assert not [r for r in caplog.records if "recording finalised" in r.getMessage()]
    final = [r.getMessage() for r in caplog.records if "not finalised" in r.getMessage()]
    assert len(final) == 1
    assert final[0].startswith(f"recording not finalised: {video} holds {held} frames (")
    assert "fragmented MP4" in final[0] and "-c copy" in final[0]


def test_a_control_log_on_a_disk_that_fills_stops_with_one_message(small_dir: Path) -> None:
    """The log keeps what reached the disk, says so once, and closes its file (the mount's
    teardown fails on a file left open)."""
    from latentsketch import commands as C
    from tests.conftest import fill_disk

    said = Said()
    space = make_space()
    out = SessionOutputs(OutputDir(small_dir), 30.0, said, always_log=True)
    path = OutputDir(small_dir).reserve(".log.jsonl")
    ctx = LogContext("0123456789ab", "default", "fp32", "fit", 30.0, 1.0)
    out.open_log(path, engine.State.initial(space, 0), (64, 64), ctx)
    assert out.control_log is not None
    fill_disk(small_dir)
    cmds = [C.SetDim(i % 8, 0.5) for i in range(50)]
    for i in range(2000):
        out.log_frame(i / 30, 1 / 30, cmds)
        out.log_preset("p", {"walk.speed": 1.0}, {}, None)
    assert out.control_log is None
    (text, error), = said.lines
    assert error and text.startswith(f"control log stopped: cannot write {path}: No space left")
    out.close()
    assert path.stat().st_size > 0  # the header and what was flushed are kept
