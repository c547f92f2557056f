"""Where an installation's playlist stands, kept on disk so a restart resumes there.

A small JSON file (``installation.json`` in the user's state folder, ``userdirs.state_dir``)
written atomically: a temporary file beside it, flushed to the disk, then renamed over the
old one, so a power cut leaves the old state or the new one, never half of either. Reading
forgives everything: a missing, unreadable or foreign file means "start at the beginning".
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from latentsketch.tempfiles import temp_beside

FILE_NAME = "installation.json"
VERSION = 1


@dataclass(frozen=True)
class ResumeState:
    """``playlist``: the playlist file's resolved path (another playlist starts over);
    ``clock``: playlist seconds played; ``position``: the scene's turn (``schedule.Slot``);
    ``preset``: the preset on screen; ``saved``: Unix time of the write."""

    playlist: str
    clock: float
    position: int
    preset: str
    saved: float


def read(path: Path, playlist: str) -> ResumeState | None:
    """The state saved for ``playlist`` in ``path``, or None (no file, unreadable, not ours,
    another playlist)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        state = ResumeState(str(doc["playlist"]), float(doc["clock"]), int(doc["position"]),
                            str(doc["preset"]), float(doc["saved"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if doc.get("version") != VERSION or state.playlist != playlist:
        return None
    if not (math.isfinite(state.clock) and state.clock >= 0):
        return None
    return state


def write(path: Path, state: ResumeState) -> None:
    """Write ``state`` atomically and durably (fsync); raises OSError (full disk, read-only
    folder) and then leaves ``path`` as it was and no temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"version": VERSION, **asdict(state)}, indent=1).encode()
    tmp = temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
