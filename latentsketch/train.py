"""Training: data -> VAE, with progress events, sample sheets, a loss curve, exact resume, Ctrl-C.

The loop reports through a callback (``TrainEvent``), so the CLI's progress bar and the tests
listen to the same events. The learning-rate schedule runs by step (``--steps``, by default the
epochs' worth), never by wall clock: ``--minutes`` only decides when to stop. The run folder
keeps everything a resumed run needs to continue exactly as if it had never stopped (fp32
weights, their EMA, Adam's moments, step, the epoch's data order and position, and the torch,
numpy and python RNG states: safetensors + JSON, no pickle), saved at sheets, every
``save_minutes`` and at the end. After training (or on Ctrl-C) ``finalise`` ships the raw or the
EMA weights, whichever reconstructs held-out images better, with what the live instrument needs
(see ``measure``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentsketch import measure
from latentsketch.data import procedural
from latentsketch.data.images import load_folder
from latentsketch.errors import UserError
from latentsketch.measure import N_KEYFRAMES, SHEET_ROWS
from latentsketch.model import checkpoint
from latentsketch.model.loss import kl_weight, psnr, vae_loss
from latentsketch.model.vae import VAE, VAEConfig, decoder_flops, pick_device
from latentsketch.sheets import labelled_sheet, loss_curve, save_png
from latentsketch.stopping import StopSignals

__all__ = ["N_KEYFRAMES", "SHEET_ROWS", "TrainConfig", "TrainEvent", "Trainer", "train"]

MIN_HOLD_OUT = 20  # images: below this nothing is held out (one held-out image measures nothing)
SMALL_SET = 1000   # training images: below this batches get random crops as well as flips
MIN_SHEET_STEPS = 20  # steps between mid-run sheets and saves, whatever an epoch's length
STATE = "train_state.safetensors"  # what --resume continues: weights, optimizer, RNG, data order
DEFAULT_MINUTES = 30  # the default budget: as many steps as this machine does in this time
TOO_SHORT = 1000     # steps: below this a VAE learns little; say so at the start
# Steps of 32 images after which pictures were still sharpening in the project's own runs
# (FACTS.md: emoji 6k steps, shapes 29k): said with the ETA so people can judge a budget.
IMPROVES_UP_TO = 10_000


@dataclass(frozen=True)
class TrainConfig:
    data: str = "procedural"
    out: str = "models/mine"
    size: int = 64
    latent: int = 32
    width: int = 32
    epochs: int | None = None         # passes over the data (None: the default budget)
    steps: int | None = None          # the schedule's length (default: from epochs, --minutes,
                                      # or the default budget)
    minutes: float | None = None      # time budget across resumes; stops early when reached
    batch_size: int = 32
    lr: float = 2e-3
    beta: float = 1.0
    edge_weight: float = 0.5
    warmup_steps: int = 1000
    seed: int = 0
    n_images: int = 20000             # procedural data set size
    style: str = "bold"
    resume: bool = False
    device: str = "auto"
    precision: str = "auto"           # auto | fp32 | bf16
    threads: int | None = None
    sheet_every: int = 1              # epochs between sample sheets
    half: bool = False                # ship the weights as float16 (the run state stays fp32)
    force: bool = False               # replace a model already in ``out``
    ema: float = 0.999                # decay of the weights' moving average; 0 = none
    save_minutes: float = 10.0        # wall-clock minutes between saves of the run state
    background: tuple[int, int, int] = (255, 255, 255)  # behind transparent pixels of images
    arch: str = "preset"              # VAEConfig.named: preset (size, width) or sharp128


@dataclass
class TrainEvent:
    kind: str                          # "note", "start", "step", "saving", "epoch", "measure",
                                       # "done"
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    terms: dict[str, Any] = field(default_factory=dict)  # "step": loss terms; "done": metrics
    message: str = ""
    progress: float = 0.0              # 0..1 of the run: steps, or the time budget if sooner;
                                       # for "measure": 0..1 of the measuring after the run


Callback = Callable[[TrainEvent], None]


def check_out(out: Path, resume: bool, force: bool) -> None:
    """Refuse, before any work, an output folder that cannot be written or holds a model.

    Creates ``out`` and writes and removes a probe file: permissions, a read-only mount or a
    missing parent all show up here rather than after the first epoch. Raises UserError.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".latentsketch-probe-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as e:
        raise UserError(f"output folder {out}: cannot write there ({e.strerror or e}); "
                        f"choose another --out") from None
    if not resume and not force and ((out / checkpoint.WEIGHTS).exists()
                                     or (out / STATE).exists()):
        raise UserError(f"output folder {out} holds a model; pass --resume to continue it "
                        f"or --force to replace it")
    if force and not resume:
        for old in [out / STATE, *(out / "samples").glob("epoch_*.png")]:
            old.unlink(missing_ok=True)


def load_data(cfg: TrainConfig, progress: Callable[[int, int], None] | None = None
              ) -> tuple[np.ndarray, str]:
    if cfg.data == "procedural":
        imgs = procedural.generate(cfg.n_images, seed=cfg.seed, size=cfg.size, style=cfg.style)
        return imgs, f"procedural style={cfg.style} n={cfg.n_images} seed={cfg.seed}"
    s = load_folder(cfg.data, cfg.size, background=cfg.background)
    desc = f"folder {cfg.data} n={len(s.images)}"
    if s.skipped:
        desc += f" skipped={len(s.skipped)}"
    if s.transparent:
        desc += f" transparent={s.transparent} on #{bytes(s.background).hex()}"
    return s.images, desc


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(held-out, training) indices: 5 % held out (at most 512); with fewer than MIN_HOLD_OUT
    images nothing is held out, both are every image, and measures are on training images."""
    perm = np.random.default_rng(seed + 1).permutation(n)
    if n < MIN_HOLD_OUT:
        return perm, perm
    n_hold = min(512, n // 20)
    return perm[:n_hold], perm[n_hold:]


def epoch_order(rng: np.random.Generator, train_idx: np.ndarray, batch_size: int) -> np.ndarray:
    """One epoch's image order: a permutation, repeated (each time reshuffled) until it fills
    at least one batch, so a set smaller than a batch still trains on full batches."""
    reps = max(1, math.ceil(batch_size / len(train_idx)))
    return np.concatenate([rng.permutation(train_idx) for _ in range(reps)])


def use_bf16(precision: str, device: torch.device) -> bool:
    """bf16 autocast where the CPU has native bf16 (2.6x faster training measured with AMX)."""
    if precision in ("fp32", "bf16"):
        return precision == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
        return "amx_bf16" in flags or "avx512_bf16" in flags
    return False


class Trainer:
    """Holds the run; ``run()`` trains, ``finalise()`` measures and ships."""

    def __init__(self, cfg: TrainConfig, callback: Callback | None = None) -> None:
        self.cfg = cfg
        self.cb = callback or (lambda e: None)
        self.out = Path(cfg.out)
        check_out(self.out, cfg.resume, cfg.force)
        self.device = pick_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)  # data order, flips, crops
        self.bf16 = use_bf16(cfg.precision, self.device)
        self.vcfg = VAEConfig.named(cfg.arch, cfg.size, cfg.latent, cfg.width)
        self.vae = VAE(self.vcfg).to(self.device).to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=cfg.lr)
        self.ema = (copy.deepcopy(self.vae).requires_grad_(False) if cfg.ema > 0 else None)
        self.step = 0
        self.epoch = 0                     # completed passes over the data
        self.order: np.ndarray | None = None  # this epoch's image order; None: draw a new one
        self.pos = 0                       # images of ``order`` already trained on
        self.elapsed = 0.0                 # seconds trained, over every session of the run
        self.t0 = self.state_saved_at = time.perf_counter()  # this session's start, last save
        self.interrupted = False           # Ctrl-C: saved, usable, but not the run asked for
        self.stop_requested = False
        self.stopped_by_signal = "Ctrl-C"  # which stop signal ended the run, for the last line
        self.saved_step: int | None = None  # the step of the model in ``out``, if any
        self.start_psnr = math.inf         # held-out PSNR where this session began (dB)
        self.shipped = "raw"               # which weights the last save shipped: raw | ema
        self.notes: list[str] = []         # one-line remarks for the start of the run
        self.step_seconds: float | None = None  # measured seconds per step, once timed
        self.history: dict[str, list[float]] = {"total": [], "recon": [], "kl": [], "psnr": []}
        self.images, self.data_desc = load_data(cfg)
        self.hold_idx, self.train_idx = split(len(self.images), cfg.seed)
        self.held_out = not np.array_equal(self.hold_idx, self.train_idx)
        # A small set is seen many times: random crops (besides flips) keep it from being learnt
        # pixel by pixel, and batches larger than the set repeat it.
        self.crops = len(self.train_idx) < SMALL_SET
        # (3,) in 0..1: the flat picture a model has to beat to be worth saving
        self.mean_colour = torch.from_numpy(
            self.images[self.train_idx[:4096]].reshape(-1, 3).mean(0) / 255).float()
        self.schedule = 0  # steps; set below (resuming: the run's own, from its state)
        if cfg.resume:
            self._resume()
        else:
            self.schedule = self._schedule(None)

    # --- the run state ------------------------------------------------------------------------
    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything an exact resume needs: tensors for safetensors, the rest as JSON."""
        tensors = {f"model.{k}": v for k, v in self.vae.state_dict().items()}
        if self.ema is not None:
            tensors |= {f"ema.{k}": v for k, v in self.ema.state_dict().items()}
        opt_tensors, opt_meta = checkpoint.optimizer_state(self.opt)
        tensors |= opt_tensors
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = s
        if self.order is not None:
            tensors["order"] = torch.from_numpy(self.order.astype(np.int64))
        for k, v in self.history.items():
            tensors[f"history.{k}"] = torch.tensor(v, dtype=torch.float64)
        py = random.getstate()
        meta = {"model": self.vcfg.to_dict(), "step": self.step, "epoch": self.epoch,
                "pos": self.pos, "schedule_steps": self.schedule, "elapsed": self.elapsed,
                "data": self.data_desc, "n_images": len(self.images),
                "config": asdict(self.cfg), "optimizer": opt_meta, "saved_step": self.saved_step,
                "rng": {"numpy": self.rng.bit_generator.state,
                        "python": [py[0], list(py[1]), py[2]]}}
        return tensors, meta

    def save_state(self, elapsed: float | None = None) -> None:
        """Write the run state atomically (never over a good one with broken weights)."""
        if not self.weights_finite():
            return
        tensors, meta = self.state_tensors()
        if elapsed is not None:
            meta["elapsed"] = elapsed
        self._write(lambda: checkpoint.save_run_state(self.out / STATE, tensors, meta))
        self.state_saved_at = time.perf_counter()

    def _resume(self) -> None:
        weights, state = self.out / checkpoint.WEIGHTS, self.out / STATE
        if not weights.exists() and not state.exists():
            raise UserError(f"output folder {self.out} holds no model to resume; "
                            f"leave out --resume to start one")
        legacy: dict[str, torch.Tensor] | None = None
        if state.exists():
            tensors, meta = checkpoint.load_run_state(state)
            if not meta.get("legacy"):
                self._load_state(tensors, meta)
                return
            legacy = tensors
        if not weights.exists():
            raise UserError(f"output folder {self.out}: an old training state without its "
                            f"model; start afresh with --force")
        # No state of this version: warm start from the shipped weights (a new machine, or a
        # model copied from elsewhere). The step continues from the model's own record.
        loaded = checkpoint.load(self.out, device=self.device)
        self._check_architecture(loaded.cfg, loaded.path)
        self.vae.load_state_dict(loaded.vae.state_dict())
        if self.ema is not None:
            self.ema.load_state_dict(loaded.vae.state_dict())
        training = loaded.config.get("training", {})
        self.step = self.saved_step = int(training.get("steps", 0))
        self.elapsed = float(training.get("seconds", 0.0))
        self.schedule = self._schedule(training.get("schedule_steps"))
        if legacy is not None:
            checkpoint.load_legacy_moments(self.opt, legacy)
            self.notes.append(f"{state} is from an older version: continuing from "
                              f"{checkpoint.WEIGHTS} at step {self.step} with its optimizer "
                              f"moments; data order, RNG and EMA start afresh")
        else:
            self.notes.append(f"{self.out} has no training state: warm start from its "
                              f"{checkpoint.WEIGHTS} at step {self.step} (optimizer, EMA, data "
                              f"order and RNG start afresh)")
        self._check_schedule()

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        try:
            vcfg = VAEConfig.from_dict(meta["model"])
        except (KeyError, TypeError, ValueError) as e:
            raise checkpoint.CheckpointError(
                f"training state {self.out / STATE}: bad architecture config ({e})") from None
        self._check_architecture(vcfg, self.out / STATE)
        model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
        try:
            self.vae.load_state_dict(model)
            if self.ema is not None:
                self.ema.load_state_dict(ema or model)
            checkpoint.load_optimizer_state(self.opt, tensors, meta["optimizer"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise checkpoint.CheckpointError(
                f"training state {self.out / STATE}: cannot resume ({e})") from None
        if self.ema is not None and not ema:
            self.notes.append("the run kept no EMA until now: it starts from the weights")
        self.step, self.epoch, self.pos = int(meta["step"]), int(meta["epoch"]), int(meta["pos"])
        self.elapsed = float(meta["elapsed"])
        self.saved_step = meta.get("saved_step")
        self.schedule = self._schedule(meta.get("schedule_steps"))
        self.history = {k: tensors[f"history.{k}"].tolist() for k in self.history
                        if f"history.{k}" in tensors}
        torch.set_rng_state(tensors["rng.torch"])
        if self.device.type == "cuda":
            cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
            if len(cuda) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(cuda)
        self.rng.bit_generator.state = meta["rng"]["numpy"]
        py = meta["rng"]["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
        order = tensors.get("order")
        if meta.get("data") != self.data_desc or meta.get("n_images") != len(self.images):
            self.notes.append(f"the data differ from the saved run's ({meta.get('data')}): "
                              f"the data order starts afresh")
            self.order, self.pos = None, 0
        else:
            self.order = order.numpy().astype(np.int64) if order is not None else None
        if meta.get("schedule_steps") != self.schedule:
            self.notes.append(f"schedule now {self.schedule} steps (was "
                              f"{meta.get('schedule_steps')}): the learning rate follows the "
                              f"new length from step {self.step}")
        self._check_schedule()

    def _schedule(self, saved: int | None) -> int:
        """The schedule's length in steps: --steps; else --epochs' worth; else a resumed run's
        own; else as many as --minutes (or DEFAULT_MINUTES) allow on this machine, timed here.
        Fixed for the run and saved with it, so the rate goes by step."""
        cfg = self.cfg
        if cfg.steps:
            return cfg.steps
        if cfg.epochs:
            return self.steps_per_epoch() * cfg.epochs
        if saved:
            return saved
        self.step_seconds = self.seconds_per_step()
        left = 60 * (cfg.minutes or DEFAULT_MINUTES) - self.elapsed
        return max(1, int(left / self.step_seconds) + self.step)

    def _check_architecture(self, vcfg: VAEConfig, where: Path) -> None:
        if vcfg != self.vcfg:
            raise checkpoint.CheckpointError(
                f"model {where}: architecture differs from the requested one; "
                f"resume with the same --size/--latent/--width")

    def _check_schedule(self) -> None:
        if self.step >= self.schedule:
            raise UserError(f"output folder {self.out}: the run is at step {self.step}, the end "
                            f"of its {self.schedule}-step schedule; pass --steps with more to "
                            f"train on")
        if self.cfg.minutes and self.elapsed >= 60 * self.cfg.minutes:
            raise UserError(f"output folder {self.out}: the run has trained "
                            f"{self.elapsed / 60:.1f} minutes, its --minutes {self.cfg.minutes:g} "
                            f"budget; pass a larger --minutes to train on")

    # --- training -----------------------------------------------------------------------------
    def steps_per_epoch(self) -> int:
        n = len(self.train_idx)
        return max(1, n * max(1, math.ceil(self.cfg.batch_size / n)) // self.cfg.batch_size)

    def total_steps(self) -> int:
        return self.schedule

    def split_desc(self) -> str:
        n = len(self.train_idx)
        text = (f"{n} train / {len(self.hold_idx)} held out" if self.held_out else
                f"{n} train, none held out (fewer than {MIN_HOLD_OUT}: measured on training "
                f"images)")
        if self.crops:
            text += "; random crops and flips"
        some = self.images[self.train_idx[:4096]]
        if n == 1:
            text += "; one image, so the model learns one picture"
        elif (some == some[0]).all():
            text += "; every image is the same, so the model learns one picture"
        return text

    def lr_at(self, step: int) -> float:
        """Learning rate at ``step`` of the schedule: a linear warm-up over its first 2 %, then
        cosine to 5 % of the peak at its end. A function of the step alone, so a resumed run
        follows the same curve."""
        p = step / max(1, self.schedule)
        warm = 0.02
        if p < warm:
            return self.cfg.lr * max(0.05, p / warm)
        q = min(1.0, (p - warm) / (1 - warm))
        return self.cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * q)))

    def seconds(self) -> float:
        """Seconds trained over the whole run, this session included."""
        return self.elapsed + time.perf_counter() - self.t0

    def progress(self) -> float:
        p = self.step / max(1, self.schedule)
        if self.cfg.minutes:
            p = max(p, self.seconds() / (self.cfg.minutes * 60))
        return p

    def _optimise(self, vae: VAE, opt: torch.optim.Optimizer, x: torch.Tensor, step: int,
                  lr: float) -> Any:
        """One optimiser step of ``vae`` on the batch ``x`` (B, 3, H, W); the loss terms."""
        vae.train()
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            x_hat, mu, logvar = vae(x)
        # KL warm-up ends by a fifth of the schedule at the latest: a short run must still
        # finish at the KL weight it asked for
        warmup = min(self.cfg.warmup_steps, self.schedule // 5)
        terms = vae_loss(x, x_hat.float(), mu.float(), logvar.float(),
                         kl_weight(step, self.cfg.beta, warmup), self.cfg.edge_weight)
        opt.zero_grad(set_to_none=True)
        terms.total.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 200.0)
        opt.step()
        return terms

    def seconds_per_step(self) -> float:
        """Seconds per training step on this machine, timed on a throwaway copy (a warm-up step,
        then the median of two), so the ETA is said before the run; the run's weights, optimizer
        and RNG are untouched."""
        vae = copy.deepcopy(self.vae)
        opt = torch.optim.Adam(vae.parameters())
        rng = np.random.default_rng(0)
        bs = self.cfg.batch_size
        times = []
        with self._rng_untouched():
            for _ in range(3):
                t = time.perf_counter()
                x = measure.batch(self.images, rng.choice(self.train_idx, bs), self.device,
                                  rng.random(bs) < 0.5, rng.random((bs, 3)) if self.crops else None)
                self._optimise(vae, opt, x, self.step, 0.0)
                times.append(time.perf_counter() - t)
        return float(np.median(times[1:]))

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        terms = self._optimise(self.vae, self.opt, x, self.step, self.lr_at(self.step))
        self.step += 1
        if self.ema is not None:
            self._update_ema()
        return {"total": float(terms.total.detach()), "recon": float(terms.recon.detach()),
                "edge": float(terms.edge.detach()), "kl": float(terms.kl.detach()),
                "psnr": 10 * math.log10(1 / max(float(terms.mse), 1e-12))}

    @torch.no_grad()
    def _update_ema(self) -> None:
        """EMA of the weights, its decay ramped up from 0.1 so early weights fade fast."""
        assert self.ema is not None
        decay = min(self.cfg.ema, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.ema.parameters(), self.vae.parameters(), strict=True):
            e.lerp_(p, 1 - decay)

    def next_batch(self) -> tuple[torch.Tensor, bool]:
        """The next batch (augmented) and whether it ends an epoch."""
        bs = self.cfg.batch_size
        if self.order is None or self.pos + bs > len(self.order):
            self.order, self.pos = epoch_order(self.rng, self.train_idx, bs), 0
        idx = self.order[self.pos : self.pos + bs]
        self.pos += bs
        flip = self.rng.random(len(idx)) < 0.5
        crop = self.rng.random((len(idx), 3)) if self.crops else None
        x = measure.batch(self.images, idx, self.device, flip, crop)
        ends = self.pos + bs > len(self.order)
        if ends:
            self.order, self.pos = None, 0
            self.epoch += 1
        return x, ends

    def run(self) -> bool:
        """Train until the schedule or the time budget ends; False if interrupted (still saved).

        A stop request (``request_stop``: Ctrl-C, SIGTERM or SIGHUP through ``train``) ends the
        run after the step in progress, so the state saved is exact. Called without ``train``'s
        signal handling (tests, a notebook), a KeyboardInterrupt mid-step ends it too.
        """
        per_step = self.step_seconds or self.seconds_per_step()
        self.t0 = self.state_saved_at = time.perf_counter()
        self.start_psnr = self.check_psnr(self.vae)
        self.notes.append(self.budget_note(per_step))
        if self.schedule < TOO_SHORT:
            self.notes.append(f"{self.schedule} steps is far too short for a VAE to learn much: "
                              f"pictures keep sharpening up to ~{IMPROVES_UP_TO:,} steps and "
                              f"beyond; pass --steps or --minutes for more")
        self.cb(TrainEvent("start", self.step, self.schedule, self.epoch,
                           progress=self.progress(),
                           message=f"{self.data_desc}; {self.split_desc()}; device {self.device}"
                                   f"{' bf16' if self.bf16 else ''}; {self.schedule} steps"))
        for note in self.notes:
            self.cb(TrainEvent("note", self.step, self.schedule, self.epoch, message=note))
        try:
            while self.progress() < 1.0 and not self.stop_requested:
                x, epoch_ends = self.next_batch()
                terms = self.train_step(x)
                if not math.isfinite(terms["total"]):
                    self._diverged(f"loss {terms['total']}")
                for k in self.history:
                    self.history[k].append(terms[k])
                self.cb(TrainEvent("step", self.step, self.schedule, self.epoch - epoch_ends,
                                   terms, progress=min(1.0, self.progress())))
                if epoch_ends:
                    self._end_epoch()
                if time.perf_counter() - self.state_saved_at >= 60 * self.cfg.save_minutes:
                    self._periodic_save()
        except KeyboardInterrupt:
            self.interrupted = True
        self.interrupted = self.interrupted or self.stop_requested
        self.elapsed = self.seconds()
        return not self.interrupted

    def budget_note(self, per_step: float) -> str:
        """The ETA said up front: steps, minutes here, and how far pictures improve."""
        left = self.schedule - self.step
        minutes = left * per_step / 60
        if self.cfg.minutes:
            budget = max(0.0, self.cfg.minutes - self.elapsed / 60)
            if budget < minutes:
                return (f"about {int(budget * 60 / per_step):,} of the {left:,} steps to go fit "
                        f"in the {budget:.2g} minutes left here ({per_step:.2f} s/step); "
                        f"results improve up to ~{IMPROVES_UP_TO:,} steps and beyond")
        eta = "less than a minute" if minutes < 1 else f"about {minutes:.0f} minutes"
        return (f"{left:,} steps to go: {eta} here ({per_step:.2f} s/step); "
                f"results improve up to ~{IMPROVES_UP_TO:,} steps and beyond")

    def request_stop(self, why: str = "Ctrl-C") -> None:
        """End the run after the step in progress (safe to call from a signal handler)."""
        self.stop_requested = True
        self.stopped_by_signal = "Ctrl-C" if why == "SIGINT" else why

    def _diverged(self, what: str) -> None:
        """Stop with one line; the run's files stay as the last healthy save left them."""
        kept = (f"the model saved at step {self.saved_step} is kept" if self.saved_step is not None
                else "no model was saved")
        lower = min(self.cfg.lr / 10, TrainConfig.lr)
        raise UserError(f"training diverged at step {self.step} ({what}): try a lower --lr, "
                        f"e.g. {lower:.0e}".replace("e-0", "e-") + f"; {kept}")

    def weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.vae.parameters())

    # --- measuring and saving -----------------------------------------------------------------
    @contextmanager
    def _rng_untouched(self) -> Iterator[None]:
        """Measuring must not move the training RNG: a run that paused to save continues as
        one that did not."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            yield

    def check_psnr(self, vae: VAE, full: bool = False) -> float:
        """Held-out PSNR (dB) of up to 64 images (all with ``full``); NaN if the model is."""
        idx = self.hold_idx if full else self.hold_idx[:64]
        return measure.reconstruction_psnr(vae, self.images, idx, self.device)

    def pick(self, full: bool = False) -> tuple[VAE, str, dict[str, float]]:
        """The weights to ship: raw or EMA, whichever reconstructs held-out images better."""
        scores = {"raw": self.check_psnr(self.vae, full)}
        if self.ema is None:
            return self.vae, "raw", scores
        scores["ema"] = self.check_psnr(self.ema, full)
        better = "ema" if scores["ema"] >= scores["raw"] else "raw"
        return (self.ema if better == "ema" else self.vae), better, scores

    def healthy(self, quality: float) -> bool:
        """Worth saving: reconstructs held-out images no worse (by 1 dB) than the model this
        session started from, or a flat picture of the data's mean colour, or 20 dB, whichever
        is lowest. A learning rate that blew the weights up renders black or grey: such weights
        fail this even where every number is finite."""
        hold = measure.batch(self.images, self.hold_idx[:64], self.device)
        flat = torch.ones_like(hold) * self.mean_colour.view(1, 3, 1, 1).to(hold)
        bar = min(self.start_psnr, psnr(hold, flat), 20.0) - 1.0
        return self.weights_finite() and math.isfinite(quality) and quality >= bar

    def _end_epoch(self) -> None:
        every = max(self.cfg.sheet_every, math.ceil(MIN_SHEET_STEPS / self.steps_per_epoch()))
        if self.epoch % every == 0:
            if not self.weights_finite():
                self._diverged("weights NaN or inf")
            with self._rng_untouched():
                vae, kind, scores = self.pick()
                ok = self.healthy(scores[kind])
                if ok:
                    self.cb(TrainEvent("saving", self.step, self.schedule, self.epoch,
                                       message=f"epoch {self.epoch}: sample sheet and model"))
                    stats = self.latent_stats(vae)
                    self.write_sheet(self.out / "samples" / f"epoch_{self.epoch:03d}.png",
                                     stats, vae)
                    self._write(lambda: loss_curve(self.history, self.out / "loss.png",
                                                   title=f"{self.data_desc}  step {self.step}"))
                    self.save(vae, kind, final=False, stats=stats)
            if ok:  # outside: the state holds the RNG as training left it
                self.save_state(self.seconds())
        self.cb(TrainEvent("epoch", self.step, self.schedule, self.epoch))

    def _periodic_save(self) -> None:
        with self._rng_untouched():
            _, kind, scores = self.pick()
            ok = self.healthy(scores[kind])
        if ok:
            self.save_state(self.seconds())
        else:
            self.state_saved_at = time.perf_counter()

    def latent_stats(self, vae: VAE | None = None,
                     report: Callable[[float], None] | None = None) -> dict[str, Any]:
        return measure.latent_stats(vae or self.vae, self.images, self.train_idx, self.device,
                                    self.cfg.seed, report)

    def sheet_rows(self, stats: dict[str, Any], vae: VAE | None = None
                   ) -> list[tuple[str, np.ndarray]]:
        return measure.sheet_rows(vae or self.vae, self.images, self.hold_idx, self.device,
                                  stats, self.held_out)

    def write_sheet(self, path: Path, stats: dict[str, Any], vae: VAE | None = None) -> None:
        rows = self.sheet_rows(stats, vae)
        sheet = labelled_sheet(rows, scale=max(1, 128 // self.cfg.size),
                               title=f"{self.data_desc}  step {self.step}")
        self._write(lambda: save_png(sheet, path))

    def _write(self, write: Callable[[], object]) -> None:
        """Run a write into ``out``; a full disk or a lost mount becomes one line."""
        try:
            write()
        except OSError as e:
            raise UserError(f"output folder {self.out}: cannot write ({e.strerror or e}); "
                            f"{STATE} from the last save lets --resume continue") from None

    def save(self, vae: VAE, kind: str, final: bool, stats: dict[str, Any],
             metrics: dict[str, Any] | None = None) -> Path:
        """Ship ``vae`` as OUT/model.safetensors + model.json (float16 with ``half``)."""
        last = {k: round(float(np.mean(v[-50:])), 4) for k, v in self.history.items() if v}
        stopped = ("interrupted" if self.interrupted else "schedule"
                   if self.step >= self.schedule else "minutes")
        meta = {
            **stats,
            "data": self.data_desc,
            "training": {"config": asdict(self.cfg), "steps": self.step,
                         "schedule_steps": self.schedule, "epochs": self.epoch,
                         "seconds": round(self.elapsed if final else self.seconds(), 1),
                         "final_terms": last, "precision": "bf16" if self.bf16 else "fp32",
                         "weights": kind, "finished": final and not self.interrupted,
                         "interrupted": self.interrupted,
                         "stopped_by": stopped if final else None},
            "metrics": metrics or {},
            "decoder_gflops": round(decoder_flops(self.vcfg) / 1e9, 3),
        }
        dtype = torch.float16 if self.cfg.half else torch.float32
        path = self.out / checkpoint.WEIGHTS
        self._write(lambda: checkpoint.save(vae, self.out, meta, dtype=dtype))
        self.saved_step, self.shipped = self.step, kind
        return path

    def finalise(self) -> tuple[Path, dict[str, Any]]:
        """Save the exact run state, then measure and ship the better of raw and EMA weights."""
        if not self.weights_finite():
            self._diverged("weights NaN or inf")
        n = min(len(self.train_idx), measure.N_STATS)

        def measuring(what: str, done: float) -> None:
            self.cb(TrainEvent("measure", self.step, self.schedule, message=what,
                               progress=round(done, 4)))

        with self._rng_untouched():
            measuring("comparing raw and EMA weights" if self.ema is not None else
                      "held-out quality", 0.0)
            vae, kind, scores = self.pick(full=True)
            if not self.healthy(scores[kind]):
                self._diverged(f"held-out PSNR fell from {self.start_psnr:.1f} to "
                               f"{scores[kind]:.1f} dB")
            stats = self.latent_stats(vae, lambda f: measuring(f"encoding {n} images",
                                                               0.05 + 0.55 * f))
            measuring(f"held-out quality of {len(self.hold_idx)} images, sharpness of walk "
                      f"decodes", 0.6)
            m = measure.quality(vae, self.images, self.hold_idx, self.train_idx, self.device,
                                stats, self.cfg.seed)
            if not self.held_out:
                m["measured_on"] = "training images (too few to hold any out)"
            if self.ema is not None:
                m["weights"] = kind
                m |= {f"heldout_psnr_db_{k}": round(v, 2) for k, v in scores.items()}
            measuring("sample sheet and loss curve", 0.85)
            self.write_sheet(self.out / "samples.png", stats, vae)
            self._write(lambda: loss_curve(self.history, self.out / "loss.png",
                                           title=f"{self.data_desc}  step {self.step}"))
            measuring("saving", 0.95)
            path = self.save(vae, kind, final=True, stats=stats, metrics=m)
            self._write(lambda: _write_text(self.out / "metrics.json", json.dumps(m, indent=1)))
        self.save_state()  # outside: the state holds the RNG as training left it
        measuring("saved", 1.0)
        if self.interrupted:
            self.cb(TrainEvent("note", self.step, self.schedule, message=(
                f"stopped at step {self.step} of {self.schedule} by {self.stopped_by_signal}: the "
                f"model is usable, "
                f"and --resume continues the run exactly")))
        self.cb(TrainEvent("done", self.step, self.schedule, terms=dict(m), message=str(path)))
        return path, m


def _write_text(path: Path, text: str) -> None:
    """Whole or not at all: a temp file renamed, removed on failure."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def train(cfg: TrainConfig, callback: Callback | None = None) -> tuple[Path, dict[str, Any]]:
    """Train (or resume) and save. Ctrl-C, SIGTERM and SIGHUP (``kill``, systemd, a closed
    terminal) all end the run after the step in progress and save a usable checkpoint marked
    interrupted; a signal while saving never stops the save (``stopping.StopSignals``)."""
    t = Trainer(cfg, callback)
    with StopSignals(on_stop=t.request_stop) as stop:
        t.run()
        with stop.saving(f"saving the model in {t.out}",
                         "kill -KILL now keeps the run state saved last; --resume continues it"):
            return t.finalise()
