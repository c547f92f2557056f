"""How long a run is, its learning rate by step, and what it says about its budget up front.

The schedule runs by step, never by wall clock: ``--minutes`` only decides when to stop. Its
length is fixed when the run starts and saved with it, so a resumed run follows the same curve.
"""

from __future__ import annotations

import math
from pathlib import Path

from latentsketch.errors import UserError
from latentsketch.train.config import TrainConfig

DEFAULT_MINUTES = 30  # the default budget: as many steps as this machine does in this time
TOO_SHORT = 1000     # steps: below this a VAE learns little; say so at the start
# Steps of 32 images after which pictures were still sharpening in the project's own runs
# (FACTS.md: emoji 6k steps, shapes 29k): said with the ETA so people can judge a budget.
IMPROVES_UP_TO = 10_000


def fixed_length(cfg: TrainConfig, steps_per_epoch: int, saved: int | None) -> int | None:
    """The schedule's length when nothing needs timing: --steps; else --epochs' worth; else a
    resumed run's own. None: time it (``timed_length``)."""
    if cfg.steps:
        return cfg.steps
    if cfg.epochs:
        return steps_per_epoch * cfg.epochs
    return saved or None


def timed_length(minutes: float | None, elapsed: float, step: int, step_seconds: float) -> int:
    """As many steps as --minutes (or DEFAULT_MINUTES) allow on this machine, counted from
    ``step`` after ``elapsed`` seconds already trained."""
    left = 60 * (minutes or DEFAULT_MINUTES) - elapsed
    return max(1, int(left / step_seconds) + step)


def lr_at(step: int, schedule: int, peak: float) -> float:
    """Learning rate at ``step`` of the schedule: a linear warm-up over its first 2 %, then
    cosine to 5 % of the peak at its end. A function of the step alone, so a resumed run
    follows the same curve."""
    p = step / max(1, schedule)
    warm = 0.02
    if p < warm:
        return peak * max(0.05, p / warm)
    q = min(1.0, (p - warm) / (1 - warm))
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * q)))


def budget_note(schedule: int, step: int, per_step: float, minutes: float | None,
                elapsed: float) -> str:
    """The ETA said up front: steps, minutes here, and how far pictures improve."""
    left = schedule - step
    eta_minutes = left * per_step / 60
    if minutes:
        budget = max(0.0, minutes - elapsed / 60)
        if budget < eta_minutes:
            return (f"about {int(budget * 60 / per_step):,} of the {left:,} steps to go fit "
                    f"in the {budget:.2g} minutes left here ({per_step:.2f} s/step); "
                    f"results improve up to ~{IMPROVES_UP_TO:,} steps and beyond")
    n = round(eta_minutes)
    eta = ("less than a minute" if eta_minutes < 1 else
           f"about {n} minute{'' if n == 1 else 's'}")
    return (f"{left:,} steps to go: {eta} here ({per_step:.2f} s/step); "
            f"results improve up to ~{IMPROVES_UP_TO:,} steps and beyond")


def too_short_note(schedule: int) -> str | None:
    """A warning for a schedule too short to learn much, else None."""
    if schedule >= TOO_SHORT:
        return None
    return (f"{schedule} steps is far too short for a VAE to learn much: pictures keep "
            f"sharpening up to ~{IMPROVES_UP_TO:,} steps and beyond; pass --steps or --minutes "
            f"for more")


def check_left(out: Path, step: int, schedule: int, minutes: float | None,
               elapsed: float) -> None:
    """Refuse to continue a run with nothing left of its schedule or its time budget."""
    if step >= schedule:
        raise UserError(f"output folder {out}: the run is at step {step}, the end "
                        f"of its {schedule}-step schedule; pass --steps with more to "
                        f"train on")
    if minutes and elapsed >= 60 * minutes:
        raise UserError(f"output folder {out}: the run has trained "
                        f"{elapsed / 60:.1f} minutes, its --minutes {minutes:g} "
                        f"budget; pass a larger --minutes to train on")
