"""An installation's programme at run time: the playlist clock, opening hours, scene changes.

``tick`` is called once a frame with the show seconds that passed and the local time; it
returns the commands that frame needs (a preset switch, blackout or pause at closing time and
their end at opening time). No window, no pygame: the scheduling itself is ``schedule``'s pure
functions, and the switch is one function handed in (``Switch``), so the playlist does not
care how a scene change is made (the kiosk's is ``App.switch_preset`` with the scene's fade).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from latentsketch import commands as C
from latentsketch.errors import UserError
from latentsketch.playlist import Entry, Playlist
from latentsketch.schedule import Slot, is_open, slot_at

log = logging.getLogger("latentsketch.kiosk")

Switch = Callable[[Entry], list[C.Command]]   # raises UserError/ValueError: it cannot play


class Programme:
    """Plays ``playlist`` from playlist time ``clock``.

    Args:
        playlist: what plays.
        switch: changes the scene to an entry and returns the commands that still need to go
            to the loop; raises UserError or ValueError (one line) for a scene that cannot
            play now (a preset missing, broken, of another model), changing nothing: such a
            scene is skipped for the next one.
        clock: playlist seconds already played (a resumed show).
        showing: the scene turn already on screen (``Slot.position``), None for none: the
            first ``tick`` then switches.
    """

    def __init__(self, playlist: Playlist, switch: Switch, clock: float = 0.0,
                 showing: int | None = None) -> None:
        self.playlist = playlist
        self.switch = switch
        self.clock = max(0.0, clock)
        self.position = showing
        self.preset: str | None = None    # the preset this programme last switched to
        self.entry: int | None = None     # the playlist entry on screen (index)
        self.switches = 0
        self.skipped = 0
        self.open: bool | None = None
        self._slot: Slot | None = None

    def slot(self) -> Slot:
        """The scene turn at the current clock (worked out again only when the clock leaves
        the last one: a shuffled order costs a seeded shuffle)."""
        s = self._slot
        if s is None or not s.start <= self.clock < s.end:
            p = self.playlist
            s = self._slot = slot_at(p.durations, self.clock, shuffle=p.shuffle, seed=p.seed)
        return s

    def tick(self, seconds: float, when: dt.datetime) -> list[C.Command]:
        """Advance the clock by ``seconds`` of show (only while open) at local time ``when``;
        the commands for this frame."""
        cmds: list[C.Command] = []
        now_open = is_open(self.playlist.hours, when)
        if now_open != self.open:
            cmds += self._opening(now_open)
        if not now_open:
            return cmds
        if seconds > 0:
            self.clock += seconds
        slot = self.slot()
        if slot.position != self.position:
            self.position = slot.position
            cmds += self._start(slot)
        return cmds

    def _opening(self, now_open: bool) -> list[C.Command]:
        first = self.open is None
        self.open = now_open
        hours = self.playlist.hours
        if hours is None or (first and now_open):
            return []
        outside = hours.outside
        log.info("%s: %s", "open" if now_open else "closed",
                 "the programme goes on" if now_open else
                 "blackout until opening" if outside == "blackout" else "the picture holds still")
        if outside == "blackout":
            return [C.SetParam("look.blackout", 0.0 if now_open else 1.0)]
        return [C.SetPause(not now_open)]

    def _start(self, slot: Slot) -> list[C.Command]:
        """The switch to ``slot``'s scene, or to the next one that can play. A scene already
        on screen (one that filled in for a skipped scene, or the only one that can play)
        plays on: it never fades into itself."""
        entries = self.playlist.entries
        for k in range(len(entries)):
            i = (slot.entry + k) % len(entries)
            entry = entries[i]
            if i == self.entry:
                log.info("scene %d: %s plays on for %g s", i + 1, entry.preset, entry.duration)
                return []
            try:
                cmds = self.switch(entry)
            except (UserError, ValueError) as e:
                self.skipped += 1
                log.warning("playlist scene %d (%s) skipped: %s", i + 1, entry.preset,
                            " ".join(str(e).split()))
                continue
            self.switches += 1
            self.preset, self.entry = entry.preset, i
            log.info("scene %d: %s for %g s (fade %g s)", i + 1, entry.preset,
                     entry.duration, entry.fade)
            return cmds
        log.warning("no scene of playlist %s can play now; the picture stays",
                    self.playlist.source)
        return []
