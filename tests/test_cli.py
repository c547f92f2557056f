"""The command line, as a person runs it: a table of invocations and their outcomes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "latentsketch", *args], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=timeout)


def test_info_describes_a_model_and_writes_an_atlas(tiny_model: Path, tmp_path: Path) -> None:
    r = run("info", str(tiny_model), "--out", str(tmp_path), "--dims", "3")
    assert r.returncode == 0, r.stderr
    assert "latent 8" in r.stdout and "GFLOP/frame" in r.stdout and "ms per frame" in r.stdout
    assert "dimensions by KL" in r.stdout
    atlas = list(tmp_path.glob("latentsketch-atlas-*.png"))
    assert len(atlas) == 1
    from PIL import Image

    assert Image.open(atlas[0]).height > 3 * 64
    (walk,) = tmp_path.glob("latentsketch-walk-*.png")   # what the default walk shows
    assert "walk sheet" in r.stdout and Image.open(walk).width > 4 * 256


def test_walk_frames_follow_the_default_walk(tiny_model: Path) -> None:
    import numpy as np

    from latentsketch.info import walk_frames
    from latentsketch.model import checkpoint
    from latentsketch.model.inference import Decoder

    loaded = checkpoint.load(tiny_model)
    frames = walk_frames(loaded, Decoder(loaded.vae, backend="fp32"), side=96)
    assert frames.shape == (16, 96, 96, 3) and frames.dtype == np.uint8
    moved = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames, frames[1:], strict=False)]
    assert sum(m > 0 for m in moved) >= 8      # the walk moves between most samples


@pytest.mark.parametrize("args,needle", [
    (("info", "/no/such/model"), "model /no/such/model: no such file or folder"),
    (("train", "/no/such/folder", "--out", "x"), "images /no/such/folder: not a folder"),
    (("train", "procedural", "--latent", "0"), "--latent 0 is out of range"),
    (("train", "procedural", "--width", "7"), "--width 7 must be a multiple of 8"),
    (("train", "procedural", "--n-images", "0"), "--n-images 0 must be 1 or more"),
    (("train", "procedural", "--batch-size", "0"), "--batch-size 0 must be 1 or more"),
    (("train", "procedural", "--epochs", "0"), "--epochs 0 must be 1 or more"),
    (("train", "procedural", "--lr", "nan"), "--lr nan must be a finite number"),
    (("train", "procedural", "--device", "tpu"), "--device 'tpu' is not"),
    (("train", "procedural", "--arch", "sharp128"), "--arch sharp128 makes 128-px pictures"),
])
def test_bad_input_gives_one_line_and_nonzero_exit(args: tuple[str, ...], needle: str,
                                                    tmp_path: Path) -> None:
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_corrupt_model_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\x01\x02garbage")
    r = run("info", str(bad))
    assert r.returncode == 2 and "not a readable safetensors file" in r.stderr
    assert "Traceback" not in r.stderr


def test_train_from_an_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    from latentsketch.data import procedural

    imgs = procedural.generate(40, seed=5, size=64)
    (tmp_path / "pics").mkdir()
    for i, a in enumerate(imgs):
        Image.fromarray(a).save(tmp_path / "pics" / f"{i}.png")
    r = run("train", str(tmp_path / "pics"), "--out", str(tmp_path / "m"), "--epochs", "1",
            "--latent", "8", "--width", "8", "--batch-size", "8", "--precision", "fp32",
            "--threads", "1", timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert "train" in r.stderr and "saved" in r.stderr  # the progress bar and the summary
