"""What ``train`` measures of a model, and stores beside its weights.

The live instrument needs, besides the weights: the per-dimension mean/std of the encoded
training set (where the walk lives), the KL ranking of dimensions (which dimension goes on the
first knob), keyframes for tours and the data's principal directions (``latent.directions``).
People need quality figures (held-out PSNR, active units, edge sharpness) and a sample sheet to
look at. Everything here is a function of a model and the
images, so the trainer can measure its raw or its EMA weights alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from latentsketch.latent import directions
from latentsketch.latent.interp import slerp
from latentsketch.model.loss import edge_p99, psnr
from latentsketch.model.vae import VAE
from latentsketch.sheets import to_uint8

ACTIVE_KL = 0.01  # nats: a dimension carrying less than this is inactive
N_KEYFRAMES = 48  # varied encoded images: the default tour, for hours without repeats
N_STATS = 4000    # training images encoded for the latent statistics
# The sample sheet's rows, top to bottom; README.md describes them by these labels.
SHEET_ROWS = ("held-out", "reconstructed", "data region", "N(0, I)", "slerp")


def batch(images: np.ndarray, idx: np.ndarray, device: torch.device,
          flip: np.ndarray | None = None, crop: np.ndarray | None = None) -> torch.Tensor:
    """uint8 images[idx] (B, H, W, 3) -> (B, 3, H, W) float 0..1, channels_last.

    ``images`` is an array or any array-like indexed by an index array (a streamed cache).
    On CUDA the uint8 batch goes through pinned memory with a non-blocking copy.

    ``flip`` (B,) bool mirrors left-right; ``crop`` (B, 3) floats in 0..1 (scale, x, y) zooms
    into a random square of 75-100 % of the side and resizes it back (bilinear).
    """
    t = torch.from_numpy(images[idx])
    if device.type == "cuda":
        t = t.pin_memory()  # page-locked, so the copy to the GPU runs without a sync
    x = t.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
    if flip is not None and flip.any():
        f = torch.from_numpy(flip).to(device)
        x[f] = x[f].flip(-1)
    if crop is not None:
        c = torch.from_numpy(crop).float().to(device)
        scale = 1 - 0.25 * c[:, 0]                       # (B,) side of the square, of 1
        theta = torch.zeros(len(idx), 2, 3, device=device)
        theta[:, 0, 0] = theta[:, 1, 1] = scale
        theta[:, 0, 2] = (1 - scale) * (2 * c[:, 1] - 1)  # centre anywhere the square fits
        theta[:, 1, 2] = (1 - scale) * (2 * c[:, 2] - 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def reconstruction_psnr(vae: VAE, images: np.ndarray, idx: np.ndarray,
                        device: torch.device) -> float:
    """PSNR (dB) of the deterministic reconstructions of images[idx]; NaN if the model is."""
    vae.eval()
    x = batch(images, idx, device)
    rec = torch.cat([vae.reconstruct(x[i : i + 256]) for i in range(0, len(x), 256)])
    return psnr(x, rec)


@torch.no_grad()
def encode_all(vae: VAE, images: np.ndarray, idx: np.ndarray, device: torch.device,
               report: Callable[[float], None] | None = None, size: int = 256
               ) -> tuple[np.ndarray, np.ndarray]:
    """(mu, logvar), each (N, latent), of images[idx]; ``report`` gets the fraction done."""
    vae.eval()
    mus, lvs = [], []
    for i in range(0, len(idx), size):
        mu, lv = vae.encode(batch(images, idx[i : i + size], device))
        mus.append(mu.float().cpu().numpy())
        lvs.append(lv.float().cpu().numpy())
        if report:
            report(min(1.0, (i + size) / len(idx)))
    return np.concatenate(mus), np.concatenate(lvs)


def latent_stats(vae: VAE, images: np.ndarray, train_idx: np.ndarray, device: torch.device,
                 seed: int, report: Callable[[float], None] | None = None) -> dict[str, Any]:
    """KL per dimension and its ranking, the encoded data's mean/std, tour keyframes and the
    principal directions (in standardised coordinates, raw dimension order) from up to
    N_STATS training images."""
    mu, lv = encode_all(vae, images, train_idx[:N_STATS], device, report)
    kl = (0.5 * (mu**2 + np.exp(lv) - lv - 1)).mean(0)
    mean, std = mu.mean(0), np.maximum(mu.std(0), 1e-3)
    rank = [int(i) for i in np.argsort(-kl, kind="stable")]
    u = (mu - mean) / std
    keys = farthest_points(u, min(N_KEYFRAMES, len(u)), seed)
    return {"kl_per_dim": kl.tolist(), "kl_rank": rank, "latent_mean": mean.tolist(),
            "latent_std": std.tolist(), "keyframes": u[keys].round(5).tolist(),
            "directions": directions.principal(u).to_json()}


WALK_SECONDS = 120.0    # the default walk is measured over its first two minutes ...
WALK_SPACING = 0.5      # ... a frame every half second, stepped at 60 fps as the window does
COMPARE_SIZE = 64       # heldout_psnr64_db: PSNR at this size, to compare models of any size


def default_walk(stats: dict[str, Any], latent: int, seconds: float = WALK_SECONDS,
                 spacing: float = WALK_SPACING, seed: int = 0) -> np.ndarray:
    """z (N, latent) float32 of the default walk (the declared defaults: a tour through the
    model's keyframes, else a drift), every ``spacing`` seconds of its first ``seconds``, as
    ``engine.step`` moves it at 60 fps: what the audience sees, holds and travel alike."""
    from latentsketch import engine
    from latentsketch.latent.space import LatentSpace

    kf = np.asarray(stats.get("keyframes") or np.zeros((0, latent)), np.float32)
    space = LatentSpace(dim=latent, rank=tuple(int(i) for i in stats["kl_rank"]),
                        mean=np.asarray(stats["latent_mean"], np.float32),
                        std=np.asarray(stats["latent_std"], np.float32),
                        keyframes=kf.reshape(-1, latent))
    state = engine.State.initial(space, seed)
    per = max(1, round(spacing * 60))
    zs = []
    for _ in range(max(1, round(seconds / spacing))):
        zs.append(engine.output_z(state, space))
        for _ in range(per):
            state = engine.step(state, [], 1 / 60, space)
    return np.stack(zs).astype(np.float32)


def _decode_all(vae: VAE, z: torch.Tensor) -> torch.Tensor:
    return torch.cat([vae.decode(z[i : i + 64]).clamp(0, 1) for i in range(0, len(z), 64)])


@torch.no_grad()
def quality(vae: VAE, images: np.ndarray, hold_idx: np.ndarray, train_idx: np.ndarray,
            device: torch.device, stats: dict[str, Any], seed: int) -> dict[str, Any]:
    """The model's quality figures (README's table):

    - ``heldout_psnr_db``: PSNR (dB) of held-out reconstructions at the model's size, and
      ``heldout_psnr64_db`` with both sides area-averaged to 64 px, which compares models of
      different sizes on one footing;
    - ``active_dims`` (KL > ACTIVE_KL nats) and ``total_kl_nats``;
    - edge sharpness, the p99 gradient magnitude relative to the data's (1 = as sharp as the
      data; ``loss.edge_p99``): of reconstructions (``edge_ratio_recon``), of the default
      walk as the engine moves it (``edge_ratio_walk``: ``default_walk``, holds and travel)
      and of random points of the data region, mean + std * N(0, I) (``edge_ratio_region``:
      what drift and noise walks pass through).
    """
    vae.eval()
    hold = batch(images, hold_idx, device)
    rec = torch.cat([vae.reconstruct(hold[i : i + 256]) for i in range(0, len(hold), 256)])
    g = torch.Generator().manual_seed(seed)
    region = vae.sample(256, g, torch.tensor(stats["latent_mean"]),
                        torch.tensor(stats["latent_std"]))
    walk = _decode_all(vae, torch.from_numpy(default_walk(stats, vae.cfg.latent)).to(device))
    data_p99 = edge_p99(batch(images, train_idx[:1024], device))
    kl = np.asarray(stats["kl_per_dim"])
    m: dict[str, Any] = {"heldout_psnr_db": round(psnr(hold, rec), 2)}
    if hold.shape[-1] > COMPARE_SIZE:
        m["heldout_psnr64_db"] = round(psnr(F.adaptive_avg_pool2d(hold, COMPARE_SIZE),
                                            F.adaptive_avg_pool2d(rec, COMPARE_SIZE)), 2)
    m.update(active_dims=int((kl > ACTIVE_KL).sum()), total_kl_nats=round(float(kl.sum()), 1))
    if data_p99 > 0:  # a set of flat pictures has no edges to compare with
        m["edge_ratio_recon"] = round(edge_p99(rec) / data_p99, 3)
        m["edge_ratio_walk"] = round(edge_p99(walk) / data_p99, 3)
        m["edge_ratio_region"] = round(edge_p99(region) / data_p99, 3)
    return m


@torch.no_grad()
def sheet_rows(vae: VAE, images: np.ndarray, hold_idx: np.ndarray, device: torch.device,
               stats: dict[str, Any], held_out: bool = True, n: int = 8
               ) -> list[tuple[str, np.ndarray]]:
    """The sample sheet's rows, labelled as README.md describes them (``SHEET_ROWS``), each
    (n, H, W, 3) uint8: held-out images, their reconstructions, draws from the data region
    (where the walks live), draws from N(0, I), and a slerp between two tour keyframes. With
    nothing held out the first row shows training images and says so."""
    vae.eval()
    mean = torch.tensor(stats["latent_mean"])
    std = torch.tensor(stats["latent_std"])
    g = torch.Generator().manual_seed(1234)
    x = batch(images, hold_idx[:n], device)
    rec = vae.reconstruct(x)
    walk = vae.sample(n, g, mean, std)
    prior = vae.sample(n, g)
    kf = np.asarray(stats["keyframes"], np.float32)
    a, b = (kf[0], kf[1]) if len(kf) >= 2 else (np.zeros(vae.cfg.latent),) * 2
    us = np.stack([slerp(a, b, t) for t in np.linspace(0, 1, n)]).astype(np.float32)
    strip = vae.decode((torch.from_numpy(us) * std + mean).to(device))
    labels = SHEET_ROWS if held_out else ("training", *SHEET_ROWS[1:])
    pictures = (x, rec, walk, prior, strip)
    return [(label, to_uint8(im.cpu())) for label, im in zip(labels, pictures, strict=True)]


def farthest_points(u: np.ndarray, k: int, seed: int) -> list[int]:
    """Greedy farthest-point picks among typical points: varied keyframes for a tour.

    ``u`` (N, D), N >= 1. Returns at most ``k`` indices into ``u``, fewer when the points run
    out of distinct places (one image, or many identical ones: a tour of one keyframe).
    """
    norms = np.linalg.norm(u, axis=1)
    typical = np.where(norms <= np.quantile(norms, 0.8))[0]
    if len(typical) == 0:  # NaN norms
        typical = np.arange(len(u))
    pool = u[typical]
    rng = np.random.default_rng(seed)
    picks = [int(rng.integers(len(pool)))]
    d = np.linalg.norm(pool - pool[picks[0]], axis=1)
    for _ in range(min(k, len(pool)) - 1):
        i = int(np.argmax(d))
        if not d[i] > 0:
            break
        picks.append(i)
        d = np.minimum(d, np.linalg.norm(pool - pool[i], axis=1))
    return [int(typical[i]) for i in nearest_chain(pool[picks], picks)]


def nearest_chain(points: np.ndarray, ids: list[int]) -> list[int]:
    """Order points as a greedy nearest-neighbour loop: a tour's neighbours are close, so its
    in-betweens stay near the data instead of crossing the whole space."""
    left = list(range(len(ids)))
    order = [left.pop(0)]
    while left:
        d = np.linalg.norm(points[left] - points[order[-1]], axis=1)
        order.append(left.pop(int(np.argmin(d))))
    return [ids[i] for i in order]
