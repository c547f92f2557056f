"""MIDI into the running loop: a preset's mappings, and learn -> save -> reload."""

from __future__ import annotations

from pathlib import Path

import mido
import pygame

from latentsketch import commands as C
from latentsketch import preset as presets
from latentsketch.app import App, AppOptions
from latentsketch.control.midi import MidiInputs
from tests.test_midi import FakeBackend

DT = 1 / 60


def _app(tiny_model: Path, tmp_path: Path, **kw: object) -> tuple[App, FakeBackend]:
    app = App(AppOptions(model=str(tiny_model), seed=3, fps=0, size=(96, 96), osc=False,
                         midi=False, out_dir=str(tmp_path / "out"), **kw))
    backend = FakeBackend(["nanoKONTROL2 MIDI 1"])
    app.midi = MidiInputs(app.preset.midi_input, backend=backend)
    assert app.midi.start()
    return app, backend


def _cc(backend: FakeBackend, cc: int, value: int) -> None:
    port = backend.ports["nanoKONTROL2 MIDI 1"]
    port.pending.append(mido.Message("control_change", channel=0, control=cc, value=value))


def test_nanokontrol_fader_pins_a_dimension_with_soft_takeover(tiny_model: Path,
                                                               tmp_path: Path) -> None:
    app, backend = _app(tiny_model, tmp_path, preset="nanokontrol2")
    try:
        app.run(max_frames=5, dt=DT)
        raw0 = app.space.raw_index(0)
        # soft takeover: the fader far from the current value does not grab the dimension...
        _cc(backend, 0, 127)
        app.run(max_frames=10, dt=DT)
        assert not app.state.pinned[raw0]
        # ...until it passes through it (the dim sits near 0 std = CC 64)
        for v in range(100, 20, -8):
            _cc(backend, 0, v)
            app.run(max_frames=app.frames + 1, dt=DT)
        app.run(max_frames=app.frames + 60, dt=DT)  # the knob's smoothing settles
        assert app.state.pinned[raw0]
        assert abs(app.state.pin[raw0] - (-3 + 6 * 28 / 127)) < 0.05
        assert app.midi_seen is not None
    finally:
        app.close()


def test_learn_binds_the_next_control_and_saves_it(tiny_model: Path, tmp_path: Path) -> None:
    app, backend = _app(tiny_model, tmp_path)
    try:
        t = pygame.KSCAN_T
        events = {2: [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_t, mod=0, scancode=t,
                                         unicode="t")],
                  4: [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_k, mod=0, scancode=0,
                                         unicode="k")]}
        app.run(max_frames=6, dt=DT, script=lambda i, a: events.get(i, []))
        assert app.mapper.learning == "walk.temperature"
        _cc(backend, 21, 64)
        app.run(max_frames=8, dt=DT)
        assert app.mapper.learning is None
        assert any(m.target == "walk.temperature" and m.cc == 21 for m in app.mapper.mappings)
        _cc(backend, 21, 127)
        app.run(max_frames=80, dt=DT)
        assert app.state.params["walk.temperature"] > 2.5
        app.run(max_frames=81, dt=DT, script=lambda i, a: [C.SavePreset()])
        saved = list(presets.user_dir().glob("*.toml"))  # the user's preset folder
        assert len(saved) == 1
        p = presets.load(saved[0].stem)  # as --preset NAME finds it
        assert any(m.target == "walk.temperature" and m.cc == 21 for m in p.mappings)
        assert p.params["walk.temperature"] > 2.5
    finally:
        app.close()
