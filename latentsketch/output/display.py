"""The pygame-ce window: scaling the small decoded frame to the screen, the look, pacing.

Per frame the native frame (e.g. 64x64) goes through ``Look.pre``, into a reused native-size
surface in the display's pixel format, then ``transform.smoothscale`` into a reused
picture-size surface (FACTS.md: ~0.4 ms to 1024x1024, against ~2 ms for a fresh surface
each frame), then ``Look.post`` in place on that surface's bytes when posterise is on, then a
blit to the window. That picture surface is the clean picture: the HUD draws on the window
afterwards, and ``picture()`` reads the recording from the picture surface, never the window.

Fill crops the native frame before scaling (a 16:9 projector gets a centred 64x36 band scaled
to the full screen) rather than scaling a larger picture and cropping, which would cost more.
Pacing sleeps until the next frame's deadline (``FramePacer``): no busy-wait, and unlike
``Clock.tick``'s whole milliseconds it holds exactly the target rate on average.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping

import numpy as np
import pygame

from latentsketch.output.geometry import FIT_MODES, Rect, fit_geometry  # noqa: F401 (API)
from latentsketch.output.look import Look, LookParams


class FramePacer:
    """Sleep until each frame's deadline; ``fps`` <= 0 runs unthrottled.

    Deadlines advance by exactly one period, so the average rate is the target; after a long
    stall the schedule restarts instead of racing to catch up.
    """

    def __init__(self, fps: float = 60.0) -> None:
        self.fps = fps
        now = time.perf_counter()
        self._last = now
        self._next = now

    @property
    def fps(self) -> float:
        return self._fps

    @fps.setter
    def fps(self, value: float) -> None:
        self._fps = value if math.isfinite(value) and value > 0 else 0.0
        self._period = 1.0 / self._fps if self._fps else 0.0

    def wait(self) -> float:
        """Block until the next frame is due; returns the seconds since the previous call."""
        now = time.perf_counter()
        if self._period:
            self._next += self._period
            delay = self._next - now
            if delay > 0:
                time.sleep(delay)
                now = time.perf_counter()
            elif delay < -self._period:
                self._next = now
        dt = now - self._last
        self._last = now
        return dt


def _channel_offsets(surface: pygame.Surface) -> tuple[int, int, int]:
    """Byte offsets of R, G, B inside one pixel of a 32-bit surface."""
    offs = []
    for shift in surface.get_shifts()[:3]:
        byte = shift // 8
        offs.append(byte if sys.byteorder == "little" else 3 - byte)
    return offs[0], offs[1], offs[2]


class Display:
    """The live window: owns the screen, the scaling surfaces and the look.

    Args:
        size: windowed size; None picks a square about 80 % of the desktop's height.
        fullscreen: start fullscreen (desktop resolution, no mode change on projectors).
        display: monitor index (a missing one falls back to 0 with a warning).
        borderless: windowed mode without a frame (for a projector placed by hand).
        fit: "fit", "fill" or "stretch".
        fps: target frame rate for ``wait``; 0 runs unthrottled.
    """

    def __init__(self, size: tuple[int, int] | None = None, *, fullscreen: bool = False,
                 display: int = 0, borderless: bool = False, fit: str = "fit",
                 fps: float = 60.0, title: str = "latentsketch") -> None:
        if fit not in FIT_MODES:
            raise ValueError(f"fit mode {fit!r} is not one of {', '.join(FIT_MODES)}")
        self.warnings: list[str] = []
        pygame.display.init()
        n = pygame.display.get_num_displays()
        if not 0 <= display < n:
            self.warnings.append(f"display {display} does not exist ({n} found); using display 0")
            display = 0
        self.display_index = display
        self.borderless = borderless
        self.fit = fit
        self.look = Look()
        self.pacer = FramePacer(fps)
        if size is None:
            desk = pygame.display.get_desktop_sizes()[display]
            side = min(1024, max(256, int(desk[1] * 0.8)))
            size = (side, side)
        self._windowed_size = (max(1, int(size[0])), max(1, int(size[1])))
        self._fullscreen = fullscreen
        pygame.display.set_caption(title)
        self._native: pygame.Surface | None = None
        self._picture: pygame.Surface | None = None
        self._record: pygame.Surface | None = None
        self._src_size = (0, 0)
        self._pre: np.ndarray | None = None   # the last frame after ``Look.pre``
        self._rect: Rect = (0, 0, 0, 0)
        self._black = True
        self._set_mode()

    # --- window ----------------------------------------------------------------------------

    @property
    def screen(self) -> pygame.Surface:
        """The window surface (draw overlays here after ``show``)."""
        return pygame.display.get_surface()

    @property
    def size(self) -> tuple[int, int]:
        return self.screen.get_size()

    @property
    def fullscreen(self) -> bool:
        return self._fullscreen

    @property
    def picture_rect(self) -> pygame.Rect:
        """The on-screen rectangle holding the picture (always inside the window)."""
        return pygame.Rect(self._rect)

    @property
    def picture_size(self) -> tuple[int, int]:
        """The clean picture's size in pixels; the default recording size (before rounding)."""
        return self._rect[2], self._rect[3]

    def _set_mode(self) -> None:
        try:
            if self._fullscreen:
                pygame.display.set_mode((0, 0), pygame.FULLSCREEN, display=self.display_index)
            else:
                flags = pygame.NOFRAME if self.borderless else pygame.RESIZABLE
                pygame.display.set_mode(self._windowed_size, flags, display=self.display_index)
        except pygame.error as e:
            if not self._fullscreen:
                raise
            self.warnings.append(f"fullscreen failed ({e}); staying windowed")
            self._fullscreen = False
            self._set_mode()
            return
        self._native = None    # the pixel format may have changed with the mode
        self._picture = None
        self._record = None

    def set_fullscreen(self, on: bool) -> None:
        if on != self._fullscreen:
            self._fullscreen = on
            self._set_mode()

    def toggle_fullscreen(self) -> None:
        self.set_fullscreen(not self._fullscreen)

    def resize(self, size: tuple[int, int]) -> None:
        """Set the windowed size (and apply it now when windowed)."""
        self._windowed_size = (max(1, int(size[0])), max(1, int(size[1])))
        if not self._fullscreen:
            self._set_mode()

    def cycle_fit(self) -> str:
        self.fit = FIT_MODES[(FIT_MODES.index(self.fit) + 1) % len(FIT_MODES)]
        return self.fit

    def handle_event(self, event: pygame.event.Event) -> bool:
        """Window bookkeeping for resize events; returns True when the event was one.

        pygame 2 resizes the window surface itself, so nothing is re-created here: the next
        ``show`` follows the surface's actual size, whichever events did or did not arrive.
        """
        if event.type in (pygame.VIDEORESIZE, pygame.WINDOWRESIZED, pygame.WINDOWSIZECHANGED):
            if not self._fullscreen:
                w, h = getattr(event, "w", 0), getattr(event, "h", 0)
                if w > 0 and h > 0:
                    self._windowed_size = (w, h)
            return True
        return False

    def take_warnings(self) -> list[str]:
        """One-line warnings since the last call (missing monitor, fullscreen refused)."""
        out, self.warnings = self.warnings, []
        return out

    def close(self) -> None:
        pygame.display.quit()

    # --- per frame -------------------------------------------------------------------------

    def show(self, frame: np.ndarray, look: Mapping[str, float] | LookParams,
             dt: float) -> None:
        """Draw ``frame`` (uint8 HxWx3, native size) with the look into the window, no flip.

        ``look`` is the engine's parameter values (only ``look.*`` are read); ``dt`` advances
        the blackout fade and trails.
        """
        self.look.advance(look, dt)
        screen = self.screen
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 HxWx3, got {frame.dtype} {frame.shape}")
        pre = self.look.pre(frame)           # also keeps trails moving while blacked out
        self._pre = pre
        self._load_native(pre)
        crop, rect = fit_geometry(self._src_size, screen.get_size(), self.fit)
        self._rect = rect
        self._black = self.look.is_black
        x, y, w, h = rect
        if self._black or w == 0 or h == 0:
            screen.fill((0, 0, 0))
            return
        self._picture = self._render(crop, (w, h), self._picture)
        sw, sh = screen.get_size()
        if (w, h) != (sw, sh):
            for bar in ((0, 0, sw, y), (0, y + h, sw, sh - y - h),
                        (0, y, x, h), (x + w, y, sw - x - w, h)):
                if bar[2] > 0 and bar[3] > 0:
                    screen.fill((0, 0, 0), bar)
        screen.blit(self._picture, (x, y))

    def flip(self) -> None:
        pygame.display.flip()

    def wait(self) -> float:
        """Pace to the target fps (sleeps); returns the frame's wall-clock dt in seconds."""
        return self.pacer.wait()

    def picture(self, size: tuple[int, int] | None = None, fit: str | None = None
                ) -> np.ndarray:
        """The clean picture last shown (no HUD) as a new uint8 HxWx3 RGB array.

        ``size`` (w, h) defaults to ``picture_size``, ``fit`` to the current fit mode (a
        recording passes the size and fit it started with). The same size and fit, or one
        pixel less (rounding to even for video), crops the on-screen picture surface; anything
        else renders the last frame again, as a window of that size and fit would show it.
        """
        pw, ph = self.picture_size
        w, h = (pw, ph) if size is None else (int(size[0]), int(size[1]))
        fit = fit or self.fit
        if w <= 0 or h <= 0:
            raise ValueError(f"picture size must be positive, got {w}x{h}")
        if self._native is None or self._black:
            return np.zeros((h, w, 3), np.uint8)
        if (self._picture is not None and fit == self.fit and 0 <= pw - w <= 1
                and 0 <= ph - h <= 1):
            return self._read(self._picture, w, h)
        crop, (x, y, rw, rh) = fit_geometry(self._src_size, (w, h), fit)
        out = np.zeros((h, w, 3), np.uint8)
        if rw and rh:
            self._record = self._render(crop, (rw, rh), self._record)
            out[y:y + rh, x:x + rw] = self._read(self._record, rw, rh)
        return out

    def native_picture(self) -> np.ndarray | None:
        """The last frame shown, at the model's size, with the whole look (trails, tone,
        posterise, the blackout fade): what ``picture`` shows before upscaling. A new uint8
        HxWx3 array, or None before the first ``show``."""
        if self._pre is None:
            return None
        out = np.array(self._pre, np.uint8, order="C")
        if self._black:
            out[:] = 0
        else:
            self.look.post(out)   # the table of the frame shown: ``advance`` runs in ``show``
        return out

    # --- internals -------------------------------------------------------------------------

    def _load_native(self, pre: np.ndarray) -> None:
        h, w = pre.shape[:2]
        if self._native is None or self._src_size != (w, h):
            screen = self.screen
            # The window's own 32-bit format makes the final blit a plain copy.
            fmt = screen if screen.get_bitsize() == 32 else 32
            self._native = pygame.Surface((w, h), 0, fmt)
            self._src_size = (w, h)
        src = pygame.image.frombuffer(np.ascontiguousarray(pre), (w, h), "RGB")
        self._native.blit(src, (0, 0))

    def _render(self, crop: Rect, size: tuple[int, int],
                dest: pygame.Surface | None) -> pygame.Surface:
        """Scale the native frame's ``crop`` into ``dest`` (reused when its size fits) + post."""
        native = self._native
        if native is None:
            raise RuntimeError("Display.show has not loaded a frame yet")
        if dest is None or dest.get_size() != size:
            dest = pygame.Surface(size, 0, native)
        src = native if crop[2:] == self._src_size else native.subsurface(crop)
        if src.get_size() == size:
            dest.blit(src, (0, 0))
        else:
            pygame.transform.smoothscale(src, size, dest)
        if self.look.needs_post:
            buf = np.frombuffer(dest.get_buffer(), np.uint8)
            self.look.post(buf)
            del buf                   # unlock the surface before it is blitted
        return dest

    def _read(self, surface: pygame.Surface, w: int, h: int) -> np.ndarray:
        """Copy the top-left w x h of a 32-bit surface into an RGB array (~1 ms at 1024^2)."""
        pitch = surface.get_pitch()
        raw = np.frombuffer(surface.get_buffer(), np.uint8)
        px = raw.reshape(surface.get_height(), pitch)[:h, :w * 4].reshape(h, w, 4)
        out = np.empty((h, w, 3), np.uint8)
        for c, off in enumerate(_channel_offsets(surface)):
            out[..., c] = px[..., off]
        del px, raw
        return out
