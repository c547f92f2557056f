"""Scene switches that crossfade: parameters ramp, the picture holds and glides over the fade,
the switch is an engine command (logged, replayed), and a broken preset changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from latentsketch import commands as C
from latentsketch import engine
from latentsketch import preset as presets
from latentsketch.app import scenes
from latentsketch.latent.space import LatentSpace
from latentsketch.model import checkpoint
from latentsketch.output.controllog import read_log, state_from_json, state_to_json
from latentsketch.render import replay_clip

DIM = 8


@pytest.fixture(scope="module")
def space() -> LatentSpace:
    rng = np.random.default_rng(3)
    return LatentSpace(dim=DIM, rank=tuple(int(i) for i in rng.permutation(DIM)),
                       mean=np.zeros(DIM, np.float32), std=np.ones(DIM, np.float32),
                       keyframes=rng.normal(0, 1, (3, DIM)).astype(np.float32))


def _scene(fade: float, **params: float) -> C.SwitchScene:
    keys = ((1.5,) * DIM, (-1.5,) * DIM)
    return C.SwitchScene("calm", fade, tuple(params.items()), keyframes=keys, holds=(0.5, None))


def _frames(space: LatentSpace, s: engine.State, n: int, fps: float = 60,
            first: list | None = None) -> tuple[engine.State, list[engine.State]]:
    out = []
    for i in range(n):
        s = engine.step(s, first if i == 0 and first else [], 1 / fps, space)
        out.append(s)
    return s, out


def test_a_switch_ramps_parameters_and_the_picture_glides_over_the_fade(space) -> None:
    s0 = engine.State.initial(space, seed=2, params={"walk.mode": "drift", "look.contrast": 1.0})
    s0, _ = _frames(space, s0, 30)
    cmd = _scene(2.0, **{"walk.temperature": 0.4, "look.contrast": 2.0, "walk.mode": 3.0})
    _, states = _frames(space, s0, 150, first=[cmd])
    contrast = [s.params["look.contrast"] for s in states]
    assert states[0].mode == "tour"                      # what cannot blend switches at once
    assert 1.0 < contrast[30] < contrast[60] < contrast[90] < 2.0   # ramps, monotonic
    assert contrast[119] == 2.0 and states[119].fade is None        # done after 2 s exactly
    assert contrast[5] - 1.0 < 0.02                                 # eased: a slow start
    us = np.array([engine.output_u(s) for s in states])
    steps = np.linalg.norm(np.diff(us, axis=0), axis=1)
    assert np.isclose(us[0], engine.output_u(s0), atol=0.1).all()   # no jump at the switch
    assert steps.max() < 0.2                                        # nor later
    assert not any(s.last_errors for s in states)


def test_a_knob_turned_during_a_fade_wins_and_fade_zero_is_the_old_switch(space) -> None:
    s0 = engine.State.initial(space, seed=2)
    s, _ = _frames(space, s0, 10, first=[_scene(3.0, **{"walk.speed": 4.0,
                                                          "look.contrast": 2.0})])
    s = engine.step(s, [C.SetParam("walk.speed", 0.5)], 1 / 60, space)
    s, _ = _frames(space, s, 200)
    assert s.params["walk.speed"] == 0.5 and s.params["look.contrast"] == 2.0
    at_once = engine.step(s0, [_scene(0.0, **{"walk.speed": 4.0})], 1 / 60, space)
    assert at_once.params["walk.speed"] == 4.0 and at_once.fade is None


def test_a_fade_takes_the_same_path_at_any_frame_rate(space) -> None:
    s0 = engine.State.initial(space, seed=5, params={"walk.mode": "noise"})
    cmd = _scene(1.0, **{"walk.speed": 3.0, "walk.temperature": 0.5})
    a, _ = _frames(space, s0, 60, fps=60, first=[cmd])
    b, _ = _frames(space, s0, 24, fps=24, first=[cmd])
    assert a.tick == b.tick and a.fade is None and b.fade is None
    assert np.allclose(engine.output_u(a), engine.output_u(b), atol=1e-6)


def test_a_state_in_mid_fade_round_trips_through_a_log_and_bad_fades_are_refused(space) -> None:
    s, _ = _frames(space, engine.State.initial(space, seed=1), 20,
                   first=[_scene(2.0, **{"look.contrast": 2.5})])
    back = state_from_json(json.loads(json.dumps(state_to_json(s))), space)
    a, _ = _frames(space, s, 40)
    b, _ = _frames(space, back, 40)
    assert engine.output_z(a, space).tobytes() == engine.output_z(b, space).tobytes()
    assert C.from_json(json.loads(json.dumps(_scene(1.0).to_json()))) == _scene(1.0)
    for fade in (-1.0, float("nan"), 1e6):
        bad = engine.step(s, [_scene(fade, **{"walk.speed": 9.0})], 1 / 60, space)
        assert bad.last_errors and "fade" in bad.last_errors[0]
        assert bad.params["walk.speed"] == s.params["walk.speed"]


def test_the_live_switch_is_logged_and_replays_bit_exactly(make_app, tiny_model: Path,
                                                           tmp_path: Path) -> None:
    loaded = checkpoint.load(tiny_model)
    presets.Preset(name="slow", params={"walk.speed": 0.2, "look.contrast": 2.0},
                   scene=presets.SceneSettings(fade=0.5)).save(presets.user_dir() / "slow.toml")
    app = make_app(log_control=True, size=(64, 64))
    zs: list[np.ndarray] = []

    def script(i: int, a) -> list:
        if i:
            zs.append(engine.output_z(a.state, a.space))
        if i == 8:
            assert a.switch_preset("slow").name == "slow"
        return [C.LoadPreset("nothing-like-it"), C.LoadPreset("default", fade=0.25)] \
            if i == 30 else []

    app.run(max_frames=50, dt=1 / 30, script=script)
    zs.append(engine.output_z(app.state, app.space))
    assert app.preset.name == "default" and app.state.fade is None
    with pytest.raises(presets.PresetError, match="not found"):
        app.switch_preset("nothing-like-it")
    app.close()
    log = read_log(next((tmp_path / "out").glob("*.log.jsonl")), loaded.model_id)
    switches = [c for f in log.frames for c in f.commands if isinstance(c, C.SwitchScene)]
    assert [(c.name, c.fade) for c in switches] == [("slow", 0.5), ("default", 0.25)]
    replayed = np.stack([f.z for f in replay_clip(log, loaded.space).frames])
    assert replayed.tobytes() == np.stack(zs).tobytes()


def test_the_fade_comes_from_the_caller_then_the_preset_then_the_default() -> None:
    p = presets.Preset(scene=presets.SceneSettings(fade=4.0))
    assert scenes.fade_of(p, 1.0) == 1.0 and scenes.fade_of(p) == 4.0
    assert scenes.fade_of(presets.Preset()) == presets.DEFAULT_FADE
    assert scenes.switch_command(presets.load("gallery")).fade == presets.DEFAULT_FADE


def test_osc_preset_takes_an_optional_fade() -> None:
    from latentsketch.control.osc import OscInput
    from latentsketch.control.osc_addresses import OscTranslator

    tr = OscTranslator(DIM)
    assert tr.translate(OscInput("/latentsketch/preset", ("pulse", 1.5), 0.0)) == [
        C.LoadPreset("pulse", 1.5)]
    assert tr.translate(OscInput("/latentsketch/preset", ("pulse",), 0.0)) == [
        C.LoadPreset("pulse")]
    assert tr.translate(OscInput("/latentsketch/preset", ("pulse", -2.0), 0.0)) == []
