"""An installation's log file: rotating, and never a reason for the show to stop.

``logging.handlers.RotatingFileHandler`` (1 MB x 5 files by default: weeks of an unattended
show in a few MB) in the user's state folder. A write that fails (a full disk, a removed
folder, a read-only file system) is counted, not printed: the standard handler would print a
traceback to stderr for every record, which on a full disk is a flood. The file is reopened
on the next record after a pause, so logging comes back by itself once there is room.
"""

from __future__ import annotations

import logging
import logging.handlers
import time
from pathlib import Path

FILE_NAME = "latentsketch.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
RETRY_SECONDS = 30.0


class ShowLogHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler that drops records it cannot write (``dropped`` counts them)
    and tries the file again ``retry`` seconds after a failure."""

    def __init__(self, path: str | Path, *, max_bytes: int = 1 << 20, backups: int = 5,
                 retry: float = RETRY_SECONDS) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8",
                         delay=True)
        self.setFormatter(logging.Formatter(FORMAT))
        self.dropped = 0
        self.restore_level = logging.NOTSET   # the logger's level before ``open_log``
        self.retry = retry
        self._resume_at = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        if time.monotonic() < self._resume_at:
            self.dropped += 1
            return
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        """A failed write: count it, close the stream (reopened after ``retry`` s), say
        nothing (there may be nowhere to say it)."""
        self.dropped += 1
        self._resume_at = time.monotonic() + self.retry
        stream, self.stream = self.stream, None   # type: ignore[assignment]
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def open_log(folder: Path, logger: logging.Logger, level: int = logging.INFO
             ) -> ShowLogHandler | None:
    """Attach a ``ShowLogHandler`` writing ``folder/latentsketch.log`` to ``logger``, for
    records of ``level`` and above (the logger is opened to ``level`` until ``close_log``);
    None (and one warning on ``logger``) when the folder cannot be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        logger.warning("no log file in %s (%s); logging to the terminal only", folder,
                       e.strerror or e)
        return None
    handler = ShowLogHandler(folder / FILE_NAME)
    handler.setLevel(level)
    handler.restore_level = logger.level
    if logger.getEffectiveLevel() > level:   # the file hears what an operator needs
        logger.setLevel(level)
    logger.addHandler(handler)
    return handler


def close_log(handler: ShowLogHandler | None, logger: logging.Logger) -> None:
    """Detach and close ``handler`` (None: nothing to do)."""
    if handler is not None:
        logger.removeHandler(handler)
        logger.setLevel(handler.restore_level)
        handler.close()
