"""The fast decode path: z (float32, raw order) -> uint8 (H, W, 3) frames.

One ``Decoder`` interface over the backends measured to matter here: eager float32 in
channels_last, and bfloat16 weights where the CPU computes bf16 natively (AMX/avx512_bf16:
2.5x faster on this machine, max error half an 8-bit step) or on CUDA. The choice is made by a
sub-second timing at warm-up, never by compiling, so the picture moves within a second of launch.
Live decoding uses one intra-op thread: two threads fight the render loop for the two cores
(FACTS.md), and the second core is left for recording and OSC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentsketch.model.vae import VAE

BACKENDS = ("auto", "fp32", "bf16")


CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # what picks oneDNN's kernels


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AMX or AVX512-BF16); elsewhere it is emulated
    and ~50x slower than fp32 (measured on an AVX2-only EPYC)."""
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


@dataclass(frozen=True)
class DecodeTiming:
    backend: str
    ms: float


class Decoder:
    """Decode latent vectors with the fastest measured backend; never raises on finite input."""

    def __init__(self, vae: VAE, device: torch.device | str | None = None, backend: str = "auto",
                 threads: int | None = 1) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"decoder backend {backend!r} is not one of {', '.join(BACKENDS)}")
        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device(device) if device else next(vae.parameters()).device
        self.latent = vae.cfg.latent
        self.size = vae.cfg.image_size
        base = vae.decoder.eval().to(self.device)
        self._fp32 = base.to(memory_format=torch.channels_last)
        self._bf16: torch.nn.Module | None = None
        if backend == "bf16" or (backend == "auto" and self._bf16_possible()):
            import copy

            self._bf16 = copy.deepcopy(self._fp32).to(torch.bfloat16)
        self.timings: tuple[DecodeTiming, ...] = ()
        self.backend = "bf16" if backend == "bf16" else "fp32"
        self._warm(backend)

    def _bf16_possible(self) -> bool:
        if self.device.type == "cuda":
            return torch.cuda.is_bf16_supported()
        return self.device.type == "cpu" and cpu_has_bf16()

    @torch.inference_mode()
    def _time(self, module: torch.nn.Module, dtype: torch.dtype, n: int) -> float:
        z = torch.zeros((1, self.latent), device=self.device, dtype=dtype)
        for _ in range(2):
            module(z)
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            module(z)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            ts.append(time.perf_counter() - t)
        return float(np.median(ts)) * 1e3

    def _warm(self, backend: str) -> None:
        """Warm up, and in auto mode keep bf16 only if it is measured faster."""
        timings = [DecodeTiming("fp32", self._time(self._fp32, torch.float32, 5))]
        if self._bf16 is not None:
            timings.append(DecodeTiming("bf16", self._time(self._bf16, torch.bfloat16, 5)))
        self.timings = tuple(timings)
        if backend == "auto":
            self.backend = min(timings, key=lambda t: t.ms).backend
        if self.backend != "bf16":
            self._bf16 = None

    def describe(self) -> dict[str, object]:
        """Which numeric path decodes: engine, device, precision, threads and, on a CPU, the
        features that choose oneDNN's kernels. Pixels agree within one level across paths of
        one precision, so a control log records this to explain a replay's differences."""
        d: dict[str, object] = {"engine": "torch", "device": self.device.type,
                                "precision": self.backend, "threads": torch.get_num_threads()}
        if self.device.type == "cpu":
            d["cpu"] = sorted(cpu_flags() & set(CPU_FEATURES))
        return d

    @property
    def module(self) -> torch.nn.Module:
        return self._bf16 if self.backend == "bf16" and self._bf16 is not None else self._fp32

    @torch.inference_mode()
    def decode_tensor(self, z: np.ndarray) -> torch.Tensor:
        """(B, latent) -> (B, 3, H, W) float32 in 0..1 on the CPU."""
        zt = torch.from_numpy(np.ascontiguousarray(z, np.float32)).to(self.device)
        if self.backend == "bf16":
            zt = zt.to(torch.bfloat16)
        x = self.module(zt).float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return x.cpu()

    @torch.inference_mode()
    def decode_batch(self, z: np.ndarray) -> np.ndarray:
        """(B, latent) -> (B, H, W, 3) uint8."""
        x = self.decode_tensor(np.atleast_2d(z))
        return x.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()

    def decode(self, z: np.ndarray) -> np.ndarray:
        """One latent vector (latent,) -> (H, W, 3) uint8."""
        return np.ascontiguousarray(self.decode_batch(np.asarray(z, np.float32)[None])[0])
