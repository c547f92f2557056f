"""Training: data -> VAE, with progress events, sample sheets, a loss curve, exact resume, Ctrl-C.

The loop reports through a callback (``TrainEvent``), so the CLI's progress bar and the tests
listen to the same events. The learning-rate schedule runs by step (``--steps``, by default the
epochs' worth), never by wall clock: ``--minutes`` only decides when to stop. The run folder
keeps everything a resumed run needs to continue exactly as if it had never stopped (``state``),
saved at sheets, every ``save_minutes`` and at the end. After training (or on Ctrl-C)
``finalise`` ships the raw or the EMA weights, whichever reconstructs held-out images better,
with what the live instrument needs (see ``measure``).

Modules, one job each: ``config`` (what a run is asked, what it reports), ``data`` (images,
split, batches), ``schedule`` (length, learning rate, budget), ``optimise`` (one step),
``state`` (the run state for --resume), ``folder`` (the run folder's checks and safe writes),
``outputs`` (sheets, loss curve, the shipped model), ``transfer`` (fine-tuning: the model a
run starts from), ``trainer`` (the run that ties them).
"""

from __future__ import annotations

from latentsketch.measure import N_KEYFRAMES, SHEET_ROWS
from latentsketch.train.config import Callback, TrainConfig, TrainEvent
from latentsketch.train.data import load_data, split
from latentsketch.train.folder import STATE
from latentsketch.train.schedule import DEFAULT_MINUTES
from latentsketch.train.trainer import Trainer, train

__all__ = ["DEFAULT_MINUTES", "N_KEYFRAMES", "SHEET_ROWS", "STATE", "Callback", "TrainConfig",
           "TrainEvent", "Trainer", "load_data", "split", "train"]
