"""The fast decode path: z (float32, raw order) -> uint8 (H, W, 3) frames.

One ``Decoder`` interface over the engines in ``engines.py``. It starts on torch: eager float32
in channels_last, or bfloat16 weights where the CPU computes bf16 natively (AMX/avx512_bf16:
2.5x faster there, max error half an 8-bit step) or on CUDA, chosen by a sub-second timing at
warm-up, so the picture moves within a second of launch. A faster engine measured in a
subprocess (ONNX Runtime, OpenVINO) is adopted later between two frames.
Live decoding uses one intra-op thread: two threads fight the render loop for the two cores
(FACTS.md), and the second core is left for recording and OSC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latentsketch.model.engines import (
    CPU_FEATURES,
    Runner,
    cpu_flags,
    cpu_has_bf16,
    median_ms,
    torch_frame_runner,
    torch_runner,
)
from latentsketch.model.vae import VAE

BACKENDS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class DecodeTiming:
    backend: str
    ms: float


class Decoder:
    """Decode latent vectors with the fastest measured engine; never raises on finite input.

    It starts on torch (fp32, or bf16 where the CPU computes it natively and it measures
    faster), so the picture moves within a second of launch. ``adopt`` swaps in another engine
    between two frames (ONNX Runtime or OpenVINO, built and measured in a subprocess by
    ``engine_build``); ``engine`` names the one decoding now, e.g. ``openvino-fp32``.
    """

    def __init__(self, vae: VAE, device: torch.device | str | None = None, backend: str = "auto",
                 threads: int | None = 1) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"decoder backend {backend!r} is not one of {', '.join(BACKENDS)}")
        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device(device) if device else next(vae.parameters()).device
        self.latent = vae.cfg.latent
        self.size = vae.cfg.image_size
        self.net = vae.decoder.eval().to(self.device)
        runs = {"fp32": torch_runner(self.net, "fp32", self.device)}
        if backend == "bf16" or (backend == "auto" and self._bf16_possible()):
            runs["bf16"] = torch_runner(self.net, "bf16", self.device)
        # on a GPU the frame is finished there (uint8), and that is the path timed
        self._frames_of = ({k: torch_frame_runner(self.net, k, self.device) for k in runs}
                           if self.device.type == "cuda" else {})
        timed = self._frames_of or runs
        self.timings = tuple(DecodeTiming(k, self._time(r, 5)) for k, r in timed.items())
        self.backend = backend if backend != "auto" else min(self.timings,
                                                              key=lambda t: t.ms).backend
        self._run = runs[self.backend]
        self._frames: Runner | None = self._frames_of.get(self.backend)
        self.engine = f"torch-{self.backend}"
        if device is None and self.device.type == "cpu" and torch.cuda.is_available():
            self._try_cuda(backend)

    def _try_cuda(self, backend: str) -> None:
        """A CUDA GPU is there: time its frame path at warm-up like the CPU's, and decode
        there if it is faster (a small decoder may be faster on the CPU than a launch and a
        copy on the GPU)."""
        gpu = torch.device("cuda")
        kinds = [k for k in ("fp32", "bf16") if backend in ("auto", k)
                 and (k == "fp32" or torch.cuda.is_bf16_supported())]
        frames = {k: torch_frame_runner(self.net, k, gpu) for k in kinds}
        timed = {k: self._time(r, 5) for k, r in frames.items()}
        self.timings += tuple(DecodeTiming(f"cuda-{k}", ms) for k, ms in timed.items())
        best = min(timed, key=lambda k: timed[k])
        if timed[best] < min(t.ms for t in self.timings if t.backend == self.backend):
            self.device, self.backend = gpu, best
            self._run = torch_runner(self.net, best, gpu)
            self._frames = frames[best]
            self.engine = f"torch-{best}"

    def _bf16_possible(self) -> bool:
        if self.device.type == "cuda":
            return torch.cuda.is_bf16_supported()
        return self.device.type == "cpu" and cpu_has_bf16()

    def _time(self, run: Runner, n: int) -> float:
        return median_ms(run, np.zeros((1, self.latent), np.float32), n, warmup=2)

    def adopt(self, engine: str, run: Runner) -> None:
        """Decode with ``run`` (engine ``engine``, e.g. ``onnxruntime-fp32``) from now on."""
        self._run = run
        self._frames = None
        self.device = torch.device("cpu")  # the engines built by engine_build run on the CPU
        self.engine = engine
        self.backend = engine.rsplit("-", 1)[1]

    def describe(self) -> dict[str, object]:
        """Which numeric path decodes: engine, device, precision, threads and, on a CPU, the
        features that choose the kernels. Pixels agree within one level across paths of
        one precision, so a control log records this to explain a replay's differences."""
        d: dict[str, object] = {"engine": self.engine.rsplit("-", 1)[0],
                                "device": self.device.type, "precision": self.backend,
                                "threads": torch.get_num_threads()}
        if self.device.type == "cpu":
            d["cpu"] = sorted(cpu_flags() & set(CPU_FEATURES))
        return d

    def decode_array(self, z: np.ndarray) -> np.ndarray:
        """(B, latent) -> (B, 3, H, W) float32 in 0..1."""
        x = self._run(np.ascontiguousarray(np.atleast_2d(z), np.float32))
        if x.shape[1] == 1:
            x = np.repeat(x, 3, axis=1)
        return x

    def decode_batch(self, z: np.ndarray) -> np.ndarray:
        """(B, latent) -> (B, H, W, 3) uint8."""
        if self._frames is not None:
            return self._frames(np.ascontiguousarray(np.atleast_2d(z), np.float32))
        x = self.decode_array(z)
        return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """One latent vector (latent,) -> (H, W, 3) uint8."""
        return np.ascontiguousarray(self.decode_batch(np.asarray(z, np.float32)[None])[0])
