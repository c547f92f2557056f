"""Progress bars for long work, listening to the library's events (tqdm)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from latentsketch.train import TrainConfig, TrainEvent, train


def train_with_progress(cfg: TrainConfig) -> tuple[Path, dict[str, Any]]:
    """Train with a bar showing loss terms and ETA; prints where everything went."""
    bar: tqdm | None = None

    def on_event(e: TrainEvent) -> None:
        nonlocal bar
        if e.kind == "start":
            print(f"training: {e.message}", file=sys.stderr)
            # The bar runs over the run's fraction, so a --minutes budget gets a true ETA.
            bar = tqdm(total=100.0, initial=round(100 * e.progress, 2), unit="%",
                       dynamic_ncols=True, desc="train",
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"
                                  "{postfix}")
        elif e.kind == "step" and bar is not None:
            if e.step % 10 == 0:
                bar.update(round(100 * e.progress, 2) - bar.n)
                t = e.terms
                bar.set_postfix_str(f"step {e.step} ep {e.epoch + 1} loss {t['total']:.0f} "
                                    f"rec {t['recon']:.0f} kl {t['kl']:.1f} "
                                    f"psnr {t['psnr']:.1f}")
        elif e.kind == "done":
            if bar is not None:
                bar.close()
            print(f"saved {e.message}", file=sys.stderr)
            for k, v in e.terms.items():
                print(f"  {k}: {v}", file=sys.stderr)

    try:
        return train(cfg, on_event)
    finally:
        if bar is not None:
            bar.close()
