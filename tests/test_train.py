"""Training a tiny model: the loss goes down, files appear, Ctrl-C and resume work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentsketch.model import checkpoint
from latentsketch.model.inference import Decoder
from latentsketch.train import N_KEYFRAMES, TrainConfig, Trainer, TrainEvent, train


def _cfg(out: Path, **kw: object) -> TrainConfig:
    base = dict(data="procedural", out=str(out), size=64, latent=8, width=8, epochs=3,
                batch_size=16, lr=3e-3, n_images=400, warmup_steps=20, seed=0,
                precision="fp32", threads=1)
    return TrainConfig(**{**base, **kw})


def test_tiny_training_lowers_the_loss_and_saves_a_loadable_model(tmp_path: Path) -> None:
    events: list[TrainEvent] = []
    path, metrics = train(_cfg(tmp_path / "m"), events.append)
    steps = [e for e in events if e.kind == "step"]
    assert len(steps) == 3 * (380 // 16)
    recon = [e.terms["recon"] for e in steps]
    assert np.mean(recon[-10:]) < np.mean(recon[:10]) - 100
    assert [e.kind for e in events].count("epoch") == 3 and events[-1].kind == "done"
    out = tmp_path / "m"
    for f in ("model.safetensors", "model.json", "loss.png", "samples.png",
              "samples/epoch_001.png", "samples/epoch_003.png", "train_state.safetensors"):
        assert (out / f).is_file(), f
    loaded = checkpoint.load(path)
    cfg = loaded.config
    assert len(cfg["latent_mean"]) == 8 and len(cfg["kl_rank"]) == 8
    assert sorted(cfg["kl_rank"]) == list(range(8))
    kl = np.asarray(cfg["kl_per_dim"])
    assert np.all(np.diff(kl[cfg["kl_rank"]]) <= 0)  # rank 0 carries most
    kf = np.asarray(cfg["keyframes"])
    assert kf.shape == (N_KEYFRAMES, 8) and len(np.unique(kf, axis=0)) == N_KEYFRAMES
    hops = np.linalg.norm(np.diff(kf, axis=0), axis=1).sum()  # a short tour: neighbours close
    shuffled = kf[np.random.default_rng(0).permutation(len(kf))]
    assert hops < 0.8 * np.linalg.norm(np.diff(shuffled, axis=0), axis=1).sum()
    assert set(metrics) >= {"heldout_psnr_db", "active_dims", "edge_ratio_walk"}
    # decodes identically to the in-memory model
    z = np.random.default_rng(0).normal(size=(2, 8)).astype(np.float32)
    again = checkpoint.load(path)
    with torch.no_grad():
        a = loaded.vae.decode(torch.from_numpy(z))
        b = again.vae.decode(torch.from_numpy(z))
    assert torch.equal(a, b)
    assert Decoder(again.vae, backend="fp32").decode(z[0]).shape == (64, 64, 3)


def test_ctrl_c_saves_a_usable_checkpoint_and_resume_continues(tmp_path: Path) -> None:
    def interrupt(e: TrainEvent) -> None:
        if e.kind == "step" and e.step == 7:
            raise KeyboardInterrupt

    path, _ = train(_cfg(tmp_path / "m", epochs=2), interrupt)
    first = checkpoint.load(path)
    assert first.config["training"]["steps"] == 7
    assert first.config["training"]["finished"] is False
    assert first.config["training"]["interrupted"] is True
    events: list[TrainEvent] = []
    train(_cfg(tmp_path / "m", epochs=1, resume=True), events.append)
    steps = [e.step for e in events if e.kind == "step"]
    assert steps[0] == 8 and steps[-1] == 380 // 16
    done = checkpoint.load(tmp_path / "m").config["training"]
    assert done["finished"] is True and done["interrupted"] is False


def test_resume_with_another_architecture_is_refused(tmp_path: Path) -> None:
    train(_cfg(tmp_path / "m", epochs=1, n_images=64))
    with pytest.raises(checkpoint.CheckpointError, match="architecture differs"):
        Trainer(_cfg(tmp_path / "m", latent=16, resume=True, n_images=64))


def test_sheet_rows_are_labelled_as_readme_describes_them(tmp_path: Path) -> None:
    import re

    from latentsketch.train import SHEET_ROWS

    t = Trainer(_cfg(tmp_path / "m", n_images=200))
    rows = t.sheet_rows(t.latent_stats())
    assert tuple(label for label, _ in rows) == SHEET_ROWS
    assert len(set(SHEET_ROWS)) == len(SHEET_ROWS)
    assert all(im.shape == (8, 64, 64, 3) and im.dtype == np.uint8 for _, im in rows)
    held, rec = rows[0][1], rows[1][1]
    assert not np.array_equal(held, rows[2][1])  # each row shows its own pictures
    assert np.array_equal(held, t.images[t.hold_idx[:8]])
    assert rec.shape == held.shape
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    para = readme[readme.index("Rows of a training sheet"):].split("\n\n")[0]
    assert tuple(re.findall(r"\*\*(.+?)\*\*", para)) == SHEET_ROWS
