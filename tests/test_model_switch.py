"""A preset that names a model: resolved by name or path, loaded off the render thread while the
show plays on, crossfaded, logged (and such a log refused by a replay in one line)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from latentsketch import preset as presets
from latentsketch.app.model_switch import Crossfade
from latentsketch.model import checkpoint
from latentsketch.output.controllog import ControlLogError, read_log
from latentsketch.preset import model_path
from tests.conftest import make_tiny_model


@pytest.fixture(scope="module")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("other_model")
    make_tiny_model(d, seed=5)
    return d


def test_a_model_reference_is_a_bundled_name_or_a_path(tmp_path: Path, other_model: Path) -> None:
    named = presets.Preset(scene=presets.SceneSettings(model="emoji"))
    assert model_path(named) == checkpoint.bundled_path("emoji").resolve()
    assert model_path(presets.Preset()) is None
    (tmp_path / "m").symlink_to(other_model)
    relative = presets.Preset(scene=presets.SceneSettings(model="m"),
                              source=str(tmp_path / "show.toml"))
    assert model_path(relative) == (other_model / "model.safetensors").resolve()
    missing = presets.Preset(scene=presets.SceneSettings(model="nowhere"), source="x.toml")
    with pytest.raises(presets.PresetError, match=r"x.toml: scene.model = 'nowhere': .*no such"):
        model_path(missing)


def test_crossfade_goes_from_the_old_frame_to_the_new_one() -> None:
    old = np.full((8, 8, 3), 200, np.uint8)
    fade = Crossfade(old, 1.0)
    new = np.zeros((16, 16, 3), np.uint8)
    seen = [int(fade.blend(new, 0.25).mean()) for _ in range(4)]
    assert 200 > seen[0] > seen[1] > seen[2] > seen[3] == 0 and fade.done


def test_a_scene_of_another_model_loads_off_the_loop_and_crossfades(
        make_app, other_model: Path, tmp_path: Path) -> None:
    other_id = checkpoint.load(other_model).model_id
    presets.Preset(name="other", params={"look.contrast": 1.5},
                   scene=presets.SceneSettings(fade=0.3, model=str(other_model))
                   ).save(presets.user_dir() / "other.toml")
    presets.Preset(name="broken", scene=presets.SceneSettings(model="nowhere")
                   ).save(presets.user_dir() / "broken.toml")
    app = make_app(size=(48, 48), log_control=True)
    first_id = app.loaded.model_id
    app.run(max_frames=3, dt=1 / 30)
    with pytest.raises(presets.PresetError, match="scene.model = 'nowhere'"):
        app.switch_preset("broken")
    app.switch_preset("other")
    assert app.model_load is not None and app.loaded.model_id == first_id   # still playing
    assert any(t.name == "latentsketch-model-load" for t in threading.enumerate())
    deadline = time.monotonic() + 30
    while app.model_load is not None and time.monotonic() < deadline:
        app.run(max_frames=app.frames + 1, dt=1 / 30)
    assert app.loaded.model_id == other_id and app.preset.name == "other"
    assert app.crossfade is not None                    # the old picture fades out...
    app.run(max_frames=app.frames + 15, dt=1 / 30)
    assert app.crossfade is None and app.state.fade is None   # ...within the fade
    assert app.state.params["look.contrast"] == 1.5 and not app.state.last_errors
    assert app.failures == 0
    app.close()
    with pytest.raises(ControlLogError, match="switched to model .* a replay renders one model"):
        read_log(next((tmp_path / "out").glob("*.log.jsonl")))


def test_a_show_and_a_render_start_on_the_model_their_preset_names(
        make_app, other_model: Path, tmp_path: Path) -> None:
    from latentsketch.render import RenderRequest, render

    other = checkpoint.load(other_model)
    keys = (presets.Keyframe((0.5,) * other.space.dim), presets.Keyframe((-0.5,) * other.space.dim))
    path = presets.Preset(name="mine", model=other.model_id, keyframes=keys,   # its model only
                          scene=presets.SceneSettings(model=str(other_model))
                          ).save(tmp_path / "mine.toml")
    app = make_app(model=None, preset=str(path), size=(32, 32))
    assert app.loaded.model_id == other.model_id
    r = render(RenderRequest(preset=str(path), duration=0.25, fps=8, size=(32, 32),
                             out=tmp_path / "clip", backend="fp32", threads=1))
    assert r.frames == 2
