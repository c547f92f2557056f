"""Every place that reads an image, fed bad and unusual files: one line, never a traceback.

Keyframes (``render --keyframes``), ``play --start-from``, files dropped on the window,
snapshot metadata, and ``train --background`` reaching the data. (Any readable image is a
keyframe, a start and a drop: other pictures are encoded; ``test_drops`` and
``test_encoding`` cover those.)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pygame
import pytest
from PIL import Image

from latentsketch import cli
from latentsketch.app import App, AppOptions
from latentsketch.output.snapshot import SnapshotError, SnapshotMeta, read_snapshot_meta, write_png
from latentsketch.train import TrainConfig, load_data

HUGE = Path(__file__).parent / "cases" / "huge-header.png"


def one_error_line(capsys: pytest.CaptureFixture[str], code: int, path: Path) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("latentsketch: error: "), err
    assert str(path) in lines[0] and "Traceback" not in err
    return lines[0]


def test_huge_header_keyframe_is_one_line(tiny_model: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["render", "--model", str(tiny_model), "--keyframes", str(HUGE), str(HUGE),
                     "--out", str(tmp_path / "x.mp4"), "--size", "64x64"])
    line = one_error_line(capsys, code, HUGE)
    assert "pixels" in line and "use a smaller image" in line
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize("name, needle", [
    ("huge", "use a smaller image"), ("other", "snapshot of model ffffffffffff"),
    ("text", "not an image"), ("missing", "No such file"), ("folder", "a folder"),
])
def test_bad_start_from_is_one_line_before_the_window_opens(
        tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        name: str, needle: str) -> None:
    paths = {"huge": HUGE, "other": tmp_path / "other.png", "text": tmp_path / "notes.png",
             "missing": tmp_path / "missing.png", "folder": tmp_path}
    write_png(paths["other"], np.zeros((8, 8, 3), np.uint8),
              SnapshotMeta.from_z(np.zeros(8, np.float32), "ffffffffffff"))
    paths["text"].write_text("hello")
    code = cli.main(["play", "--model", str(tiny_model), "--start-from", str(paths[name]),
                     "--no-osc", "--no-midi", "--fps", "0", "--out-dir", str(tmp_path / "o")])
    assert needle in one_error_line(capsys, code, paths[name])


def test_snapshot_meta_of_bad_files_is_a_snapshot_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError) as err:
        read_snapshot_meta(HUGE)
    assert str(HUGE) in str(err.value) and "\n" not in str(err.value)
    # a real snapshot still reads through the same opener
    meta = SnapshotMeta.from_z(np.arange(8, dtype=np.float32), "abc123")
    path = write_png(tmp_path / "s.png", np.zeros((8, 8, 3), np.uint8), meta)
    assert read_snapshot_meta(path) == meta


def test_snapshot_meta_of_every_bad_file_is_one_line(tmp_path: Path) -> None:
    from tests.test_images import _bad_files

    for name, path in _bad_files(tmp_path).items():
        if name == "truncated.jpg":  # the header reads; metadata needs no pixels: no snapshot
            assert read_snapshot_meta(path) is None
            continue
        with pytest.raises(SnapshotError) as err:
            read_snapshot_meta(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value), name


def test_dropped_bad_files_are_refused_and_the_show_goes_on(tiny_model: Path,
                                                            tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("hello")
    app = App(AppOptions(model=str(tiny_model), seed=1, fps=0, size=(64, 64), osc=False,
                         midi=False, out_dir=str(tmp_path / "o")))
    said: list[str] = []
    app.say = lambda msg, error=False: said.append(msg)  # type: ignore[method-assign]
    try:
        app.run(max_frames=3, dt=1 / 60, script=lambda i, a: [
            pygame.event.Event(pygame.DROPFILE, file=str(p)) for p in (HUGE, text)
        ] if i == 1 else [])
        deadline = time.monotonic() + 30
        while app.inputs.drops.busy and time.monotonic() < deadline:  # read by a worker
            app.run(max_frames=app.frames + 1, dt=1 / 60)
        assert app.running and not app.inputs.drops.busy
    finally:
        app.close()
    assert any(str(HUGE) in m and "pixels" in m for m in said), said
    assert any(str(text) in m and "not an image" in m for m in said), said


def test_train_background_reaches_the_data(tmp_path: Path) -> None:
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[4:12, 4:12] = (255, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "sprite.png")
    args = cli.build_parser().parse_args(["train", str(tmp_path), "--background", "#202020"])
    assert args.background == (32, 32, 32)
    # not given: white from scratch, a fine-tune's source background (tests/test_train_transfer)
    assert cli.build_parser().parse_args(["train", str(tmp_path)]).background is None
    assert TrainConfig.background == (255, 255, 255)
    imgs, desc = load_data(TrainConfig(data=str(tmp_path), size=64, background=args.background))
    assert imgs[0, 0, 0].tolist() == [32, 32, 32] and imgs[0, 32, 32].tolist() == [255, 0, 0]
    assert "transparent=1 on #202020" in desc


def test_train_bad_background_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    with pytest.raises(SystemExit) as ex:
        cli.main(["train", str(tmp_path), "--background", "blurple"])
    assert ex.value.code == 2
    assert "colour 'blurple' is not a colour name" in capsys.readouterr().err
