"""The HUD reads on any picture, and a key that changes a level says what it did."""

from __future__ import annotations

import numpy as np
import pygame
import pytest

from latentsketch.app import App
from latentsketch.output.hud import Hud, HudInfo
from latentsketch.params import param

WHITE = (255, 255, 255)
DT = 1 / 60


def _draw(hud: Hud, info: HudInfo, dt: float, fill: tuple[int, int, int],
          size: tuple[int, int] = (400, 300)) -> np.ndarray:
    surf = pygame.Surface(size)
    surf.fill(fill)
    hud.draw(surf, info, dt)
    return pygame.surfarray.array3d(surf).astype(int)   # (x, y, 3)


def _lights(hud: Hud, info: HudInfo, fill: tuple[int, int, int]) -> list[np.ndarray]:
    """The pixels of each input light: found as what changes when that input is lit."""
    quiet = _draw(hud, HudInfo(osc_age=99.0, midi_age=99.0), 0.0, fill)
    out = []
    for lit in (HudInfo(osc_age=0.0, midi_age=99.0), HudInfo(osc_age=99.0, midi_age=0.0)):
        mask = np.any(_draw(hud, lit, 0.0, fill) != quiet, axis=2)
        assert mask.sum() > 20
        xs, ys = np.nonzero(mask)
        box = (slice(xs.min() - 3, xs.max() + 4), slice(ys.min() - 3, ys.max() + 4))
        out.append(_draw(hud, info, 0.0, fill)[box])
    return out


@pytest.mark.parametrize("fill", [WHITE, (250, 240, 120), (0, 0, 0)])
def test_input_lights_stand_out_on_any_picture(fill: tuple[int, int, int]) -> None:
    pygame.display.init()
    hud = Hud(visible=True, hint_seconds=0.0)
    on = HudInfo(osc_age=0.0, midi_age=0.0)
    off = HudInfo(osc_age=99.0, midi_age=99.0)
    for lit, quiet in zip(_lights(hud, on, fill), _lights(hud, off, fill), strict=True):
        # a dark ring around each light, whatever the picture
        assert (lit.max(axis=2) < 40).sum() > 15 and (quiet.max(axis=2) < 40).sum() > 15
        # the lit light is green, the quiet one grey, and both differ from the picture
        green = (lit[..., 1] > 200) & (lit[..., 0] < 120)
        assert green.sum() > 20
        grey = np.all(np.abs(quiet - 110) < 12, axis=2)
        assert grey.sum() > 20
        assert np.abs(lit - np.array(fill)).max(axis=2).mean() > 60


def test_help_hint_is_legible_on_white_and_on_black() -> None:
    pygame.display.init()
    for fill in (WHITE, (0, 0, 0)):
        hud = Hud(hint_seconds=2.0)
        corner = _draw(hud, HudInfo(), 0.1, fill)[-140:, -40:]     # bottom right
        bright = corner.min(axis=2) > 200
        dark = corner.max(axis=2) < 90
        # light letters on a dark backing: both plenty, on either picture
        assert bright.sum() > 40 and dark.sum() > 400, (fill, bright.sum(), dark.sum())
        gone = _draw(hud, HudInfo(), 3.0, fill)[-140:, -40:]
        assert np.all(gone == np.array(fill))


def test_show_params_formats_from_the_declarations() -> None:
    pygame.display.init()
    hud = Hud(hint_seconds=0.0)
    hud.show_params([("look.posterize", 3.0), ("walk.mode", 2.0), ("look.blackout", 1.0),
                     ("walk.speed", 1.25), ("no.such", 1.0)])
    assert hud.value_text == "posterize 3   mode orbit   blackout on   speed 1.25x"
    _draw(hud, HudInfo(), 1.6, WHITE)
    assert hud.value_text == ""


@pytest.fixture
def app(make_app) -> App:
    return make_app(seed=1, size=(320, 240))


def _key(k: int, unicode: str, mod: int = 0) -> list[pygame.event.Event]:
    return [pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, scancode=0, unicode=unicode),
            pygame.event.Event(pygame.KEYUP, key=k, mod=mod, scancode=0, unicode=unicode)]


def _overlay(app: App) -> float:
    """How much the window's top band differs from the clean picture (the HUD's feedback)."""
    screen = pygame.surfarray.array3d(app.display.screen).transpose(1, 0, 2).astype(int)
    r = app.display.picture_rect
    shown = screen[r.y:r.y + r.h, r.x:r.x + r.w]
    clean = app.display.picture().astype(int)
    return float(np.abs(shown - clean)[: r.h // 3].mean())


def test_pressing_p_shows_posterize_and_its_value_then_fades(app: App) -> None:
    levels: list[float] = []
    app.run(max_frames=3, dt=DT)
    assert _overlay(app) == 0 and app.hud.value_text == ""
    app.run(max_frames=4, dt=DT, script=lambda i, a: _key(pygame.K_p, "p"))
    assert app.state.params["look.posterize"] == 2
    assert app.hud.value_text == "posterize 2"
    levels.append(_overlay(app))
    app.run(max_frames=4 + 81, dt=DT)                    # 1.35 s later: fading
    levels.append(_overlay(app))
    app.run(max_frames=4 + 96, dt=DT)                    # 1.6 s later: gone
    levels.append(_overlay(app))
    assert levels[0] > 2 * levels[1] > 0 and levels[2] == 0, levels
    assert app.hud.value_text == ""


@pytest.mark.parametrize("k,unicode,mod,shown", [
    (pygame.K_c, "c", 0, {"look.contrast": "contrast"}),
    (pygame.K_v, "V", pygame.KMOD_LSHIFT, {"look.saturation": "saturation"}),
    (pygame.K_e, "e", 0, {"look.trails": "trails"}),
    (pygame.K_o, "o", 0, {"look.softness": "softness"}),
    (pygame.K_l, "L", pygame.KMOD_LSHIFT, {"look.brightness": "brightness"}),
    (pygame.K_t, "t", 0, {"walk.temperature": "temperature"}),
    (pygame.K_TAB, "\t", 0, {"walk.mode": "mode"}),
    (pygame.K_m, "m", 0, {"mouse.dim_x": "dim x", "mouse.dim_y": "dim y"}),
])
def test_every_level_key_says_what_it_changed(app: App, k: int, unicode: str, mod: int,
                                              shown: dict[str, str]) -> None:
    app.run(max_frames=2, dt=DT)
    before = dict(app.state.params)
    app.run(max_frames=3, dt=DT, script=lambda i, a: _key(k, unicode, mod))
    after = app.state.params
    assert all(after[n] != before[n] for n in shown)
    assert app.hud.value_text == "   ".join(
        f"{label} {param(n).format(after[n])}" for n, label in shown.items())
    assert _overlay(app) > 0


@pytest.mark.parametrize("size", [(614, 614), (800, 600), (1920, 1080)])
def test_the_help_overlay_shows_every_row_inside_the_window(size: tuple[int, int]) -> None:
    """A newcomer's case: at the default 614-px window the K row was cut and the last two rows
    (mouse click, mouse wheel) were missing; the font now shrinks until every row fits."""
    from latentsketch.control.keyboard import Keyboard
    from latentsketch.control.mouse import HELP_ROWS as MOUSE_HELP

    rows = Keyboard().help_rows() + list(MOUSE_HELP)
    hud = Hud(rows)
    font, places = hud.help_layout(size)
    assert len(places) == len(rows)
    line = font.get_linesize()
    for (keys, desc), (kx, dx, y) in zip(rows, places, strict=True):
        assert kx + font.size(keys)[0] <= dx and dx + font.size(desc)[0] <= size[0], desc
        assert y + line <= size[1], desc
    surface = pygame.Surface(size)
    hud.toggle_help()
    hud.draw(surface, HudInfo(), 0.0)          # draws without error at this size
