"""What leaves the live loop: recordings, snapshots, control over real OSC, start-from."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import av
import numpy as np
import pygame
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.app import App, AppOptions
from latentsketch.output.snapshot import read_snapshot_meta

DT = 1 / 30


@pytest.fixture
def app(tiny_model: Path, tmp_path: Path):
    a = App(AppOptions(model=str(tiny_model), seed=2, fps=0, size=(128, 128), osc=True,
                       osc_port=0, midi=False, out_dir=str(tmp_path / "out")))
    yield a
    a.close()


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_recording_holds_exactly_the_frames_shown_without_hud(
        app: App, caplog: pytest.LogCaptureFixture) -> None:
    shown: list[np.ndarray] = []
    app.hud.visible = True  # the HUD is on screen but must not be in the file

    def script(i: int, a: App) -> list:
        if 10 < i <= 40:
            shown.append(a.display.picture())
        if i == 10:
            return [C.Record(True)]
        if i == 40:
            return [C.Record(False)]
        return []

    with caplog.at_level("INFO", logger="latentsketch"):
        app.run(max_frames=45, dt=DT, script=script)
    said = [r.getMessage() for r in caplog.records]
    stop = next(i for i, m in enumerate(said) if m.startswith("finalising recording "))
    assert said[stop + 1].startswith("recorded 30 frames")   # said before the wait, as on Q
    videos = list((app.out.root).glob("*.mp4"))
    assert len(videos) == 1
    frames = _decode(videos[0])
    assert len(frames) == 30 == len(shown)
    assert frames[0].shape == (128, 128, 3)
    err = [np.abs(f.astype(int) - s.astype(int)).mean() for f, s in zip(frames, shown,
                                                                         strict=True)]
    assert max(err) < 6  # codec tolerance
    # the control log was written beside it, with one line per recorded frame
    logs = list(app.out.root.glob("*.log.jsonl"))
    assert len(logs) == 1 and logs[0].stem.split(".")[0] == videos[0].stem
    lines = logs[0].read_text().splitlines()
    assert len(lines) == 1 + 30
    header = json.loads(lines[0])  # the numeric path that decoded, for a replay elsewhere
    assert header["backend"] == app.decoder.backend
    assert header["decoder"]["engine"] == "torch" and header["decoder"]["device"] == "cpu"
    assert header["decoder"]["precision"] == app.decoder.backend
    assert header["decoder"]["threads"] == 1 and isinstance(header["decoder"]["cpu"], list)


def test_quit_while_recording_finalises_a_playable_file(app: App) -> None:
    app.run(max_frames=20, dt=DT, script=lambda i, a: [C.Record(True)] if i == 2 else [])
    app.close()
    videos = list(app.out.root.glob("*.mp4"))
    assert len(videos) == 1 and len(_decode(videos[0])) == 18


def test_unwritable_output_folder_keeps_the_show_going(tiny_model: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    a = App(AppOptions(model=str(tiny_model), fps=0, size=(64, 64), osc=False, midi=False,
                       out_dir=str(blocker / "out")))
    try:
        a.run(max_frames=10, dt=DT, script=lambda i, _: [C.Record(True), C.Snapshot()]
              if i == 3 else [])
        assert a.frames == 10 and not a.outputs.recording
    finally:
        a.close()


def test_snapshot_writes_pngs_that_bring_z_back(app: App, tiny_model: Path,
                                                tmp_path: Path) -> None:
    app.run(max_frames=30, dt=DT, script=lambda i, a: [C.Snapshot()] if i == 20 else [])
    app.outputs.wait_snapshots()
    pngs = sorted(app.out.root.glob("*.png"))
    assert len(pngs) == 2  # native and upscaled
    meta = read_snapshot_meta(pngs[0])
    assert meta is not None and meta.model_id == app.loaded.model_id
    z_snap = meta.z_array()
    app.close()
    b = App(AppOptions(model=str(tiny_model), seed=9, fps=0, size=(64, 64), osc=False,
                       midi=False, out_dir=str(tmp_path / "o2"), start_from=str(pngs[0])))
    try:
        b.run(max_frames=1, dt=DT, script=lambda i, a: [C.SetPause(True)])
        b.run(max_frames=400, dt=DT)
        assert np.abs(engine.output_z(b.state, b.space) - z_snap).max() < 1e-3
        # dropping any other image is encoded (tests/test_drops.py): never a crash
        other = tmp_path / "plain.png"
        from PIL import Image

        Image.new("RGB", (8, 8)).save(other)
        b.run(max_frames=402, dt=DT, script=lambda i, a: [
            pygame.event.Event(pygame.DROPFILE, file=str(other))])
        assert b.frames == 402
    finally:
        b.close()


def _send(port: int, *packets: bytes) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for p in packets:
        s.sendto(p, ("127.0.0.1", port))
    s.close()


def _msg(address: str, *args: object) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def test_osc_messages_and_bundles_steer_the_running_loop(app: App) -> None:
    port = app.osc.port
    app.run(max_frames=2, dt=DT)
    bb = OscBundleBuilder(IMMEDIATELY)
    bb.add_content(OscMessageBuilder("/latentsketch/walk/speed").build())  # no argument: ignored
    for addr, val in (("/latentsketch/walk/mode", "orbit"), ("/latentsketch/z/0", 1.5),
                      ("/latentsketch/walk/temperature", 0.5)):
        mb = OscMessageBuilder(addr)
        mb.add_arg(val)
        bb.add_content(mb.build())
    _send(port, bb.build().dgram, _msg("/latentsketch/pause", 1.0),
          _msg("/latentsketch/walk/speed", float("nan")), b"\x00garbage\xff",
          _msg("/latentsketch/z/0", "not a number"))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not app.state.paused:
        app.run(max_frames=app.frames + 1, dt=DT)
        time.sleep(0.01)
    s = app.state
    assert s.paused and s.mode == "orbit" and s.params["walk.temperature"] == 0.5
    raw0 = app.space.raw_index(0)
    assert s.pinned[raw0] and s.pin[raw0] == 1.5
    assert s.params["walk.speed"] == 1.0  # NaN ignored
    assert np.all(np.isfinite(engine.output_z(s, app.space)))
    app.run(max_frames=app.frames + 5, dt=DT)
    assert app.osc.dropped.total == 1         # the garbage datagram
    assert app.translator.dropped.total >= 3  # missing argument, NaN, wrong type
