"""Checkpoints load back exactly, and every broken one fails with one line naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from latentsketch.model import checkpoint
from latentsketch.model.checkpoint import CheckpointError
from latentsketch.model.inference import Decoder


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_round_trip_decodes_identically(tiny_model: Path, tmp_path: Path) -> None:
    a = checkpoint.load(tiny_model)
    path = checkpoint.save(a.vae, tmp_path / "again", {k: v for k, v in a.config.items()
                                                          if k not in ("format", "version",
                                                                       "model")})
    b = checkpoint.load(path)  # the file itself, not the folder
    z = torch.randn(4, a.cfg.latent)
    with torch.no_grad():
        assert torch.equal(a.vae.decode(z), b.vae.decode(z))
    assert b.space.rank == a.space.rank
    np.testing.assert_array_equal(b.space.mean, a.space.mean)
    assert len(a.model_id) == 12 and int(a.model_id, 16) >= 0


def test_model_id_is_sha256_prefix_of_weights(tiny_model: Path) -> None:
    import hashlib

    m = checkpoint.load(tiny_model)
    digest = hashlib.sha256((tiny_model / "model.safetensors").read_bytes()).hexdigest()
    assert m.model_id == digest[:12]


def test_embedded_config_is_used_without_sidecar(tiny_model: Path, tmp_path: Path) -> None:
    d = _copy(tiny_model, tmp_path / "m")
    (d / "model.json").unlink()
    assert checkpoint.load(d).cfg.latent == 8


def test_checkpoint_without_statistics_falls_back_to_standard_normal(tmp_path: Path) -> None:
    from tests.conftest import make_tiny_model

    make_tiny_model(tmp_path / "plain", stats=False)
    m = checkpoint.load(tmp_path / "plain")
    assert np.all(m.space.mean == 0) and np.all(m.space.std == 1)
    assert m.space.rank == tuple(range(8))


@pytest.mark.parametrize("damage,needle", [
    ("truncate", "not a readable safetensors file"),
    ("garbage", "not a readable safetensors file"),
    ("bad_json", "not valid JSON"),
    ("version", "version 99 is not supported"),
    ("shape", "has shape"),
    ("arch", "bad architecture config"),
    ("stats", "bad latent statistics"),
    ("nan", "NaN or inf"),
])
def test_broken_checkpoints_fail_with_one_line(tiny_model: Path, tmp_path: Path, damage: str,
                                               needle: str) -> None:
    d = _copy(tiny_model, tmp_path / "m")
    w, side = d / "model.safetensors", d / "model.json"
    cfg = json.loads(side.read_text())
    if damage == "truncate":
        w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    elif damage == "garbage":
        w.write_bytes(b"\x00" * 64)
    elif damage == "bad_json":
        side.write_text("{not json")
    elif damage == "version":
        side.write_text(json.dumps({**cfg, "version": 99}))
    elif damage == "shape":
        side.write_text(json.dumps({**cfg, "model": {**cfg["model"], "latent": 9}}))
    elif damage == "arch":
        side.write_text(json.dumps({**cfg, "model": {**cfg["model"], "image_size": 100}}))
    elif damage == "stats":
        side.write_text(json.dumps({**cfg, "latent_std": [1.0, 2.0]}))
    elif damage == "nan":
        from safetensors.torch import load_file, save_file

        t = load_file(str(w))
        k = next(iter(t))
        t[k] = torch.full_like(t[k], float("nan"))
        save_file(t, str(w))
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(d)
    msg = str(e.value)
    assert needle in msg and str(d) in msg and "\n" not in msg


def test_mismatched_weights_are_named(tiny_model: Path, tmp_path: Path) -> None:
    from tests.conftest import make_tiny_model

    d = _copy(tiny_model, tmp_path / "m")
    other = tmp_path / "other"
    make_tiny_model(other)
    cfg = json.loads((d / "model.json").read_text())
    cfg["model"]["dec_widths"] = [16, 16, 16, 8]
    (d / "model.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="has shape"):
        checkpoint.load(d)


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file or folder"):
        checkpoint.load(tmp_path / "nope")


def test_loading_never_unpickles(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("torch.load must not be used for checkpoints")

    monkeypatch.setattr(torch, "load", refuse)
    import pickle

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    m = checkpoint.load(tiny_model)
    assert Decoder(m.vae, backend="fp32").decode(np.zeros(8, np.float32)).shape == (64, 64, 3)


def test_default_model_is_found_through_the_package() -> None:
    p = checkpoint.default_model_path()
    assert p == checkpoint.bundled_path(checkpoint.DEFAULT)
    assert p.name == checkpoint.BUNDLED[checkpoint.DEFAULT]
    assert p.parent.name == "assets" and p.is_file()


def test_bundled_models_load_by_name_and_a_folder_of_that_name_wins(
        tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_name = checkpoint.load(checkpoint.DEFAULT)
    assert by_name.path == checkpoint.resolve(None) == checkpoint.bundled_path(checkpoint.DEFAULT)
    assert by_name.model_id == checkpoint.load(None).model_id
    assert checkpoint.load("shapes").path == checkpoint.bundled_path("shapes")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shapes").symlink_to(tiny_model)   # a model folder the person named "shapes"
    assert checkpoint.resolve("shapes").resolve() == (tiny_model / "model.safetensors").resolve()
    with pytest.raises(CheckpointError, match="bundled model: shapes"):
        checkpoint.load("emojii")


def test_half_precision_file_is_half_the_size_and_decodes_alike(tiny_model: Path,
                                                                 tmp_path: Path) -> None:
    a = checkpoint.load(tiny_model)
    p = checkpoint.save(a.vae, tmp_path / "half", {}, dtype=torch.float16)
    assert p.stat().st_size < 0.6 * (tiny_model / "model.safetensors").stat().st_size
    b = checkpoint.load(p)
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert (a.vae.decode(z) - b.vae.decode(z)).abs().max() < 4e-3
