"""The run state a resumed run continues from exactly (train_state.safetensors, version 2).

fp32 weights, their EMA, Adam's moments, the step, the epoch's data order and position, and the
torch, numpy and python RNG states: tensors in safetensors, the rest as JSON, no pickle. It is
the trainer's whole mutable state, so reading and writing it sit together here, beside the two
older cases a resume still accepts: shipped weights alone (warm start) and a version-1 state.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from latentsketch.errors import UserError
from latentsketch.model import checkpoint
from latentsketch.model.vae import VAEConfig
from latentsketch.train import schedule
from latentsketch.train.folder import STATE, write_into
from latentsketch.train.optimise import weights_finite

if TYPE_CHECKING:
    from latentsketch.train.trainer import Trainer


def pack(t: Trainer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Everything an exact resume needs: tensors for safetensors, the rest as JSON."""
    tensors = {f"model.{k}": v for k, v in t.vae.state_dict().items()}
    if t.ema is not None:
        tensors |= {f"ema.{k}": v for k, v in t.ema.state_dict().items()}
    opt_tensors, opt_meta = checkpoint.optimizer_state(t.opt)
    tensors |= opt_tensors
    extra: dict[str, Any] = {}  # kept only when in use, so older states read the same
    tensors["rng.torch"] = torch.get_rng_state()
    if t.device.type == "cuda":
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    b = t.batches
    if b.order is not None:
        tensors["order"] = torch.from_numpy(b.order.astype(np.int64))
    for k, v in t.history.items():
        tensors[f"history.{k}"] = torch.tensor(v, dtype=torch.float64)
    py = random.getstate()
    if t.scaler is not None:
        extra["scaler"] = t.scaler.state_dict()
    if t.started_from:
        extra["from"] = t.started_from
    meta = {"model": t.vcfg.to_dict(), "step": t.step, "epoch": b.epoch,
            "pos": b.pos, "schedule_steps": t.schedule, "elapsed": t.elapsed,
            "data": t.data.desc, "n_images": len(t.data.images),
            "config": asdict(t.cfg), "optimizer": opt_meta, "saved_step": t.saved_step,
            "rng": {"numpy": b.rng.bit_generator.state,
                    "python": [py[0], list(py[1]), py[2]]}, **extra}
    return tensors, meta


def save(t: Trainer, elapsed: float | None = None) -> None:
    """Write the run state atomically (never over a good one with broken weights)."""
    if not weights_finite(t.vae):
        return
    tensors, meta = pack(t)
    if elapsed is not None:
        meta["elapsed"] = elapsed
    write_into(t.out, lambda: checkpoint.save_run_state(t.out / STATE, tensors, meta))
    t.state_saved_at = time.perf_counter()


def resume(t: Trainer) -> None:
    """Continue the run in ``t.out``: from its state, else warm from its shipped weights."""
    weights, state = t.resume_dir / checkpoint.WEIGHTS, t.resume_dir / STATE
    if not weights.exists() and not state.exists():
        raise UserError(f"output folder {t.out} holds no model to resume; "
                        f"leave out --resume to start one")
    legacy: dict[str, torch.Tensor] | None = None
    if state.exists():
        tensors, meta = checkpoint.load_run_state(state)
        if not meta.get("legacy"):
            _restore(t, tensors, meta)
            return
        legacy = tensors
    if not weights.exists():
        raise UserError(f"output folder {t.out}: an old training state without its "
                        f"model; start afresh with --force")
    _warm_start(t, legacy)


def _warm_start(t: Trainer, legacy: dict[str, torch.Tensor] | None) -> None:
    """No state of this version (a new machine, or a model copied from elsewhere): start from
    the shipped weights. The step continues from the model's own record."""
    loaded = checkpoint.load(t.resume_dir, device=t.device)
    _check_architecture(t, loaded.cfg, loaded.path)
    t.vae.load_state_dict(loaded.vae.state_dict())
    if t.ema is not None:
        t.ema.load_state_dict(loaded.vae.state_dict())
    training = loaded.config.get("training", {})
    t.step = t.saved_step = int(training.get("steps", 0))
    t.started_from = training.get("from") or None
    t.elapsed = float(training.get("seconds", 0.0))
    t.schedule = t.schedule_length(training.get("schedule_steps"))
    if legacy is not None:
        checkpoint.load_legacy_moments(t.opt, legacy)
        t.notes.append(f"{t.out / STATE} is from an older version: continuing from "
                       f"{checkpoint.WEIGHTS} at step {t.step} with its optimizer "
                       f"moments; data order, RNG and EMA start afresh")
    else:
        t.notes.append(f"{t.out} has no training state: warm start from its "
                       f"{checkpoint.WEIGHTS} at step {t.step} (optimizer, EMA, data "
                       f"order and RNG start afresh)")
    _check_left(t)


def _restore(t: Trainer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    where = t.out / STATE
    try:
        vcfg = VAEConfig.from_dict(meta["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise checkpoint.CheckpointError(
            f"training state {where}: bad architecture config ({e})") from None
    _check_architecture(t, vcfg, where)
    model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    try:
        t.vae.load_state_dict(model)
        if t.ema is not None:
            t.ema.load_state_dict(ema or model)
        checkpoint.load_optimizer_state(t.opt, tensors, meta["optimizer"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise checkpoint.CheckpointError(
            f"training state {where}: cannot resume ({e})") from None
    if t.ema is not None and not ema:
        t.notes.append("the run kept no EMA until now: it starts from the weights")
    b = t.batches
    t.step, b.epoch, b.pos = int(meta["step"]), int(meta["epoch"]), int(meta["pos"])
    t.elapsed = float(meta["elapsed"])
    t.saved_step = meta.get("saved_step")
    t.started_from = meta.get("from") or None
    t.schedule = t.schedule_length(meta.get("schedule_steps"))
    t.history = {k: tensors[f"history.{k}"].tolist() for k in t.history
                 if f"history.{k}" in tensors}
    torch.set_rng_state(tensors["rng.torch"])
    if t.device.type == "cuda":
        cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if t.dist.active and "rng.cuda.0" in tensors:
            # rank 0 drew its noise on its cuda:0; every rank draws the same on its own GPU
            torch.cuda.set_rng_state(tensors["rng.cuda.0"], t.device)
        elif len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    if t.scaler is not None and "scaler" in meta:
        t.scaler.load_state_dict(meta["scaler"])
    b.rng.bit_generator.state = meta["rng"]["numpy"]
    py = meta["rng"]["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    order = tensors.get("order")
    if meta.get("data") != t.data.desc or meta.get("n_images") != len(t.data.images):
        t.notes.append(f"the data differ from the saved run's ({meta.get('data')}): "
                       f"the data order starts afresh")
        b.order, b.pos = None, 0
    else:
        b.order = order.numpy().astype(np.int64) if order is not None else None
    if meta.get("schedule_steps") != t.schedule:
        t.notes.append(f"schedule now {t.schedule} steps (was "
                       f"{meta.get('schedule_steps')}): the learning rate follows the "
                       f"new length from step {t.step}")
    _check_left(t)


def _check_architecture(t: Trainer, vcfg: VAEConfig, where: Path) -> None:
    if vcfg != t.vcfg:
        raise checkpoint.CheckpointError(
            f"model {where}: architecture differs from the requested one; "
            f"resume with the same --size/--latent/--width")


def _check_left(t: Trainer) -> None:
    schedule.check_left(t.out, t.step, t.schedule, t.cfg.minutes, t.elapsed)
