"""The window's latent palette: shown by its key, made once in a worker thread, clicked to
glide.

The first time it is shown, the model's palette (``output.palette``: its axes, +-2 standard
deviations, 8 x 8 cells) is decoded in a thread of its own on a decoder of its own: 64 decodes
take ~0.3 s on one free core (several seconds on a busy one), far over a frame's budget, so
the loop keeps its 60 fps and shows "palette..." until the picture arrives through a queue.
A palette PNG given with ``--palette`` is shown as it is, its plane read from its metadata.

While shown, the palette takes the window's mouse events and Escape: a click on a cell is a
``GotoPoint`` to the cell's point (logged, so a replay glides there too), a click beside it
or Escape (or the key again) hides it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

import numpy as np
import pygame

from latentsketch import commands as C
from latentsketch.model.checkpoint import LoadedModel
from latentsketch.model.identity import which_model
from latentsketch.model.inference import Decoder
from latentsketch.output.palette import (
    GRID,
    PaletteError,
    PaletteMeta,
    axes_plane,
    compose,
    decode_cells,
    model_axes,
    read_palette,
)
from latentsketch.output.palette_overlay import PaletteOverlay, cell_at
from latentsketch.output.session import Say
from latentsketch.workers import lower_priority

log = logging.getLogger("latentsketch")

Made = tuple[np.ndarray, PaletteMeta]
CHUNK = 4     # cells per decoder call in the worker: how soon it notices the session ending


def load_saved(path: str, model_id: str) -> Made:
    """``--palette PNG``: its picture and plane; PaletteError (one line) if it is not a
    palette or was made with another model."""
    image, meta = read_palette(path)
    if meta.model_id != model_id:
        raise PaletteError(f"--palette {path}: palette of model {meta.model_id}, running "
                           f"{model_id}; pass {which_model(meta.model_id)}")
    return image, meta


class _Stopped(Exception):
    """The session ended while its palette was being made."""


def make_model_palette(loaded: LoadedModel, grid: int = GRID,
                       stop: threading.Event | None = None) -> tuple[Made, float]:
    """The model's default palette, decoded on a decoder of its own (fp32 torch, on the
    process's torch threads); returns it and the seconds the cells took. Raises _Stopped
    between two chunks of cells once ``stop`` is set."""
    decoder = Decoder(loaded.vae, backend="fp32", threads=None)
    axes = model_axes(loaded)
    plane = axes_plane(axes)

    def decode(z: np.ndarray) -> np.ndarray:
        if stop is not None and stop.is_set():
            raise _Stopped
        return decoder.decode_batch(z)

    t0 = time.perf_counter()
    tiles = decode_cells(decode, loaded.space, plane, grid, chunk=CHUNK)
    seconds = time.perf_counter() - t0
    meta = PaletteMeta(loaded.model_id, grid, loaded.cfg.image_size, plane,
                       f"{axes.label}, +-2 sd")
    return (compose(tiles), meta), seconds


class PaletteView:
    """One session's palette overlay.

    Args:
        loaded: the running model.
        say: where messages go (terminal and HUD).
        saved: a palette loaded with ``--palette`` (``load_saved``); None: make the model's
            own when first shown.
    """

    def __init__(self, loaded: LoadedModel, say: Say, saved: Made | None = None) -> None:
        self.loaded = loaded
        self.say = say
        self.visible = False
        self.made: Made | None = saved
        self.seconds: float | None = None      # how long making it took (None: not made here)
        self._overlay: PaletteOverlay | None = None
        self._thread: threading.Thread | None = None
        self._done: queue.Queue[tuple[Made, float] | BaseException] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._hover: tuple[int, int] | None = None
        self._chosen: tuple[int, int] | None = None

    @property
    def meta(self) -> PaletteMeta | None:
        return None if self.made is None else self.made[1]

    @property
    def busy(self) -> bool:
        """Being made in the background now."""
        return self._thread is not None

    def toggle(self, on: bool | None = None) -> None:
        """Show (``on`` True), hide (False) or flip (None); the first show starts making it."""
        self.visible = (not self.visible) if on is None else bool(on)
        if not self.visible:
            self._hover = None
            return
        if self.made is None and self._thread is None:
            self._thread = threading.Thread(target=self._make, name="latentsketch-palette",
                                             daemon=True)
            self._thread.start()

    def _make(self) -> None:
        lower_priority()
        try:
            self._done.put(make_model_palette(self.loaded, stop=self._stop))
        except _Stopped:
            pass
        except Exception as e:  # noqa: BLE001 - said by the loop in poll(); the show goes on
            self._done.put(e)

    def poll(self) -> None:
        """Take the palette from the worker once it is made (call once a frame)."""
        if self._thread is None:
            return
        try:
            result = self._done.get_nowait()
        except queue.Empty:
            return
        self._thread.join()
        self._thread = None
        if isinstance(result, BaseException):
            self.visible = False
            self.say(f"palette not made: {result}", error=True)
            return
        self.made, self.seconds = result
        if self._overlay is not None:
            self._overlay.set_image(self.made[0])
        log.info("palette made: %dx%d cells over %s in %.2f s", self.made[1].grid,
                 self.made[1].grid, self.made[1].source, self.seconds)

    def handle(self, events: Sequence[pygame.event.Event], rect: pygame.Rect
               ) -> tuple[list[pygame.event.Event], list[C.Command]]:
        """While shown: take the mouse's events and Escape from ``events``; returns the events
        left for the other inputs and the commands the palette made (a click on a cell)."""
        if not self.visible:
            return list(events), []
        rest: list[pygame.event.Event] = []
        cmds: list[C.Command] = []
        grid = self.meta.grid if self.meta is not None else 1
        for i, ev in enumerate(events):
            if ev.type in (pygame.KEYDOWN, pygame.KEYUP) and ev.key == pygame.K_ESCAPE:
                if ev.type == pygame.KEYDOWN:
                    self.toggle(False)
            elif ev.type == pygame.MOUSEMOTION:
                self._hover = cell_at(ev.pos, rect, grid) if self.meta is not None else None
            elif ev.type == pygame.MOUSEBUTTONDOWN and ev.button == 1:
                cmds += self.click(ev.pos, rect)
            elif ev.type != pygame.MOUSEBUTTONUP:
                rest.append(ev)
            if not self.visible:   # hidden by this event: the rest go to the other inputs
                rest += events[i + 1:]
                break
        return rest, cmds

    def click(self, pos: tuple[int, int], rect: pygame.Rect) -> list[C.Command]:
        """A click at window pixel ``pos``: glide to the cell's point, or hide the palette
        when the click is beside it; nothing while it is still being made."""
        meta = self.meta
        if meta is None:
            return []
        cell = cell_at(pos, rect, meta.grid)
        if cell is None:
            self.toggle(False)
            return []
        self._chosen = cell
        return [C.GotoPoint(tuple(float(v) for v in meta.point(*cell)))]

    def draw(self, screen: pygame.Surface, rect: pygame.Rect) -> None:
        """Draw it over ``rect`` of the window when shown."""
        if not self.visible:
            return
        if self._overlay is None:
            self._overlay = PaletteOverlay()
            self._overlay.set_image(None if self.made is None else self.made[0])
        meta = self.meta
        self._overlay.draw(screen, rect, meta.grid if meta else 1, self._hover, self._chosen,
                           "" if meta else "palette\u2026")

    def close(self) -> None:
        """Stop making the palette (after the chunk of cells being decoded); safe twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
