"""Ship a trained model as a bundled one: float16 weights, config and sample sheet in assets/.

    python tools/ship_model.py /work/runs/emoji128 emoji --data /work/data/emoji128

writes ``assets/emoji.safetensors`` (float16: half the file, no visible difference: weights
are widened to float32 on load), ``assets/emoji.json`` (the run's config, statistics and
keyframes, with the quality figures measured again on the float16 weights by
``tools/measure_model.py``'s rule), ``assets/emoji-samples.png`` and, for a run trained before
``train`` stored principal directions, ``assets/emoji.directions.json``
(``latentsketch directions``). The name must be in
``checkpoint.BUNDLED``; the data's licence goes beside them by hand (``assets/*-LICENSE.md``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from latentsketch.model import checkpoint

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="the run folder (or weights file) to ship")
    ap.add_argument("name", help="the bundled name (checkpoint.BUNDLED)")
    ap.add_argument("--data", help="the training images' folder, to measure (default: as trained)")
    a = ap.parse_args()
    if a.name not in checkpoint.BUNDLED:
        sys.exit(f"ship_model: {a.name!r} is not in checkpoint.BUNDLED; add it there first")
    loaded = checkpoint.load(a.run)
    meta = {k: v for k, v in loaded.config.items() if k not in ("format", "version", "model")}
    weights = checkpoint.save(loaded.vae, ASSETS / checkpoint.BUNDLED[a.name], meta,
                              dtype=torch.float16)
    sheet = loaded.path.parent / "samples.png"
    if sheet.exists():
        shutil.copyfile(sheet, ASSETS / f"{a.name}-samples.png")
    measure = [sys.executable, str(Path(__file__).with_name("measure_model.py")), str(weights),
               "--write", *(["--data", a.data] if a.data else [])]
    subprocess.run(measure, check=True)
    pcs = ASSETS / (weights.stem + ".directions.json")
    if pcs.exists() or "directions" not in loaded.config:   # a shipped sidecar is renewed:
        pcs.unlink(missing_ok=True)                          # the old one names the old id
        subprocess.run([sys.executable, "-m", "latentsketch", "directions", str(weights),
                        *(["--data", a.data] if a.data else []), "--out", str(pcs)], check=True)
    print(f"shipped {weights} (model id {checkpoint.model_id_of(weights)})")


if __name__ == "__main__":
    main()
