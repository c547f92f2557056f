"""What a run leaves for people and for the instrument: sample sheets, the loss curve, the
shipped model (weights + JSON) and its metrics.

The one place the trainer draws pictures, so the sheet and curve helpers it uses are imported
here only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentsketch.model import checkpoint
from latentsketch.model.vae import VAE
from latentsketch.sheets import labelled_sheet, loss_curve, save_png
from latentsketch.train.folder import write_into, write_text


def title(data_desc: str, step: int) -> str:
    """The heading of every sheet and curve: which data, how far trained."""
    return f"{data_desc}  step {step}"


def metrics_line(m: dict[str, Any]) -> str:
    """The quality figures in one line, for a sheet's heading (``measure.quality``'s keys)."""
    parts = []
    if "heldout_psnr_db" in m:
        psnr = f"held-out PSNR {m['heldout_psnr_db']} dB"
        if "heldout_psnr64_db" in m:
            psnr += f" ({m['heldout_psnr64_db']} at 64 px)"
        parts.append(psnr)
    if "active_dims" in m:
        parts.append(f"{m['active_dims']} active dims")
    edges = [f"{k} {m['edge_ratio_' + k]}" for k in ("recon", "walk", "region")
             if "edge_ratio_" + k in m]
    if edges:
        parts.append("edge ratio " + ", ".join(edges))
    return " · ".join(parts)


def write_sheet(out: Path, path: Path, rows: list[tuple[str, np.ndarray]], size: int,
                heading: str) -> None:
    """A labelled sample sheet, scaled so 64-pixel images stay readable."""
    sheet = labelled_sheet(rows, scale=max(1, 128 // size), title=heading)
    write_into(out, lambda: save_png(sheet, path))


def write_loss_curve(out: Path, history: dict[str, list[float]], heading: str) -> None:
    write_into(out, lambda: loss_curve(history, out / "loss.png", title=heading))


def ship(out: Path, vae: VAE, meta: dict[str, Any], half: bool) -> Path:
    """Write ``vae`` as OUT/model.safetensors + model.json (float16 with ``half``)."""
    dtype = torch.float16 if half else torch.float32
    write_into(out, lambda: checkpoint.save(vae, out, meta, dtype=dtype))
    return out / checkpoint.WEIGHTS


def write_metrics(out: Path, metrics: dict[str, Any]) -> None:
    write_into(out, lambda: write_text(out / "metrics.json", json.dumps(metrics, indent=1)))
