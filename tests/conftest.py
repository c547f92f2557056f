"""Shared fixtures: headless SDL, one thread for torch, and a tiny seeded VAE checkpoint."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """Engine artifacts go to the user cache: never the real one in tests."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before

TINY_LATENT = 8


def tiny_config():
    from latentsketch.model.vae import VAEConfig

    return VAEConfig(image_size=64, latent=TINY_LATENT, enc_widths=(8, 8, 16, 16),
                     dec_widths=(16, 16, 8, 8), res_sizes=(8,), groups=4)


def make_tiny_model(out: Path, seed: int = 0, stats: bool = True) -> Path:
    """A seeded random VAE saved as a checkpoint, with latent statistics and keyframes."""
    from latentsketch.model import checkpoint
    from latentsketch.model.vae import VAE

    torch.manual_seed(seed)
    vae = VAE(tiny_config()).eval()
    rng = np.random.default_rng(seed)
    meta = {}
    if stats:
        meta = {
            "kl_per_dim": sorted(rng.uniform(0.1, 3, TINY_LATENT).tolist()),  # ascending
            "kl_rank": list(reversed(range(TINY_LATENT))),
            "latent_mean": rng.normal(0, 0.2, TINY_LATENT).tolist(),
            "latent_std": rng.uniform(0.6, 1.4, TINY_LATENT).tolist(),
            "keyframes": rng.normal(0, 1, (4, TINY_LATENT)).tolist(),
            "data": "tiny test model",
        }
    return checkpoint.save(vae, out, meta)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the tiny model's folder (weights + config)."""
    d = tmp_path_factory.mktemp("tiny_model")
    make_tiny_model(d)
    return d


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


@pytest.fixture(autouse=True)
def _no_swallowed_errors(caplog: pytest.LogCaptureFixture):
    """The live loop survives unexpected errors by logging them; in tests that is a failure."""
    yield
    bad = [r for r in caplog.get_records("call")
           if r.name.startswith("latentsketch") and r.levelno >= 40 and r.exc_info]
    assert not bad, f"the loop swallowed an error: {bad[0].getMessage()}"
