"""What keeps an unattended show on screen: the locked window and the decoder's safety net.

``ScreenGuard`` owns the window's events in installation mode: every key and mouse event is
swallowed except the exit combination; a display that changed (``WINDOWDISPLAYCHANGED``: a
monitor unplugged, plugged back, or a mode change) or a renderer that was reset
(``RENDER_DEVICE_RESET``, ``RENDER_TARGETS_RESET``) sets the window's mode again, and a mode
that cannot be set (or a fullscreen that fell back to a window) is tried again every few
seconds. ``GuardedDecoder`` keeps the last good frame when a decode fails and retries on the
next frame.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pygame

from latentsketch.output.display import Display

log = logging.getLogger("latentsketch.kiosk")

EXIT_KEYS = "Ctrl+Alt+Shift+Q"
_EXIT_MODS = (pygame.KMOD_CTRL, pygame.KMOD_ALT, pygame.KMOD_SHIFT)
DISPLAY_EVENTS = frozenset((pygame.WINDOWDISPLAYCHANGED, pygame.RENDER_DEVICE_RESET,
                            pygame.RENDER_TARGETS_RESET))
WINDOW_EVENTS = frozenset((pygame.VIDEORESIZE, pygame.WINDOWRESIZED, pygame.WINDOWSIZECHANGED))


def is_exit(ev: pygame.event.Event) -> bool:
    """Whether ``ev`` is the exit combination's key press (Ctrl+Alt+Shift+Q)."""
    mod = getattr(ev, "mod", 0)
    return (ev.type == pygame.KEYDOWN and getattr(ev, "key", None) == pygame.K_q
            and all(mod & m for m in _EXIT_MODS))


class Every:
    """True at most once per ``seconds`` (bounded logging)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._next = float("-inf")

    def __call__(self, now: float) -> bool:
        if now < self._next:
            return False
        self._next = now + self.seconds
        return True


def settle() -> None:
    """The audience's window: no cursor, and no screensaver or display sleep while it runs."""
    pygame.mouse.set_visible(False)
    pygame.display.set_allow_screensaver(False)


class ScreenGuard:
    """The window of an installation; ``events`` once a frame, before the loop's inputs.

    Args:
        display: the session's window.
        fullscreen: what the window should be (the installation's setting).
        retry: seconds between attempts to set a mode that failed.
    """

    def __init__(self, display: Display, *, fullscreen: bool = True, retry: float = 5.0) -> None:
        self.display = display
        self.fullscreen = fullscreen
        self.retry = retry
        self.resets = 0        # display changes and renderer resets seen
        self.failures = 0      # attempts to set a mode that failed
        self._due: float | None = None
        self._say = Every(60.0)
        settle()

    def events(self, now: float | None = None) -> tuple[list[pygame.event.Event], bool]:
        """Take the window's events: (the window events the loop still needs, whether the
        exit combination was pressed). Resets the mode when the display changed."""
        now = time.monotonic() if now is None else now
        keep: list[pygame.event.Event] = []
        leave = False
        for ev in pygame.event.get():
            if ev.type in DISPLAY_EVENTS:
                self.resets += 1
                log.info("display: %s; setting the mode again", pygame.event.event_name(ev.type))
                self._due = now
            elif ev.type in WINDOW_EVENTS:
                keep.append(ev)
            elif is_exit(ev):
                leave = True
        if self._due is None and self.display.fullscreen != self.fullscreen:
            self._due = now + self.retry   # fullscreen fell back to a window: try again later
        if self._due is not None and now >= self._due:
            self._reset(now)
        return keep, leave

    def _reset(self, now: float) -> None:
        try:
            if self.display.fullscreen != self.fullscreen:
                self.display.set_fullscreen(self.fullscreen)
            else:
                self.display.reopen()
        except pygame.error as e:
            self.failures += 1
            self._due = now + self.retry
            if self._say(now):
                log.warning("display: no mode can be set (%s; %d failures); trying again "
                            "every %g s", e, self.failures, self.retry)
            return
        for w in self.display.take_warnings():
            log.warning("display: %s", w)
        self._due = None if self.display.fullscreen == self.fullscreen else now + self.retry
        settle()
        log.info("display: %dx%d%s", *self.display.size,
                 " fullscreen" if self.display.fullscreen else "")


class GuardedDecoder:
    """A decoder whose failures keep the last good frame: logged (at most once a minute,
    with the count), retried on the next frame. The first decode has nothing to keep and
    raises. Everything else is the wrapped decoder's (``adopt``, ``engine``...)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failures = 0
        self.last: np.ndarray | None = None
        self._say = Every(60.0)

    def decode(self, z: np.ndarray) -> np.ndarray:
        try:
            frame = self.inner.decode(z)
        except Exception as e:   # noqa: BLE001 - any decode failure: the show keeps its frame
            if self.last is None:
                raise
            self.failures += 1
            if self._say(time.monotonic()):
                log.warning("decode failed (%s: %s; %d so far): keeping the last frame, "
                            "retrying", type(e).__name__, e, self.failures)
            return self.last
        self.last = frame
        return frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
