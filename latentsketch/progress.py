"""Progress bars for long work, listening to the library's events (tqdm)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from latentsketch.train import TrainConfig, TrainEvent, train
from latentsketch.train.dist import Dist

_BAR = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]{postfix}"


def train_with_progress(cfg: TrainConfig) -> tuple[Path, dict[str, Any]]:
    """Train with a bar showing loss terms and ETA, then a second bar while the model is
    measured (encoding the data set, quality figures, sheets: seconds to minutes after the
    last step); prints where everything went. Under torchrun only rank 0 shows anything; its
    images/s count the global batch, every process's share."""
    if not Dist.from_env().main:
        return train(cfg)
    bars: dict[str, tqdm] = {}
    trained = 0.0  # the run's fraction at its last step
    last = [time.perf_counter(), -1]  # when the bar last moved, at which step

    def bar(name: str, initial: float = 0.0) -> tqdm:
        if name not in bars:
            # Bars run over a fraction, so a --minutes budget gets a true ETA.
            bars[name] = tqdm(total=100.0, initial=round(100 * initial, 2), unit="%",
                              dynamic_ncols=True, desc=name, bar_format=_BAR, file=sys.stderr)
        return bars[name]

    def on_event(e: TrainEvent) -> None:
        nonlocal trained
        if e.kind == "step":
            trained = e.progress
        if e.kind == "note":
            for b in bars.values():
                b.clear()
            print(f"training: {e.message}", file=sys.stderr)
            for b in bars.values():
                b.refresh()
        elif e.kind == "start":
            print(f"training: {e.message}", file=sys.stderr)
            bar("train", e.progress)
        elif e.kind == "step" and e.step % 10 == 0:
            b = bar("train")
            b.update(round(100 * e.progress, 2) - b.n)
            t = e.terms
            now = time.perf_counter()
            rate = ("" if last[1] < 0 else
                    f" {(e.step - last[1]) * cfg.batch_size / max(now - last[0], 1e-9):.0f} img/s")
            last[:] = [now, e.step]
            b.set_postfix_str(f"step {e.step} ep {e.epoch + 1} loss {t['total']:.0f} "
                              f"rec {t['recon']:.0f} kl {t['kl']:.1f} psnr {t['psnr']:.1f}"
                              f"{rate}")
        elif e.kind == "saving":
            bar("train").set_postfix_str(f"step {e.step}: {e.message}")
        elif e.kind == "measure":
            if "train" in bars and not bars["train"].disable:
                bars["train"].update(round(100 * trained, 2) - bars["train"].n)
                bars["train"].close()
            b = bar("measure")
            b.update(round(100 * e.progress, 2) - b.n)
            b.set_postfix_str(e.message)
        elif e.kind == "done":
            for b in bars.values():
                b.close()
            print(f"saved {e.message}", file=sys.stderr)
            for k, v in e.terms.items():
                print(f"  {k}: {v}", file=sys.stderr)
            print(f"look at {Path(e.message).parent / 'samples.png'} (the sample sheet) and "
                  f"play it: latentsketch play --model {Path(e.message).parent}", file=sys.stderr)

    try:
        return train(cfg, on_event)
    finally:
        for b in bars.values():
            b.close()
