"""The VAE objective: Gaussian NLL with the analytically optimal shared sigma, an edge term, KL.

Why sigma-VAE (Rybkin et al., 2021) rather than pixel-averaged MSE: the reconstruction is summed
over pixels as a proper likelihood whose variance is the batch MSE, so reconstruction and KL are
balanced without hand-tuning beta, and the balance tightens as the model improves. The edge term
(L1 between finite-difference gradients of output and input, divided by the same sigma so it
shares the likelihood's scale) is cheap and keeps boundaries from melting into blobs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LossTerms:
    total: torch.Tensor
    recon: torch.Tensor       # Gaussian NLL per image, nats
    edge: torch.Tensor        # edge term per image
    kl: torch.Tensor          # KL per image, nats
    kl_per_dim: torch.Tensor  # (latent,) mean KL of each dimension over the batch
    mse: torch.Tensor
    log_sigma: torch.Tensor


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed-form KL(N(mu, sigma^2) || N(0, 1)) per element, (B, latent)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def kl_weight(step: int, beta: float, warmup_steps: int) -> float:
    """Linear KL warm-up from 0 to beta: lets the decoder learn before the prior squeezes."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, step / warmup_steps)


def vae_loss(x: torch.Tensor, x_hat: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             kl_w: float = 1.0, edge_w: float = 0.5,
             batch_mse: Callable[[torch.Tensor], torch.Tensor] | None = None) -> LossTerms:
    """ELBO-style loss per image (mean over the batch).

    ``batch_mse`` maps the squared errors (B, C, H, W) to the MSE that sets sigma: by default
    their mean; several processes pass the mean over the global batch (all-reduced, with its
    gradient), so N processes train like one with the global batch.
    """
    b = x.shape[0]
    d = x[0].numel()
    err = (x_hat - x).float()
    mse = err.pow(2).mean() if batch_mse is None else batch_mse(err.pow(2))
    log_sigma = 0.5 * torch.log(mse.clamp_min(1e-6))  # optimal shared sigma, soft-floored
    sigma = log_sigma.exp()
    recon = (err.pow(2).sum() / (2 * sigma**2)) / b + d * (log_sigma + 0.5 * math.log(2 * math.pi))
    gx_hat, gy_hat = image_gradients(x_hat.float())
    gx, gy = image_gradients(x.float())
    edge = ((gx_hat - gx).abs().sum() + (gy_hat - gy).abs().sum()) / (b * sigma)
    kld = kl_per_dim(mu.float(), logvar.float())
    kl = kld.sum() / b
    total = recon + edge_w * edge + kl_w * kl
    return LossTerms(total, recon, edge, kl, kld.mean(0).detach(), mse.detach(),
                     log_sigma.detach())


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    mse = float((x.float() - y.float()).pow(2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def edge_p99(x: torch.Tensor) -> float:
    """99th percentile of gradient magnitude: a sharpness measure that blur cannot game."""
    gx, gy = image_gradients(x.float())
    mag = torch.sqrt(gx[..., :-1, :].pow(2) + gy[..., :, :-1].pow(2)).flatten()
    if mag.numel() > 2_000_000:
        mag = mag[torch.randperm(mag.numel())[:2_000_000]]
    return float(torch.quantile(mag, 0.99))
