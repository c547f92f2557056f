"""Snapshots and the output folder: metadata round trips, names never overwrite."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from latentsketch.output.paths import OutputDir, OutputError
from latentsketch.output.snapshot import (
    SnapshotError,
    SnapshotMeta,
    read_snapshot_meta,
    save_snapshot,
    upscaled_dims,
    write_png,
)

NOW = datetime(2026, 11, 23, 19, 30, 12)


def picture(w: int = 64, h: int = 64) -> np.ndarray:
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (200, 40, 40)
    a[:, w // 2:] = (30, 90, 210)
    return a


def meta(dim: int = 16) -> SnapshotMeta:
    z = np.random.default_rng(3).standard_normal(dim).astype(np.float32) * 1e3
    return SnapshotMeta.from_z(z, "0123456789ab", preset="gallery ünïcode", seed=42, time=12.75)


def test_snapshot_round_trip_native_and_upscaled(tmp_path: Path) -> None:
    m = meta()
    files = save_snapshot(picture(), m, OutputDir(tmp_path), upscaled_size=1024)
    assert files.native.name.startswith("latentsketch-") and files.native.suffix == ".png"
    assert files.upscaled == files.native.with_name(files.native.stem + "-1024.png")
    with Image.open(files.native) as im:
        assert im.size == (64, 64)
        assert np.array_equal(np.asarray(im.convert("RGB")), picture())
    with Image.open(files.upscaled) as im:
        assert im.size == (1024, 1024)
        big = np.asarray(im.convert("RGB")).astype(int)
    assert np.abs(big[:, 100] - (200, 40, 40)).max() <= 1  # flat areas stay flat
    assert np.abs(big[:, 900] - (30, 90, 210)).max() <= 1
    for path in (files.native, files.upscaled):
        back = read_snapshot_meta(path)
        assert back == m
        assert np.array_equal(back.z_array(), m.z_array()), "z reads back bit-exact"


def test_minimal_metadata_and_aspect(tmp_path: Path) -> None:
    m = SnapshotMeta.from_z(np.array([0.5, -1.25], np.float32), "ffffffffffff")
    files = save_snapshot(picture(96, 48), m, OutputDir(tmp_path), upscaled_size=512)
    with Image.open(files.upscaled) as im:
        assert im.size == (512, 256)
    back = read_snapshot_meta(files.native)
    assert back is not None and back.preset is None and back.seed is None and back.time is None
    assert back.z == (0.5, -1.25)
    assert upscaled_dims(1024, 512, 1024) is None
    big = save_snapshot(picture(128, 128), m, OutputDir(tmp_path), upscaled_size=128)
    assert big.upscaled is None and read_snapshot_meta(big.native) == m


def test_other_images_have_no_metadata(tmp_path: Path) -> None:
    Image.fromarray(picture()).save(tmp_path / "plain.png")
    Image.fromarray(picture()).save(tmp_path / "photo.jpg")
    assert read_snapshot_meta(tmp_path / "plain.png") is None
    assert read_snapshot_meta(tmp_path / "photo.jpg") is None


@pytest.mark.parametrize("chunks, reason", [
    ({"latentsketch:z": "[1, \"a\"]", "latentsketch:model_id": "abc"}, "z is not a list"),
    ({"latentsketch:z": "[1, NaN]", "latentsketch:model_id": "abc"}, "finite"),
    ({"latentsketch:z": "[1, 2", "latentsketch:model_id": "abc"}, "damaged"),
    ({"latentsketch:z": "[1, 2]"}, "model_id is missing"),
    ({"latentsketch:z": "[1, 2]", "latentsketch:model_id": "a", "latentsketch:seed": "x"},
     "damaged"),
])
def test_damaged_metadata_is_one_line(tmp_path: Path, chunks: dict[str, str],
                                      reason: str) -> None:
    info = PngImagePlugin.PngInfo()
    for k, v in chunks.items():
        info.add_text(k, v)
    path = tmp_path / "bad.png"
    Image.fromarray(picture()).save(path, pnginfo=info)
    with pytest.raises(SnapshotError, match=reason) as err:
        read_snapshot_meta(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_unreadable_files_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not a png")
    cases = {tmp_path / "missing.png": "No such file", tmp_path / "notes.png": "not an image",
             tmp_path: "a folder, not a picture"}
    for path, reason in cases.items():
        with pytest.raises(SnapshotError, match=reason) as err:
            read_snapshot_meta(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="finite"):
        SnapshotMeta.from_z(np.array([np.nan], np.float32), "abc")


def test_write_png_error_names_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputError, match="cannot write snapshot .*Not a directory"):
        write_png(tmp_path / "f" / "x.png", picture(), meta())


# --- output folder and names ------------------------------------------------------------------

def test_names_are_timestamped_and_never_overwrite(tmp_path: Path) -> None:
    out = OutputDir(tmp_path / "out")
    first = out.reserve(".mp4", NOW)
    assert first.name == "latentsketch-20261123-193012.mp4" and first.exists()
    first.write_bytes(b"precious")
    assert out.reserve(".mp4", NOW).name == "latentsketch-20261123-193012-2.mp4"
    assert out.reserve(".mp4", NOW).name == "latentsketch-20261123-193012-3.mp4"
    assert first.read_bytes() == b"precious"
    assert out.reserve(".png", NOW).name == "latentsketch-20261123-193012.png"


def test_grouped_names_share_a_free_stem(tmp_path: Path) -> None:
    out = OutputDir(tmp_path, prefix="show")
    (tmp_path / "show-20261123-193012.log.jsonl").write_text("{}")
    video, log = out.reserve_many([".mp4", ".log.jsonl"], NOW)
    assert (video.name, log.name) == ("show-20261123-193012-2.mp4",
                                      "show-20261123-193012-2.log.jsonl")
    assert not (tmp_path / "show-20261123-193012.mp4").exists(), "partial reservation undone"
    folder = out.reserve("/", NOW)
    assert folder.is_dir() and folder.name == "show-20261123-193012"
    assert (tmp_path / "show-20261123-193012.log.jsonl").read_text() == "{}"


def test_concurrent_reservations_are_unique(tmp_path: Path) -> None:
    out = OutputDir(tmp_path)
    names: list[Path] = []
    lock = threading.Lock()

    def grab() -> None:
        for _ in range(10):
            p = out.reserve(".mp4", NOW)
            with lock:
                names.append(p)

    threads = [threading.Thread(target=grab) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(names) == 60 and len(set(names)) == 60


def test_output_folder_default_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert OutputDir().ensure().resolve() == tmp_path / "latentsketch-out"
    (tmp_path / "plain-file").write_text("")
    for bad, reason in [(tmp_path / "plain-file", "is a file"),
                        (tmp_path / "plain-file" / "sub", "Not a directory")]:
        with pytest.raises(OutputError, match=reason) as err:
            OutputDir(bad).reserve(".mp4")
        assert str(bad) in str(err.value) and "\n" not in str(err.value)
        assert isinstance(err.value, OSError)
