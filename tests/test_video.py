"""Frame writers: every format is decoded back and compared with the frames that went in."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from latentsketch.output.paths import OutputError
from latentsketch.output.video import (
    GifWriter,
    H264Writer,
    PngSequenceWriter,
    ProResWriter,
    as_fps,
    even_size,
    open_writer,
    remux_to_faststart,
    writer_class,
)

PALETTE = [(230, 30, 30), (30, 200, 60), (40, 60, 220), (240, 220, 40), (20, 20, 20),
           (250, 250, 250), (200, 80, 200), (60, 200, 210)]


def frame(i: int, w: int = 64, h: int = 48) -> np.ndarray:
    """Flat background plus a moving square: easy for codecs, distinct frame to frame."""
    a = np.empty((h, w, 3), np.uint8)
    a[:] = PALETTE[i % len(PALETTE)]
    side = 16
    x = (i * 8) % (w - side)
    a[16:16 + side, x:x + side] = PALETTE[(i + 3) % len(PALETTE)]
    return a


def decode(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def assert_matches(decoded: list[np.ndarray], n: int, w: int, h: int, tol: float = 4.0) -> None:
    """Each decoded frame is close to the frame written at its index, and far from others."""
    assert len(decoded) == n
    for i, got in enumerate(decoded):
        assert got.shape == (h, w, 3)
        err = np.abs(got.astype(np.int16) - frame(i, w, h)).mean()
        assert err < tol, f"frame {i}: mean error {err:.2f}"
        other = np.abs(got.astype(np.int16) - frame(i + 1, w, h)).mean()
        assert other > 4 * tol


def atoms(path: Path) -> list[str]:
    """Top-level MP4 box names in file order."""
    data, names, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        names.append(data[pos + 4:pos + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        if size < 8:
            break
        pos += size
    return names


@pytest.mark.parametrize("crash_safe", [True, False])
def test_mp4_frames_size_and_timestamps(tmp_path: Path, crash_safe: bool) -> None:
    path = tmp_path / "out.mp4"
    with H264Writer(path, 64, 48, 30, crash_safe=crash_safe) as w:
        for i in range(24):
            w.write(frame(i))
    assert w.frames_written == 24 and w.remux_error is None
    frames = decode(path)
    assert_matches([f.to_ndarray(format="rgb24") for f in frames], 24, 64, 48)
    assert [round(f.time * 30) for f in frames] == list(range(24))
    boxes = atoms(path)
    assert "moof" not in boxes, "a clean close leaves an ordinary MP4"
    assert boxes.index("moov") < boxes.index("mdat"), "index at the front (faststart)"
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == "h264"


def test_fragmented_file_plays_before_close(tmp_path: Path) -> None:
    path = tmp_path / "live.mp4"
    w = H264Writer(path, 64, 48, 30, preset="ultrafast", fragment_seconds=0.1)
    for i in range(30):
        w.write(frame(i))
    # Not closed: what is on disk now is what a crash would leave.
    assert "moof" in atoms(path)
    assert len(decode(path)) >= 20
    w.close()
    assert len(decode(path)) == 30


def test_remux_failure_keeps_fragmented_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from latentsketch.output import video

    path = tmp_path / "keep.mp4"
    blocked = tmp_path / "blocked"
    blocked.mkdir()  # the remux target cannot be created: it is a folder
    monkeypatch.setattr(video, "temp_beside", lambda p, suffix=None: blocked)
    with H264Writer(path, 64, 48, 30) as w:
        for i in range(12):
            w.write(frame(i))
    assert w.remux_error is not None and str(path) in w.remux_error
    assert "\n" not in w.remux_error
    assert "moof" in atoms(path)
    assert_matches([f.to_ndarray(format="rgb24") for f in decode(path)], 12, 64, 48)


def test_remux_refuses_short_copy(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    with H264Writer(path, 64, 48, 30, crash_safe=False) as w:
        for i in range(5):
            w.write(frame(i))
    before = path.read_bytes()
    assert remux_to_faststart(path, expected_frames=6) is not None
    assert path.read_bytes() == before
    assert not (tmp_path / ".a.mp4.remux").exists()


def test_real_timestamps_follow_the_clock(tmp_path: Path) -> None:
    """A loop that stutters: frames land on their own times, late frames never go back."""
    path = tmp_path / "vfr.mp4"
    times = [50.0, 50.033, 50.07, 50.2, 50.21, 50.215, 50.4]
    with H264Writer(path, 64, 48, 30) as w:
        for i, t in enumerate(times):
            w.write(frame(i), t)
    slots = [round(f.time * 30) for f in decode(path)]
    assert slots == [0, 1, 2, 6, 7, 8, 12]


def test_prores_mov(tmp_path: Path) -> None:
    path = tmp_path / "out.mov"
    with open_writer(path, 64, 48, Fraction(30000, 1001)) as w:
        assert isinstance(w, ProResWriter)
        for i in range(8):
            w.write(frame(i))
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "prores"
        assert stream.average_rate == Fraction(30000, 1001)
    assert_matches([f.to_ndarray(format="rgb24") for f in decode(path)], 8, 64, 48)


def test_gif_loops_forever_with_all_frames(tmp_path: Path) -> None:
    path = tmp_path / "out.gif"
    with open_writer(path, 64, 48, 30) as w:
        assert isinstance(w, GifWriter)
        for i in range(10):
            w.write(frame(i))
    with Image.open(path) as im:
        assert im.info["loop"] == 0
        assert im.n_frames == 10
        decoded, durations = [], []
        for k in range(im.n_frames):
            im.seek(k)
            decoded.append(np.asarray(im.convert("RGB")))
            durations.append(im.info["duration"])
    assert_matches(decoded, 10, 64, 48, tol=1.0)
    assert sum(durations) == pytest.approx(1000 * 10 / 30, abs=10)  # no drift in 1/100 s steps


def test_png_sequence_exact_and_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    with open_writer(folder, 64, 48, 24) as w:
        assert isinstance(w, PngSequenceWriter)
        for i in range(6):
            w.write(frame(i))
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [f"frame_{i:06d}.png" for i in range(6)]
    for i, f in enumerate(files):
        assert np.array_equal(np.asarray(Image.open(f)), frame(i))
    again = PngSequenceWriter(folder, 64, 48, 24)
    with pytest.raises(OutputError, match="frame_000000.png already exists"):
        again.write(frame(99))
    assert np.array_equal(np.asarray(Image.open(files[0])), frame(0))


def test_writer_choice_and_argument_errors(tmp_path: Path) -> None:
    assert writer_class("a.MP4") is H264Writer
    assert writer_class(tmp_path / "seq") is PngSequenceWriter
    with pytest.raises(ValueError, match="unsupported output format '.avi'"):
        writer_class("clip.avi")
    with pytest.raises(ValueError, match="must be even .use 64x48."):
        H264Writer(tmp_path / "odd.mp4", 65, 49, 30)
    assert even_size(65, 49) == (64, 48)
    assert as_fps(29.97) == Fraction(2997, 100)
    for bad in (0, 1000.5):
        with pytest.raises(ValueError, match="must be more than 0 and at most 1000"):
            as_fps(bad)
    assert as_fps(1000) == 1000
    w = GifWriter(tmp_path / "x.gif", 64, 48, 30)
    with pytest.raises(ValueError, match="expected a uint8 48x64x3 frame"):
        w.write(np.zeros((48, 64, 3), np.float32))
    with pytest.raises(ValueError, match="expected a uint8 48x64x3 frame"):
        w.write(np.zeros((64, 48, 3), np.uint8))


def test_unwritable_destination_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "out.mp4"
    with pytest.raises(OutputError) as err:
        H264Writer(target, 64, 48, 30)
    assert str(target) in str(err.value) and "\n" not in str(err.value)
    assert "Not a directory" in str(err.value)
