"""The run folder: checked before any work, and written so that a failure is one line.

A full disk, a lost mount or a read-only folder must not end an hour of training with a
traceback: each write into the folder goes through ``write_into``, which says what happened and
that the run state saved last lets --resume continue.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from latentsketch.errors import UserError
from latentsketch.model import checkpoint

STATE = "train_state.safetensors"  # what --resume continues: weights, optimizer, RNG, data order


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


def write_into(out: Path, write: Callable[[], object]) -> None:
    """Run a write into ``out``; a full disk or a lost mount becomes one line."""
    try:
        write()
    except OSError as e:
        raise UserError(f"output folder {out}: cannot write ({e.strerror or e}); "
                        f"{STATE} from the last save lets --resume continue") from None


def write_text(path: Path, text: str) -> None:
    """Whole or not at all: a temp file renamed, removed on failure."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
