"""The GPU paths' shared code, run on the CPU (no GPU here; README says what is untried).

The uint8 frame finished on the device (the CUDA live decoder's path), the fp16 step with its
grad scaler, and the --compile trial's decision.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentsketch.model.engines import torch_frame_runner
from latentsketch.model.inference import Decoder
from latentsketch.model.vae import VAE
from latentsketch.train import TrainConfig, Trainer, TrainEvent, optimise
from tests.conftest import tiny_config
from tests.pixels import assert_pixels_match


def test_frames_finished_on_the_device_match_the_cpu_path() -> None:
    torch.manual_seed(0)
    vae = VAE(tiny_config()).eval()
    z = np.random.default_rng(1).standard_normal((3, vae.cfg.latent)).astype(np.float32)
    frames = torch_frame_runner(vae.decoder, "fp32", torch.device("cpu"))(z)
    assert frames.dtype == np.uint8 and frames.shape == (3, 64, 64, 3)
    assert_pixels_match(frames, Decoder(vae, "cpu", backend="fp32").decode_batch(z))


def test_an_fp16_step_scales_the_loss_and_moves_the_weights() -> None:
    torch.manual_seed(0)
    vae = VAE(tiny_config())
    before = [p.detach().clone() for p in vae.parameters()]
    opt = torch.optim.Adam(vae.parameters())
    scaler = optimise.grad_scaler(True, "cpu")
    assert scaler is not None and optimise.grad_scaler(False) is None
    x = torch.rand(4, 3, 64, 64)
    for _ in range(2):
        terms = optimise.step(vae, opt, x, 1e-3, 0.5, 0.5, False, scaler)
    assert torch.isfinite(terms.total)
    assert scaler.get_scale() > 0
    assert any(not torch.equal(b, p) for b, p in zip(before, vae.parameters(), strict=True))
    assert not optimise.use_fp16("fp16", torch.device("cpu"))  # fp16 autocast: CUDA only


def test_compile_is_kept_only_where_it_measures_faster(tmp_path: Path) -> None:
    notes: list[TrainEvent] = []
    t = Trainer(TrainConfig(data="procedural", out=str(tmp_path / "m"), size=64, latent=4,
                            width=8, steps=10, batch_size=4, n_images=8, threads=1,
                            compile=True), notes.append)
    compiled = t.model
    assert compiled is not t.eager  # compiled lazily: nothing compiles before a step
    for times, eager, kept in (([9.0, 0.1, 0.1, 0.1], 0.2, True),
                               ([9.0, 0.3, 0.3, 0.3], 0.2, False)):
        t.model, t.compile_trial = compiled, []
        for s in times:
            t.judge_compile(s, eager)
        assert (t.model is compiled) == kept and t.compile_trial is None
        assert notes[-1].message.endswith("compiled it is" if kept else "back to eager")


def test_a_compile_that_fails_here_trains_on_without_it(tmp_path: Path) -> None:
    class NoCompiler(torch.nn.Module):
        def forward(self, *a: object) -> None:
            raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found\nmore")

    notes: list[TrainEvent] = []
    t = Trainer(TrainConfig(data="procedural", out=str(tmp_path / "m"), size=64, latent=4,
                            width=8, steps=10, batch_size=4, n_images=8, threads=1,
                            compile=True), notes.append)
    t.model = NoCompiler()
    x, _ = t.batches.next()
    terms = t.train_step(x)
    assert t.step == 1 and np.isfinite(terms["total"]) and t.model is t.eager
    assert notes[-1].message == ("--compile does not work here (RuntimeError: InvalidCxxCompiler:"
                                 " no working C++ compiler found); training without it")
