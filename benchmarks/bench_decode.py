"""Decoder cost per frame at batch 1: every engine, its share of the matmul limit, its error.

For the bundled model and the 128-px sub-pixel decoder (``VAEConfig.sharp128``, untrained: the
cost does not depend on the weights), prints GFLOP per frame, the naive baseline (eager fp32,
default layout and threads, as a naive loop would run it) and then every engine the machine can
run (torch, ONNX Runtime, OpenVINO; fp32, bf16 where native, int8) at batch 1 on one thread:
median ms, the ratio to the naive baseline, the share of this CPU's matmul limit for its
precision, and its largest pixel difference from torch fp32. The engines are timed interleaved
(``engines.measure``), so a burst of load elsewhere hits all of them alike.
Run: ``python benchmarks/bench_decode.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from latentsketch.latent.space import LatentSpace
from latentsketch.model import checkpoint, engines
from latentsketch.model.vae import VAE, VAEConfig, decoder_flops


def timeit(fn, n: int = 60) -> tuple[float, float]:
    for _ in range(5):
        fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    a = np.asarray(ts) * 1e3
    return float(np.median(a)), float(np.percentile(a, 99))


def matmul_gflops(dtype: torch.dtype, threads: int) -> float:
    torch.set_num_threads(threads)
    a = torch.randn(1024, 1024, dtype=dtype)
    b = torch.randn(1024, 1024, dtype=dtype)
    med, _ = timeit(lambda: a @ b, 10)
    return 2 * 1024**3 / (med / 1e3) / 1e9


def bench(name: str, vae: VAE, space: LatentSpace, limits: dict[str, float]) -> None:
    gflop = decoder_flops(vae.cfg) / 1e9
    z = torch.randn(1, vae.cfg.latent)
    torch.set_num_threads(torch.get_num_interop_threads() or 2)
    naive = vae.decoder.float().eval()
    with torch.no_grad():
        n_med, _ = timeit(lambda: naive(z))
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        art = Path(d)
        try:
            onnx = engines.export_onnx(vae.decoder, art / "decoder.onnx")
            engines.quantize_int8(onnx, art / "decoder-int8.onnx",
                                  engines.calibration_latents(space, 64))
        except engines.EngineUnavailable as e:
            print(f"  (graph export unavailable: {e})")
        choice = engines.measure(vae.decoder, art, engines.calibration_latents(space, 16, 1))
    print(f"{name}: {gflop:.3f} GFLOP/frame; naive eager fp32 ({torch.get_num_interop_threads()}"
          f" threads) {n_med:.2f} ms; winner {choice.winner}")
    for t in sorted(choice.timings, key=lambda t: (t.ms is None, t.ms or 0.0)):
        if t.ms is None:
            print(f"  {t.name:>17}  -- {t.why}")
            continue
        prec = t.name.rsplit("-", 1)[1]
        limit = limits.get(prec, limits["fp32"])
        share = gflop / (t.ms / 1e3) / limit
        print(f"  {t.name:>17}  {t.ms:7.2f} ms  x{n_med / t.ms:4.1f} vs naive  "
              f"{100 * share:4.0f}% of the {'fp32' if prec == 'int8' else prec} matmul limit  "
              f"max {t.max_levels:.0f} levels from torch fp32"
              + ("  (rejected: over the int8 bound)" if prec == "int8"
                 and (t.max_levels or 0) > engines.INT8_MAX_LEVELS else ""))


def main() -> None:
    limits = {"fp32": matmul_gflops(torch.float32, 1)}
    if engines.cpu_has_bf16():
        limits["bf16"] = matmul_gflops(torch.bfloat16, 1)
    print(f"CPU features: {engines.cpu_key()}; 1-thread matmul GFLOP/s: "
          + ", ".join(f"{k} {v:.0f}" for k, v in limits.items()))
    print(f"versions: {engines.versions()}")
    m = checkpoint.load(None)
    bench(f"bundled {m.model_id} ({m.cfg.image_size} px)", m.vae, m.space, limits)
    torch.manual_seed(0)
    cfg = VAEConfig.sharp128()
    bench("sharp128 (128 px, sub-pixel output)", VAE(cfg).eval(),
          LatentSpace.standard(cfg.latent), limits)


if __name__ == "__main__":
    main()
