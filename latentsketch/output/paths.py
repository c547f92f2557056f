"""The output folder: where recordings, snapshots and logs go, named so nothing is overwritten.

Names are ``<prefix>-YYYYMMDD-HHMMSS<suffix>`` (``latentsketch-20261123-193012.mp4``); when that
name is taken, ``-2``, ``-3``... is appended to the stem. A name is *reserved* by creating it
with ``O_EXCL`` (files) or ``mkdir`` (folders), so two callers — two threads, or two running
programs sharing a folder — can never be handed the same name. Related files (a recording and
its control log, a snapshot and its upscaled copy) share one stem, reserved together.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DEFAULT_OUT_DIR = Path("latentsketch-out")
_MAX_ATTEMPTS = 10_000


class OutputError(OSError):
    """A file or folder for output cannot be written; ``str(err)`` is one line for the user."""


def describe_os_error(err: BaseException) -> str:
    """The reason in an OS or FFmpeg error, one line, without the ``[Errno n]`` noise."""
    reason = getattr(err, "strerror", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def timestamp_stem(prefix: str, now: datetime | None = None) -> str:
    """``prefix-YYYYMMDD-HHMMSS`` in local time: sorts by time and reads at a glance."""
    return f"{prefix}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"


@dataclass(frozen=True)
class OutputDir:
    """An output folder (default ``./latentsketch-out/``), created the first time it is used.

    Args:
        root: the folder; relative paths are relative to the current directory at use time.
        prefix: the first part of every file name.
    """

    root: Path = DEFAULT_OUT_DIR
    prefix: str = "latentsketch"

    def ensure(self) -> Path:
        """Create the folder if needed and prove it is writable; OutputError names it if not."""
        root = Path(self.root)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except FileExistsError as e:
            raise OutputError(f"output folder {root} is a file, not a folder") from e
        except OSError as e:
            raise OutputError(f"cannot create output folder {root}: {describe_os_error(e)}") from e
        if not root.is_dir():
            raise OutputError(f"output folder {root} is a file, not a folder")
        if not os.access(root, os.W_OK | os.X_OK):
            raise OutputError(f"output folder {root} is not writable")
        return root

    def check(self) -> Path:
        """Prove the folder is writable, or could be created, without creating it.

        For start-up checks: a folder that cannot be made is reported in one line (OutputError)
        when the program starts, not at the first snapshot, and nothing is left on disk.
        """
        root = Path(self.root)
        probe = root.absolute()
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent               # the nearest part of the path that exists
        if probe == root.absolute():
            if not probe.is_dir():
                raise OutputError(f"output folder {root} is a file, not a folder")
            if not os.access(probe, os.W_OK | os.X_OK):
                raise OutputError(f"output folder {root} is not writable")
        elif not probe.is_dir():
            raise OutputError(f"cannot create output folder {root}: {probe} is a file")
        elif not os.access(probe, os.W_OK | os.X_OK):
            raise OutputError(f"cannot create output folder {root}: {probe} is not writable")
        return root

    def reserve(self, suffix: str, now: datetime | None = None) -> Path:
        """Reserve one new name ending in ``suffix`` (``".mp4"``; ``"/"`` makes a folder)."""
        return self.reserve_many([suffix], now)[0]

    def reserve_many(self, suffixes: Sequence[str], now: datetime | None = None) -> list[Path]:
        """Reserve names sharing one fresh stem, e.g. ``[".mp4", ".log.jsonl"]``.

        Each name is created on disk (an empty file, or an empty folder for a suffix ending in
        ``"/"``) so it is ours alone; the caller then writes into it.
        """
        if not suffixes:
            raise ValueError("reserve_many needs at least one suffix")
        root = self.ensure()
        base = timestamp_stem(self.prefix, now)
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            stem = base if attempt == 1 else f"{base}-{attempt}"
            made: list[Path] = []
            try:
                for suffix in suffixes:
                    made.append(_create_exclusive(root, stem, suffix))
            except FileExistsError:
                _undo(made)
                continue
            except OSError as e:
                _undo(made)
                raise OutputError(
                    f"cannot create files in output folder {root}: {describe_os_error(e)}"
                ) from e
            return made
        raise OutputError(f"output folder {root}: no free name for {base} after {_MAX_ATTEMPTS}")


def _create_exclusive(root: Path, stem: str, suffix: str) -> Path:
    if suffix.endswith("/"):
        path = root / f"{stem}{suffix.rstrip('/')}"
        path.mkdir()
        return path
    path = root / f"{stem}{suffix}"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return path


def _undo(made: list[Path]) -> None:
    for path in made:
        try:
            path.rmdir() if path.is_dir() else path.unlink()
        except OSError:
            pass
