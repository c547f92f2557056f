"""Fine-tuning: a run that starts from a trained model's weights instead of random ones.

A small folder of one's own trains a usable model in little time only from a start that
already draws pictures (transfer learning, the field's standard for small data). ``train DIR``
therefore starts from the bundled default model unless it is told an architecture
(``--size/--latent/--width/--arch``: from scratch with it), ``--from none`` or ``--resume``.
The run takes the source's architecture, its weights into both the trained copy and the EMA,
a fresh optimizer, step 0 and its own schedule; the shipped ``model.json`` names the source
(``training.from``: as given, and its model id).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from latentsketch.errors import UserError
from latentsketch.model import checkpoint
from latentsketch.model.vae import VAE, VAEConfig

if TYPE_CHECKING:
    from latentsketch.train.config import TrainConfig
    from latentsketch.train.trainer import Trainer

NONE = "none"  # --from none: from scratch
ARCH_FLAGS = ("size", "latent", "width", "arch")  # TrainConfig fields that set the architecture
# Fine-tuning puts the KL weight at beta from the first step (no warm-up from 0): the source's
# posterior is already balanced against its decoder. Measured on 800 photo crops at 128 px from
# the emoji model (200 steps, 1 thread; README "Your own model"): no warm-up 18.00 dB held-out
# PSNR, 216 nats of KL, edge ratio recon 0.149 / walk 0.162; a 40-step warm-up from 0 (the
# from-scratch rule for 200 steps) 17.98 dB, 226 nats, 0.147 / 0.165: no gain, and the
# posterior spreads a little.
FINETUNE_WARMUP = 0
# The peak learning rate of a fine-tune: the from-scratch one. Same measurement: 2e-3 18.0 dB,
# 5e-4 17.4 dB, 2e-4 15.9 dB: the weights must move far from emoji to photos. The lower rates'
# higher edge ratios (0.17 / 0.17, 0.22 / 0.24) are border artifacts and leftover emoji grain
# in still-blurred pictures (by eye on the sheets), not detail.
FINETUNE_LR = 2e-3


class SourceError(UserError):
    """A --from that cannot start this run; one line naming the model and what to do."""


@dataclass(frozen=True)
class Source:
    """The model a run starts from: as the person named it, its weights file and id, and the
    architecture flags that rebuild it (``arch``, ``size``, ``latent``, ``width``)."""

    given: str
    weights: Path
    model_id: str
    flags: dict[str, Any]
    background: tuple[int, int, int] | None = None   # behind transparent pixels, as trained

    def describe(self) -> str:
        """'the emoji model' for a bundled one, else 'the model PATH'."""
        return (f"the {self.given} model" if self.given in checkpoint.BUNDLED
                else f"the model {self.given}")

    def record(self) -> dict[str, str]:
        """What ``model.json`` keeps under ``training.from``."""
        return {"model": self.given, "id": self.model_id}


def choose(given: str | None, data: str, flags_given: dict[str, Any], resume: bool
           ) -> str | None:
    """The model a run starts from (a MODEL argument), or None for from scratch.

    ``given`` is --from as typed (None: not given); ``flags_given`` the architecture flags
    typed (name -> value). Not told anything, a folder run starts from ``checkpoint.DEFAULT``;
    an architecture flag, ``procedural`` data or --resume keep today's from-scratch run.
    Raises SourceError for --from with --resume (a resumed run continues its own weights).
    """
    if given is not None and resume:
        raise SourceError(f"--from {given} with --resume: a resumed run continues its own "
                          f"weights; leave out --from (or --resume, with --force, to start "
                          f"afresh from {given})")
    if given is not None:
        return None if given.lower() == NONE else given
    if resume or flags_given or data == "procedural":
        return None
    return checkpoint.DEFAULT


def named_flags(vcfg: VAEConfig) -> dict[str, Any] | None:
    """The --arch/--size/--latent/--width that build ``vcfg``, or None if none do."""
    if vcfg == VAEConfig.sharp128(vcfg.latent):
        return {"arch": "sharp128", "size": 128, "latent": vcfg.latent, "width": 32}
    width = vcfg.dec_widths[-1]
    if vcfg == VAEConfig.preset(vcfg.image_size, vcfg.latent, width):
        return {"arch": "preset", "size": vcfg.image_size, "latent": vcfg.latent,
                "width": width}
    return None


def open_source(given: str) -> tuple[Source, VAE]:
    """The model ``given`` (a bundled name, a model folder or file) as a run's start, and its
    network. Raises CheckpointError or SourceError (one line naming it)."""
    loaded = checkpoint.load(given)
    flags = named_flags(loaded.cfg)
    if flags is None:
        raise SourceError(f"--from {given}: its architecture is not one train builds "
                          f"(--arch preset or sharp128); pass --from none to train from "
                          f"scratch")
    bg = (loaded.config.get("training") or {}).get("config", {}).get("background")
    background = ((int(bg[0]), int(bg[1]), int(bg[2]))
                  if isinstance(bg, list) and len(bg) == 3 else None)
    return Source(given, loaded.path, loaded.model_id, flags, background), loaded.vae


def check_flags(source: Source, flags_given: dict[str, Any]) -> None:
    """Refuse architecture flags that contradict the source's, in one line naming both."""
    for name in ARCH_FLAGS:
        if name in flags_given and flags_given[name] != source.flags[name]:
            if name == "width" and source.flags["arch"] == "sharp128":
                continue  # sharp128 has fixed widths: --width changes nothing
            raise SourceError(
                f"--{name} {flags_given[name]} contradicts {source.describe()} (--from "
                f"{source.given}), whose {name} is {source.flags[name]}; leave --{name} out "
                f"to fine-tune it, or pass --from none to train from scratch")


def architecture(given: dict[str, Any], source: Source | None, resumed: Path | None
                 ) -> dict[str, Any]:
    """The run's --arch/--size/--latent/--width: the source's when fine-tuning; resuming
    without flags, those of the model in the run folder ``resumed`` (if it reads); else the
    flags given over ``TrainConfig``'s defaults."""
    from latentsketch.train.config import TrainConfig

    defaults = {k: TrainConfig.__dataclass_fields__[k].default for k in ARCH_FLAGS}
    if source is not None:
        return dict(source.flags)
    if resumed is not None and not given:
        try:
            vcfg = checkpoint.load(resumed / checkpoint.WEIGHTS).cfg
        except UserError:
            return defaults  # no model yet: the trainer says what it finds
        return named_flags(vcfg) or defaults
    return {**defaults, **given}


def configure(cfg: TrainConfig, source: Source, lr_given: bool, warmup_given: bool,
              background_given: bool = False) -> TrainConfig:
    """``cfg`` set to fine-tune ``source``: its architecture, and the fine-tuning learning
    rate, KL warm-up and background (the source's: emoji trained on black, and transparent
    pictures composited on white would be a new colour for it to unlearn) unless the person
    gave them."""
    changes: dict[str, Any] = {**source.flags, "start_from": source.given}
    if not background_given and source.background is not None:
        changes["background"] = source.background
    if not lr_given:
        changes["lr"] = FINETUNE_LR
    if not warmup_given:
        changes["warmup_steps"] = FINETUNE_WARMUP
    return replace(cfg, **changes)


def start(t: Trainer, given: str) -> dict[str, str]:
    """Load model ``given``'s weights into the run's weights and its EMA (the optimizer, step
    and schedule stay fresh); the record for ``training.from``. Raises SourceError if its
    architecture is not the run's."""
    source, vae = open_source(given)
    if vae.cfg != t.vcfg:
        have = ", ".join(f"--{k} {v}" for k, v in source.flags.items())
        raise SourceError(f"--from {given}: its architecture ({have}) is not this run's; "
                          f"leave out the architecture flags to fine-tune it")
    weights = {k: v.to(t.device) for k, v in vae.state_dict().items()}
    t.vae.load_state_dict(weights)
    if t.ema is not None:
        t.ema.load_state_dict(weights)
    t.notes.append(f"starting from {source.describe()}'s weights (fine-tuning); "
                   f"--from none trains from scratch")
    return source.record()
