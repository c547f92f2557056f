"""What the product promises about pixels, and the numeric paths every pixel test runs on.

The promise (README, "What is exact"): latent vectors are bit-exact on any machine; decoded
frames agree within one 8-bit level across batch shapes, thread counts and CPUs on the same
backend; after the look (posterize turns a one-level difference into a step) at most 0.1 % of
pixels differ by more than one level. Nothing more: oneDNN picks other kernels for a batch of 16
than for a batch of 1, for 2 threads than for 1, and on AMX than on AVX2, and their float
rounding differs.

So that a test demanding more fails where it is written, and not first on another CPU, the
exporter's decoder in the pixel tests runs on several numeric paths (``PATHS``): its batches on
one or two threads, fp32 or bf16 (bf16 runs on any x86: natively with AVX512-BF16 or AMX,
emulated elsewhere), while the reference frames are decoded one at a time on one thread.
"""

from __future__ import annotations

import numpy as np
import torch

from latentsketch.model.inference import Decoder
from latentsketch.model.vae import VAE

LOOK_SHARE = 0.001  # share of pixels that may be beyond one level once the look is applied

# name -> (backend, threads for batched decodes); singles always decode on one thread
PATHS = {"fp32": ("fp32", 1), "fp32-2threads": ("fp32", 2), "bf16": ("bf16", 1)}


class PathDecoder(Decoder):
    """A Decoder whose batches (B > 1) take the numeric path under test."""

    def __init__(self, vae: VAE, path: str) -> None:
        backend, self.batch_threads = PATHS[path]
        super().__init__(vae, backend=backend, threads=1)
        self.path = path

    def decode_batch(self, z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(z)
        if len(z) == 1 or self.batch_threads == 1:
            return super().decode_batch(z)
        before = torch.get_num_threads()
        torch.set_num_threads(self.batch_threads)
        try:
            return super().decode_batch(z)
        finally:
            torch.set_num_threads(before)


def assert_pixels_match(got: np.ndarray, want: np.ndarray, *, look: bool = False,
                        what: str = "") -> None:
    """Assert the product's pixel promise between two uint8 (..., H, W, 3) pictures.

    ``look``: the pictures went through the look stage (posterize may turn one level into a
    step), so up to ``LOOK_SHARE`` of pixels may differ by more than one level.
    """
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    if not look:
        assert diff.max() <= 1, f"{what}: {int(diff.max())} levels apart (promise: 1)"
        return
    beyond = (diff.reshape(-1, diff.shape[-1]) > 1).any(axis=1).mean()
    assert beyond <= LOOK_SHARE, \
        f"{what}: {beyond:.3%} of pixels beyond one level (promise: {LOOK_SHARE:.1%})"
