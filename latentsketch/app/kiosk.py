"""Installation mode: ``latentsketch play --kiosk`` or a preset's ``[kiosk]`` table.

The live session (``App``) with what weeks unattended need around it: fullscreen, no cursor,
no HUD and no messages on screen, keys and mouse locked except the exit combination
(``guard.EXIT_KEYS``); a playlist (``programme``) whose place is saved a few times a minute
and resumed after a restart (``resume``); a rotating log file (``showlog``); an OSC heartbeat
with ``--osc-out``; systemd's READY and WATCHDOG notifications (``notify``) sent from this
loop, so a hung loop is restarted. Nothing stops the show: a model that will not load falls
back to the bundled one, a preset that will not load to ``default``, a scene that cannot play
is skipped, a decode that fails keeps the last frame, a display that goes away is set up
again when it returns, a full disk loses log lines and state saves, not the picture.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pygame

from latentsketch import commands as C
from latentsketch import preset as presets
from latentsketch import resume
from latentsketch.app.guard import EXIT_KEYS, Every, GuardedDecoder, ScreenGuard
from latentsketch.app.loop import App
from latentsketch.app.options import AppOptions
from latentsketch.app.programme import Programme
from latentsketch.errors import UserError
from latentsketch.model.checkpoint import CheckpointError
from latentsketch.notify import Notifier
from latentsketch.params import OSC_PREFIX
from latentsketch.playlist import Entry, Playlist, PlaylistError
from latentsketch.playlist import load as load_playlist
from latentsketch.showlog import ShowLogHandler, close_log, open_log
from latentsketch.stopping import StopSignals
from latentsketch.userdirs import state_dir

log = logging.getLogger("latentsketch.kiosk")

HEARTBEAT = f"{OSC_PREFIX}/heartbeat"


@dataclass(frozen=True)
class KioskOptions:
    """What installation mode adds to a session's ``AppOptions``.

    ``playlist``: a playlist file (``playlist`` module) or None (the preset alone);
    ``folder``: resume state and log file (default ``userdirs.state_dir()``);
    ``save_every``, ``heartbeat``, ``retry``: seconds between state saves, OSC heartbeats and
    attempts to set a display mode that failed; ``fullscreen``: False keeps the window
    (tests, the soak); ``log_file``: write the rotating log; ``now``: local time, for opening
    hours (tests set it).
    """

    playlist: str | None = None
    folder: str | None = None
    save_every: float = 15.0
    heartbeat: float = 1.0
    retry: float = 5.0
    fullscreen: bool = True
    log_file: bool = True
    now: Callable[[], dt.datetime] = field(default=dt.datetime.now)


def wants_kiosk(preset: str | None) -> presets.Preset | None:
    """The preset named by ``--preset`` if its ``[kiosk]`` table asks for installation mode;
    None otherwise, or when it cannot be read (the session then says why)."""
    try:
        p = presets.load_option(preset or "default")
    except (UserError, OSError):
        return None
    return p if p.kiosk is not None and p.kiosk.enabled else None


def kiosk_playlist(p: presets.Preset) -> str | None:
    """A ``[kiosk]`` preset's playlist path, relative to the preset's own folder."""
    if p.kiosk is None or p.kiosk.playlist is None:
        return None
    path = Path(p.kiosk.playlist).expanduser()
    if not path.is_absolute() and Path(p.source).is_file():
        path = Path(p.source).parent / path
    return str(path)


def open_app(opts: AppOptions) -> tuple[App, bool]:
    """``App(opts)``, falling back to the bundled model when ``--model`` will not load and to
    preset ``default`` when the preset (or the model its ``[scene]`` names) will not: (the
    app, whether it fell back). Raises what ``App`` raises when even that fails."""
    fell_back = False
    for _ in range(3):
        try:
            return App(opts), fell_back
        except CheckpointError as e:
            if opts.model is not None:
                log.warning("%s; playing the bundled model", e)
                opts = replace(opts, model=None)
            elif opts.preset != "default":   # the model the preset's [scene] names
                log.warning("%s; starting from preset 'default'", e)
                opts = replace(opts, preset="default")
            else:
                raise
        except presets.PresetError as e:
            if opts.preset == "default":
                raise
            log.warning("%s; starting from preset 'default'", e)
            opts = replace(opts, preset="default")
        fell_back = True
    return App(opts), fell_back


class Kiosk:
    """One installation session: ``run()`` until the exit combination or a stop signal,
    then ``close()``."""

    def __init__(self, opts: AppOptions, kopts: KioskOptions = KioskOptions()) -> None:
        self.kopts = kopts
        self.folder = Path(kopts.folder) if kopts.folder else state_dir()
        root = logging.getLogger("latentsketch")
        self.log_handler: ShowLogHandler | None = (open_log(self.folder, root)
                                                    if kopts.log_file else None)
        log.info("installation mode: exit with %s", EXIT_KEYS)
        self.state_file = self.folder / resume.FILE_NAME
        self.playlist = self._playlist()
        clock, position = 0.0, None
        first = opts.preset
        if self.playlist is not None:
            saved = resume.read(self.state_file, self.playlist.source)
            if saved is not None:
                clock = saved.clock
                log.info("resuming playlist %s at %.0f s", self.playlist.source, clock)
            p = self.playlist
            pos = Programme(p, self._switch, clock).slot()
            first, position = p.entries[pos.entry].preset, pos.position
        hud = opts.hud and opts.operator_window   # never on the audience's screen
        try:
            self.app, fell_back = open_app(replace(opts, preset=first, hud=hud,
                                                   fullscreen=kopts.fullscreen))
        except BaseException:
            close_log(self.log_handler, root)
            raise
        app = self.app
        app.say = self._say
        if app.operator is None:   # the HUD is the operator's, on a window of its own
            app.hud.visible = False
            app.hud.muted = True
        self.guard = GuardedDecoder(app.decoder)
        app.decoder = self.guard
        self.screen = ScreenGuard(app.display, fullscreen=kopts.fullscreen, retry=kopts.retry)
        self.programme: Programme | None = None
        if self.playlist is not None:
            self.programme = Programme(self.playlist, self._switch, clock,
                                       None if fell_back else position)
            self.programme.preset = None if fell_back else first
        self.notifier = Notifier()
        self.errors = 0
        self._ready = False
        self._t = app.t
        self._start = time.monotonic()
        self._save_due = Every(kopts.save_every)
        self._beat_due = Every(kopts.heartbeat)
        self._save_said = Every(300.0)
        self._error_said = Every(5.0)
        self._save_due(time.monotonic())   # the first save after save_every seconds

    def _playlist(self) -> Playlist | None:
        path = self.kopts.playlist
        if path is None:
            return None
        try:
            playlist, problems = load_playlist(Path(path).expanduser().resolve())
        except PlaylistError as e:
            log.warning("%s; playing the preset alone", e)
            return None
        for line in problems:
            log.warning("%s", line)
        return playlist

    def _switch(self, entry: Entry) -> list[C.Command]:
        """The one place a playlist changes the scene: preset ``entry.preset`` over
        ``entry.fade`` seconds; raises PresetError or ValueError (changing nothing) when it
        cannot play."""
        self.app.switch_preset(entry.preset, fade=entry.fade)
        return []

    def _say(self, text: str, *, error: bool = False) -> None:
        """The session's messages: to the log only, never on the audience's screen."""
        (log.warning if error else log.info)(text)

    # --- the loop ------------------------------------------------------------------------------

    def run(self, max_frames: int | None = None, dt: float | None = None,
            script: Callable[[int, App], Sequence[pygame.event.Event | C.Command]] | None = None
            ) -> int:
        """Play until the exit combination, ``app.request_stop`` or Ctrl-C (or ``max_frames``
        frames in all); ``dt`` and ``script`` as ``App.run`` (tests, the soak)."""
        def frame(i: int, app: App) -> list[pygame.event.Event | C.Command]:
            out = self._frame()
            return [*out, *(script(i, app) if script else ())]

        return self.app.run(max_frames, dt, frame)

    def _frame(self) -> list[pygame.event.Event | C.Command]:
        """Before each frame: the window's events, the programme, the pings and saves."""
        app = self.app
        now = time.monotonic()
        try:
            events, leave = self.screen.events(now)
            if leave:
                app.request_stop(f"{EXIT_KEYS} pressed")
            if not self._ready and app.frames >= 1:   # the first frame is on screen
                self._ready = True
                self.notifier.ready(f"playing {app.preset.name}")
                log.info("on screen: %s", app.preset.name)
            self.notifier.ping(now)
            self._guard_decoder()
            cmds: list[C.Command] = []
            if self.programme is not None:
                cmds = self.programme.tick(app.t - self._t, self.kopts.now())
            self._t = app.t
            if self._beat_due(now) and app.osc_out is not None:
                app.osc_out.send(HEARTBEAT, app.frames, round(now - self._start, 3),
                                 app.preset.name)
            if self._save_due(now):
                self.save()
            return [*events, *cmds]
        except Exception as e:  # noqa: BLE001 - a bug here must not end the show either
            self.errors += 1
            if self._error_said(now):
                log.error("installation mode: %s (%d so far); playing on", e, self.errors,
                          exc_info=e)
            return []

    def _guard_decoder(self) -> None:
        """Wrap a decoder a model switch brought in (``App._poll_model``), keeping the count
        and the last good frame (the crossfade starts from it)."""
        if self.app.decoder is not self.guard:
            old, self.guard = self.guard, GuardedDecoder(self.app.decoder)
            self.guard.failures, self.guard.last = old.failures, old.last
            self.app.decoder = self.guard

    @property
    def decode_failures(self) -> int:
        """Decodes that failed (and kept the last frame) this session."""
        return self.guard.failures

    def save(self) -> bool:
        """Write the playlist's place now (``resume``); False when it could not be written
        (logged at most every 5 minutes: a full disk must not flood the log)."""
        prog = self.programme
        if prog is None or self.playlist is None:
            return False
        state = resume.ResumeState(self.playlist.source, prog.clock, prog.position or 0,
                                   self.app.preset.name, time.time())
        try:
            resume.write(self.state_file, state)
        except OSError as e:
            if self._save_said(time.monotonic()):
                log.warning("playlist state not saved to %s: %s", self.state_file,
                            e.strerror or e)
            return False
        return True

    def close(self) -> None:
        """Save the playlist's place, tell systemd, close the session and the log file."""
        self.notifier.stopping()
        self.save()
        self.notifier.close()
        self.app.close()
        close_log(self.log_handler, logging.getLogger("latentsketch"))
        self.log_handler = None


def play_kiosk(opts: AppOptions, kopts: KioskOptions = KioskOptions()) -> int:
    """Open installation mode and play until stopped; ``latentsketch play --kiosk``."""
    try:
        kiosk = Kiosk(opts, kopts)
    except pygame.error as e:
        raise UserError(f"cannot open a window: {e} (no display? try SDL_VIDEODRIVER=x11 or "
                        f"xvfb-run)") from None
    with StopSignals(on_stop=kiosk.app.request_stop) as stop:
        try:
            return kiosk.run()
        finally:
            what, how = kiosk.app.outputs.saving()
            with stop.saving(what, how):
                kiosk.close()
