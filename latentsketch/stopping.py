"""One clean stop for every way a process is asked to stop: Ctrl-C, ``kill``, a closed terminal.

Ctrl-C sends SIGINT, ``kill`` and systemd send SIGTERM, closing the terminal sends SIGHUP. All
three mean the same: stop soon and keep the work. ``StopSignals`` turns each into one stop
request, in one of two ways:

- a loop that polls (``play``) passes ``on_stop``: the first signal calls it and the loop ends
  at the next frame, then the program saves what it holds;
- a batch command (``render``, ``info``; ``cli.main`` wraps every command this way) passes
  nothing: the first signal raises ``Interrupted`` (a ``KeyboardInterrupt``) in the main thread,
  so the ``except``/``finally`` blocks that already clean up after Ctrl-C run for all three.

Either way a second signal never destroys the work being saved: inside ``saving(...)`` a
signal only prints what is being saved and how to get out (so a performer who presses Ctrl-C
again while a recording finalises still gets a finished file; a stop that arrives during a
save takes effect when the save ends), and after the first request further signals only say
that the stop is under way, so cleanup code is never interrupted half-way. Typical use::

    with StopSignals(on_stop=app.request_stop) as stop:
        try:
            app.run()
        finally:
            with stop.saving("finalising recording x.mp4", "kill -KILL leaves x.mp4 ..."):
                app.close()

A training loop can do the same: ``on_stop`` ends the epoch loop, ``saving("saving
checkpoint")`` guards the write. Nested ``StopSignals`` restore the outer handlers on exit.
Handlers can only be installed from the main thread; elsewhere (tests running an app in a
thread) the context manager does nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

OnStop = Callable[[str], None]   # on_stop(signal name, e.g. "SIGTERM")


class Interrupted(KeyboardInterrupt):
    """A stop signal in a command that unwinds to stop; ``signum`` is the signal's number.

    A ``KeyboardInterrupt``, so every ``except KeyboardInterrupt`` and ``except BaseException``
    cleanup written for Ctrl-C also runs for SIGTERM and SIGHUP.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """What a shell reports for a process ended by this signal: 128 + its number."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _stderr_line(text: str) -> None:
    """Write one line to stderr without locks (safe inside a signal handler); a closed
    terminal (the SIGHUP case) swallows it."""
    try:
        os.write(sys.stderr.fileno(), f"latentsketch: {text}\n".encode(errors="replace"))
    except (OSError, ValueError, AttributeError):
        pass


class StopSignals:
    """Handle SIGINT, SIGTERM and SIGHUP as one stop request while the ``with`` block runs.

    Args:
        on_stop: called (in the main thread, from the signal handler: keep it to setting a
            flag) with the signal's name on the first signal; None raises ``Interrupted``.
        signals: which signals mean "stop" (default SIGINT, SIGTERM, SIGHUP).
        say: where the handler's one-line messages go (default stderr, lock-free).
    """

    def __init__(self, on_stop: OnStop | None = None, *,
                 signals: Sequence[signal.Signals] = STOP_SIGNALS,
                 say: Callable[[str], None] = _stderr_line) -> None:
        self.on_stop = on_stop
        self.signals = tuple(signals)
        self.say = say
        self.received: list[str] = []     # names of the signals received, in order
        self._saving: tuple[str, str | None] | None = None
        self._told = False   # the "how to leave" hint is said once
        self._acted = False  # on_stop was called (or Interrupted raised): the stop is under way
        self._deferred: int | None = None   # a stop signal that arrived during ``saving``
        self._old: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """True once any stop signal arrived."""
        return bool(self.received)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, old in self._old.items():
            signal.signal(s, old if old is not None else signal.SIG_DFL)
        self._old.clear()

    @contextmanager
    def saving(self, what: str, how_to_leave: str | None = None) -> Iterator[None]:
        """Guard work that must finish (finalising a file, saving a checkpoint): signals
        during the block print ``still <what>, please wait`` (and once ``how_to_leave``: what
        an impatient user can do and what they keep) and never interrupt it. A stop signal
        that arrived during the block takes effect when it ends normally (``on_stop`` is
        called, or ``Interrupted`` raised), so a save never swallows a stop request."""
        before, self._saving = self._saving, (what, how_to_leave)
        try:
            yield
        finally:
            self._saving = before
        if before is None and self._deferred is not None:
            signum, self._deferred = self._deferred, None
            self._stop(signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal_name(signum)
        self.received.append(name)
        if self._saving is not None:
            what, how = self._saving
            told, self._told = self._told, True
            self.say(f"{name}: still {what}, please wait" + (
                f" ({how})" if how and not told else ""))
            if not self._acted and self._deferred is None:
                self._deferred = signum
            return
        if self._acted:
            self.say(f"{name}: already stopping, please wait")
            return
        self._stop(signum)

    def _stop(self, signum: int) -> None:
        self._acted = True
        if self.on_stop is None:
            raise Interrupted(signum)
        self.on_stop(signal_name(signum))
