"""Fill README's bundled-models table (the `emoji` column) from the shipped JSON's figures.

    python tools/readme_models.py

Rewrites the table rows in place; run after ``tools/ship_model.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    cfg = json.loads((ROOT / "assets" / "emoji.json").read_text())
    m, tr = cfg["metrics"], cfg["training"]
    steps, schedule = tr["steps"], tr.get("schedule_steps") or tr["steps"]
    cells = {
        "training": (f"{steps:,} steps" if steps >= schedule else
                     f"{steps:,} steps of {schedule:,} (training continues)"),
        "held-out PSNR (at 64 px)": f"{m['heldout_psnr_db']:.1f} dB "
                                    f"({m['heldout_psnr64_db']:.1f} dB)",
        "active latent dimensions (KL > 0.01 nat)":
            f"{m['active_dims']} of {cfg['model']['latent']}",
        "edge sharpness, p99 gradient vs the data's: reconstructions / the default walk / "
        "random points of the data region":
            f"{m['edge_ratio_recon']:.2f} / {m['edge_ratio_walk']:.2f} / "
            f"{m['edge_ratio_region']:.2f}",
    }
    readme = ROOT / "README.md"
    text = readme.read_text()
    for row, value in cells.items():
        pattern = re.compile(r"^(\| " + re.escape(row) + r" \| [^|]+ \| )[^|]+( \|)$", re.M)
        text, n = pattern.subn(lambda mt, v=value: mt.group(1) + v + mt.group(2), text)
        if n != 1:
            raise SystemExit(f"readme_models: README row {row!r} found {n} times, not once")
    readme.write_text(text)


if __name__ == "__main__":
    main()
