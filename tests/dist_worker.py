"""Run under torchrun by tests/test_train_dist.py: one process of distributed training runs.

Argument: JSON, a list of runs, each ``{"cfg": TrainConfig fields, "stop": [rank, step]}``:
the process of that rank sends itself SIGINT (as a Ctrl-C in its terminal would) after that
step. The runs share one process group (joined here, so the imports and the rendezvous are
paid once). The held-out quality figures measured after each run are skipped (``quick``):
these tests are about training, and those figures cost seconds a run.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from torch import distributed as tdist

from latentsketch import measure
from latentsketch.train import TrainConfig, TrainEvent, train


def main() -> None:
    runs = json.loads(sys.argv[1])
    rank = int(os.environ["RANK"])
    tdist.init_process_group("gloo")
    measure.quality = lambda *a, **k: {}
    for run in runs:
        stop_rank, stop_step = run.get("stop", (-1, -1))

        def on_event(e: TrainEvent, stop_rank: int = stop_rank, stop_step: int = stop_step
                     ) -> None:
            if e.kind == "step" and e.step == stop_step and rank == stop_rank:
                os.kill(os.getpid(), signal.SIGINT)

        train(TrainConfig(**run["cfg"]), on_event)
    tdist.destroy_process_group()


if __name__ == "__main__":
    main()
