"""Projection set-up (turn, mirror, corner-pin) on the audience window only, and the operator
window: pixels go where the transform says; recordings keep the clean picture; the audience
window shows no HUD when the operator window takes it."""

from __future__ import annotations

import warnings

import numpy as np
import pygame
import pytest

from latentsketch import preset as presets
from latentsketch.output.display import Display
from latentsketch.projection import Projection, ProjectionError, WarpMap


def _canvas(w: int, h: int) -> np.ndarray:
    """Distinct values: pixel (x, y) holds y * w + x + 1."""
    return (np.arange(w * h, dtype=np.uint32) + 1).reshape(h, w)


@pytest.mark.parametrize("rotate,mirror,corner", [
    (0, False, (0, 0)), (90, False, (5, 0)), (180, False, (5, 3)), (270, False, (0, 3)),
    (0, True, (5, 0)), (90, True, (0, 0)),
])
def test_turning_and_mirroring_move_the_top_left_pixel(rotate: int, mirror: bool,
                                                       corner: tuple[int, int]) -> None:
    warp = WarpMap(Projection(rotate, mirror), (6, 4))
    cw, ch = warp.canvas
    assert (cw, ch) == ((4, 6) if rotate in (90, 270) else (6, 4))
    out = np.zeros((4, 6), np.uint32)
    warp.apply(_canvas(cw, ch), out)
    x, y = corner
    assert out[y, x] == 1                          # the canvas's top-left pixel lands here
    assert sorted(out.ravel()) == list(range(1, 25))   # every pixel shown once: a permutation


def test_a_corner_pin_squeezes_the_picture_into_its_quad() -> None:
    corners = ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))      # the right half
    warp = WarpMap(Projection(corners=corners), (100, 50))
    out = np.zeros((50, 100), np.uint32)
    canvas = _canvas(100, 50)
    warp.apply(canvas, out)
    def source(y: int, x: int) -> tuple[int, int]:   # the canvas pixel window (x, y) shows
        v = int(out[y, x]) - 1
        return v % 100, v // 100

    assert (out[:, :50] == 0).all()                # left half: nothing (black)
    assert source(0, 50) in ((0, 0), (1, 0)) and source(49, 99) == (99, 49)
    assert abs(source(25, 75)[0] - 50) <= 1 and source(25, 75)[1] == 25   # middle to middle
    keystone = ((0.1, 0.0), (0.9, 0.0), (1.0, 1.0), (0.0, 1.0))      # narrower at the top
    WarpMap(Projection(corners=keystone), (100, 50)).apply(canvas, out)
    assert out[0, 5] == 0 and out[0, 15] != 0 and out[49, 1] != 0


@pytest.mark.parametrize("kw,error", [
    ({"rotate": 45}, "rotate = 45 is not one of"),
    ({"corners": ((0, 0), (1, 0), (0, 1), (1, 1))}, "convex"),
    ({"corners": ((0, 0), (1, 0), (1, 1))}, "four"),
    ({"corners": ((0, 0), (float("nan"), 0), (1, 1), (0, 1))}, "four"),
])
def test_bad_set_ups_are_one_line(kw: dict, error: str) -> None:
    with pytest.raises(ProjectionError, match=error):
        Projection(**kw)


def test_a_preset_carries_its_projection_and_names_bad_keys() -> None:
    p = presets.Preset.from_toml("[projection]\nrotate = 180\nmirror = true\ncorners = "
                                 "[[0.1, 0], [1, 0], [1, 1], [0, 1]]\n", "room.toml")
    assert p.projection == Projection(180, True, ((0.1, 0), (1, 0), (1, 1), (0, 1)))
    assert presets.Preset.from_toml(p.to_toml()).projection == p.projection
    with pytest.raises(presets.PresetError, match=r"room.toml: projection.rotate = 45"):
        presets.Preset.from_toml("[projection]\nrotate = 45\n", "room.toml")
    with pytest.raises(presets.PresetError, match="unknown key projection.tilt"):
        presets.Preset.from_toml("[projection]\ntilt = 1\n", "room.toml")


def _screen(display: Display) -> np.ndarray:
    return np.transpose(pygame.surfarray.array3d(display.screen), (1, 0, 2))


def test_the_window_is_warped_and_the_recording_is_not() -> None:
    frame = np.zeros((16, 16, 3), np.uint8)
    frame[:4, :4] = (255, 0, 0)                     # a red block at the top left
    d = Display((64, 64), fit="stretch", fps=0)
    try:
        d.projection = Projection(rotate=180, mirror=True)   # = flipped upside down
        d.show(frame, {}, 0.0)
        shown = _screen(d)
        assert shown[60, 2, 0] > 200 and shown[2, 2, 0] < 50     # now at the bottom left
        clean = d.picture((64, 64), "stretch")
        assert clean[2, 2, 0] > 200 and clean[60, 2, 0] < 50     # the recording's picture
    finally:
        d.close()


def test_the_operator_window_takes_the_hud_and_the_audience_window_stays_clean(
        make_app) -> None:
    app = make_app(size=(96, 96), hud=True, fit="stretch", operator_window=True)
    app.run(max_frames=3, dt=1 / 30)
    with warnings.catch_warnings():   # the only way to name the display module's window
        warnings.simplefilter("ignore", DeprecationWarning)
        main = pygame.Window.from_display_module()
    assert app.operator is not None and app.operator.window.id != main.id   # two windows
    audience = _screen(app.display)
    assert np.array_equal(audience, app.display.picture((96, 96), "stretch"))  # no HUD pixels
    op = np.transpose(pygame.surfarray.array3d(app.operator.surface), (1, 0, 2))
    assert (op != (18, 18, 22)).any(axis=2).mean() > 0.2          # preview and HUD there
    plain = make_app(size=(96, 96), hud=True, fit="stretch")
    plain.run(max_frames=3, dt=1 / 30)
    assert not np.array_equal(_screen(plain.display),
                              plain.display.picture((96, 96), "stretch"))   # HUD on it
