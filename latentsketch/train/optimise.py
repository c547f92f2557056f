"""One optimiser step: the forward pass, the loss, Adam, the weights' moving average, its timing.

Functions of the model, optimiser and batch they are given, so the trainer's weights and a
throwaway copy (timed before the run to say its ETA) go through the same step.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from latentsketch import measure
from latentsketch.model.loss import LossTerms, vae_loss
from latentsketch.model.vae import VAE
from latentsketch.train.data import TrainingSet

GRAD_CLIP = 200.0  # gradient norm: a rare huge batch must not throw the weights away


def use_bf16(precision: str, device: torch.device) -> bool:
    """bf16 autocast where the CPU has native bf16 (2.6x faster training measured with AMX)."""
    if precision in ("fp32", "bf16", "fp16"):
        return precision == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
        return "amx_bf16" in flags or "avx512_bf16" in flags
    return False


def use_fp16(precision: str, device: torch.device) -> bool:
    """fp16 autocast with a grad scaler: a CUDA GPU without bf16 (before Ampere), or asked."""
    if device.type != "cuda":
        return False
    return precision == "fp16" or (precision == "auto" and not torch.cuda.is_bf16_supported())


def grad_scaler(fp16: bool, device_type: str = "cuda") -> torch.amp.GradScaler | None:
    """The loss scaler fp16 needs (its small range underflows gradients); None otherwise.

    It starts at a scale of 1, not torch's 65536: the loss is summed over pixels (thousands
    of nats), so its gradients are large and a big scale would overflow fp16 (steps skipped
    while the scale backs off); it grows where gradients allow."""
    return torch.amp.GradScaler(device_type, init_scale=1.0) if fp16 else None


def step(vae: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, lr: float,
         kl_w: float, edge_weight: float, bf16: bool,
         scaler: torch.amp.GradScaler | None = None, share: tuple[int, int] | None = None,
         batch_mse: Callable[[torch.Tensor], torch.Tensor] | None = None) -> LossTerms:
    """One optimiser step of ``vae`` on the batch ``x`` (B, 3, H, W); the loss terms.

    ``scaler`` (fp16): autocast to float16 and scale the loss. ``share`` and ``batch_mse``:
    ``x`` is this process's share of a global batch (``VAE.forward``, ``vae_loss``); ``vae``
    may then be the DistributedDataParallel wrapper, which averages the gradients.
    """
    vae.train()
    for g in opt.param_groups:
        g["lr"] = lr
    dtype = torch.float16 if scaler is not None else torch.bfloat16
    with torch.autocast(x.device.type, dtype=dtype, enabled=bf16 or scaler is not None):
        x_hat, mu, logvar = vae(x) if share is None else vae(x, share)
    terms = vae_loss(x, x_hat.float(), mu.float(), logvar.float(), kl_w, edge_weight,
                     batch_mse)
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        terms.total.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), GRAD_CLIP)
        opt.step()
    else:
        scaler.scale(terms.total).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(vae.parameters(), GRAD_CLIP)
        scaler.step(opt)
        scaler.update()
    return terms


def loss_figures(terms: LossTerms) -> dict[str, float]:
    """The step's loss terms as plain floats, for the progress events and the loss curve."""
    return {"total": float(terms.total.detach()), "recon": float(terms.recon.detach()),
            "edge": float(terms.edge.detach()), "kl": float(terms.kl.detach()),
            "psnr": 10 * math.log10(1 / max(float(terms.mse), 1e-12))}


@torch.no_grad()
def update_ema(ema: VAE, vae: VAE, step: int, decay: float) -> None:
    """EMA of the weights, its decay ramped up from 0.1 so early weights fade fast."""
    d = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), vae.parameters(), strict=True):
        e.lerp_(p, 1 - d)


def weights_finite(vae: VAE) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in vae.parameters())


@contextmanager
def rng_untouched(device: torch.device) -> Iterator[None]:
    """Measuring must not move the training RNG: a run that paused to save continues as one
    that did not."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


def seconds_per_step(vae: VAE, data: TrainingSet, batch_size: int, device: torch.device,
                     take_step: Callable[[VAE, torch.optim.Optimizer, torch.Tensor], object]
                     ) -> float:
    """Seconds per training step on this machine, timed on a throwaway copy (a warm-up step,
    then the median of two), so the ETA is said before the run; the run's weights, optimizer
    and RNG are untouched. ``take_step`` takes one optimiser step as the run does."""
    vae = copy.deepcopy(vae)
    opt = torch.optim.Adam(vae.parameters())
    rng = np.random.default_rng(0)
    bs = batch_size
    times: list[float] = []
    with rng_untouched(device):
        for _ in range(3):
            t = time.perf_counter()
            x = measure.batch(data.images, rng.choice(data.train_idx, bs), device,
                              rng.random(bs) < 0.5, rng.random((bs, 3)) if data.crops else None)
            take_step(vae, opt, x)
            times.append(time.perf_counter() - t)
    return float(np.median(times[1:]))
