"""The errors every command prints as one line (exit status 2) instead of a traceback.

Every error the project raises for something a person can fix derives from ``UserError``
(``PresetError``, ``CheckpointError``, ``OutputError``...), so ``cli.main`` catches the whole
kind with one clause. An ``OSError`` from the file system (a read-only or full folder, a
missing path, no permission) is the person's to fix too: ``os_error_line`` turns it into one
line naming the path and what to do.
"""

from __future__ import annotations

import errno
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path


class UserError(Exception):
    """Something a person can fix: a bad option, a missing file, no display."""


# errno -> what to do about it; these come from the machine, not from a bug in the program
# (errno names, not numbers: EDQUOT is missing on Windows)
_ADVICE: dict[int, str] = {getattr(errno, name): advice for name, advice in (
    ("EROFS", "choose a writable folder"),
    ("ENOSPC", "free some disk space or choose a folder on another disk"),
    ("EDQUOT", "free some space or choose a folder on another disk"),
    ("EFBIG", "the file outgrew what this file system (or a file-size limit) allows; "
              "choose a folder on another disk"),
    ("EACCES", "check its permissions, or choose another folder"),
    ("EPERM", "check its permissions, or choose another folder"),
    ("ENOENT", "check the path"),
    ("ENOTDIR", "a part of the path is a file, not a folder; check the path"),
    ("EISDIR", "give a file name, not a folder"),
    ("EEXIST", "choose another name"),
    ("ENAMETOOLONG", "choose a shorter path"),
    ("EMFILE", "close other programs or raise the limit (ulimit -n)"),
    ("EIO", "check the disk or the device"),
) if hasattr(errno, name)}
_WRITE_ERRNOS = frozenset(getattr(errno, n) for n in ("EROFS", "ENOSPC", "EDQUOT", "EFBIG")
                          if hasattr(errno, n))


def is_user_os_error(err: BaseException) -> bool:
    """True for an OSError a person can fix (it names a path, or its errno is the machine's
    state: full disk, read-only folder, no permission...); False for the rest."""
    return isinstance(err, OSError) and (
        bool(getattr(err, "filename", None)) or getattr(err, "errno", None) in _ADVICE)


def os_reason(err: BaseException) -> str:
    """The reason in an OS (or FFmpeg) error, one line, without the ``[Errno n]`` noise."""
    reason = getattr(err, "strerror", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def os_advice(err: BaseException) -> str | None:
    """What to do about an OS error, or None when its errno says nothing useful."""
    code = getattr(err, "errno", None)
    return _ADVICE.get(code) if isinstance(code, int) else None


def os_error_line(err: BaseException, path: str | os.PathLike[str] | None = None,
                  action: str | None = None) -> str:
    """``cannot write PATH: REASON; what to do``, one line; ``path`` defaults to the error's.

    Args:
        err: the error (an OSError, or anything whose ``str`` is one line).
        path: the file or folder the person gave, if the error does not name it (``write()``
            on a full disk raises ENOSPC without a file name).
        action: the verb for the message: ``write``, ``read``, ``create``...; by default
            ``write`` for errors only writing raises (read-only, full), else ``open``.
    """
    if action is None:
        action = "write" if getattr(err, "errno", None) in _WRITE_ERRNOS else "open"
    where = path if path is not None else getattr(err, "filename", None)
    reason = os_reason(err)
    advice = os_advice(err)
    head = f"cannot {action} {os.fspath(where)}" if where is not None else f"cannot {action}"
    text = f"{head}: {reason}" + (f"; {advice}" if advice else "")
    return " ".join(text.split())


def crash_dir() -> Path:
    """Where crash reports go: ``$XDG_STATE_HOME/latentsketch`` (``~/.local/state/...``)."""
    from latentsketch.userdirs import state_dir

    return state_dir()


def write_crash_log(err: BaseException, argv: Sequence[str] = ()) -> Path | None:
    """Write the full traceback of an unexpected error (a bug) to a new file and return its
    path: in ``crash_dir()``, else the temp folder if that cannot be written; None if neither
    can (the caller then has only its one line)."""
    when = datetime.now()
    text = "".join([
        f"latentsketch {_version()} crashed at {when.isoformat(timespec='seconds')}\n",
        f"command: latentsketch {' '.join(argv)}\n",
        f"python {sys.version.split()[0]} on {platform.platform()}\n\n",
        *traceback.format_exception(err),
    ])
    for folder in (crash_dir(), Path(tempfile.gettempdir()) / "latentsketch"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(1, 100):
                stem = f"crash-{when:%Y%m%d-%H%M%S}" + ("" if n == 1 else f"-{n}")
                path = folder / f"{stem}.log"
                try:
                    with open(path, "x", encoding="utf-8") as f:
                        f.write(text)
                    return path
                except FileExistsError:
                    continue
                except OSError:
                    path.unlink(missing_ok=True)  # half a report is worse than the next folder
                    raise
        except OSError:
            continue
    return None


def _version() -> str:
    try:
        return metadata.version("latentsketch")
    except metadata.PackageNotFoundError:
        return "(not installed)"
