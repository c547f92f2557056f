"""The latent palette drawn over the window's picture, and window pixels -> its cells.

Window only (pygame): the palette's picture (``output.palette``) is scaled once per size into
the largest square centred on the picture's rectangle, with the cell under the pointer and
the cell last chosen outlined. While the palette is still being decoded a line says so. The
recorder never sees any of it: it takes its frames from the picture pipeline, not the window.
"""

from __future__ import annotations

import numpy as np
import pygame

OUTLINE = (255, 255, 255)
CHOSEN = (255, 200, 40)
SHADE = (0, 0, 0, 170)        # over the picture while the palette is being made


def square_in(rect: pygame.Rect | tuple[int, int, int, int]) -> pygame.Rect:
    """The largest square centred in ``rect`` (the palette's place on screen)."""
    x, y, w, h = rect
    side = max(0, min(w, h))
    return pygame.Rect(x + (w - side) // 2, y + (h - side) // 2, side, side)


def cell_at(pos: tuple[int, int], rect: pygame.Rect | tuple[int, int, int, int],
            grid: int) -> tuple[int, int] | None:
    """(row, col) of the cell of a ``grid`` x ``grid`` palette under window pixel ``pos``
    when it is drawn in ``square_in(rect)``; None outside it."""
    sq = square_in(rect)
    if sq.width <= 0 or not sq.collidepoint(pos):
        return None
    col = min(grid - 1, (pos[0] - sq.x) * grid // sq.width)
    row = min(grid - 1, (pos[1] - sq.y) * grid // sq.height)
    return int(row), int(col)


def _cell_rect(sq: pygame.Rect, grid: int, row: int, col: int) -> pygame.Rect:
    x0, x1 = sq.x + col * sq.width // grid, sq.x + (col + 1) * sq.width // grid
    y0, y1 = sq.y + row * sq.height // grid, sq.y + (row + 1) * sq.height // grid
    return pygame.Rect(x0, y0, x1 - x0, y1 - y0)


class PaletteOverlay:
    """Draws one palette picture (or a "being made" line) over the picture's rectangle."""

    def __init__(self, font_size: int = 22) -> None:
        pygame.font.init()
        self._font = pygame.font.Font(None, font_size)
        self._image: np.ndarray | None = None
        self._source: pygame.Surface | None = None
        self._scaled: pygame.Surface | None = None

    def set_image(self, image: np.ndarray | None) -> None:
        """The palette's picture, (side, side, 3) uint8; None: none yet."""
        self._image = image
        self._source = self._scaled = None
        if image is not None:
            h, w = image.shape[:2]
            self._source = pygame.image.frombuffer(np.ascontiguousarray(image).tobytes(),
                                                   (w, h), "RGB")

    def _surface(self, size: int) -> pygame.Surface | None:
        if self._source is None or size <= 0:
            return None
        if self._scaled is None or self._scaled.get_width() != size:
            self._scaled = pygame.transform.smoothscale(self._source, (size, size))
        return self._scaled

    def draw(self, screen: pygame.Surface, rect: pygame.Rect | tuple[int, int, int, int],
             grid: int, hover: tuple[int, int] | None = None,
             chosen: tuple[int, int] | None = None, text: str = "") -> None:
        """Draw over ``rect`` of ``screen``: the palette with ``hover`` and ``chosen``
        outlined, or (before its picture exists) a shade and ``text``."""
        sq = square_in(rect)
        surface = self._surface(sq.width)
        if surface is None:
            shade = pygame.Surface(sq.size, pygame.SRCALPHA)
            shade.fill(SHADE)
            screen.blit(shade, sq.topleft)
        else:
            screen.blit(surface, sq.topleft)
            for cell, colour, width in ((chosen, CHOSEN, 3), (hover, OUTLINE, 2)):
                if cell is not None:
                    pygame.draw.rect(screen, colour, _cell_rect(sq, grid, *cell), width)
        if text:
            label = self._font.render(text, True, OUTLINE)
            screen.blit(label, (sq.centerx - label.get_width() // 2,
                                sq.centery - label.get_height() // 2))
