"""systemd's service notifications (``sd_notify``): READY once, WATCHDOG pings, STOPPING.

The render loop calls ``ping`` every frame (it sends at most twice per watchdog period), so a
loop that hangs stops pinging and systemd restarts the service (``WatchdogSec`` in the unit,
``contrib/latentsketch.service``). Without systemd (``NOTIFY_SOCKET`` unset: a desktop, macOS,
Windows, the tests) every call does nothing. Sending goes through the ``sdnotify`` package (pure
Python, no dependencies), which never raises: a notification that cannot be sent is lost, as
with systemd's own ``sd_notify``.
"""

from __future__ import annotations

import os
import time

import sdnotify

DEFAULT_PING = 5.0   # seconds between pings when systemd gives no WATCHDOG_USEC


def watchdog_period(environ: dict[str, str] | os._Environ[str] = os.environ) -> float:
    """Seconds between pings: half of systemd's ``WATCHDOG_USEC`` (as ``sd_watchdog_enabled``
    advises), else ``DEFAULT_PING``."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return DEFAULT_PING
    return usec / 2e6 if usec > 0 else DEFAULT_PING


class Notifier:
    """sd_notify for one process: ``ready()``, ``ping()`` each frame, ``stopping()``."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._sd = sdnotify.SystemdNotifier() if self.enabled else None
        self.period = watchdog_period()
        self._next = 0.0
        self.pings = 0

    def ready(self, status: str = "") -> None:
        """Tell systemd the show is on screen (``Type=notify`` waits for this)."""
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def ping(self, now: float | None = None) -> bool:
        """A watchdog ping if one is due; True when one was sent."""
        now = time.monotonic() if now is None else now
        if self._sd is None or now < self._next:
            return False
        self._next = now + self.period
        self._send("WATCHDOG=1")
        self.pings += 1
        return True

    def status(self, text: str) -> None:
        """A one-line status that ``systemctl --user status`` shows."""
        self._send(f"STATUS={text}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def _send(self, message: str) -> None:
        if self._sd is not None:
            self._sd.notify(message)

    def close(self) -> None:
        """Close the socket; safe to call twice."""
        sd, self._sd = self._sd, None
        if sd is not None and sd.socket is not None:
            sd.socket.close()
