"""Training: data -> VAE, with progress events, sample sheets, a loss curve, resume and Ctrl-C.

The loop reports through a callback (``TrainEvent``), so the CLI's progress bar and the tests
listen to the same events. After training (or on Ctrl-C) ``finalise`` measures what the live
instrument needs and stores it in the checkpoint config: the per-dimension mean/std of the
encoded training set (where the walk lives), the KL ranking of dimensions (which dimension goes
on the first knob), keyframes for tours, and quality figures.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from latentsketch.data import procedural
from latentsketch.data.images import load_folder
from latentsketch.errors import UserError
from latentsketch.latent.interp import slerp
from latentsketch.model import checkpoint
from latentsketch.model.loss import edge_p99, kl_weight, psnr, vae_loss
from latentsketch.model.vae import VAE, VAEConfig, decoder_flops, pick_device
from latentsketch.output.sheets import labelled_sheet, loss_curve, to_uint8

ACTIVE_KL = 0.01  # nats: a dimension carrying less than this is inactive
N_KEYFRAMES = 48  # varied encoded images: the default tour, for hours without repeats
# The sample sheet's rows, top to bottom; README.md describes them by these labels.
SHEET_ROWS = ("held-out", "reconstructed", "data region", "N(0, I)", "slerp")
MIN_HOLD_OUT = 20  # images: below this nothing is held out (one held-out image measures nothing)
SMALL_SET = 1000   # training images: below this batches get random crops as well as flips
MIN_SHEET_STEPS = 20  # steps between mid-run sheets and saves, whatever an epoch's length
STATE = "train_state.safetensors"  # what --resume continues: optimizer, step, RNG, data order


@dataclass(frozen=True)
class TrainConfig:
    data: str = "procedural"
    out: str = "models/mine"
    size: int = 64
    latent: int = 32
    width: int = 32
    epochs: int = 10
    minutes: float | None = None      # time budget; stops early when reached
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
    half: bool = False                # store the final weights as float16 (the bundled model)
    force: bool = False               # replace a model already in ``out``


@dataclass
class TrainEvent:
    kind: str                          # "start", "step", "saving", "epoch", "measure", "done"
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    terms: dict[str, float] = field(default_factory=dict)
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
    s = load_folder(cfg.data, cfg.size)
    desc = f"folder {cfg.data} n={len(s.images)}"
    if s.skipped:
        desc += f" skipped={len(s.skipped)}"
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


def _batch(images: np.ndarray, idx: np.ndarray, device: torch.device, flip: np.ndarray | None,
           crop: np.ndarray | None = None) -> torch.Tensor:
    """uint8 images[idx] -> (B, 3, H, W) float 0..1, channels_last; ``flip`` (B,) bool mirrors
    left-right; ``crop`` (B, 3) floats in 0..1 (scale, x, y) zooms into a random square of
    75-100 % of the side and resizes it back (bilinear)."""
    x = torch.from_numpy(images[idx]).to(device).permute(0, 3, 1, 2).float().div_(255)
    if flip is not None and flip.any():
        f = torch.from_numpy(flip).to(device)
        x[f] = x[f].flip(-1)
    if crop is not None:
        c = torch.from_numpy(crop).float().to(device)
        scale = 1 - 0.25 * c[:, 0]                       # (B,) side of the square, of 1
        theta = torch.zeros(len(idx), 2, 3, device=device)
        theta[:, 0, 0] = theta[:, 1, 1] = scale
        theta[:, 0, 2] = (1 - scale) * (2 * c[:, 1] - 1)  # centre anywhere the square fits
        theta[:, 1, 2] = (1 - scale) * (2 * c[:, 2] - 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return x.contiguous(memory_format=torch.channels_last)


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
    """Holds the run; ``run()`` trains, ``finalise()`` measures and saves."""

    def __init__(self, cfg: TrainConfig, callback: Callback | None = None) -> None:
        self.cfg = cfg
        self.cb = callback or (lambda e: None)
        self.out = Path(cfg.out)
        check_out(self.out, cfg.resume, cfg.force)
        self.device = pick_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.bf16 = use_bf16(cfg.precision, self.device)
        self.vcfg = VAEConfig.preset(cfg.size, cfg.latent, cfg.width)
        self.vae = VAE(self.vcfg).to(self.device).to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=cfg.lr)
        self.step = 0
        self.elapsed = 0.0
        self.interrupted = False          # Ctrl-C: saved, usable, but not the run asked for
        self.saved_step: int | None = None  # the step of the model this run last saved
        self.start_psnr = math.inf        # held-out PSNR where this session began (dB)
        self.history: dict[str, list[float]] = {"total": [], "recon": [], "kl": [], "psnr": []}
        self.images, self.data_desc = load_data(cfg)
        self.hold_idx, self.train_idx = split(len(self.images), cfg.seed)
        self.held_out = not np.array_equal(self.hold_idx, self.train_idx)
        # A small set is seen many times: random crops (besides flips) keep it from being learnt
        # pixel by pixel, and batches larger than the set repeat it.
        self.crops = len(self.train_idx) < SMALL_SET
        # (3,) in 0..1: the flat picture a model has to beat to be worth a mid-run save
        self.mean_colour = torch.from_numpy(
            self.images[self.train_idx[:4096]].reshape(-1, 3).mean(0) / 255).float()
        if cfg.resume:
            self._resume()

    # --- resume -------------------------------------------------------------------------------
    def _resume(self) -> None:
        if not (self.out / checkpoint.WEIGHTS).exists():
            raise UserError(f"output folder {self.out} holds no model to resume; "
                            f"leave out --resume to start one")
        loaded = checkpoint.load(self.out, device=self.device)
        if loaded.cfg != self.vcfg:
            raise checkpoint.CheckpointError(
                f"model {loaded.path}: architecture differs from the requested one; "
                f"resume with the same --size/--latent/--width"
            )
        self.vae.load_state_dict(loaded.vae.state_dict())
        self.saved_step = int(loaded.config.get("training", {}).get("steps", 0))
        state = self.out / STATE
        if state.exists():
            self.step, extra = checkpoint.load_train_state(self.opt, state)
            self.elapsed = float(extra.get("elapsed", 0.0))
            self.history = extra.get("history", self.history)

    # --- training -----------------------------------------------------------------------------
    def steps_per_epoch(self) -> int:
        n = len(self.train_idx)
        return max(1, n * max(1, math.ceil(self.cfg.batch_size / n)) // self.cfg.batch_size)

    def total_steps(self) -> int:
        return self.steps_per_epoch() * self.cfg.epochs

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

    def lr_at(self, progress: float) -> float:
        """Short linear warm-up, then cosine to 5 % of the peak."""
        warm = 0.02
        if progress < warm:
            return self.cfg.lr * max(0.05, progress / warm)
        p = min(1.0, (progress - warm) / (1 - warm))
        return self.cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))

    def progress(self, t0: float) -> float:
        p = self.step / max(1, self.total_steps())
        if self.cfg.minutes:
            p = max(p, (self.elapsed + time.perf_counter() - t0) / (self.cfg.minutes * 60))
        return p

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        self.vae.train()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            x_hat, mu, logvar = self.vae(x)
        terms = vae_loss(x, x_hat.float(), mu.float(), logvar.float(),
                         kl_weight(self.step, self.cfg.beta, self.cfg.warmup_steps),
                         self.cfg.edge_weight)
        self.opt.zero_grad(set_to_none=True)
        terms.total.backward()
        torch.nn.utils.clip_grad_norm_(self.vae.parameters(), 200.0)
        self.opt.step()
        self.step += 1
        out = {"total": float(terms.total.detach()), "recon": float(terms.recon.detach()),
               "edge": float(terms.edge.detach()), "kl": float(terms.kl.detach()),
               "psnr": 10 * math.log10(1 / max(float(terms.mse), 1e-12))}
        return out

    def run(self) -> bool:
        """Train until the epochs or the time budget end; False if interrupted (still saved)."""
        cfg = self.cfg
        t0 = time.perf_counter()
        self.start_psnr = self.check_psnr()
        total = self.total_steps()
        start_epoch = self.step // self.steps_per_epoch()
        self.cb(TrainEvent("start", self.step, total, start_epoch, progress=self.progress(t0),
                           message=f"{self.data_desc}; {self.split_desc()}; device {self.device}"
                                   f"{' bf16' if self.bf16 else ''}"))
        try:
            for epoch in range(start_epoch, cfg.epochs):
                order = epoch_order(self.rng, self.train_idx, cfg.batch_size)
                for b in range(self.steps_per_epoch()):
                    if self.progress(t0) >= 1.0:
                        break
                    for g in self.opt.param_groups:
                        g["lr"] = self.lr_at(self.progress(t0))
                    idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                    flip = self.rng.random(len(idx)) < 0.5
                    crop = self.rng.random((len(idx), 3)) if self.crops else None
                    x = _batch(self.images, idx, self.device, flip, crop)
                    terms = self.train_step(x)
                    if not math.isfinite(terms["total"]):
                        self._diverged(f"loss {terms['total']}")
                    for k in self.history:
                        self.history[k].append(terms[k])
                    self.cb(TrainEvent("step", self.step, total, epoch, terms,
                                       progress=min(1.0, self.progress(t0))))
                self._end_epoch(epoch, t0)
                if self.progress(t0) >= 1.0:
                    break
        except KeyboardInterrupt:
            self.interrupted = True
        self.elapsed += time.perf_counter() - t0
        return not self.interrupted

    def _diverged(self, what: str) -> None:
        """Stop with one line; the run's files stay as the last healthy save left them."""
        kept = (f"the model saved at step {self.saved_step} is kept" if self.saved_step is not None
                else "no model was saved")
        lower = min(self.cfg.lr / 10, TrainConfig.lr)
        raise UserError(f"training diverged at step {self.step} ({what}): try a lower --lr, "
                        f"e.g. {lower:.0e}".replace("e-0", "e-") + f"; {kept}")

    def weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.vae.parameters())

    @torch.no_grad()
    def check_psnr(self) -> float:
        """Held-out PSNR (dB) of up to 64 images: the health check's measure; NaN if broken."""
        self.vae.eval()
        hold = _batch(self.images, self.hold_idx[:64], self.device, None)
        return psnr(hold, self.vae.reconstruct(hold))

    def healthy(self) -> tuple[bool, float]:
        """Worth saving: finite weights that reconstruct held-out images no worse (by 1 dB) than
        the model this session started from, or a flat picture of the data's mean colour, or
        20 dB, whichever is lowest. A learning rate that blew the weights up renders black or
        grey: such weights fail this even where every number is finite. Returns (ok, PSNR)."""
        if not self.weights_finite():
            return False, math.nan
        quality = self.check_psnr()
        hold = _batch(self.images, self.hold_idx[:64], self.device, None)
        flat = torch.ones_like(hold) * self.mean_colour.view(1, 3, 1, 1).to(hold)
        bar = min(self.start_psnr, psnr(hold, flat), 20.0) - 1.0
        return math.isfinite(quality) and quality >= bar, quality

    def _end_epoch(self, epoch: int, t0: float) -> None:
        every = max(self.cfg.sheet_every, math.ceil(MIN_SHEET_STEPS / self.steps_per_epoch()))
        if (epoch + 1) % every == 0:
            if not self.weights_finite():
                self._diverged("weights NaN or inf")
            if self.healthy()[0]:
                self.cb(TrainEvent("saving", self.step, self.total_steps(), epoch + 1,
                                   message=f"epoch {epoch + 1}: sample sheet and model"))
                stats = self.latent_stats()
                self.write_sheet(self.out / "samples" / f"epoch_{epoch + 1:03d}.png", stats)
                loss_curve(self.history, self.out / "loss.png",
                           title=f"{self.data_desc}  step {self.step}")
                self.save(final=False, elapsed=self.elapsed + time.perf_counter() - t0,
                          stats=stats)
        self.cb(TrainEvent("epoch", self.step, self.total_steps(), epoch + 1))

    # --- measuring and saving -----------------------------------------------------------------
    @torch.no_grad()
    def encode_all(self, idx: np.ndarray, batch: int = 256,
                   report: Callable[[float], None] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(mu, logvar), each (N, latent), of images[idx]; ``report`` gets the fraction done."""
        self.vae.eval()
        mus, lvs = [], []
        for i in range(0, len(idx), batch):
            x = _batch(self.images, idx[i : i + batch], self.device, None)
            mu, lv = self.vae.encode(x)
            mus.append(mu.float().cpu().numpy())
            lvs.append(lv.float().cpu().numpy())
            if report:
                report(min(1.0, (i + batch) / len(idx)))
        return np.concatenate(mus), np.concatenate(lvs)

    def latent_stats(self, report: Callable[[float], None] | None = None) -> dict[str, Any]:
        idx = self.train_idx[: min(len(self.train_idx), 4000)]
        mu, lv = self.encode_all(idx, report=report)
        kl = (0.5 * (mu**2 + np.exp(lv) - lv - 1)).mean(0)
        mean, std = mu.mean(0), np.maximum(mu.std(0), 1e-3)
        rank = [int(i) for i in np.argsort(-kl, kind="stable")]
        u = (mu - mean) / std
        keys = _farthest_points(u, min(N_KEYFRAMES, len(u)), self.cfg.seed)
        return {"kl_per_dim": kl.tolist(), "kl_rank": rank, "latent_mean": mean.tolist(),
                "latent_std": std.tolist(), "keyframes": u[keys].round(5).tolist()}

    @torch.no_grad()
    def metrics(self, stats: dict[str, Any]) -> dict[str, Any]:
        self.vae.eval()
        hold = _batch(self.images, self.hold_idx, self.device, None)
        rec = torch.cat([self.vae.reconstruct(hold[i : i + 256])
                         for i in range(0, len(hold), 256)])
        g = torch.Generator().manual_seed(self.cfg.seed)
        mean = torch.tensor(stats["latent_mean"])
        std = torch.tensor(stats["latent_std"])
        walk = self.vae.sample(256, g, mean, std)
        data_p99 = edge_p99(_batch(self.images, self.train_idx[:1024], self.device, None))
        kl = np.asarray(stats["kl_per_dim"])
        m: dict[str, Any] = {"heldout_psnr_db": round(psnr(hold, rec), 2),
                             "active_dims": int((kl > ACTIVE_KL).sum()),
                             "total_kl_nats": round(float(kl.sum()), 1)}
        if data_p99 > 0:  # a set of flat pictures has no edges to compare with
            m["edge_ratio_recon"] = round(edge_p99(rec) / data_p99, 3)
            m["edge_ratio_walk"] = round(edge_p99(walk) / data_p99, 3)
        if not self.held_out:
            m["measured_on"] = "training images (too few to hold any out)"
        return m

    @torch.no_grad()
    def sheet_rows(self, stats: dict[str, Any], n: int = 8) -> list[tuple[str, np.ndarray]]:
        """The sheet's rows, labelled as README.md describes them (``SHEET_ROWS``), each
        (n, H, W, 3) uint8: held-out images, their reconstructions, draws from the data region
        (where the walks live), draws from N(0, I), and a slerp between two tour keyframes."""
        self.vae.eval()
        mean = torch.tensor(stats["latent_mean"])
        std = torch.tensor(stats["latent_std"])
        g = torch.Generator().manual_seed(1234)
        x = _batch(self.images, self.hold_idx[:n], self.device, None)
        rec = self.vae.reconstruct(x)
        walk = self.vae.sample(n, g, mean, std)
        prior = self.vae.sample(n, g)
        kf = np.asarray(stats["keyframes"], np.float32)
        a, b = (kf[0], kf[1]) if len(kf) >= 2 else (np.zeros(self.vcfg.latent),) * 2
        ts = np.linspace(0, 1, n)
        us = np.stack([slerp(a, b, t) for t in ts]).astype(np.float32)
        z = torch.from_numpy(us) * std + mean
        strip = self.vae.decode(z.to(self.device))
        images = (x, rec, walk, prior, strip)
        labels = SHEET_ROWS if self.held_out else ("training", *SHEET_ROWS[1:])
        return [(label, to_uint8(im.cpu())) for label, im in zip(labels, images, strict=True)]

    def write_sheet(self, path: Path, stats: dict[str, Any] | None = None) -> None:
        rows = self.sheet_rows(stats or self.latent_stats())
        path.parent.mkdir(parents=True, exist_ok=True)
        labelled_sheet(rows, scale=max(1, 128 // self.cfg.size),
                       title=f"{self.data_desc}  step {self.step}").save(path)

    def save(self, final: bool, elapsed: float, metrics: dict[str, Any] | None = None,
             stats: dict[str, Any] | None = None, dtype: torch.dtype = torch.float32) -> Path:
        stats = stats or self.latent_stats()
        last = {k: round(float(np.mean(v[-50:])), 4) for k, v in self.history.items() if v}
        meta = {
            **stats,
            "data": self.data_desc,
            "training": {"config": asdict(self.cfg), "steps": self.step,
                         "seconds": round(elapsed, 1), "final_terms": last,
                         "precision": "bf16" if self.bf16 else "fp32",
                         "finished": final and not self.interrupted,
                         "interrupted": self.interrupted},
            "metrics": metrics or {},
            "decoder_gflops": round(decoder_flops(self.vcfg) / 1e9, 3),
        }
        path = checkpoint.save(self.vae, self.out, meta, dtype=dtype)
        self.saved_step = self.step
        checkpoint.save_train_state(self.opt, self.step,
                                    {"elapsed": elapsed, "history": self.history},
                                    self.out / STATE)
        return path

    def finalise(self) -> tuple[Path, dict[str, Any]]:
        ok, quality = self.healthy()
        if not ok:
            self._diverged(f"held-out PSNR fell from {self.start_psnr:.1f} to {quality:.1f} dB"
                           if math.isfinite(quality) else "weights NaN or inf")
        n = min(len(self.train_idx), 4000)

        def measuring(what: str, done: float) -> None:
            self.cb(TrainEvent("measure", self.step, self.total_steps(), message=what,
                               progress=done))

        stats = self.latent_stats(lambda f: measuring(f"encoding {n} images", 0.6 * f))
        measuring(f"held-out quality of {len(self.hold_idx)} images, sharpness of walk decodes",
                  0.6)
        m = self.metrics(stats)
        measuring("sample sheet and loss curve", 0.85)
        self.write_sheet(self.out / "samples.png", stats)
        loss_curve(self.history, self.out / "loss.png", title=f"{self.data_desc}  step {self.step}")
        measuring("saving", 0.95)
        path = self.save(final=True, elapsed=self.elapsed, metrics=m, stats=stats,
                         dtype=torch.float16 if self.cfg.half else torch.float32)
        (self.out / "metrics.json").write_text(json.dumps(m, indent=1))
        measuring("saved", 1.0)
        self.cb(TrainEvent("done", self.step, self.total_steps(), terms=dict(m),
                           message=str(path)))
        return path, m


def _farthest_points(u: np.ndarray, k: int, seed: int) -> list[int]:
    """Greedy farthest-point picks among typical points: varied keyframes for a tour.

    ``u`` (N, D), N >= 1. Returns at most ``k`` indices into ``u``, fewer when the points run
    out of distinct places (one image, or many identical ones: a tour of one keyframe).
    """
    norms = np.linalg.norm(u, axis=1)
    typical = np.where(norms <= np.quantile(norms, 0.8))[0]
    if len(typical) == 0:  # NaN norms
        typical = np.arange(len(u))
    pool = u[typical]
    rng = np.random.default_rng(seed)
    picks = [int(rng.integers(len(pool)))]
    d = np.linalg.norm(pool - pool[picks[0]], axis=1)
    for _ in range(min(k, len(pool)) - 1):
        i = int(np.argmax(d))
        if not d[i] > 0:
            break
        picks.append(i)
        d = np.minimum(d, np.linalg.norm(pool - pool[i], axis=1))
    return [int(typical[i]) for i in _nearest_chain(pool[picks], picks)]


def _nearest_chain(points: np.ndarray, ids: list[int]) -> list[int]:
    """Order points as a greedy nearest-neighbour loop: a tour's neighbours are close, so its
    in-betweens stay near the data instead of crossing the whole space."""
    left = list(range(len(ids)))
    order = [left.pop(0)]
    while left:
        d = np.linalg.norm(points[left] - points[order[-1]], axis=1)
        order.append(left.pop(int(np.argmin(d))))
    return [ids[i] for i in order]


def train(cfg: TrainConfig, callback: Callback | None = None) -> tuple[Path, dict[str, Any]]:
    """Train (or resume) and save; Ctrl-C stops early and still saves a usable checkpoint."""
    t = Trainer(cfg, callback)
    t.run()
    return t.finalise()
