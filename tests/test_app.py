"""The real live loop, headless: injected pygame events in, pixels and state out."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pygame
import pytest

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.app import App, AppOptions

DT = 1 / 60


def key(k: int, mod: int = 0, scancode: int = 0, unicode: str = "") -> list[pygame.event.Event]:
    return [pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, scancode=scancode,
                               unicode=unicode),
            pygame.event.Event(pygame.KEYUP, key=k, mod=mod, scancode=scancode, unicode=unicode)]




def test_frames_change_while_walking_and_freeze_when_paused(make_app) -> None:
    app = make_app()
    shots: list[np.ndarray] = []

    def script(i: int, a: App) -> list:
        if i:
            shots.append(a.display.picture())
        if i == 0:  # drift moves at once (the default tour first dwells on a keyframe)
            return [C.SetParam("walk.mode", 0.0)]
        return key(pygame.K_SPACE, unicode=" ") if i == 40 else []

    app.run(max_frames=80, dt=DT, script=script)
    moving = [np.abs(shots[i + 1].astype(int) - shots[i].astype(int)).mean()
              for i in range(5, 38)]
    assert min(moving) > 0  # every frame differs while walking
    assert app.state.paused
    for i in range(45, 78):  # after the pause glide settles nothing changes
        assert np.array_equal(shots[i], shots[i + 1])


@pytest.mark.parametrize("k,unicode,mod,check", [
    (pygame.K_TAB, "\t", 0, lambda a, s: a.state.mode != s.mode),
    (pygame.K_b, "b", 0, lambda a, s: a.state.params["look.blackout"] == 1.0),
    (pygame.K_t, "t", 0, lambda a, s: a.state.params["walk.temperature"]
     > s.params["walk.temperature"]),
    (pygame.K_h, "h", 0, lambda a, s: a.hud.visible),
    (pygame.K_z, "z", 0, lambda a, s: a.display.fit == "fill"),
    (pygame.K_UP, "", 0, lambda a, s: not np.array_equal(a.state.centre, s.centre)
     or not np.array_equal(a.state.offset, s.offset)),
])
def test_each_key_changes_what_it_claims(make_app, k: int, unicode: str, mod: int, check) -> None:
    app = make_app()
    app.run(max_frames=3, dt=DT)
    before = app.state
    app.run(max_frames=6, dt=DT, script=lambda i, a: key(k, mod, unicode=unicode) if i == 3 else [])
    assert check(app, before)


def test_quit_key_stops_the_loop(make_app) -> None:
    app = make_app()
    app.run(max_frames=100, dt=DT, script=lambda i, a: key(pygame.K_q, unicode="q") if i == 5
            else [])
    assert app.frames == 6


def test_recalled_slot_returns_z_to_the_stored_point(make_app) -> None:
    app = make_app()
    stored: dict[str, np.ndarray] = {}

    def script(i: int, a: App) -> list:
        if i == 30:  # what is on screen now is what the slot keeps
            stored["z"] = engine.output_z(a.state, a.space)
            return [C.StoreSlot(3)]
        if i == 120:  # paused, so the walk does not carry z on past the point
            return [C.SetPause(True), C.RecallSlot(3)]
        return []

    app.run(max_frames=120, dt=DT, script=script)
    far = np.abs(engine.output_z(app.state, app.space) - stored["z"]).max()
    app.run(max_frames=121, dt=DT, script=script)
    assert np.abs(engine.output_z(app.state, app.space) - stored["z"]).max() > 0.5 * far  # glides
    app.run(max_frames=121 + 600, dt=DT, script=script)  # 10 s of glide
    near = np.abs(engine.output_z(app.state, app.space) - stored["z"]).max()
    assert far > 0.1 and near < 0.001 * far


def test_window_survives_resize_and_fullscreen_toggles(make_app, monkeypatch) -> None:
    """Every one of 60 frames through resizes and fullscreen toggles is decoded and shown: the
    decoder runs once a frame (counted here, not by the loop), no frame fails, each frame's
    picture differs from the last, and it fills the window's current size."""
    app = make_app()
    real = app.decoder.decode
    decoded: list[np.ndarray] = []

    def counting(z: np.ndarray) -> np.ndarray:
        decoded.append(np.array(z))
        return real(z)

    monkeypatch.setattr(app.decoder, "decode", counting)
    shown: list[np.ndarray] = []

    def look(a: App) -> None:
        shown.append(a.display.native_picture())
        w, h = a.display.size
        x, y, pw, ph = a.display.picture_rect
        assert 0 <= x and 0 <= y and x + pw <= w and y + ph <= h  # inside the window,
        assert pw == w or ph == h                                  # as large as "fit" allows
        assert a.display.picture().shape == (ph, pw, 3)

    def script(i: int, a: App) -> list:
        if i:
            look(a)
        if i == 0:  # drift moves at once (the default tour first dwells on a keyframe)
            return [C.SetParam("walk.mode", 0.0)]
        if i % 10 == 3:
            a.display.resize((200 + 17 * i, 120 + 9 * i))
            return [pygame.event.Event(pygame.VIDEORESIZE, w=200 + 17 * i, h=120 + 9 * i,
                                       size=(200 + 17 * i, 120 + 9 * i))]
        if i % 10 == 7:
            return key(pygame.K_f, unicode="f")
        return []

    app.run(max_frames=60, dt=DT, script=script)
    look(app)
    assert app.failures == 0 and len(decoded) == 60 and len(shown) == 60
    assert all(not np.array_equal(a, b) for a, b in zip(decoded, decoded[1:], strict=False))
    assert all(not np.array_equal(a, b) for a, b in zip(shown, shown[1:], strict=False))


def test_digit_keys_by_scancode_store_and_recall(make_app) -> None:
    """Shift + the key in the 2 position stores slot 2 and the key alone recalls it, on any
    layout (AZERTY's é here): after the walk has moved away, recall brings z and the picture
    back to the stored point."""
    app = make_app()
    sc2 = pygame.KSCAN_2
    stored: dict[str, np.ndarray] = {}

    def script(i: int, a: App) -> list:
        if i == 0:  # drift moves at once (the default tour first dwells on a keyframe)
            return [C.SetParam("walk.mode", 0.0)]
        if i == 10:  # what is on screen now is what the slot keeps
            stored["z"] = engine.output_z(a.state, a.space)
            stored["frame"] = a.frame.copy()
            return key(ord("é"), pygame.KMOD_LSHIFT, sc2)
        if i == 70:  # paused, so the walk does not carry z on past the point
            stored["far"] = engine.output_z(a.state, a.space)
            stored["far frame"] = a.frame.copy()
            return [C.SetPause(True), *key(ord("é"), 0, sc2)]
        return []

    app.run(max_frames=70 + 1 + 600, dt=DT, script=script)  # 10 s of glide after the recall
    assert app.state.slots[1] is not None
    far = np.abs(stored["far"] - stored["z"]).max()
    near = np.abs(engine.output_z(app.state, app.space) - stored["z"]).max()
    assert far > 0.1 and near < 0.001 * far
    moved = np.abs(stored["far frame"].astype(int) - stored["frame"]).max()
    back = np.abs(app.frame.astype(int) - stored["frame"]).max()
    assert moved > 20 and back <= 1


def test_busy_osc_port_is_one_line_and_the_show_goes_on(tiny_model: Path, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 0))
    port = blocker.getsockname()[1]
    try:
        app = App(AppOptions(model=str(tiny_model), fps=0, size=(128, 128), osc=True,
                             osc_port=port, midi=False, out_dir=str(tmp_path)))
        app.run(max_frames=5, dt=DT)
        assert app.frames == 5
        assert any(str(port) in r.getMessage() and "without OSC" in r.getMessage()
                   for r in caplog.records)
    finally:
        blocker.close()


def test_bad_model_path_is_one_line_and_nonzero(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "latentsketch", "--model", str(tmp_path / "nope"),
                        "--no-osc", "--no-midi"], capture_output=True, text=True, timeout=60,
                       env={"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
                            "PATH": "/usr/bin:/bin", **_pyenv()})
    assert r.returncode == 2
    assert "no such file or folder" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _pyenv() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("HOME", "PYTHONPATH", "VIRTUAL_ENV")}


def test_an_unexpected_error_costs_a_frame_not_the_show(make_app, monkeypatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    real = app.decoder.decode
    calls = {"n": 0}

    def flaky(z):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("decoder hiccup")
        return real(z)

    monkeypatch.setattr(app.decoder, "decode", flaky)
    app.run(max_frames=20, dt=DT)
    assert app.frames == 20 and app.failures == 1
    assert any("decoder hiccup" in r.getMessage() for r in caplog.records)
    caplog.clear()  # the error was expected here
