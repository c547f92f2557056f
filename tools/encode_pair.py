"""Draw README's encode/reconstruct picture: pictures above the model's versions of them.

Each picture goes through ``latentsketch.encoding`` (what ``latentsketch encode``, keyframes and
drops use) and its point is decoded. The first pictures are procedural images of a seed the
bundled model never trained on (its data used seed 7); the last are of the ``mixed`` style
(stripes, checkers, rings: unlike anything it saw), to show what it makes of the unfamiliar.

    python tools/encode_pair.py docs/encode.png [--model M]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from latentsketch import encoding
from latentsketch.data import procedural
from latentsketch.model import checkpoint
from latentsketch.sheets import labelled_sheet, save_png


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", default=None, help="model folder (default: bundled)")
    a = ap.parse_args()
    model = checkpoint.load(a.model)
    pictures = np.concatenate([procedural.generate(5, seed=123, size=128),
                               procedural.generate(3, seed=5, size=128, style="mixed")])
    points = [encoding.encode_array(model, p) for p in pictures]
    with torch.inference_mode():
        z = torch.from_numpy(np.stack([p.z for p in points]).astype(np.float32))
        rec = model.vae.decode(z).clamp(0, 1).mul(255).round().byte()
    rows = [("picture", np.stack([p.image for p in points])),
            ("the model's", rec.permute(0, 2, 3, 1).numpy())]
    save_png(labelled_sheet(rows, scale=2), a.out)
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e3:.0f} KB)")


if __name__ == "__main__":
    main()
