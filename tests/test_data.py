"""Procedural art and image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentsketch.data import procedural
from latentsketch.data.images import DataError, load_folder


def test_procedural_is_deterministic_and_varied() -> None:
    a = procedural.generate(16, seed=3, size=64)
    b = procedural.generate(16, seed=3, size=64)
    assert a.shape == (16, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, procedural.generate(16, seed=4, size=64))
    # varied: images differ from each other and are colourful
    flat = a.reshape(16, -1).astype(float)
    assert np.min([np.abs(flat[i] - flat[j]).mean() for i in range(16) for j in range(i)]) > 5
    assert a.std(axis=(1, 2)).mean() > 15
    # a subset regenerates on its own
    assert np.array_equal(procedural.generate(4, seed=3, size=64, start=12), a[12:])


@pytest.mark.parametrize("style", procedural.STYLES)
@pytest.mark.parametrize("size", [64, 128])
def test_procedural_styles_and_sizes(style: str, size: int) -> None:
    img = procedural.render(1, 0, size, style)
    assert img.shape == (size, size, 3) and 0 <= img.min() and img.max() <= 1


def test_unknown_style_is_named() -> None:
    with pytest.raises(ValueError, match="unknown procedural style 'neon'"):
        procedural.render(0, 0, 64, "neon")


def test_folder_loads_recursively_and_skips_unreadable(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    Image.new("RGB", (200, 100), (255, 0, 0)).save(tmp_path / "a.png")
    Image.new("RGB", (50, 80), (0, 255, 0)).save(tmp_path / "sub" / "b.jpg")
    Image.new("RGBA", (64, 64), (0, 0, 255, 128)).save(tmp_path / "sub" / "deeper" / "c.webp")
    (tmp_path / "broken.png").write_bytes(b"not an image at all")
    (tmp_path / "notes.txt").write_text("ignored")
    s = load_folder(tmp_path, 32)
    assert s.images.shape == (3, 32, 32, 3)
    assert len(s.skipped) == 1 and s.skipped[0].endswith("broken.png")
    centres = s.images[:, 16, 16].astype(int)
    for want in ((255, 0, 0), (0, 255, 0)):  # jpeg may shift a level or two
        assert np.abs(centres - want).max(axis=1).min() <= 3


def test_empty_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no images found"):
        load_folder(tmp_path, 64)
    with pytest.raises(DataError, match="not a folder"):
        load_folder(tmp_path / "missing", 64)
    (tmp_path / "x.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="none of the 1 image files could be read"):
        load_folder(tmp_path, 64)
