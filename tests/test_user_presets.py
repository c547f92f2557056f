"""The user's preset folder README promises: searched by ``--preset NAME`` and OSC
``/latentsketch/preset`` before the bundled presets, and where Ctrl+S saves (so the saved
preset loads back by its own name). XDG_CONFIG_HOME points into tmp_path (conftest)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from latentsketch import commands as C
from latentsketch import preset as presets
from latentsketch.app import App, AppOptions
from latentsketch.render import RenderRequest, render
from tests.conftest import listing
from tests.test_app_outputs import _msg, _send

DT = 1 / 30


@pytest.fixture
def user_presets(tmp_path: Path) -> Path:
    folder = tmp_path / "xdg-config" / "latentsketch" / "presets"
    assert presets.user_dir() == folder  # XDG_CONFIG_HOME is respected
    folder.mkdir(parents=True)
    return folder


def test_user_dir_follows_xdg_config_home(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "elsewhere"))
    assert presets.user_dir() == tmp_path / "elsewhere" / "latentsketch" / "presets"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert presets.user_dir() == tmp_path / "home" / ".config" / "latentsketch" / "presets"


def test_a_user_preset_is_found_by_name_and_comes_before_the_bundled_one(
        user_presets: Path) -> None:
    (user_presets / "mine.toml").write_text('name = "mine"\n[walk]\nspeed = 2.5\n')
    assert presets.load("mine").params["walk.speed"] == 2.5
    assert "mine" in presets.available() and "default" in presets.available()
    (user_presets / "default.toml").write_text('name = "my default"\n[walk]\nspeed = 0.5\n')
    assert presets.load("default").name == "my default"
    assert presets.load("default", folders=()).name != "my default"  # bundled only
    with pytest.raises(presets.PresetError, match="mine"):
        presets.load("nothing-like-it")  # the message lists the user's presets too


def test_render_finds_a_user_preset(tiny_model: Path, user_presets: Path,
                                    tmp_path: Path) -> None:
    (user_presets / "slow.toml").write_text('name = "slow"\n[walk]\nmode = "drift"\n')
    r = render(RenderRequest(model=tiny_model, preset="slow", duration=0.3, fps=10,
                             size=(64, 64), out=tmp_path / "slow.gif"))
    assert r.frames == 3


def test_ctrl_s_saves_into_the_user_folder_and_loads_back_by_name(
        tiny_model: Path, tmp_path: Path) -> None:
    app = App(AppOptions(model=str(tiny_model), seed=4, fps=0, size=(64, 64), osc=True,
                         osc_port=0, midi=False, out_dir=str(tmp_path / "out")))
    try:
        app.run(max_frames=3, dt=DT, script=lambda i, a: [C.SetParam("walk.speed", 3.25)]
                if i == 0 else [C.SavePreset()] if i == 1 else [])
        saved = list(presets.user_dir().glob("*.toml"))
        assert len(saved) == 1 and saved[0].name.startswith("default-")
        assert not (tmp_path / "out").exists() or listing(tmp_path / "out") == []
        name = saved[0].stem
        p = presets.load(name)  # what --preset NAME does
        assert p.name == name and p.params["walk.speed"] == 3.25
        assert app.preset.name == name
        # a second save from the saved one is named after the same base, not stacked stamps
        app.run(max_frames=5, dt=DT, script=lambda i, a: [C.SavePreset()] if i == 3 else [])
        again = sorted(set(presets.user_dir().glob("*.toml")) - set(saved))
        assert len(again) == 1 and again[0].stem.count("-") <= name.count("-") + 1
        # OSC /latentsketch/preset looks in the user folder too
        app.run(max_frames=6, dt=DT, script=lambda i, a: [C.SetParam("walk.speed", 1.0)])
        app.preset = presets.load("default")
        _send(app.osc.port, _msg("/latentsketch/preset", name))
        deadline = time.monotonic() + 5
        while app.preset.name != name and time.monotonic() < deadline:
            app.run(max_frames=app.frames + 1, dt=DT)
        app.run(max_frames=app.frames + 70, dt=DT)   # the switch fades (preset.DEFAULT_FADE)
        assert app.preset.name == name and app.state.params["walk.speed"] == 3.25
    finally:
        app.close()


def test_ctrl_s_into_a_read_only_preset_folder_is_one_message(
        tiny_model: Path, readonly_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(readonly_dir))
    app = App(AppOptions(model=str(tiny_model), seed=4, fps=0, size=(64, 64), osc=False,
                         midi=False, out_dir=os.fspath(readonly_dir / "out")))
    said: list[tuple[str, bool]] = []
    app.say = lambda text, error=False: said.append((text, error))  # type: ignore[method-assign]
    try:
        app.run(max_frames=2, dt=DT, script=lambda i, a: [C.SavePreset()] if i == 0 else [])
    finally:
        app.close()
    (text, error), = said
    assert error and text.startswith("preset not saved:") and "Read-only" in text
    assert str(readonly_dir) in text and listing(readonly_dir) == []


def test_a_saved_preset_keeps_the_window_as_shown_and_play_loads_it_from_a_file(
        make_app, tmp_path: Path) -> None:
    """Ctrl+S after Z (fit -> fill) and H (HUD on) saves [display] as it is on screen, so the
    preset loads back to what was shown; --preset also takes that .toml file by its path."""
    app = make_app()
    app.run(max_frames=3, dt=DT, script=lambda i, a: [C.CycleFit(), C.ToggleHud()]
            if i == 0 else [C.SavePreset()] if i == 1 else [])
    saved, = presets.user_dir().glob("*.toml")
    d = presets.Preset.from_file(saved).display
    assert d is not None and (d.fit, d.hud) == ("fill", True)
    copy = tmp_path / "elsewhere" / "mine.toml"
    copy.parent.mkdir()
    copy.write_bytes(saved.read_bytes())
    again = make_app(preset=str(copy))
    assert again.display.fit == "fill" and again.hud.visible
    assert again.preset.source == str(copy)
