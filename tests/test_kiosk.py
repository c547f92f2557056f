"""Installation mode with a (dummy) window: locked keys, playlist, resume, notifications, and
every fault the issue lists, each made to happen."""

from __future__ import annotations

import configparser
import importlib.util
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pygame
import pytest
import torch
from pythonosc.osc_message import OscMessage

from latentsketch import commands as C
from latentsketch.app import AppOptions
from latentsketch.app.kiosk import HEARTBEAT, Kiosk, KioskOptions, kiosk_playlist, wants_kiosk
from latentsketch.model import checkpoint
from latentsketch.model.vae import VAE, VAEConfig
from latentsketch.preset import Preset

DT = 1 / 60
ROOT = Path(__file__).resolve().parent.parent


def playlist(folder: Path, scenes: list[str], duration: float = 1.0, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "show.toml"
    path.write_text(f"duration = {duration}\nfade = 0.5\n{extra}\n" + "".join(
        f'[[scene]]\npreset = "{s}"\n' for s in scenes))
    return path


@pytest.fixture
def make_kiosk(tiny_model: Path, tmp_path: Path):
    """``make(playlist=None, **AppOptions overrides)`` -> a windowed Kiosk on the tiny model,
    state and logs in tmp_path/state; closed after the test."""
    made: list[Kiosk] = []

    def make(kopts: dict | None = None, **kw: object) -> Kiosk:
        opts = dict(model=str(tiny_model), seed=1, fps=0, size=(64, 64), osc=False, midi=False,
                    out_dir=str(tmp_path / "out"))
        k = Kiosk(AppOptions(**{**opts, **kw}),
                  KioskOptions(**{"folder": str(tmp_path / "state"), "fullscreen": False,
                                  "retry": 0.0, **(kopts or {})}))
        made.append(k)
        return k

    yield make
    for k in made:
        k.close()


def _soak_module():
    name = "latentsketch_bench_soak"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "soak.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod   # its dataclass looks its module up there
    spec.loader.exec_module(mod)
    return mod


def test_mini_soak_switches_scenes_for_2000_frames_without_an_exception(tmp_path: Path) -> None:
    torch.manual_seed(0)   # a smaller model than the suite's tiny one: the loop is what soaks
    cfg = VAEConfig(image_size=64, latent=8, enc_widths=(4, 4, 4, 4), dec_widths=(4, 4, 4),
                    res_sizes=(), groups=4, upscale=2)
    model = checkpoint.save(VAE(cfg).eval(), tmp_path / "model", {})
    report = _soak_module().soak(str(model), 2000, size=(48, 48), fps=0, scene_seconds=1.0,
                                 dt=DT, folder=tmp_path / "soak")
    assert report.frames == 2000 and report.exceptions == 0
    assert report.switches >= 30 and report.skipped == 0   # 33 s of show, a scene a second
    assert report.rss_max_mb >= report.rss_start_mb > 0


def test_keys_and_mouse_are_locked_the_cursor_hidden_and_the_combination_exits(make_kiosk
                                                                               ) -> None:
    pygame.display.init()
    pygame.display.set_allow_screensaver(True)
    k = make_kiosk()
    app = k.app
    assert not pygame.mouse.get_visible() and not pygame.display.get_allow_screensaver()
    assert app.display.size == (64, 64) and not app.hud.visible and app.hud.muted
    before = dict(app.state.params)
    for key in (pygame.K_b, pygame.K_SPACE, pygame.K_h, pygame.K_ESCAPE, pygame.K_q):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, scancode=0,
                                             unicode=""))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(10, 10)))
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    k.run(max_frames=5, dt=DT)
    assert app.running and app.frames == 5
    assert app.state.params == before and not app.hud.visible and not app.hud.help_visible
    mods = pygame.KMOD_CTRL | pygame.KMOD_ALT | pygame.KMOD_SHIFT
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q, mod=mods, scancode=0,
                                         unicode=""))
    k.run(max_frames=50, dt=DT)
    assert not app.running and app.frames == 6


def test_a_restart_resumes_the_playlist_where_it_was(make_kiosk, tmp_path: Path) -> None:
    show = playlist(tmp_path / "pl", ["default", "gallery", "touchdesigner"], duration=1.0)
    k = make_kiosk({"playlist": str(show)})
    k.run(max_frames=100, dt=DT)   # 1.65 s: the second scene
    assert k.app.preset.name == "gallery" and k.programme is not None
    clock = k.programme.clock
    k.close()
    state = tmp_path / "state" / "installation.json"
    assert state.is_file() and '"preset": "gallery"' in state.read_text()
    again = make_kiosk({"playlist": str(show)})
    assert again.programme is not None and again.programme.clock == pytest.approx(clock)
    assert again.app.preset.name == "gallery"   # opened on it, not switched to it
    again.run(max_frames=30, dt=DT)
    assert again.app.preset.name == "touchdesigner" and again.programme.switches == 1
    log = (tmp_path / "state" / "latentsketch.log").read_text()
    assert "resuming playlist" in log and "scene 3: touchdesigner" in log


def test_ready_watchdog_and_heartbeat_come_from_the_loop(make_kiosk, tmp_path: Path,
                                                         monkeypatch) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(5)
    osc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    osc.bind(("127.0.0.1", 0))
    osc.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    try:
        k = make_kiosk({"heartbeat": 0.0}, osc_out=f"127.0.0.1:{osc.getsockname()[1]}")
        k.run(max_frames=3, dt=DT)
        got = {notify.recv(256).decode().split("\n")[0] for _ in range(2)}
        beats = []
        while len(beats) < 2:
            m = OscMessage(osc.recv(4096))
            if m.address == HEARTBEAT:
                beats.append(m.params)
    finally:
        notify.close()
        osc.close()
    assert got == {"READY=1", "WATCHDOG=1"}
    assert [b[0] for b in beats] == [0, 1] and beats[0][2] == "default"


def test_a_busy_osc_port_is_logged_and_the_show_plays(make_kiosk, tmp_path: Path) -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 0))
    try:
        k = make_kiosk(osc=True, osc_port=blocker.getsockname()[1])
        k.run(max_frames=3, dt=DT)
    finally:
        blocker.close()
    assert k.app.frames == 3 and k.app.osc is None
    assert "running without OSC" in (tmp_path / "state" / "latentsketch.log").read_text()


@pytest.mark.parametrize("damage", ["missing", "corrupt", "named by the preset"])
def test_a_missing_or_corrupt_model_falls_back_to_the_bundled_one(make_kiosk, tmp_path: Path,
                                                                  damage: str) -> None:
    bad = tmp_path / "bad"
    if damage != "missing":
        bad.mkdir()
        (bad / "model.safetensors").write_bytes(b"\x10\x00\x00\x00garbage not a model")
    if damage == "named by the preset":
        user = tmp_path / "xdg-config" / "latentsketch" / "presets"
        user.mkdir(parents=True)
        (user / "mine.toml").write_text(f'[scene]\nmodel = "{bad}"\n')
        k = make_kiosk(model=None, preset="mine")
    else:
        k = make_kiosk(model=str(bad))
    k.run(max_frames=2, dt=DT)
    assert k.app.frames == 2 and k.app.loaded.model_id == checkpoint.load(None).model_id
    said = "starting from preset 'default'" if damage == "named by the preset" else \
        "playing the bundled model"
    assert said in (tmp_path / "state" / "latentsketch.log").read_text()


def test_scenes_that_cannot_play_are_skipped_and_a_broken_playlist_plays_the_preset(
        make_kiosk, tmp_path: Path, tiny_model: Path) -> None:
    user = tmp_path / "xdg-config" / "latentsketch" / "presets"
    user.mkdir(parents=True)
    (user / "broken.toml").write_text("[walk]\nspeed = 'fast'\n")
    other = Preset(name="other", model="0123456789ab", slots={1: (0.0,) * 8})
    other.save(user / "other.toml")
    (user / "lost.toml").write_text(f'[scene]\nmodel = "{tmp_path / "gone"}"\n')
    show = playlist(tmp_path / "pl", ["default", "nope", "broken", "other", "lost", "gallery"])
    k = make_kiosk({"playlist": str(show)})
    k.run(max_frames=75, dt=DT)    # 1.25 s: default's turn is over
    assert k.app.preset.name == "gallery" and k.programme is not None
    assert k.programme.skipped == 4 and k.app.frames == 75
    log = (tmp_path / "state" / "latentsketch.log").read_text()
    for n, name in ((2, "nope"), (3, "broken"), (4, "other"), (5, "lost")):
        assert f"scene {n} ({name}) skipped" in log
    k.close()
    show.write_text("[[scene]\n")
    k2 = make_kiosk({"playlist": str(show)}, preset="gallery")
    k2.run(max_frames=3, dt=DT)
    assert k2.programme is None and k2.app.preset.name == "gallery"
    assert "not TOML" in (tmp_path / "state" / "latentsketch.log").read_text()


def test_a_decode_error_keeps_the_last_good_frame_and_retries(make_kiosk, monkeypatch,
                                                              tmp_path: Path) -> None:
    k = make_kiosk()
    inner = k.app.decoder.inner
    real = inner.decode
    calls = {"n": 0}

    def flaky(z: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if 5 <= calls["n"] <= 9:
            raise RuntimeError("device lost")
        return real(z)

    monkeypatch.setattr(inner, "decode", flaky)
    shown = []

    def script(i: int, a) -> list:
        shown.append(a.frame.copy())
        jumps = {0: C.SetVector((3.0,) * 8), 6: C.SetVector((-3.0,) * 8)}
        return [jumps[i]] if i in jumps else []

    k.run(max_frames=12, dt=DT, script=script)
    assert k.app.frames == 12 and k.app.failures == 0 and k.decode_failures == 5
    assert calls["n"] == 12   # retried every frame
    # shown[i] is frame i-1's picture: frames 4..8 failed and held frame 3's
    assert all(np.array_equal(shown[i], shown[4]) for i in range(5, 10))
    assert np.abs(shown[11].astype(int) - shown[4]).max() > 20   # decoding again
    assert "decode failed (RuntimeError: device lost" in \
        (tmp_path / "state" / "latentsketch.log").read_text()


def test_a_display_that_changes_or_goes_away_is_set_up_again(make_kiosk, monkeypatch,
                                                             tmp_path: Path) -> None:
    k = make_kiosk()
    k.run(max_frames=2, dt=DT)
    real = pygame.display.set_mode
    state = {"fail": 2, "calls": 0}

    def flaky(*a, **kw):
        state["calls"] += 1
        if state["fail"] > 0:
            state["fail"] -= 1
            raise pygame.error("no display")
        return real(*a, **kw)

    monkeypatch.setattr(pygame.display, "set_mode", flaky)
    for t in (pygame.WINDOWDISPLAYCHANGED, pygame.RENDER_DEVICE_RESET,
              pygame.RENDER_TARGETS_RESET):
        pygame.event.post(pygame.event.Event(t, display_index=0))
    before = pygame.surfarray.array3d(k.app.display.screen)
    k.run(max_frames=8, dt=DT, script=lambda i, a: [C.SetVector((3.0,) * 8)] if i == 3 else [])
    assert k.app.frames == 8 and k.app.failures == 0 and k.errors == 0
    assert k.screen.resets == 3 and k.screen.failures == 2 and state["calls"] == 3
    assert k.app.display.size == (64, 64) and not pygame.mouse.get_visible()
    after = pygame.surfarray.array3d(k.app.display.screen)
    assert np.abs(after.astype(int) - before).max() > 20   # the window shows the new point
    log = (tmp_path / "state" / "latentsketch.log").read_text()
    assert "no mode can be set (no display" in log and "display: 64x64" in log


def test_a_full_disk_for_state_and_logs_does_not_stop_the_show(make_kiosk, full_dir: Path,
                                                                tmp_path: Path) -> None:
    show = playlist(tmp_path / "pl", ["default", "gallery"])
    k = make_kiosk({"playlist": str(show), "folder": str(full_dir), "save_every": 0.0})
    k.run(max_frames=70, dt=DT)
    assert k.app.frames == 70 and k.app.preset.name == "gallery" and k.errors == 0
    assert not k.save() and k.log_handler is not None and k.log_handler.dropped > 0
    assert sorted(p.name for p in full_dir.iterdir()) in (["filler"],
                                                         ["filler", "latentsketch.log"])


def test_a_presets_kiosk_table_asks_for_installation_mode(tmp_path: Path) -> None:
    wall = tmp_path / "wall.toml"
    wall.write_text('name = "wall"\n[kiosk]\nplaylist = "day.toml"\n')
    p = wants_kiosk(str(wall))
    assert p is not None and kiosk_playlist(p) == str(tmp_path / "day.toml")
    assert wants_kiosk("gallery") is None and wants_kiosk(str(tmp_path / "nope.toml")) is None


def test_the_shipped_autostart_files_are_valid() -> None:
    unit = ROOT / "contrib" / "latentsketch.service"
    desktop = ROOT / "contrib" / "latentsketch.desktop"
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str   # keys are case-sensitive
    parser.read_string(unit.read_text())
    service = parser["Service"]
    assert service["Type"] == "notify" and service["Restart"] == "on-failure"
    assert service["WatchdogSec"] and "--kiosk" in service["ExecStart"]
    entry = configparser.ConfigParser(strict=True, interpolation=None)
    entry.optionxform = str
    entry.read_string(desktop.read_text())
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and "--kiosk" in d["Exec"]
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                           capture_output=True, text=True, timeout=60)
        bad = [ln for ln in (r.stdout + r.stderr).splitlines()
               if "latentsketch.service" in ln and "Command" not in ln
               and "not executable" not in ln]
        assert not bad, bad


def test_the_shipped_installation_preset_and_playlist_parse() -> None:
    from latentsketch.playlist import load

    p = Preset.from_file(ROOT / "contrib" / "installation.toml")
    path = kiosk_playlist(p)
    assert path is not None
    show, problems = load(path)
    assert problems == [] and {e.preset for e in show.entries} <= {"default", "gallery"}


def test_play_kiosk_says_ready_to_systemd_and_stops_cleanly_on_sigterm(tiny_model: Path,
                                                                       tmp_path: Path,
                                                                       monkeypatch) -> None:
    """The real command under a fake systemd: READY arrives over NOTIFY_SOCKET once the first
    frame is on screen; SIGTERM (``systemctl stop``) ends it with status 0, the playlist's
    place saved and the log written."""
    import os
    import signal
    import threading

    from latentsketch.cli import main

    show = playlist(tmp_path / "pl", ["gallery", "default"], duration=60.0)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(60)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    got: list[str] = []

    def systemd() -> None:   # READY, then ``systemctl stop``
        try:
            while not any(g.startswith("READY=1") for g in got):
                got.append(notify.recv(256).decode())
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=systemd, daemon=True)
    watcher.start()
    try:
        status = main(["play", "--kiosk", "--playlist", str(show), "--model", str(tiny_model),
                       "--no-osc", "--no-midi", "--backend", "fp32", "--size", "64x64",
                       "--fps", "30", "--out-dir", str(tmp_path / "out")])
    finally:
        watcher.join(10)
        notify.close()
    assert status == 0 and got[-1] == "READY=1\nSTATUS=playing gallery" and "WATCHDOG=1" in got
    state = tmp_path / "xdg-state" / "latentsketch"
    assert '"preset": "gallery"' in (state / "installation.json").read_text()
    log = (state / "latentsketch.log").read_text()
    assert "installation mode: exit with Ctrl+Alt+Shift+Q" in log and "SIGTERM" in log
