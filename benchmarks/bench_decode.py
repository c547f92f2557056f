"""Decoder cost per frame at batch 1: FLOPs, latency per backend, share of the matmul limit.

Prints, for 64/128/256-pixel decoders (and the bundled model), GFLOP per frame and the median
and p99 latency of the eager float32 baseline (default threads, no channels_last, as a naive
loop would run it) and of the ``Decoder`` the live loop uses (1 thread, best measured backend),
with the ratio, plus the machine's float32/bf16 matmul GFLOP/s so decode speed is also a share
of what this CPU can do. Run: ``python benchmarks/bench_decode.py``.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from latentsketch.model import checkpoint
from latentsketch.model.inference import Decoder
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
    a = torch.randn(2048, 2048, dtype=dtype)
    b = torch.randn(2048, 2048, dtype=dtype)
    med, _ = timeit(lambda: a @ b, 10)
    return 2 * 2048**3 / (med / 1e3) / 1e9


def bench(name: str, vae: VAE, limits: dict[tuple[str, int], float]) -> None:
    cfg = vae.cfg
    gflop = decoder_flops(cfg) / 1e9
    z = torch.randn(1, cfg.latent)
    torch.set_num_threads(2)
    naive = vae.decoder.eval()
    with torch.no_grad():
        n_med, n_p99 = timeit(lambda: naive(z))
    dec = Decoder(vae, threads=1)
    zn = z.numpy()[0]
    d_med, d_p99 = timeit(lambda: dec.decode(zn))
    limit = limits[(dec.backend, 1)]
    share = gflop / (d_med / 1e3) / limit
    print(f"{name:>22}  {gflop:6.3f} GFLOP  naive fp32 2 thr {n_med:6.2f} ms (p99 {n_p99:6.2f})"
          f"  | Decoder {dec.backend} 1 thr {d_med:6.2f} ms (p99 {d_p99:6.2f})"
          f"  x{n_med / d_med:4.1f}  {100 * share:4.0f}% of {dec.backend} matmul limit")


def main() -> None:
    limits = {}
    for dtype, label in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        for th in (1, 2):
            limits[(label, th)] = matmul_gflops(dtype, th)
    print("matmul 2048^2 GFLOP/s: " + ", ".join(f"{k[0]} {k[1]} thr {v:.0f}"
                                                for k, v in limits.items()))
    torch.manual_seed(0)
    for size, latent, width in ((64, 32, 32), (128, 64, 16), (256, 64, 16)):
        bench(f"{size}x{size} latent {latent}", VAE(VAEConfig.preset(size, latent, width)).eval(),
              limits)
    try:
        m = checkpoint.load(None)
        bench(f"bundled {m.model_id}", m.vae, limits)
    except checkpoint.CheckpointError as e:
        print(f"bundled model: {e}")


if __name__ == "__main__":
    main()
