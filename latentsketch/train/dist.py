"""Several processes training one model: torchrun's environment, the process group, and the few
things the processes must agree on.

``torchrun --nproc-per-node N -m latentsketch train ...`` starts N copies of the command, each
with RANK, WORLD_SIZE and LOCAL_RANK set. ``Dist.from_env`` reads them (one process when they
are absent); ``start`` joins the group (NCCL on CUDA, gloo on CPU). The ranks agree, once per
step, on the loss figures and on whether to stop (a Ctrl-C in any process, or rank 0's time
budget), so they always stop after the same step: a rank that stops alone hangs the others.
A single process (``world == 1``) makes every call here a no-op without touching
``torch.distributed``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import distributed as tdist

from latentsketch.errors import UserError


@dataclass(frozen=True)
class Dist:
    """Where this process sits: ``rank`` of ``world`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Dist:
        """The torchrun variables (RANK, WORLD_SIZE, LOCAL_RANK); one process without them.
        Raises UserError for values that are not counts."""
        env = dict(os.environ) if env is None else env
        try:
            world = int(env.get("WORLD_SIZE", "1"))
            rank = int(env.get("RANK", "0"))
            local = int(env.get("LOCAL_RANK", str(rank)))
        except ValueError:
            raise UserError(f"WORLD_SIZE={env.get('WORLD_SIZE')!r} RANK={env.get('RANK')!r}: "
                            f"not numbers; start several processes with torchrun") from None
        if world < 1 or not 0 <= rank < world:
            raise UserError(f"RANK={rank} WORLD_SIZE={world}: the rank must be 0..WORLD_SIZE-1")
        return cls(rank, world, local)

    @property
    def main(self) -> bool:
        """True on the process that writes checkpoints, sheets and progress (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def device(self, asked: torch.device) -> torch.device:
        """This process's device: its own GPU (LOCAL_RANK) where the run is on CUDA."""
        if self.active and asked.type == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return asked

    def start(self, device: torch.device) -> bool:
        """Join the process group; True if this call did (so ``stop`` should leave it), False
        for one process or a group its caller joined already."""
        if not self.active or tdist.is_initialized():
            return False
        tdist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return True

    def stop(self) -> None:
        """Leave the process group."""
        if self.active and tdist.is_initialized():
            tdist.destroy_process_group()

    def local_batch(self, batch_size: int) -> int:
        """Images per step on this process; ``batch_size`` is the global batch. Raises
        UserError if it does not split evenly (the ranks would train unlike one process)."""
        if batch_size % self.world:
            raise UserError(f"--batch-size {batch_size} is the global batch and must split "
                            f"evenly over {self.world} processes; use a multiple of "
                            f"{self.world}")
        return batch_size // self.world

    # --- agreeing ----------------------------------------------------------------------------
    def agree(self, stop: bool, done: bool) -> tuple[bool, bool]:
        """(any rank asked to stop, rank 0 says the run is done): the same on every rank."""
        if not self.active:
            return stop, done
        flags = torch.tensor([float(stop), float(done and self.main)], dtype=torch.float64)
        tdist.all_reduce(flags)
        return bool(flags[0] > 0), bool(flags[1] > 0)

    def mean(self, figures: dict[str, float]) -> dict[str, float]:
        """Each figure averaged over the ranks (the loss of the global batch)."""
        if not self.active:
            return figures
        keys = sorted(figures)
        t = torch.tensor([figures[k] for k in keys], dtype=torch.float64)
        tdist.all_reduce(t)
        return {k: float(v) / self.world for k, v in zip(keys, t.tolist(), strict=True)}

    def broadcast_int(self, value: int) -> int:
        """Rank 0's ``value`` on every rank (a schedule timed on rank 0, say)."""
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.int64)
        tdist.broadcast(t, 0)
        return int(t.item())

    def barrier(self) -> None:
        if self.active:
            tdist.barrier()

    def share_files(self, folder: Path, names: tuple[str, ...]) -> Path:
        """``folder`` on rank 0; on the other ranks a private copy of the ``names`` that exist
        there, sent by rank 0, so a resume works on machines that do not share the run folder.
        """
        if not self.active:
            return folder
        box: list[object] = [None]
        if self.main:
            box[0] = {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()}
        tdist.broadcast_object_list(box, 0)
        if self.main:
            return folder
        copy = Path(tempfile.mkdtemp(prefix=f"latentsketch-rank{self.rank}-"))
        files = box[0]
        assert isinstance(files, dict)
        for name, data in files.items():
            (copy / name).write_bytes(data)
        return copy


class _SumAcross(torch.autograd.Function):
    """All-reduce (sum) whose gradient is the all-reduced gradient: d(sum_r x_r)/dx_r = 1 for
    every rank's loss, so each rank receives the sum of all ranks' gradients."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        out = t.clone()
        tdist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone()
        tdist.all_reduce(out)
        return out


def sum_across(t: torch.Tensor) -> torch.Tensor:
    """The sum of ``t`` over every rank, differentiable (the gradient flows back to each rank's
    own share); ``t`` itself for one process."""
    if not (tdist.is_available() and tdist.is_initialized()) or tdist.get_world_size() == 1:
        return t
    return _SumAcross.apply(t)
