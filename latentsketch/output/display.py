"""The pygame-ce window: mode, fullscreen, fit, blitting the picture, pacing.

The picture itself comes from the one picture pipeline (``output.picture.Picture``), with
``SurfaceScaler`` plugged in: per frame the pipeline runs the look on the native frame, scales
the fit's crop into a reused surface in the window's pixel format and applies the tone table
to that surface's bytes; the window blits it and fills the bars. That surface is the clean
picture: the HUD draws on the window afterwards, and the recorder and snapshots get their
frames from the pipeline, never from the window.

Pacing sleeps until the next frame's deadline (``FramePacer``): no busy-wait, and unlike
``Clock.tick``'s whole milliseconds it holds exactly the target rate on average.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import pygame

from latentsketch.grain import Grain, GrainTile
from latentsketch.output.geometry import FIT_MODES, Rect, fit_geometry  # noqa: F401 (API)
from latentsketch.output.look import Look, LookParams
from latentsketch.output.picture import Picture
from latentsketch.projection import Projection, WarpMap


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


class SurfaceScaler:
    """The window's scaler for the picture pipeline: pygame-ce's ``smoothscale`` on reused
    32-bit surfaces in the window's pixel format, so the final blit is a plain copy (FACTS.md:
    ~0.4 ms to 1024x1024, against ~2 ms for a fresh surface each frame).

    It needs no window (without one it uses pygame's default 32-bit layout), so the exporter's
    ``live`` filter is this very class: a replay scales exactly as the window did. Grain goes
    onto its surface with ``BLEND_RGB_ADD``/``BLEND_RGB_SUB`` blits of the grain tile (SIMD in
    pygame-ce: ~0.6-0.9 ms at 1024x1024, benchmarks/bench_look.py).
    """

    # smoothscale's upscale follows its source's pixel grid: a crisp picture is upscaled 2x
    # (bicubic) first, which halves posterise's stair-steps (output/picture.py)
    crisp_prestep = 2

    def __init__(self) -> None:
        self._native: pygame.Surface | None = None   # the frame, at the model's size
        self._drawn: pygame.Surface | None = None    # the window's picture
        self._scaled: pygame.Surface | None = None   # the last ``scale`` (read back at once)
        self._grain: tuple[GrainTile, pygame.Surface, pygame.Surface] | None = None

    def _surface(self, size: tuple[int, int], reuse: pygame.Surface | None) -> pygame.Surface:
        """``reuse`` when it has this size and the window's pixel layout, else a new one (the
        layout may change with the window's mode)."""
        screen = pygame.display.get_surface() if pygame.display.get_init() else None
        if screen is not None and screen.get_bitsize() == 32:
            masks = screen.get_masks()
        else:
            masks = _default_masks()
        if reuse is not None and reuse.get_size() == size and reuse.get_masks() == masks:
            return reuse
        return pygame.Surface(size, 0, 32, masks)

    def _load(self, frame: np.ndarray, crop: Rect) -> pygame.Surface:
        h, w = frame.shape[:2]
        self._native = native = self._surface((w, h), self._native)
        native.blit(pygame.image.frombuffer(np.ascontiguousarray(frame), (w, h), "RGB"), (0, 0))
        return native if (crop[2], crop[3]) == (w, h) else native.subsurface(crop)

    def _into(self, src: pygame.Surface, size: tuple[int, int],
              dest: pygame.Surface | None) -> pygame.Surface:
        dest = self._surface(size, dest)
        if src.get_size() == size:
            dest.blit(src, (0, 0))
        else:
            pygame.transform.smoothscale(src, size, dest)
        return dest

    def draw(self, frame: np.ndarray, crop: Rect, size: tuple[int, int]) -> pygame.Surface:
        self._drawn = self._into(self._load(frame, crop), size, self._drawn)
        return self._drawn

    def scale(self, frames: Sequence[np.ndarray], crop: Rect,
              size: tuple[int, int]) -> list[np.ndarray]:
        out = []
        for frame in frames:
            self._scaled = self._into(self._load(frame, crop), size, self._scaled)
            out.append(self.read(self._scaled, *size))
        return out

    def add_grain(self, image: pygame.Surface, grain: Grain, w: int, h: int) -> None:
        plus, minus = self._grain_surfaces(grain.tile, image)
        for x, y, sx, sy, bw, bh in grain.blocks(w, h):
            area = (sx, sy, bw, bh)
            image.blit(plus, (x, y), area, special_flags=pygame.BLEND_RGB_ADD)
            image.blit(minus, (x, y), area, special_flags=pygame.BLEND_RGB_SUB)

    def _grain_surfaces(self, tile: GrainTile, like: pygame.Surface
                        ) -> tuple[pygame.Surface, pygame.Surface]:
        """The tile's two halves as surfaces in ``like``'s layout: written when the tile
        changes (a fade makes a new one every frame), into the same two surfaces (new ones
        cost ~1 ms more in first-touch page faults)."""
        masks = like.get_masks()
        cached = self._grain
        if cached is not None and cached[0] is tile and cached[1].get_masks() == masks:
            return cached[1], cached[2]
        size = tile.plus.shape[1], tile.plus.shape[0]
        if cached is not None and cached[1].get_masks() == masks and cached[1].get_size() == size:
            surfaces = [cached[1], cached[2]]
        else:
            surfaces = [pygame.Surface(size, 0, 32, masks) for _ in range(2)]
        grey = (masks[0] | masks[1] | masks[2]) & 0x01010101   # 1 in each colour byte
        for surf, half in zip(surfaces, (tile.plus, tile.minus), strict=True):
            px = np.frombuffer(surf.get_buffer(), np.uint32).reshape(size[1], -1)
            np.multiply(half, np.uint32(grey), out=px[:, :size[0]], dtype=np.uint32)
            del px
        self._grain = (tile, surfaces[0], surfaces[1])
        return surfaces[0], surfaces[1]

    def pixels(self, image: pygame.Surface) -> np.ndarray:
        return np.frombuffer(image.get_buffer(), np.uint8)

    def read(self, image: pygame.Surface, w: int, h: int) -> np.ndarray:
        """Copy the top-left w x h into an RGB array (~1 ms at 1024^2)."""
        pitch = image.get_pitch()
        raw = np.frombuffer(image.get_buffer(), np.uint8)
        px = raw.reshape(image.get_height(), pitch)[:h, :w * 4].reshape(h, w, 4)
        out = np.empty((h, w, 3), np.uint8)
        for c, off in enumerate(_channel_offsets(image)):
            out[..., c] = px[..., off]
        del px, raw
        return out


@lru_cache(maxsize=1)
def _default_masks() -> tuple[int, int, int, int]:
    return pygame.Surface((1, 1), 0, 32).get_masks()


class Display:
    """The live window: owns the screen and draws a picture pipeline's frames into it.

    Args:
        size: windowed size; None picks a square about 80 % of the desktop's height.
        fullscreen: start fullscreen (desktop resolution, no mode change on projectors).
        display: monitor index (a missing one falls back to 0 with a warning).
        borderless: windowed mode without a frame (for a projector placed by hand).
        fit: "fit", "fill" or "stretch".
        fps: target frame rate for ``wait``; 0 runs unthrottled.

    ``pipeline`` is the picture pipeline it draws (with a ``SurfaceScaler``); the app feeds
    it and hands the same object to the recorder.
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
        self.pipeline: Picture[pygame.Surface] = Picture(SurfaceScaler())
        self.pacer = FramePacer(fps)
        if size is None:
            desk = pygame.display.get_desktop_sizes()[display]
            side = min(1024, max(256, int(desk[1] * 0.8)))
            size = (side, side)
        self._windowed_size = (max(1, int(size[0])), max(1, int(size[1])))
        self._fullscreen = fullscreen
        pygame.display.set_caption(title)
        self._rect: Rect = (0, 0, 0, 0)
        self.projection = Projection()   # the audience window's turn, mirror and corner-pin
        self._warp: WarpMap | None = None
        self._canvas: pygame.Surface | None = None
        self._set_mode()

    # --- window ----------------------------------------------------------------------------

    @property
    def screen(self) -> pygame.Surface:
        """The window surface (draw overlays here after ``show``)."""
        return pygame.display.get_surface()

    @property
    def look(self) -> Look:
        """The pipeline's look (its state: the blackout fade, trails, the tone table)."""
        return self.pipeline.look

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

    def set_fullscreen(self, on: bool) -> None:
        if on != self._fullscreen:
            self._fullscreen = on
            self._set_mode()

    def reopen(self) -> None:
        """Set the window's mode again, as it is meant to be (after the display changed or
        the renderer was reset: a monitor unplugged and back, a mode change); a fullscreen
        that fails falls back to a window with a warning; raises pygame.error when no mode
        can be set at all."""
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
        """Feed ``frame`` (uint8 HxWx3, native size) to the pipeline and ``draw`` it, no flip.

        ``look`` is the engine's parameter values (only ``look.*`` are read); ``dt`` advances
        the blackout fade and trails.
        """
        self.pipeline.feed(frame, look, dt)
        self.draw()

    def draw(self) -> None:
        """Draw the pipeline's current frame into the window at its size and fit, no flip;
        with a ``projection``, into a canvas that is then turned, mirrored and pinned into the
        window (``output.projection``: the window only, never recordings)."""
        if not self.projection.identity:
            self._draw_projected()
            return
        self._draw_into(self.screen)

    def _draw_projected(self) -> None:
        screen = self.screen
        size = screen.get_size()
        if screen.get_bytesize() != 4:
            self.warnings.append(f"the window has {screen.get_bitsize()}-bit pixels; the "
                                 f"projection set-up needs 32: showing the picture unwarped")
            self.projection = Projection()
            self._draw_into(screen)
            return
        warp = self._warp
        if warp is None or warp.projection != self.projection or warp.window != size:
            warp = self._warp = WarpMap(self.projection, size)   # once per change
        cw, ch = warp.canvas
        if self._canvas is None or self._canvas.get_size() != (cw, ch) or \
                self._canvas.get_masks() != screen.get_masks():
            self._canvas = pygame.Surface((cw, ch), 0, 32, screen.get_masks())
        self._draw_into(self._canvas)
        src = np.frombuffer(self._canvas.get_buffer(), np.uint32).reshape(
            ch, self._canvas.get_pitch() // 4)[:, :cw]
        out = np.frombuffer(screen.get_buffer(), np.uint32).reshape(
            size[1], screen.get_pitch() // 4)[:, :size[0]]
        warp.apply(src, out)
        del src, out   # unlock both surfaces

    def _draw_into(self, screen: pygame.Surface) -> None:
        image, rect = self.pipeline.draw(screen.get_size(), self.fit)
        self._rect = rect
        if image is None:
            screen.fill((0, 0, 0))
            return
        x, y, w, h = rect
        sw, sh = screen.get_size()
        if (w, h) != (sw, sh):
            for bar in ((0, 0, sw, y), (0, y + h, sw, sh - y - h),
                        (0, y, x, h), (x + w, y, sw - x - w, h)):
                if bar[2] > 0 and bar[3] > 0:
                    screen.fill((0, 0, 0), bar)
        screen.blit(image, (x, y))

    def flip(self) -> None:
        pygame.display.flip()

    def wait(self) -> float:
        """Pace to the target fps (sleeps); returns the frame's wall-clock dt in seconds."""
        return self.pacer.wait()

    def picture(self, size: tuple[int, int] | None = None, fit: str | None = None
                ) -> np.ndarray:
        """The clean picture last shown (no HUD) as a new uint8 HxWx3 RGB array, from the
        pipeline: ``size`` (w, h) defaults to ``picture_size``, ``fit`` to the window's."""
        return self.pipeline.render(self.picture_size if size is None else size,
                                    fit or self.fit)

    def native_picture(self) -> np.ndarray | None:
        """The last frame shown at the model's size with the whole look (``Picture.native``)."""
        return self.pipeline.native()
