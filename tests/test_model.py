"""The VAE, its loss and the decode path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from latentsketch.model.inference import Decoder
from latentsketch.model.loss import edge_p99, kl_per_dim, kl_weight, vae_loss
from latentsketch.model.vae import VAE, VAEConfig, decoder_flops, pick_device
from tests.pixels import assert_pixels_match


def test_closed_form_kl_matches_monte_carlo() -> None:
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.7, -1.3, 0.0]])
    logvar = torch.tensor([[-0.5, 0.8, -2.0]])
    closed = kl_per_dim(mu, logvar)[0]
    n = 400_000
    sigma = torch.exp(0.5 * logvar)
    z = mu + sigma * torch.randn((n, 3), generator=g)
    log_q = -0.5 * (((z - mu) / sigma) ** 2 + logvar + math.log(2 * math.pi))
    log_p = -0.5 * (z**2 + math.log(2 * math.pi))
    mc = (log_q - log_p).mean(0)
    assert torch.allclose(closed, mc, atol=0.01), (closed, mc)


def test_reparameterisation_has_the_right_mean_and_variance() -> None:
    g = torch.Generator().manual_seed(1)
    mu = torch.full((100_000, 2), 0.0) + torch.tensor([1.5, -0.5])
    logvar = torch.zeros_like(mu) + torch.tensor([math.log(4.0), math.log(0.25)])
    z = VAE.reparameterise(mu, logvar, generator=g)
    assert torch.allclose(z.mean(0), torch.tensor([1.5, -0.5]), atol=0.02)
    assert torch.allclose(z.var(0), torch.tensor([4.0, 0.25]), rtol=0.03)


@pytest.mark.parametrize("size,latent", [(64, 8), (96, 16), (128, 64), (256, 128)])
def test_shapes_and_flops_for_each_size(size: int, latent: int) -> None:
    cfg = VAEConfig.preset(size, latent, width=8)
    vae = VAE(cfg).eval()
    x = torch.rand(2, 3, size, size)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (2, latent)
    assert vae.reconstruct(x).shape == x.shape
    assert vae.sample(3).shape == (3, 3, size, size)
    with FlopCounterMode(display=False) as fc:
        vae.decode(torch.zeros(1, latent))
    assert abs(fc.get_total_flops() - decoder_flops(cfg)) / decoder_flops(cfg) < 0.01


def test_sub_pixel_decoder_makes_128_px_for_less_than_the_64_px_default() -> None:
    cfg = VAEConfig.sharp128(latent=16)
    vae = VAE(cfg).eval()
    x = torch.rand(2, 3, 128, 128)
    assert vae.reconstruct(x).shape == x.shape and vae.sample(1).shape == (1, 3, 128, 128)
    with FlopCounterMode(display=False) as fc:
        vae.decode(torch.zeros(1, 16))
    assert abs(fc.get_total_flops() - decoder_flops(cfg)) / decoder_flops(cfg) < 0.01
    assert decoder_flops(cfg) < 0.7 * decoder_flops(VAEConfig())
    assert VAEConfig.from_dict(cfg.to_dict()) == cfg
    old = VAEConfig().to_dict()
    del old["upscale"]  # a model.json written before upscale existed
    assert VAEConfig.from_dict(old) == VAEConfig()
    with pytest.raises(ValueError, match="upscale"):
        VAEConfig(upscale=3)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="image size 100"):
        VAEConfig(image_size=100)
    with pytest.raises(ValueError, match="widths"):
        VAEConfig(image_size=128)  # default widths are for 64 px
    assert VAEConfig.from_dict(VAEConfig().to_dict()) == VAEConfig()
    with pytest.raises(ValueError, match="unknown model config keys: bogus"):
        VAEConfig.from_dict({**VAEConfig().to_dict(), "bogus": 1})


def test_loss_terms_and_warmup() -> None:
    x = torch.rand(4, 3, 64, 64)
    good = vae_loss(x, x * 0.98 + 0.01, torch.zeros(4, 8), torch.zeros(4, 8))
    bad = vae_loss(x, torch.full_like(x, 0.5), torch.zeros(4, 8), torch.zeros(4, 8))
    assert good.recon < bad.recon
    assert float(good.kl) == 0.0
    assert good.kl_per_dim.shape == (8,)
    assert kl_weight(0, 2.0, 100) == 0.0
    assert kl_weight(50, 2.0, 100) == 1.0
    assert kl_weight(500, 2.0, 100) == 2.0


def test_edge_p99_prefers_sharp_images() -> None:
    sharp = torch.zeros(1, 3, 32, 32)
    sharp[..., 8:24, 8:24] = 1.0
    blurry = torch.nn.functional.avg_pool2d(sharp, 5, 1, 2)
    assert edge_p99(sharp) > 2 * edge_p99(blurry)


def test_decoder_returns_uint8_frames_matching_eager() -> None:
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent=8, enc_widths=(8, 8, 8, 8), dec_widths=(8, 8, 8, 8),
                        res_sizes=(), groups=4)).eval()
    dec = Decoder(vae, backend="fp32")
    z = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    frames = dec.decode_batch(z)
    assert frames.shape == (3, 64, 64, 3) and frames.dtype == np.uint8
    with torch.no_grad():
        ref = (vae.decode(torch.from_numpy(z)) * 255).round().permute(0, 2, 3, 1).numpy()
    assert np.abs(frames.astype(int) - ref.astype(int)).max() <= 1
    one = dec.decode(z[0])  # batch 1 against a batch of 3: the pixel promise, not bit-equality
    assert one.shape == (64, 64, 3)
    assert_pixels_match(one, frames[0])
    auto = Decoder(vae, backend="auto")
    assert auto.backend in ("fp32", "bf16")
    assert np.abs(auto.decode(z[0]).astype(int) - one.astype(int)).max() <= 3


def test_device_is_picked_automatically() -> None:
    assert pick_device().type in ("cuda", "mps", "cpu")
    assert pick_device("cpu").type == "cpu"
