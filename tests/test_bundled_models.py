"""Every bundled model: found by name, measured, decodes a recognisable picture, licensed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from latentsketch.model import checkpoint
from latentsketch.model.inference import Decoder

MEASURES = ("heldout_psnr_db", "active_dims", "edge_ratio_recon", "edge_ratio_walk",
            "edge_ratio_region")


@pytest.mark.parametrize("name", sorted(checkpoint.BUNDLED))
def test_a_bundled_model_loads_by_name_with_its_measures(name: str) -> None:
    loaded = checkpoint.load(name)
    assert loaded.path == checkpoint.bundled_path(name)
    assert loaded.model_id == checkpoint.model_id_of(loaded.path)
    assert set(MEASURES) <= set(loaded.config["metrics"])
    assert loaded.space.keyframes.shape[0] >= 2        # the default walk tours encoded images
    pcs = [k for k in loaded.space.directions.kinds if k == "pc"]
    assert len(pcs) >= 2                                # principal directions ship beside it
    size = loaded.cfg.image_size
    frames = Decoder(loaded.vae, threads=1).decode_batch(
        loaded.space.to_z(loaded.space.keyframes[:2]).astype(np.float32))
    assert frames.shape == (2, size, size, 3) and frames.dtype == np.uint8
    assert frames.std() > 20            # a picture, not a flat field


def test_bundled_models_are_distinct_and_the_default_is_named() -> None:
    ids = {checkpoint.model_id_of(checkpoint.bundled_path(n)) for n in checkpoint.BUNDLED}
    assert len(ids) == len(checkpoint.BUNDLED)
    assert checkpoint.resolve(None) == checkpoint.bundled_path(checkpoint.DEFAULT)


def test_a_bundled_model_on_registry_data_carries_its_licence() -> None:
    """The emoji model's data are third-party works: their licences ship beside the weights,
    and the README table's figures are the shipped JSON's."""
    folder = checkpoint.bundled_path("emoji").parent
    text = (folder / "emoji-LICENSE.md").read_text()
    for needed in ("Apache License", "Open Font License", "MIT", "tools/emoji_data.py"):
        assert needed in text
    cfg = json.loads((folder / "emoji.json").read_text())
    assert cfg["model"]["image_size"] >= 128


def test_the_command_line_names_every_bundled_model() -> None:
    from latentsketch.cli import MODEL_HELP

    for name in checkpoint.BUNDLED:
        assert name in MODEL_HELP
    assert f"{checkpoint.DEFAULT} (the default)" in MODEL_HELP


def test_a_file_made_with_the_old_default_names_the_model_to_pass(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The default changed from shapes to emoji: a preset (like a snapshot, a palette or a
    control log) made with shapes is refused by the new default in one line naming
    ``--model shapes``, and plays with it."""
    from latentsketch.cli import main

    shapes = checkpoint.load("shapes")
    assert checkpoint.DEFAULT != "shapes"
    assert checkpoint.which_model(shapes.model_id) == "--model shapes"
    assert "made with" in checkpoint.which_model("0123456789ab")   # not a bundled model
    (tmp_path / "old.toml").write_text(
        f'name = "old"\nmodel = "{shapes.model_id}"\n'
        f'[slots]\n1 = [{", ".join(["0.5"] * shapes.space.dim)}]\n')
    argv = ["render", "--preset", str(tmp_path / "old.toml"), "--duration", "1", "--fps", "4",
            "--size", "64x64", "--backend", "fp32", "--out", str(tmp_path / "frames")]
    assert main(argv) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "old.toml" in lines[0] and lines[0].endswith("--model shapes")
    assert main([*argv, "--model", "shapes"]) == 0
    assert len(list((tmp_path / "frames").glob("*.png"))) >= 1
