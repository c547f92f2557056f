"""The operator window: a second window for the person running the show.

With ``--operator-window`` (or ``[display] operator = true`` in a preset) the main window is
the audience's, clean: the picture and nothing else, turned and pinned by the projection
set-up. The operator window (pygame-ce's ``pygame.Window``, on the first display by default)
shows a preview of the clean picture, and the HUD, help and messages draw on it instead of on
the audience window. Keys work in either window (pygame delivers both windows' events).
"""

from __future__ import annotations

import numpy as np
import pygame

from latentsketch.output.picture import Picture

PREVIEW_MARGIN = 8


class OperatorWindow:
    """A second window with a preview of ``picture`` on a dark background; draw the HUD on
    ``surface`` between ``draw`` and ``flip``."""

    def __init__(self, size: tuple[int, int] = (640, 480), title: str = "latentsketch operator"
                 ) -> None:
        self.window = pygame.Window(title, size, resizable=True)
        self.window.get_surface()   # the window draws through its surface, not a renderer

    @property
    def surface(self) -> pygame.Surface:
        return self.window.get_surface()

    def draw(self, picture: Picture, fit: str) -> None:
        """Fill the window and draw the clean picture (no projection warp) as a preview."""
        surface = self.surface
        surface.fill((18, 18, 22))
        w, h = surface.get_size()
        side = max(1, min(w, h) - 2 * PREVIEW_MARGIN)
        if picture.native_size == (0, 0) or side < 8:
            return
        frame = np.ascontiguousarray(picture.render((side, side), fit))
        image = pygame.image.frombuffer(frame, (side, side), "RGB")
        surface.blit(image, ((w - side) // 2, (h - side) // 2))

    def flip(self) -> None:
        self.window.flip()

    def close(self) -> None:
        self.window.destroy()
