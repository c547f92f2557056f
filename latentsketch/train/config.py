"""What a training run is asked for (``TrainConfig``) and what it reports (``TrainEvent``).

Plain data, so the CLI, presets of a run and the tests build and read them without touching torch.
The config is saved whole in the run state and in the shipped model's JSON (``asdict``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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
    cache: str | None = None          # folder of pre-resized image caches: stream from there
                                      # (None: stream only a folder too big for memory)
    workers: int | None = None        # DataLoader processes decoding a folder into its cache
    flip: bool = True                 # random left-right flips of training images
    compile: bool = False             # torch.compile the training step where it is faster
    start_from: str | None = None     # a model to fine-tune (bundled name, folder or file);
                                      # None: from scratch (``transfer``)


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
