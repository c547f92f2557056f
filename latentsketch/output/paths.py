"""The output folder: where recordings, snapshots and logs go, named so nothing is overwritten.

Nothing here is ever left half-written: a reserved name whose writing fails is removed again
(``discard``, ``removed_on_failure``), and a file with a fixed name (the atlas) is written to a
hidden temporary name and renamed into place only when complete (``write_atomically``).

Names are ``<prefix>-YYYYMMDD-HHMMSS<suffix>`` (``latentsketch-20261123-193012.mp4``); when that
name is taken, ``-2``, ``-3``... is appended to the stem. A name is *reserved* by creating it
with ``O_EXCL`` (files) or ``mkdir`` (folders), so two callers — two threads, or two running
programs sharing a folder — can never be handed the same name. Related files (a recording and
its control log, a snapshot and its upscaled copy) share one stem, reserved together.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from latentsketch.errors import UserError, os_error_line, os_reason
from latentsketch.tempfiles import temp_beside

DEFAULT_OUT_DIR = Path("latentsketch-out")
_MAX_ATTEMPTS = 10_000


class OutputError(UserError, OSError):
    """A file or folder for output cannot be written; ``str(err)`` is one line for the user."""


def describe_os_error(err: BaseException) -> str:
    """The reason in an OS or FFmpeg error, one line, without the ``[Errno n]`` noise."""
    return os_reason(err)


def output_error(err: BaseException, path: str | os.PathLike[str],
                 action: str = "write") -> OutputError:
    """An OutputError saying ``cannot write PATH: reason; what to do`` for ``err``."""
    out = OutputError(os_error_line(err, path, action))
    out.errno = getattr(err, "errno", None)
    return out


def discard(*paths: str | os.PathLike[str]) -> None:
    """Remove regular files and empty folders that a failed write left behind; never raises.

    Anything else is left alone: a device (``/dev/full`` given as an output), a symlink's
    target, a folder that holds files.
    """
    for p in paths:
        try:
            mode = os.lstat(p).st_mode
            if stat.S_ISREG(mode):
                os.unlink(p)
            elif stat.S_ISDIR(mode):
                os.rmdir(p)
        except OSError:
            pass


@contextmanager
def removed_on_failure(*paths: str | os.PathLike[str]) -> Iterator[None]:
    """Remove ``paths`` (reserved names being written) if the block raises, then re-raise."""
    try:
        yield
    except BaseException:
        discard(*paths)
        raise


def write_atomically(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Have ``write(tmp)`` write a hidden temporary file beside ``path`` (``temp_beside``),
    then rename it into place: ``path`` is either its old self or complete, never
    half-written. Raises OutputError (one line naming ``path``) if writing or renaming
    fails; the temporary file is removed."""
    path = Path(path)
    tmp: Path | None = None
    try:
        tmp = temp_beside(path, ".tmp")
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            discard(tmp)
        raise output_error(e, path) from e
    except BaseException:
        if tmp is not None:
            discard(tmp)
        raise
    return path


def timestamp_stem(prefix: str, now: datetime | None = None) -> str:
    """``prefix-YYYYMMDD-HHMMSS`` in local time: sorts by time and reads at a glance."""
    return f"{prefix}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"


@dataclass(frozen=True)
class OutputDir:
    """An output folder (default ``./latentsketch-out/``), created the first time it is used.

    Args:
        root: the folder; relative paths are relative to the current directory at use time.
        prefix: the first part of every file name.
        label: what the folder is called in messages.
    """

    root: Path = DEFAULT_OUT_DIR
    prefix: str = "latentsketch"
    label: str = "output folder"

    def ensure(self) -> Path:
        """Create the folder if needed and prove it is writable; OutputError names it if not."""
        root = Path(self.root)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except FileExistsError as e:
            raise OutputError(f"{self.label} {root} is a file, not a folder") from e
        except OSError as e:
            raise output_error(e, root, f"create {self.label}") from e
        if not root.is_dir():
            raise OutputError(f"{self.label} {root} is a file, not a folder")
        if not os.access(root, os.W_OK | os.X_OK):
            raise OutputError(f"{self.label} {root} is not writable; choose a writable folder")
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
        self._probe(root)
        return root

    @staticmethod
    def _probe(root: Path) -> None:
        """Really create the folder and a file in it, then remove what was made: permissions
        say little to root, and special file systems (/proc, a full or read-only mount) only
        answer a real write. Raises OutputError naming the folder."""
        from latentsketch.tempfiles import temp_beside

        made: list[Path] = []
        p = root.absolute()
        while not p.exists():
            made.append(p)
            p = p.parent
        try:
            for folder in reversed(made):
                folder.mkdir()
            probe = temp_beside(root / "probe")
            try:
                probe.write_bytes(b"\0")        # a full disk still makes empty files
            finally:
                probe.unlink(missing_ok=True)
        except OSError as e:
            raise output_error(e, root, "create folder" if made else "write in") from None
        finally:
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    pass

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
                discard(*made)
                continue
            except OSError as e:
                discard(*made)
                raise output_error(e, root, f"create files in {self.label}") from e
            return made
        raise OutputError(f"{self.label} {root}: no free name for {base} after {_MAX_ATTEMPTS}")


def _create_exclusive(root: Path, stem: str, suffix: str) -> Path:
    if suffix.endswith("/"):
        path = root / f"{stem}{suffix.rstrip('/')}"
        path.mkdir()
        return path
    path = root / f"{stem}{suffix}"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return path

