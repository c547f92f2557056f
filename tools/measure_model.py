"""Measure a trained model again with today's measures (``latentsketch.measure.quality``).

The measures grow (the default walk's edge ratio, the 64-px PSNR); a shipped model's figures
should be today's. This rebuilds the model's data set from the training config stored in its
JSON (``--data`` overrides the folder), takes the same held-out split (``train.data.split``
with the run's seed), measures the weights as they are and prints the figures; ``--write``
puts them into the model's JSON (atomically). The weights file is never touched, so the
model id stays.

    python tools/measure_model.py assets/model.safetensors --write
    python tools/measure_model.py /work/runs/emoji128 --data /work/data/emoji128
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import torch

from latentsketch import measure
from latentsketch.model import checkpoint
from latentsketch.output.paths import write_atomically
from latentsketch.train.config import TrainConfig
from latentsketch.train.data import TrainingSet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="model folder or .safetensors file")
    ap.add_argument("--data", help="the training images' folder (default: as trained)")
    ap.add_argument("--write", action="store_true", help="store the figures in the model's JSON")
    a = ap.parse_args()
    torch.set_num_threads(2)
    loaded = checkpoint.load(a.model)
    cfg = loaded.config
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    tc = {k: v for k, v in (cfg.get("training") or {}).get("config", {}).items() if k in known}
    if "background" in tc:
        tc["background"] = tuple(tc["background"])
    if a.data:
        tc["data"] = a.data
    data = TrainingSet.load(TrainConfig(**tc))
    stats = {k: cfg[k] for k in ("kl_per_dim", "kl_rank", "latent_mean", "latent_std",
                                 "keyframes")}
    m = measure.quality(loaded.vae.float(), data.images, data.hold_idx, data.train_idx,
                        torch.device("cpu"), stats, int(tc.get("seed", 0)))
    old = cfg.get("metrics") or {}
    kept = {k: v for k, v in old.items() if k.startswith("heldout_psnr_db_") or k in
            ("weights", "measured_on")}
    m = {**m, **kept}
    print(json.dumps(m))
    if a.write:
        side = loaded.path.with_suffix(".json")
        doc = json.loads(side.read_text())
        doc["metrics"] = m
        write_atomically(side, lambda tmp: tmp.write_text(json.dumps(doc, indent=1)))
        print(f"wrote {side}", file=sys.stderr)


if __name__ == "__main__":
    main()
