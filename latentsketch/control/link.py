"""Ableton Link: follow a Link session's tempo and beat (``--link``; extra ``latentsketch[link]``).

Through ``aalink`` (Python bindings of Ableton's Link library). aalink's ``Link`` wants an
asyncio event loop, so the session lives on a small thread of its own that runs one; the loop
reads the session's beat and tempo once a frame (Link answers that from any thread). While the
session has no other peer, the show keeps its own tempo (taps, OSC, MIDI clock); with peers, the
session's tempo and beat win, as they do for every Link app, and a tap proposes its tempo to
the whole session. What it says reaches the engine as
logged commands (``control/tempo.py``), so a replay needs no Link.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from latentsketch.errors import UserError

START_TIMEOUT = 5.0


class LinkUnavailable(UserError):
    """Link cannot run here (aalink missing or failing); one line for the user."""


class LinkSession:
    """A Link session at ``bpm`` (until a peer says otherwise); ``close`` leaves it."""

    def __init__(self, bpm: float = 120.0) -> None:
        try:
            import aalink
        except ImportError:
            raise LinkUnavailable('Ableton Link needs aalink: pip install "latentsketch[link]"'
                                  ) from None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="latentsketch-link")
        self._thread.start()

        async def make() -> Any:
            link = aalink.Link(bpm)
            link.enabled = True
            return link

        try:
            self._link = asyncio.run_coroutine_threadsafe(make(), self._loop).result(
                START_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - whatever the library raises is one line
            self.close()
            raise LinkUnavailable(f"Ableton Link did not start: {e}") from None

    @property
    def peers(self) -> int:
        return int(self._link.num_peers)

    def now(self) -> tuple[float, float] | None:
        """(beat, bpm) of the session now while it has peers; None alone."""
        link = getattr(self, "_link", None)
        if link is None or link.num_peers < 1:
            return None
        return float(link.beat), float(link.tempo)

    def set_tempo(self, bpm: float) -> None:
        """Propose ``bpm`` to the session (a tap): every peer follows, as Link apps do."""
        link = getattr(self, "_link", None)
        if link is not None:
            link.tempo = float(bpm)

    def close(self) -> None:
        """Leave the session and stop its thread; safe to call twice."""
        link = getattr(self, "_link", None)
        if link is not None:
            link.enabled = False
            self._link = None
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2.0)
