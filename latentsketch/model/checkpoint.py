"""Checkpoints: safetensors weights + a JSON config. Loading never executes code.

A MODEL argument is a folder holding ``model.safetensors`` (+ ``model.json``) or the weights
file itself (its config is the ``.json`` beside it, or the copy embedded in the safetensors
header). The model id is the first 12 hex digits of the sha256 of the weights file.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from latentsketch.latent.space import LatentSpace
from latentsketch.model.vae import VAE, VAEConfig

FORMAT = "latentsketch-vae"
VERSION = 1
WEIGHTS = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class LoadedModel:
    vae: VAE
    config: dict[str, Any]
    model_id: str
    space: LatentSpace
    path: Path

    @property
    def cfg(self) -> VAEConfig:
        return self.vae.cfg


def default_model_path() -> Path:
    """The bundled model, found through the installed package (never the current folder)."""
    return Path(str(importlib.resources.files("latentsketch.assets"))) / WEIGHTS


def resolve(path: str | os.PathLike[str] | None) -> Path:
    """MODEL argument -> weights file path; None means the bundled default."""
    if path is None:
        p = default_model_path()
        if not p.exists():
            raise CheckpointError(f"model {p}: the bundled default model is missing; "
                                  f"reinstall latentsketch or pass --model")
        return p
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / WEIGHTS
    if not p.exists():
        raise CheckpointError(f"model {path}: no such file or folder")
    return p


def model_id_of(weights: Path) -> str:
    h = hashlib.sha256()
    with open(weights, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def _sidecar(weights: Path) -> Path:
    return weights.with_suffix(".json")


def save(vae: VAE, out: str | os.PathLike[str], meta: dict[str, Any] | None = None,
         dtype: torch.dtype = torch.float32) -> Path:
    """Write weights and config atomically (temp file + rename); returns the weights path.

    ``dtype=torch.float16`` halves the file (the bundled model) at no visible cost: weights are
    widened to float32 on load and the live decode runs in bf16 or fp32 anyway.
    """
    out = Path(out)
    weights = out / WEIGHTS if out.suffix != ".safetensors" else out
    weights.parent.mkdir(parents=True, exist_ok=True)
    config = {"format": FORMAT, "version": VERSION, "model": vae.cfg.to_dict(), **(meta or {})}
    text = json.dumps(config, indent=1)
    tensors = {k: v.detach().to("cpu", dtype).contiguous()
               for k, v in vae.state_dict().items()}
    for k, v in tensors.items():
        if not torch.isfinite(v).all():  # a model that renders black must not look usable
            raise CheckpointError(f"model {weights}: refusing to save NaN or inf (in {k})")
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"latentsketch": json.dumps(config)})
    os.chmod(tmp, 0o644)  # safetensors creates 0600; a shared model folder should be readable
    os.replace(tmp, weights)
    side_tmp = _sidecar(weights).with_name(_sidecar(weights).name + ".tmp")
    side_tmp.write_text(text)
    os.replace(side_tmp, _sidecar(weights))
    return weights


def _read_config(weights: Path, header: dict[str, str] | None) -> dict[str, Any]:
    side = _sidecar(weights)
    try:
        if side.exists():
            cfg = json.loads(side.read_text())
        elif header and "latentsketch" in header:
            cfg = json.loads(header["latentsketch"])
        else:
            raise CheckpointError(f"model {weights}: no config ({side.name} missing)")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"model {side}: config is not valid JSON ({e})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise CheckpointError(f"model {weights}: not a latentsketch checkpoint")
    if cfg.get("version") != VERSION:
        raise CheckpointError(
            f"model {weights}: checkpoint version {cfg.get('version')!r} is not supported "
            f"(this program reads version {VERSION})"
        )
    return cfg


def _space(cfg: dict[str, Any], latent: int, weights: Path) -> LatentSpace:
    try:
        rank = tuple(int(i) for i in cfg.get("kl_rank") or range(latent))
        mean = np.asarray(cfg.get("latent_mean") or np.zeros(latent), np.float32)
        std = np.asarray(cfg.get("latent_std") or np.ones(latent), np.float32)
        kf = np.asarray(cfg.get("keyframes") or np.zeros((0, latent)), np.float32)
        kf = kf.reshape(-1, latent) if kf.size else np.zeros((0, latent), np.float32)
        return LatentSpace(dim=latent, rank=rank, mean=mean, std=std, keyframes=kf)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"model {weights}: bad latent statistics ({e})") from None


def load(path: str | os.PathLike[str] | None = None,
         device: str | torch.device = "cpu") -> LoadedModel:
    """Load and validate a checkpoint; raises CheckpointError with a one-line message."""
    weights = resolve(path)
    try:
        with safe_open(str(weights), framework="pt") as f:
            header = f.metadata()
            cfg = _read_config(weights, header)
            try:
                vcfg = VAEConfig.from_dict(cfg["model"])
            except (KeyError, TypeError, ValueError) as e:
                raise CheckpointError(f"model {weights}: bad architecture config ({e})") from None
            vae = VAE(vcfg)
            expected = vae.state_dict()
            keys = set(f.keys())
            if keys != set(expected):
                missing = sorted(set(expected) - keys)[:3]
                extra = sorted(keys - set(expected))[:3]
                raise CheckpointError(
                    f"model {weights}: weights do not match the config "
                    f"(missing {missing}, unexpected {extra})"
                )
            state = {}
            for k, ref in expected.items():
                t = f.get_tensor(k).float()
                if t.shape != ref.shape:
                    raise CheckpointError(
                        f"model {weights}: tensor {k} has shape {tuple(t.shape)}, "
                        f"config expects {tuple(ref.shape)}"
                    )
                if not torch.isfinite(t).all():
                    raise CheckpointError(f"model {weights}: tensor {k} holds NaN or inf")
                state[k] = t
    except SafetensorError as e:
        raise CheckpointError(f"model {weights}: not a readable safetensors file ({e})") from None
    except OSError as e:
        raise CheckpointError(f"model {weights}: cannot read ({e.strerror or e})") from None
    vae.load_state_dict(state)
    vae.eval().to(device)
    space = _space(cfg, vcfg.latent, weights)
    return LoadedModel(vae, cfg, model_id_of(weights), space, weights)


def save_train_state(opt: torch.optim.Optimizer, step: int, extra: dict[str, Any],
                     path: Path) -> None:
    """Adam moments as safetensors (no pickle), so ``--resume`` continues the same run."""
    tensors: dict[str, torch.Tensor] = {}
    for gi, group in enumerate(opt.param_groups):
        for pi, p in enumerate(group["params"]):
            for k, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v):
                    tensors[f"{gi}.{pi}.{k}"] = v.detach().cpu().float().reshape(-1).clone() \
                        if v.ndim == 0 else v.detach().cpu().contiguous()
    meta = {"step": str(step), "extra": json.dumps(extra)}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)


def load_train_state(opt: torch.optim.Optimizer, path: Path) -> tuple[int, dict[str, Any]]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            for gi, group in enumerate(opt.param_groups):
                for pi, p in enumerate(group["params"]):
                    st = {}
                    for k in ("step", "exp_avg", "exp_avg_sq"):
                        name = f"{gi}.{pi}.{k}"
                        if name in f.keys():
                            t = f.get_tensor(name)
                            st[k] = t.reshape(()) if k == "step" else t.to(p.device)
                    if st:
                        opt.state[p] = st
            return int(meta.get("step", 0)), json.loads(meta.get("extra", "{}"))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"training state {path}: cannot resume ({e})") from None
