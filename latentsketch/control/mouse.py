"""The mouse as an XY pad over the picture: drag to steer two dimensions, click, wheel.

The picture's on-screen rectangle (the fit rectangle, so letterbox bars are outside it) maps
to -3..3 standard deviations (``params.Z_RANGE``, as a knob) in the two dimensions named by
``mouse.dim_x`` / ``mouse.dim_y`` (KL rank), up = positive. A drag pins both while the button
is held and releases them on mouse-up, so the walk takes over again from where the hand left
and glides on (a spring, not a latch: a pad left pinned would silently freeze two dimensions
of the walk). A click without
a drag sets the walk's target there instead. The wheel changes the walk speed. With
``mouse.pad = pcs`` the two axes are principal directions (``pc<dim_x>``, ``pc<dim_y>``) in
standard deviations of the data along them: a drag pins them, a click moves the walk's centre
along them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pygame

from latentsketch import commands as c
from latentsketch.latent.directions import pc_name
from latentsketch.params import PAD_AXES, Z_RANGE, param

HELP_ROWS: tuple[tuple[str, str], ...] = (
    ("Mouse drag", "steer the pad's two dimensions (released on let-go)"),
    ("Mouse click", "send the walk towards that point"),
    ("Mouse wheel", "walk speed up / down"),
)


class Mouse:
    """Turns mouse events into commands.

    Args:
        range_std: the picture's edges in standard deviations (the pad spans -range..range).
        drag_threshold: pixels the pointer must travel before a press counts as a drag.
        wheel_step: walk speed change per wheel notch.
        release_on_up: release the two dimensions when the drag ends (False: they stay pinned
            until released by key X, OSC or MIDI).
    """

    def __init__(self, *, range_std: float = Z_RANGE, drag_threshold: int = 4,
                 wheel_step: float = 0.1, release_on_up: bool = True) -> None:
        self.range_std = range_std
        self.drag_threshold = drag_threshold
        self.wheel_step = wheel_step
        self.release_on_up = release_on_up
        self._press: tuple[int, int] | None = None
        self._dragging: tuple[int, int] | None = None   # the two dims being dragged
        self._pcs = False   # ... principal directions, rather (mouse.pad = pcs)

    @property
    def dragging(self) -> bool:
        return self._dragging is not None

    def to_std(self, pos: tuple[int, int], rect: pygame.Rect | tuple[int, int, int, int]
               ) -> tuple[float, float]:
        """Window pixel -> (x, y) in standard deviations; outside the picture clamps to its edge."""
        x0, y0, w, h = rect
        fx = (pos[0] - x0 + 0.5) / w if w > 0 else 0.5
        fy = (pos[1] - y0 + 0.5) / h if h > 0 else 0.5
        fx, fy = min(1.0, max(0.0, fx)), min(1.0, max(0.0, fy))
        r = self.range_std
        return (2.0 * fx - 1.0) * r, (1.0 - 2.0 * fy) * r

    def handle(self, event: pygame.event.Event,
               rect: pygame.Rect | tuple[int, int, int, int],
               params: Mapping[str, float] | None = None) -> list[c.Command]:
        """Commands for one event; ``rect`` is the picture's rectangle in the window."""
        params = params or {}
        if event.type == pygame.MOUSEWHEEL:
            notches = float(getattr(event, "precise_y", event.y))
            return [c.NudgeParam("walk.speed", self.wheel_step * notches)] if notches else []
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self._press = tuple(event.pos)
            self._pcs = self._axes(params) == "pcs"
            return []
        if event.type == pygame.MOUSEMOTION and self._press is not None:
            if self._dragging is None:
                dx, dy = event.pos[0] - self._press[0], event.pos[1] - self._press[1]
                if dx * dx + dy * dy < self.drag_threshold ** 2:
                    return []
                self._dragging = self._dims(params)
            x, y = self.to_std(event.pos, rect)
            if self._pcs:
                return [c.SetDirection(pc_name(self._dragging[0]), x),
                        c.SetDirection(pc_name(self._dragging[1]), y)]
            return [c.SetDim(self._dragging[0], x), c.SetDim(self._dragging[1], y)]
        if event.type == pygame.MOUSEBUTTONUP and event.button == 1 and self._press is not None:
            return self._finish(rect, event.pos)
        if event.type == pygame.WINDOWFOCUSLOST and self._press is not None:
            return self._finish(rect, None)
        return []

    def _finish(self, rect: pygame.Rect | tuple[int, int, int, int],
                pos: tuple[int, int] | None) -> list[c.Command]:
        press, dims = self._press, self._dragging
        self._press = self._dragging = None
        if dims is not None:
            if not self.release_on_up:
                return []
            if self._pcs:
                return [c.ReleaseDirection(pc_name(d)) for d in dict.fromkeys(dims)]
            return [c.ReleaseDim(d) for d in dict.fromkeys(dims)]
        if pos is None or press is None:
            return []
        x, y = self.to_std(press, rect)
        return [c.SetTarget(x, y, "pcs")] if self._pcs else [c.SetTarget(x, y)]

    @staticmethod
    def _axes(params: Mapping[str, float]) -> str:
        p = param("mouse.pad")
        return PAD_AXES[int(p.clamp(params.get(p.name, p.default)))]

    @staticmethod
    def _dims(params: Mapping[str, float]) -> tuple[int, int]:
        px, py = param("mouse.dim_x"), param("mouse.dim_y")
        return (int(px.clamp(params.get(px.name, px.default))),
                int(py.clamp(params.get(py.name, py.default))))
