"""Checkpoints: safetensors weights + a JSON config. Loading never executes code.

A MODEL argument is a folder holding ``model.safetensors`` (+ ``model.json``) or the weights
file itself (its config is the ``.json`` beside it, or the copy embedded in the safetensors
header). The model id is the first 12 hex digits of the sha256 of the weights file.

The model's directions (``latent.directions``) come with its latent space: the principal
directions ``train`` stored in the config, plus the sidecars ``model.direction_files`` reads
(the weights file is never rewritten: its hash is the model's id).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from latentsketch.errors import UserError, os_error_line
from latentsketch.latent.directions import DirectionError, Directions
from latentsketch.latent.space import LatentSpace
from latentsketch.model import direction_files
from latentsketch.model.identity import BUNDLED as BUNDLED  # re-exported, as the next ones
from latentsketch.model.identity import DEFAULT as DEFAULT
from latentsketch.model.identity import WEIGHTS as WEIGHTS
from latentsketch.model.identity import bundled_name_of as bundled_name_of
from latentsketch.model.identity import bundled_path as bundled_path
from latentsketch.model.identity import model_id_of as model_id_of
from latentsketch.model.identity import which_model as which_model
from latentsketch.model.vae import VAE, VAEConfig
from latentsketch.tempfiles import temp_beside

FORMAT = "latentsketch-vae"
VERSION = 1


class CheckpointError(UserError, ValueError):
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
    """The bundled default model's weights."""
    return bundled_path(DEFAULT)


def resolve(path: str | os.PathLike[str] | None) -> Path:
    """MODEL argument -> weights file path: a folder holding ``model.safetensors``, the file
    itself, or the name of a bundled model (``shapes``); None means the bundled default.
    Raises CheckpointError naming what was given and the bundled names."""
    name = DEFAULT if path is None else os.fspath(path)
    p = Path(name).expanduser()
    if name in BUNDLED and not p.exists():
        p = bundled_path(name)
        if not p.exists():
            raise CheckpointError(f"model {p}: the bundled model {name!r} is missing; "
                                  f"reinstall latentsketch or pass --model")
        return p
    if p.is_dir():
        p = p / WEIGHTS
    if not p.exists():
        raise CheckpointError(f"model {path}: no such file or folder (a model folder, its "
                              f".safetensors file, or a bundled model: {', '.join(BUNDLED)})")
    return p


def _sidecar(weights: Path) -> Path:
    return weights.with_suffix(".json")


def save(vae: VAE, out: str | os.PathLike[str], meta: dict[str, Any] | None = None,
         dtype: torch.dtype = torch.float32) -> Path:
    """Write weights and config atomically (temp file + rename); returns the weights path.

    Raises CheckpointError (one line naming the file: a full disk, a read-only folder) and
    leaves the previous weights and config as they were, without temporary files.

    ``dtype=torch.float16`` halves the file (the bundled model) at no visible cost: weights are
    widened to float32 on load and the live decode runs in bf16 or fp32 anyway.
    """
    out = Path(out)
    weights = out / WEIGHTS if out.suffix != ".safetensors" else out
    config = {"format": FORMAT, "version": VERSION, "model": vae.cfg.to_dict(), **(meta or {})}
    text = json.dumps(config, indent=1)
    tensors = {k: v.detach().to("cpu", dtype).contiguous()
               for k, v in vae.state_dict().items()}
    for k, v in tensors.items():
        if not torch.isfinite(v).all():  # a model that renders black must not look usable
            raise CheckpointError(f"model {weights}: refusing to save NaN or inf (in {k})")
    side = _sidecar(weights)
    tmp = side_tmp = None
    try:  # both files complete before either replaces the old pair: never new weights, old config
        weights.parent.mkdir(parents=True, exist_ok=True)
        tmp, side_tmp = temp_beside(weights), temp_beside(side)   # unique per process
        save_file(tensors, str(tmp), metadata={"latentsketch": json.dumps(config)})
        os.chmod(tmp, 0o644)  # safetensors creates 0600; a shared model folder should be readable
        side_tmp.write_text(text)
        os.replace(tmp, weights)
        os.replace(side_tmp, side)
    except (OSError, SafetensorError) as e:
        raise CheckpointError(_write_error(e, weights)) from None
    finally:
        _remove(*(p for p in (tmp, side_tmp) if p is not None))
    return weights


def _remove(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _write_error(e: BaseException, path: Path) -> str:
    """One line for a failed write; safetensors reports an OS error only in its text."""
    if not isinstance(e, OSError):
        code = re.search(r"os error (\d+)", str(e))
        e = OSError(int(code.group(1)), os.strerror(int(code.group(1)))) if code else e
    return os_error_line(e, path, "save model")


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
        space = LatentSpace(dim=latent, rank=rank, mean=mean, std=std, keyframes=kf)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"model {weights}: bad latent statistics ({e})") from None
    try:
        dirs = Directions.from_json(cfg.get("directions") or [], latent)
    except DirectionError as e:
        raise CheckpointError(f"model {weights}: bad directions in its config ({e})") from None
    return replace(space, directions=dirs)


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
    model_id = model_id_of(weights)
    dirs = direction_files.gather(space.directions, weights, model_id, vcfg.latent)
    return LoadedModel(vae, cfg, model_id, replace(space, directions=dirs), weights)


# --- a training run's state (what --resume continues) ---------------------------------------
STATE_FORMAT = "latentsketch-train-state"
STATE_VERSION = 2


def save_run_state(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Tensors as safetensors plus ``meta`` as JSON in its header (no pickle: loading never runs
    code), written to a temp file and renamed, so a kill mid-write leaves the previous state.
    Raises CheckpointError (one line naming the file) if it cannot be written."""
    header = {"format": STATE_FORMAT, "version": str(STATE_VERSION), "state": json.dumps(meta)}
    tmp = None
    try:
        tmp = temp_beside(path)
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp),
                  metadata=header)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except (OSError, SafetensorError) as e:
        raise CheckpointError(_write_error(e, path)) from None
    finally:
        if tmp is not None:
            _remove(tmp)


def load_run_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, meta) of a run state; raises CheckpointError naming the file.

    A state written before version 2 (Adam moments keyed ``group.param.name``, step and extra
    in the header) comes back with ``meta["legacy"] = True``: it holds no weights, RNG states or
    data order, so the trainer warm-starts from the model beside it.
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if header.get("format") == STATE_FORMAT:
            if header.get("version") != str(STATE_VERSION):
                raise CheckpointError(f"training state {path}: version {header.get('version')} "
                                      f"is not supported (this program reads {STATE_VERSION})")
            return tensors, json.loads(header["state"])
        return tensors, {"legacy": True, "step": int(header.get("step", 0)),
                         **json.loads(header.get("extra", "{}"))}
    except (SafetensorError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"training state {path}: cannot resume ({e})") from None


def optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state_dict split into tensors (``opt.<param>.<name>``) and JSON."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{idx}.{k}"] = v
            else:
                plain.setdefault(str(idx), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "plain": plain}


def load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> None:
    """Inverse of ``optimizer_state``: the optimizer continues exactly where it was saved."""
    state: dict[int, dict[str, Any]] = {}
    for name, t in tensors.items():
        if name.startswith("opt."):
            _, idx, k = name.split(".", 2)
            state.setdefault(int(idx), {})[k] = t
    for idx, st in meta.get("plain", {}).items():
        state.setdefault(int(idx), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def load_legacy_moments(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Adam moments of a version-1 state (``group.param.name``) into ``opt``."""
    for gi, group in enumerate(opt.param_groups):
        for pi, p in enumerate(group["params"]):
            st = {}
            for k in ("step", "exp_avg", "exp_avg_sq"):
                t = tensors.get(f"{gi}.{pi}.{k}")
                if t is not None:
                    st[k] = t.reshape(()) if k == "step" else t.to(p.device)
            if st:
                opt.state[p] = st
