"""Build and measure a model's inference engines in a subprocess: ``python -m
latentsketch.model.engine_build MODEL CACHE_DIR``.

Exporting a graph (seconds) and quantising it (tens of seconds) would stall the live picture if
done in the render process: a thread holding the GIL stalls the loop. So the live loop starts on
torch, runs this module as a child process at a lower priority, and adopts the winner when
``choice.json`` appears. Every file is written to a temporary name and moved into place, so a
killed build leaves nothing that looks finished.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

CHOICE = "choice.json"
CALIBRATION = 64   # latents for int8 calibration
TEST = 16          # latents for the quality check


def build(model: str | None, out: Path, threads: int = 1) -> Path:
    """Export, quantise and measure; returns the path of ``choice.json`` in ``out``."""
    from latentsketch.model import checkpoint, engines

    torch.set_num_threads(threads)
    loaded = checkpoint.load(model)
    net = loaded.vae.decoder.float().eval()
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp"):  # left by a build that was killed mid-write
        stale.unlink(missing_ok=True)
    names = list(engines.ENGINES)
    try:
        onnx = engines.export_onnx(net, out / "decoder.onnx")
        try:
            engines.quantize_int8(onnx, out / "decoder-int8.onnx",
                                  engines.calibration_latents(loaded.space, CALIBRATION))
        except engines.EngineUnavailable:
            pass
    except engines.EngineUnavailable:
        names = [n for n in names if n.startswith("torch")]
    test = engines.calibration_latents(loaded.space, TEST, seed=1)
    choice = engines.measure(net, out, test, names, threads=threads)
    path = out / CHOICE
    tmp = path.with_name(f".{CHOICE}.{os.getpid()}.tmp")
    tmp.write_text(choice.to_json())
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m latentsketch.model.engine_build")
    p.add_argument("model", help="model folder or file ('-' for the bundled model)")
    p.add_argument("out", type=Path)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--nice", type=int, default=10, help="lower priority beside the live loop")
    a = p.parse_args(argv)
    if a.nice and hasattr(os, "nice"):
        os.nice(a.nice)
    path = build(None if a.model == "-" else a.model, a.out, a.threads)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
