"""The run: ``Trainer`` steps through the schedule, reports events, saves, and ships a model.

It holds the run's parts (data, batches, weights, optimizer, counters) and decides when things
happen: a sheet and a save at epoch ends, a state save every ``save_minutes``, a stop after the
step in progress. How each thing is done lives in the package's other modules.
"""

from __future__ import annotations

import copy
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentsketch import measure
from latentsketch.errors import UserError
from latentsketch.model import checkpoint
from latentsketch.model.loss import LossTerms, kl_weight, psnr
from latentsketch.model.vae import VAE, VAEConfig, decoder_flops, pick_device
from latentsketch.stopping import StopSignals
from latentsketch.train import optimise, outputs, schedule, state, transfer
from latentsketch.train.config import Callback, TrainConfig, TrainEvent
from latentsketch.train.data import Batches, TrainingSet
from latentsketch.train.dist import Dist, sum_across
from latentsketch.train.folder import STATE, check_out

MIN_SHEET_STEPS = 20  # steps between mid-run sheets and saves, whatever an epoch's length


class Trainer:
    """Holds the run; ``run()`` trains, ``finalise()`` measures and ships."""

    def __init__(self, cfg: TrainConfig, callback: Callback | None = None) -> None:
        self.cfg = cfg
        self.cb = callback or (lambda e: None)
        self.out = Path(cfg.out)
        self.dist = Dist.from_env()       # one process, or one of torchrun's
        self.dist.local_batch(cfg.batch_size)  # a global batch that splits evenly, or one line
        if self.dist.main:
            check_out(self.out, cfg.resume, cfg.force)
        self.device = self.dist.device(pick_device(cfg.device))
        if cfg.precision == "fp16" and self.device.type != "cuda":
            raise UserError(f"--precision fp16 needs a CUDA GPU (this run is on "
                            f"{self.device.type}); use bf16 or fp32")
        self.joined = self.dist.start(self.device)  # leave the group at the end if joined here
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.bf16 = optimise.use_bf16(cfg.precision, self.device)
        self.scaler = optimise.grad_scaler(not self.bf16 and optimise.use_fp16(cfg.precision,
                                                                               self.device))
        self.vcfg = VAEConfig.named(cfg.arch, cfg.size, cfg.latent, cfg.width)
        self.vae = VAE(self.vcfg).to(self.device).to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=cfg.lr)
        self.ema = (copy.deepcopy(self.vae).requires_grad_(False) if cfg.ema > 0 else None)
        self.eager = self.wrap(self.vae)  # what steps run through: DDP or the VAE itself
        self.model = torch.compile(self.eager) if cfg.compile else self.eager
        self.compile_trial: list[float] | None = [] if cfg.compile else None  # seconds/step
        self.step = 0
        self.elapsed = 0.0                 # seconds trained, over every session of the run
        self.t0 = self.state_saved_at = time.perf_counter()  # this session's start, last save
        self.interrupted = False           # Ctrl-C: saved, usable, but not the run asked for
        self.stop_requested = False
        self.stopped_by_signal = "Ctrl-C"  # which stop signal ended the run, for the last line
        self.saved_step: int | None = None  # the step of the model in ``out``, if any
        self.start_psnr = math.inf         # held-out PSNR where this session began (dB)
        self.notes: list[str] = []         # one-line remarks for the start of the run
        self.step_seconds: float | None = None  # measured seconds per step, once timed
        self.history: dict[str, list[float]] = {"total": [], "recon": [], "kl": [], "psnr": []}
        # the model this run started from (``training.from``: as given, and its id), if any
        self.started_from: dict[str, str] | None = None
        if cfg.start_from is not None and not cfg.resume:
            self.started_from = transfer.start(self, cfg.start_from)
        elif not cfg.resume and cfg.data != "procedural":  # say it: flags drop the fine-tune
            self.notes.append(f"training from scratch (--from none or an architecture flag); "
                              f"without them a folder fine-tunes the {checkpoint.DEFAULT} model")
        self.data = TrainingSet.load(cfg, self.dist, self.say)
        self.batches = Batches(self.data, cfg.batch_size, cfg.seed, self.device, cfg.flip,
                               self.dist.rank, self.dist.world)
        self.schedule = 0  # steps; set below (resuming: the run's own, from its state)
        # where a resume reads the run from: ``out``, or rank 0's copy sent to another machine
        self.resume_dir = self.out
        if cfg.resume:
            self.resume_dir = self.dist.share_files(
                self.out, (STATE, checkpoint.WEIGHTS, Path(checkpoint.WEIGHTS).stem + ".json"))
            state.resume(self)
            if self.resume_dir != self.out:
                shutil.rmtree(self.resume_dir, ignore_errors=True)  # rank 0's copy, read
        else:
            self.schedule = self.schedule_length(None)
        self.schedule = self.dist.broadcast_int(self.schedule)  # timed on rank 0 if timed

    def say(self, message: str) -> None:
        """A note now (before the run starts: a long cache build)."""
        self.cb(TrainEvent("note", self.step, message=message))

    def wrap(self, vae: VAE) -> torch.nn.Module:
        """``vae`` as steps run it: DistributedDataParallel under torchrun (gradients averaged
        over the processes), else the VAE itself."""
        if not self.dist.active:
            return vae
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(vae, device_ids=ids)

    def judge_compile(self, seconds: float, eager: float) -> None:
        """--compile: after four compiled steps (the first compiles), keep compiling only if
        the later ones beat ``eager`` seconds a step (timed at the start); rank 0 decides."""
        trial = self.compile_trial
        if trial is None:
            return
        trial.append(seconds)
        if len(trial) < 4:
            return
        compiled = float(np.median(trial[1:]))
        keep = self.dist.broadcast_int(int(compiled < eager))
        self.compile_trial = None
        if not keep:
            self.model = self.eager
        self.cb(TrainEvent("note", self.step, self.schedule, message=(
            f"--compile: {compiled:.3f} s/step compiled, {eager:.3f} eager: "
            f"{'compiled it is' if keep else 'back to eager'}")))

    @property
    def images(self) -> np.ndarray:
        """The data's images (N, H, W, 3), kept at hand for callers that inspect a run."""
        return self.data.images

    @property
    def hold_idx(self) -> np.ndarray:
        """Indices of the held-out images, which every quality figure is measured on."""
        return self.data.hold_idx

    # --- the schedule -------------------------------------------------------------------------
    def schedule_length(self, saved: int | None) -> int:
        """Steps in the schedule (``schedule.fixed_length``), else as many as the time budget
        allows here, timed now. Fixed for the run and saved with it, so the rate goes by step."""
        fixed = schedule.fixed_length(self.cfg, self.data.steps_per_epoch(self.cfg.batch_size),
                                      saved)
        if fixed is not None:
            return fixed
        self.step_seconds = self.seconds_per_step()
        return schedule.timed_length(self.cfg.minutes, self.elapsed, self.step, self.step_seconds)

    def lr_at(self, step: int) -> float:
        """The learning rate at ``step`` of this run's schedule."""
        return schedule.lr_at(step, self.schedule, self.cfg.lr)

    def budget_note(self, per_step: float) -> str:
        """The ETA said at the start, at ``per_step`` seconds a step."""
        return schedule.budget_note(self.schedule, self.step, per_step, self.cfg.minutes,
                                    self.elapsed)

    def seconds(self) -> float:
        """Seconds trained over the whole run, this session included."""
        return self.elapsed + time.perf_counter() - self.t0

    def progress(self) -> float:
        """0..1 of the run: steps, or the time budget if that runs out sooner."""
        p = self.step / max(1, self.schedule)
        if self.cfg.minutes:
            p = max(p, self.seconds() / (self.cfg.minutes * 60))
        return p

    # --- training -----------------------------------------------------------------------------
    def _optimise(self, vae: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
                  step: int, lr: float, whole: bool = True,
                  scaler: torch.amp.GradScaler | None = None) -> LossTerms:
        """One optimiser step with this run's loss weights and precision. ``whole`` False:
        ``x`` is this process's share of the global batch (several processes)."""
        # KL warm-up ends by a fifth of the schedule at the latest: a short run must still
        # finish at the KL weight it asked for
        warmup = min(self.cfg.warmup_steps, self.schedule // 5)
        return optimise.step(vae, opt, x, lr, kl_weight(step, self.cfg.beta, warmup),
                             self.cfg.edge_weight, self.bf16, scaler,
                             None if whole else self.batches.share,
                             None if whole else self.global_mse)

    def global_mse(self, sq_err: torch.Tensor) -> torch.Tensor:
        """The MSE of the global batch from this process's squared errors (B / world, ...):
        all-reduced with its gradient, so sigma is the one a single process would compute."""
        return sum_across(sq_err.sum()) / (sq_err.numel() * self.dist.world)

    def seconds_per_step(self) -> float:
        """Seconds a step takes here, timed on a copy so the run itself is untouched."""
        return optimise.seconds_per_step(
            self.vae, self.data, self.dist.local_batch(self.cfg.batch_size), self.device,
            lambda vae, opt, x: self._optimise(vae, opt, x, self.step, 0.0,
                                               scaler=optimise.grad_scaler(
                                                   self.scaler is not None)))

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        """One step of the run on the batch ``x`` (this process's share): weights, step count
        and EMA move on; the loss figures are the global batch's."""
        try:
            terms = self._optimise(self.model, self.opt, x, self.step, self.lr_at(self.step),
                                   whole=not self.dist.active, scaler=self.scaler)
        except Exception as e:  # noqa: BLE001 - torch.compile's many ways to fail
            if self.model is self.eager or self.compile_trial != []:
                raise
            # the first compiled step failed while compiling (no compiler, an unsupported
            # op): nothing was applied yet, so the step runs eagerly
            self.model, self.compile_trial = self.eager, None
            self.say(f"--compile does not work here ({type(e).__name__}: "
                     f"{str(e).strip().splitlines()[0][:120] if str(e).strip() else ''}); "
                     f"training without it")
            terms = self._optimise(self.model, self.opt, x, self.step, self.lr_at(self.step),
                                   whole=not self.dist.active, scaler=self.scaler)
        self.step += 1
        if self.ema is not None and self.dist.main:
            optimise.update_ema(self.ema, self.vae, self.step, self.cfg.ema)
        return self.dist.mean(optimise.loss_figures(terms))

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
        short = schedule.too_short_note(self.schedule)
        if short:
            self.notes.append(short)
        self.cb(TrainEvent("start", self.step, self.schedule, self.batches.epoch,
                           progress=self.progress(),
                           message=f"{self.data.desc}; {self.data.describe()}; device "
                                   f"{self.device}{' bf16' if self.bf16 else ''}; "
                                   f"{self.schedule} steps"))
        for note in self.notes:
            self.cb(TrainEvent("note", self.step, self.schedule, self.batches.epoch,
                               message=note))
        try:
            while True:
                # every process stops after the same step: any one's Ctrl-C, rank 0's budget
                stop, done = self.dist.agree(self.stop_requested, self.progress() >= 1.0)
                if stop or done:
                    self.stop_requested = self.stop_requested or stop
                    break
                started = time.perf_counter()
                x, epoch_ends = self.batches.next()
                terms = self.train_step(x)
                self.judge_compile(time.perf_counter() - started, per_step)
                if not math.isfinite(terms["total"]):
                    self._diverged(f"loss {terms['total']}")
                for k in self.history:
                    self.history[k].append(terms[k])
                self.cb(TrainEvent("step", self.step, self.schedule,
                                   self.batches.epoch - epoch_ends, terms,
                                   progress=min(1.0, self.progress())))
                if epoch_ends:
                    self._end_epoch()
                if time.perf_counter() - self.state_saved_at >= 60 * self.cfg.save_minutes:
                    self._periodic_save()
        except KeyboardInterrupt:
            self.interrupted = True
        self.interrupted = self.interrupted or self.stop_requested
        self.elapsed = self.seconds()
        return not self.interrupted

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

    # --- judging the weights ------------------------------------------------------------------
    def check_psnr(self, vae: VAE, full: bool = False) -> float:
        """Held-out PSNR (dB) of up to 64 images (all with ``full``); NaN if the model is."""
        idx = self.data.hold_idx if full else self.data.hold_idx[:64]
        return measure.reconstruction_psnr(vae, self.data.images, idx, self.device)

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
        hold = measure.batch(self.data.images, self.data.hold_idx[:64], self.device)
        flat = torch.ones_like(hold) * self.data.mean_colour.view(1, 3, 1, 1).to(hold)
        bar = min(self.start_psnr, psnr(hold, flat), 20.0) - 1.0
        return optimise.weights_finite(self.vae) and math.isfinite(quality) and quality >= bar

    # --- saving -------------------------------------------------------------------------------
    def _end_epoch(self) -> None:
        epoch = self.batches.epoch
        every = max(self.cfg.sheet_every,
                    math.ceil(MIN_SHEET_STEPS / self.data.steps_per_epoch(self.cfg.batch_size)))
        if epoch % every == 0 and self.dist.main:  # rank 0 writes, the others train on
            if not optimise.weights_finite(self.vae):
                self._diverged("weights NaN or inf")
            with optimise.rng_untouched(self.device):
                vae, kind, scores = self.pick()
                ok = self.healthy(scores[kind])
                if ok:
                    self.cb(TrainEvent("saving", self.step, self.schedule, epoch,
                                       message=f"epoch {epoch}: sample sheet and model"))
                    stats = self.latent_stats(vae)
                    self.write_sheet(self.out / "samples" / f"epoch_{epoch:03d}.png", stats, vae)
                    outputs.write_loss_curve(self.out, self.history, self._title())
                    self.save(vae, kind, final=False, stats=stats)
            if ok:  # outside: the state holds the RNG as training left it
                state.save(self, self.seconds())
        self.cb(TrainEvent("epoch", self.step, self.schedule, epoch))

    def _periodic_save(self) -> None:
        if not self.dist.main:
            return
        with optimise.rng_untouched(self.device):
            _, kind, scores = self.pick()
            ok = self.healthy(scores[kind])
        if ok:
            state.save(self, self.seconds())
        else:
            self.state_saved_at = time.perf_counter()

    def latent_stats(self, vae: VAE | None = None,
                     report: Callable[[float], None] | None = None) -> dict[str, Any]:
        return measure.latent_stats(vae or self.vae, self.data.images, self.data.train_idx,
                                    self.device, self.cfg.seed, report)

    def sheet_rows(self, stats: dict[str, Any], vae: VAE | None = None
                   ) -> list[tuple[str, np.ndarray]]:
        return measure.sheet_rows(vae or self.vae, self.data.images, self.data.hold_idx,
                                  self.device, stats, self.data.held_out)

    def write_sheet(self, path: Path, stats: dict[str, Any], vae: VAE | None = None,
                    metrics: dict[str, Any] | None = None) -> None:
        heading = self._title()
        if metrics:
            heading += "  ·  " + outputs.metrics_line(metrics)
        outputs.write_sheet(self.out, path, self.sheet_rows(stats, vae), self.cfg.size, heading)

    def _title(self) -> str:
        return outputs.title(self.data.desc, self.step)

    def save(self, vae: VAE, kind: str, final: bool, stats: dict[str, Any],
             metrics: dict[str, Any] | None = None) -> Path:
        """Ship ``vae`` with what the live instrument needs and the run's own record."""
        last = {k: round(float(np.mean(v[-50:])), 4) for k, v in self.history.items() if v}
        stopped = ("interrupted" if self.interrupted else "schedule"
                   if self.step >= self.schedule else "minutes")
        meta = {
            **stats,
            "data": self.data.desc,
            "training": {"config": asdict(self.cfg), "steps": self.step,
                         "schedule_steps": self.schedule, "epochs": self.batches.epoch,
                         "seconds": round(self.elapsed if final else self.seconds(), 1),
                         "final_terms": last, "precision": "bf16" if self.bf16 else "fp32",
                         "weights": kind, "finished": final and not self.interrupted,
                         "interrupted": self.interrupted,
                         "stopped_by": stopped if final else None,
                         **({"from": self.started_from} if self.started_from else {})},
            "metrics": metrics or {},
            "decoder_gflops": round(decoder_flops(self.vcfg) / 1e9, 3),
        }
        path = outputs.ship(self.out, vae, meta, self.cfg.half)
        self.saved_step = self.step
        return path

    def finalise(self) -> tuple[Path, dict[str, Any]]:
        """Save the exact run state, then measure and ship the better of raw and EMA weights."""
        if not optimise.weights_finite(self.vae):
            self._diverged("weights NaN or inf")
        if not self.dist.main:
            return self.out / checkpoint.WEIGHTS, {}
        n = min(len(self.data.train_idx), measure.N_STATS)
        hold_idx = self.data.hold_idx

        def measuring(what: str, done: float) -> None:
            self.cb(TrainEvent("measure", self.step, self.schedule, message=what,
                               progress=round(done, 4)))

        with optimise.rng_untouched(self.device):
            measuring("comparing raw and EMA weights" if self.ema is not None else
                      "held-out quality", 0.0)
            vae, kind, scores = self.pick(full=True)
            if not self.healthy(scores[kind]):
                self._diverged(f"held-out PSNR fell from {self.start_psnr:.1f} to "
                               f"{scores[kind]:.1f} dB")
            if self.dist.active:
                # the exact state first (nothing above drew random numbers): measuring takes
                # a while, and torchrun kills its processes 30 s after a Ctrl-C
                state.save(self)
            stats = self.latent_stats(vae, lambda f: measuring(f"encoding {n} images",
                                                               0.05 + 0.55 * f))
            measuring(f"held-out quality of {len(hold_idx)} images, sharpness of walk "
                      f"decodes", 0.6)
            m = measure.quality(vae, self.data.images, hold_idx, self.data.train_idx,
                                self.device, stats, self.cfg.seed)
            if not self.data.held_out:
                m["measured_on"] = "training images (too few to hold any out)"
            if self.ema is not None:
                m["weights"] = kind
                m |= {f"heldout_psnr_db_{k}": round(v, 2) for k, v in scores.items()}
            measuring("sample sheet and loss curve", 0.85)
            self.write_sheet(self.out / "samples.png", stats, vae, m)
            outputs.write_loss_curve(self.out, self.history, self._title())
            measuring("saving", 0.95)
            path = self.save(vae, kind, final=True, stats=stats, metrics=m)
            outputs.write_metrics(self.out, m)
        state.save(self)  # outside: the state holds the RNG as training left it
        measuring("saved", 1.0)
        if self.interrupted:
            self.cb(TrainEvent("note", self.step, self.schedule, message=(
                f"stopped at step {self.step} of {self.schedule} by {self.stopped_by_signal}: "
                f"the model is usable, and --resume continues the run exactly")))
        elif self.step < self.schedule:  # the time budget ran out first: say so, not silently
            self.cb(TrainEvent("note", self.step, self.schedule, message=(
                f"stopped at step {self.step} of {self.schedule}: the --minutes budget ran "
                f"out; --resume with a larger --minutes finishes the schedule")))
        self.cb(TrainEvent("done", self.step, self.schedule, terms=dict(m), message=str(path)))
        return path, m


def train(cfg: TrainConfig, callback: Callback | None = None) -> tuple[Path, dict[str, Any]]:
    """Train (or resume) and save. Ctrl-C, SIGTERM and SIGHUP (``kill``, systemd, a closed
    terminal) all end the run after the step in progress and save a usable checkpoint marked
    interrupted; a signal while saving never stops the save (``stopping.StopSignals``)."""
    t = Trainer(cfg, callback)
    try:
        with StopSignals(on_stop=t.request_stop) as stop:
            t.run()
            with stop.saving(f"saving the model in {t.out}",
                             "kill -KILL now keeps the run state saved last; --resume "
                             "continues it"):
                return t.finalise()
    finally:
        if t.joined:
            t.dist.stop()
