"""Text in the PNG sheets reads as words: the atlas header and row labels keep their spaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from latentsketch.sheets import label_font, labelled_sheet, text_layout

TITLE = "latent atlas 0123abcd4567: each row sweeps one dimension from -2.5 to +2.5 std"


def _gaps(band: np.ndarray, threshold: int = 60) -> list[int]:
    """Widths of the runs of empty columns between the first and last inked column."""
    ink = (band.max(axis=2) > threshold).any(axis=0)
    cols = np.nonzero(ink)[0]
    runs, run = [], 0
    for c in ink[cols[0]:cols[-1] + 1]:
        if c:
            if run:
                runs.append(run)
            run = 0
        else:
            run += 1
    return runs


def test_layout_puts_a_real_space_between_words() -> None:
    font = label_font()
    words = text_layout(TITLE, font)
    assert [w for w, _ in words] == TITLE.split()
    size = getattr(font, "size", 10)
    for (w, x), (_, nxt) in zip(words, words[1:], strict=False):
        assert nxt - (x + font.getlength(w)) >= 0.35 * size


def test_the_rendered_header_shows_one_clear_gap_per_space() -> None:
    imgs = np.zeros((9, 16, 16, 3), np.uint8)
    sheet = np.asarray(labelled_sheet([("dim 0 (raw 3)", imgs)], scale=2, title=TITLE))
    gaps = _gaps(sheet[:22])
    spaces = TITLE.count(" ")
    wide = sorted(gaps)[-spaces:]
    narrow = sorted(gaps)[:-spaces]
    # every space is wider than any gap between letters of a word
    assert min(wide) > max(narrow), sorted(gaps)
    assert min(wide) >= 5
    # the sheet is widened for a title longer than its rows: the last word is not cut off
    last_ink = np.nonzero((sheet[:22].max(axis=2) > 60).any(axis=0))[0][-1]
    assert last_ink < sheet.shape[1] - 3


def test_atlas_written_by_info_has_a_spaced_header(tiny_model: Path, tmp_path: Path) -> None:
    from latentsketch.info import describe

    describe(str(tiny_model), tmp_path, dims=2)
    (atlas,) = tmp_path.glob("latentsketch-atlas-*.png")
    header = np.asarray(Image.open(atlas).convert("RGB"))[:22]
    gaps = _gaps(header)
    words = 13   # "latent atlas <id>: each row sweeps one dimension from -2.5 to +2.5 std"
    assert sum(g >= 5 for g in gaps) == words - 1, sorted(gaps)
