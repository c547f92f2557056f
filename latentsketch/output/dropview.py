"""The dropped-picture overlay: each picture of the last drop above the model's version of it.

A VAE's encoder finds the nearest thing the model can make, not the picture: a photo comes back
as soft shapes in the model's colours. Pressing the key (``actions``: ``dropped``) shows, for a
few seconds, the pictures as the encoder saw them (top) and the decodes of their points
(bottom), so the performer sees what the model makes of them. Drawn over the window after the
picture, like the HUD, so recordings and snapshots stay clean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pygame

SHOW_SECONDS = 4.0
FADE_SECONDS = 0.5
SHARE = 0.3         # of the window's short side: the height of one picture
MARGIN = 12         # px around and between the pictures
LABEL = (235, 235, 235)
BACKING_ALPHA = 180

Pair = tuple[np.ndarray, np.ndarray]   # (picture, the model's version), each (S, S, 3) uint8


class DropView:
    """What the overlay shows and for how long; ``draw`` once a frame after the picture."""

    def __init__(self, font_size: int = 20) -> None:
        pygame.font.init()
        self._font = pygame.font.Font(None, font_size)
        self._pairs: tuple[Pair, ...] = ()
        self._left = 0.0
        self._surface: pygame.Surface | None = None
        self._built_for: tuple[int, int] | None = None

    @property
    def visible(self) -> bool:
        return self._left > 0.0 and bool(self._pairs)

    def show(self, pairs: Sequence[Pair], seconds: float = SHOW_SECONDS) -> None:
        """Show ``pairs`` for ``seconds`` (again from the start if already shown)."""
        self._pairs = tuple(pairs)
        self._left = seconds if self._pairs else 0.0
        self._surface = None

    def draw(self, surface: pygame.Surface, dt: float) -> None:
        """Count ``dt`` seconds down and draw the overlay centred on ``surface`` while shown,
        fading out over its last half second."""
        if not self.visible:
            return
        self._left -= max(0.0, dt)
        size = surface.get_size()
        if self._surface is None or self._built_for != size:
            self._surface = self._build(size)
            self._built_for = size
        alpha = int(255 * min(1.0, max(0.0, self._left / FADE_SECONDS)))
        self._surface.set_alpha(alpha)
        x = (size[0] - self._surface.get_width()) // 2
        y = (size[1] - self._surface.get_height()) // 2
        surface.blit(self._surface, (x, y))

    def _build(self, size: tuple[int, int]) -> pygame.Surface:
        """Two rows (pictures, decodes) with labels, on a dark backing; the pictures shrink so
        the row fits the window."""
        n = len(self._pairs)
        label_w = max(self._font.size(t)[0] for t in ("dropped", "the model's")) + MARGIN
        line = self._font.get_linesize()
        side = int(min(size) * SHARE)
        side = max(16, min(side, (size[0] - 2 * MARGIN - label_w) // n - MARGIN,
                           (size[1] - 3 * MARGIN) // 2))
        w = label_w + n * (side + MARGIN) + MARGIN
        h = 2 * side + 3 * MARGIN
        out = pygame.Surface((w, h), pygame.SRCALPHA)
        out.fill((0, 0, 0, BACKING_ALPHA))           # a see-through backing, opaque pictures
        for row, text in enumerate(("dropped", "the model's")):
            y = MARGIN + row * (side + MARGIN)
            out.blit(self._font.render(text, True, LABEL), (MARGIN, y + (side - line) // 2))
            for i, pair in enumerate(self._pairs):
                image = pygame.surfarray.make_surface(np.ascontiguousarray(
                    pair[row].transpose(1, 0, 2)))
                out.blit(pygame.transform.scale(image, (side, side)),
                         (label_w + MARGIN + i * (side + MARGIN), y))
        return out
