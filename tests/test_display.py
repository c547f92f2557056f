"""The window (headless, real pygame surfaces): geometry, look, resizes, clean picture, HUD."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from latentsketch.output.display import Display, FramePacer, fit_geometry  # noqa: E402
from latentsketch.output.hud import Hud, HudInfo  # noqa: E402

COLOUR = (200, 60, 120)


@pytest.fixture
def display() -> Iterator[Display]:
    d = Display((320, 180))
    yield d
    d.close()


def solid(colour: tuple[int, int, int] = COLOUR, size: int = 64) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (size, size, 3)).copy()


def rows_gradient(size: int = 64) -> np.ndarray:
    """Each source row has its own grey level, so a crop shows in the values."""
    col = np.linspace(0, 255, size).astype(np.uint8)
    return np.repeat(np.repeat(col[:, None, None], size, axis=1), 3, axis=2)


# --- geometry --------------------------------------------------------------------------------

@pytest.mark.parametrize("dst, mode, crop, rect", [
    ((1920, 1080), "fit", (0, 0, 64, 64), (420, 0, 1080, 1080)),
    ((1920, 1080), "fill", (0, 14, 64, 36), (0, 0, 1920, 1080)),
    ((1920, 1080), "stretch", (0, 0, 64, 64), (0, 0, 1920, 1080)),
    ((1080, 1920), "fit", (0, 0, 64, 64), (0, 420, 1080, 1080)),
    ((1080, 1920), "fill", (14, 0, 36, 64), (0, 0, 1080, 1920)),
    ((1080, 1920), "stretch", (0, 0, 64, 64), (0, 0, 1080, 1920)),
    ((500, 500), "fill", (0, 0, 64, 64), (0, 0, 500, 500)),
    ((0, 0), "fit", (0, 0, 64, 64), (0, 0, 0, 0)),
])
def test_fit_geometry_square_source(dst, mode, crop, rect) -> None:
    assert fit_geometry((64, 64), dst, mode) == (crop, rect)


def test_fit_geometry_keeps_aspect_and_stays_inside() -> None:
    for src in ((64, 64), (128, 96), (48, 80)):
        for dst in ((1920, 1080), (1080, 1920), (333, 777), (1, 1000)):
            (cx, cy, cw, ch), (x, y, w, h) = fit_geometry(src, dst, "fit")
            assert 0 <= x and 0 <= y and x + w <= dst[0] and y + h <= dst[1]
            assert w == dst[0] or h == dst[1]
            assert abs(w / h - src[0] / src[1]) < 0.05 * src[0] / src[1] + 1 / min(w, h)
            (cx, cy, cw, ch), rect = fit_geometry(src, dst, "fill")
            assert rect == (0, 0, *dst)
            assert 0 <= cx and 0 <= cy and cx + cw <= src[0] and cy + ch <= src[1]
            if min(cw, ch) > 1:                      # not clamped to a single pixel
                aspect = dst[0] / dst[1]
                assert abs(cw / ch - aspect) <= aspect * 0.5 / min(cw, ch) + 1e-9
    with pytest.raises(ValueError, match="fit mode"):
        fit_geometry((64, 64), (10, 10), "zoom")


# --- the window ------------------------------------------------------------------------------

def test_fit_letterboxes_with_black_and_fill_covers(display: Display) -> None:
    display.show(solid(), {}, 1 / 60)
    screen = display.screen
    assert display.picture_rect == pygame.Rect(70, 0, 180, 180)
    assert tuple(screen.get_at((5, 90)))[:3] == (0, 0, 0)
    assert tuple(screen.get_at((160, 90)))[:3] == COLOUR
    display.fit = "fill"
    display.show(rows_gradient(), {}, 1 / 60)
    assert display.picture_rect == pygame.Rect(0, 0, 320, 180)
    top = display.picture()[0, 160, 0]
    assert 45 < top < 70                             # source rows 0-13 are cropped away
    assert display.cycle_fit() == "stretch"
    display.show(rows_gradient(), {}, 1 / 60)
    assert display.picture()[0, 160, 0] < 10


def test_window_survives_resizes_and_fullscreen_toggles(display: Display) -> None:
    frame = rows_gradient()
    sizes = [(640, 360), (200, 700), (1, 1), (999, 333)]
    for i, size in enumerate(sizes * 2):
        display.resize(size)
        pygame.event.post(pygame.event.Event(pygame.VIDEORESIZE, w=size[0] + 3, h=size[1],
                                             size=(size[0] + 3, size[1])))
        pygame.event.post(pygame.event.Event(pygame.VIDEORESIZE, w=0, h=0, size=(0, 0)))
        for event in pygame.event.get():
            display.handle_event(event)
        if i % 3 == 0:
            display.toggle_fullscreen()
        display.cycle_fit()
        display.show(frame, {"look.posterize": 3}, 1 / 60)
        display.flip()
        rect = display.picture_rect
        assert display.screen.get_rect().contains(rect)
        pic = display.picture()
        assert pic.shape == (rect.h, rect.w, 3)
    display.set_fullscreen(False)
    display.handle_event(pygame.event.Event(pygame.VIDEORESIZE, w=700, h=500, size=(700, 500)))
    display.set_fullscreen(True)
    display.handle_event(pygame.event.Event(pygame.VIDEORESIZE, w=1024, h=768, size=(1024, 768)))
    assert display.fullscreen and display.size == pygame.display.get_desktop_sizes()[0]
    display.set_fullscreen(False)                    # back to the size the user last dragged
    assert not display.fullscreen and display.size == (700, 500)


def test_missing_monitor_falls_back_with_a_warning() -> None:
    d = Display((100, 100), display=7, borderless=True)
    try:
        assert d.display_index == 0 and "display 7" in d.warnings[0]
        d.show(solid(), {}, 0.0)
        assert tuple(d.picture()[50, 50]) == COLOUR
    finally:
        d.close()


def test_recorded_picture_excludes_the_hud(display: Display) -> None:
    hud = Hud(visible=True)
    hud.message("slot 3 stored")
    display.show(solid(), {}, 1 / 60)
    hud.draw(display.screen, HudInfo(fps=60.0, decode_ms=3.1, mode="drift", speed=1.0,
                                     dims=(1.0, -2.0, 0.5), pinned=frozenset({1}),
                                     recording=True, rec_seconds=75), 1 / 60)
    screen = pygame.surfarray.array3d(display.screen).transpose(1, 0, 2)
    x, y, w, h = display.picture_rect
    on_screen = screen[y:y + h, x:x + w]
    clean = display.picture()
    assert np.all(clean == COLOUR)                   # the clean picture is untouched...
    changed = np.any(on_screen != COLOUR, axis=2)
    assert changed.mean() > 0.02                     # ...while the HUD covers part of the screen


def test_picture_at_other_sizes(display: Display) -> None:
    display.show(solid(), {}, 1 / 60)
    assert display.picture((180, 180)).shape == (180, 180, 3)
    even = display.picture((180 - 1, 180 - 1))       # rounding to even crops, no re-render
    assert even.shape == (179, 179, 3) and np.all(even == COLOUR)
    wide = display.picture((640, 360))               # fit: letterboxed like a 640x360 window
    assert wide.shape == (360, 640, 3)
    assert np.all(wide[:, :100] == 0) and np.all(wide[:, 200:440] == COLOUR)
    display.fit = "fill"
    assert np.all(display.picture((640, 360)) == COLOUR)


def test_posterize_runs_at_display_resolution(display: Display) -> None:
    display.fit = "stretch"
    smooth = rows_gradient(16)
    display.show(smooth, {"look.posterize": 3, "look.softness": 0.0}, 1 / 60)
    pic = display.picture()
    assert len(np.unique(pic)) <= 3
    edges = np.flatnonzero(np.diff(pic[:, 10, 0].astype(int)))
    assert len(edges) == 2                           # two crisp boundaries, not 16 steps
    display.show(smooth, {}, 1 / 60)
    assert len(np.unique(display.picture())) > 50    # neutral: the smooth upscale


def test_blackout_fades_the_window_and_the_recording(display: Display) -> None:
    for _ in range(40):
        display.show(solid(), {"look.blackout": 1}, 1 / 60)
    assert display.picture().max() == 0
    assert pygame.surfarray.array3d(display.screen).max() == 0
    for _ in range(40):
        display.show(solid(), {"look.blackout": 0}, 1 / 60)
    assert np.all(display.picture() == COLOUR)


def test_bad_frame_is_refused(display: Display) -> None:
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        display.show(np.zeros((8, 8), np.uint8), {}, 0.0)


# --- pacing ----------------------------------------------------------------------------------

def test_frame_pacer_holds_the_rate_without_busy_waiting() -> None:
    pacer = FramePacer(100.0)
    wall, cpu = time.perf_counter(), time.process_time()
    dts = [pacer.wait() for _ in range(25)]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert 0.22 <= wall <= 0.4
    assert cpu < 0.5 * wall                          # sleeping, not spinning
    assert np.median(dts[1:]) == pytest.approx(0.01, abs=0.003)
    free = FramePacer(0)
    t = time.perf_counter()
    for _ in range(100):
        free.wait()
    assert time.perf_counter() - t < 0.05


# --- HUD -------------------------------------------------------------------------------------

def _draw(hud: Hud, info: HudInfo, dt: float, size: tuple[int, int] = (400, 300)) -> np.ndarray:
    surf = pygame.Surface(size)
    hud.draw(surf, info, dt)
    return pygame.surfarray.array3d(surf)


def test_hud_starts_hidden_with_a_fading_hint() -> None:
    pygame.display.init()
    hud = Hud(hint_seconds=2.0)
    assert not hud.visible
    assert _draw(hud, HudInfo(), 0.1).any()          # the "? for help" hint
    assert not _draw(hud, HudInfo(), 3.0).any()      # gone after a few seconds
    hud.toggle()
    assert _draw(hud, HudInfo(), 0.1).any()


def test_hud_figures_freeze_while_paused() -> None:
    pygame.display.init()
    hud = Hud(visible=True)
    first = _draw(hud, HudInfo(fps=60.0, decode_ms=3.0), 0.5)
    frozen = _draw(hud, HudInfo(fps=12.0, decode_ms=9.0, paused=True), 1.0)
    moving = _draw(hud, HudInfo(fps=12.0, decode_ms=9.0), 1.0)
    fps_text = (slice(10, 120), slice(8, 24))        # x, y of the first line
    assert np.array_equal(first[fps_text], frozen[fps_text])
    assert not np.array_equal(first[fps_text], moving[fps_text])


def test_hud_messages_fade_and_help_covers_the_window() -> None:
    pygame.display.init()
    hud = Hud([("Space", "pause"), ("Q", "quit")], hint_seconds=0.0)
    hud.message("recording stopped: disk full", error=True, seconds=1.0)
    assert _draw(hud, HudInfo(), 0.1)[:, -40:].any()
    assert not _draw(hud, HudInfo(), 2.0).any()
    hud.toggle_help()
    shown = _draw(hud, HudInfo(), 0.1)
    assert shown[:, 40:80].any()                     # the rows


def test_hud_bars_mark_pinned_dimensions() -> None:
    pygame.display.init()
    hud = Hud(visible=True, hint_seconds=0.0)
    free = _draw(hud, HudInfo(dims=(2.0, 2.0, 2.0)), 0.1)
    pinned = _draw(hud, HudInfo(dims=(2.0, 2.0, 2.0), pinned=frozenset({1})), 0.1)
    diff = np.argwhere(np.any(free != pinned, axis=2))
    assert len(diff) and diff[:, 0].min() >= 14 + 13 and diff[:, 0].max() < 14 + 26


def test_hud_measures_fps_from_its_frame_times_when_not_given() -> None:
    pygame.display.init()
    given, measured = Hud(visible=True), Hud(visible=True)
    for _ in range(12):                              # 0.4 s at 30 fps
        a = _draw(given, HudInfo(fps=30.0, decode_ms=2.0), 1 / 30)
        b = _draw(measured, HudInfo(decode_ms=2.0), 1 / 30)
    fps_text = (slice(10, 120), slice(8, 24))
    assert np.array_equal(a[fps_text], b[fps_text])
