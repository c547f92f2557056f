"""Saving presets: every field round-trips, saving over keeps a person's comments, saving over a
bundled preset writes a copy in the user's folder, and the keys that switch presets."""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path

import numpy as np
import pytest

from latentsketch import commands as C
from latentsketch import preset as presets
from latentsketch.latent.directions import Directions, DirectionValue
from latentsketch.mapping import ControlMapping
from latentsketch.playlist import KioskSettings
from latentsketch.projection import Projection

DIM = 4


def _sample() -> presets.Preset:
    """A preset with every field set away from its default."""
    unit = np.array([[0.6, 0.8, 0.0, 0.0]])
    return presets.Preset(
        name="every field", description="all of them", params={"walk.speed": 2.5,
                                                               "walk.mode": 0.0,
                                                               "look.posterize": 5.0},
        seed=77, model="0123456789ab", slots={2: (0.5, -1.0, 0.25, 0.0)},
        keyframes=(presets.Keyframe((1.0, 0.0, 0.0, 0.0), 2.0, "one"),
                   presets.Keyframe((0.0, 1.0, 0.0, 0.0))),
        mappings=(ControlMapping("walk.speed", cc=3, channel=2, smooth=0.1),),
        display=presets.DisplaySettings("fill", True, True, True, True),
        midi_input="nano", directions=Directions(("round",), unit, np.array([0.5]),
                                                 ("attribute",)),
        direction_values={"round": DirectionValue(1.5), "pc0": DirectionValue(0.0, -1.0)},
        scene=presets.SceneSettings(fade=3.5, model="emoji"),
        projection=Projection(90, True, ((0.1, 0.0), (0.9, 0.05), (1.0, 1.0), (0.0, 0.95))),
        source="somewhere.toml", kiosk=KioskSettings(enabled=False, playlist="day.toml"))


def _differs(a: object, b: object) -> bool:
    return a != b if not isinstance(a, Directions) else len(a) != len(b)


def test_every_preset_field_round_trips(tmp_path: Path) -> None:
    p = _sample()
    back = presets.Preset.from_file(p.save(tmp_path / "p.toml"))
    default = presets.Preset()
    for f in fields(presets.Preset):
        if f.name == "source":
            continue
        value = getattr(p, f.name)
        assert _differs(value, getattr(default, f.name)), f"the sample leaves {f.name} unset"
        assert getattr(back, f.name) == value, f.name
        if is_dataclass(value):     # the tables' own fields ([display], [scene], [projection])
            for g in fields(value):
                assert g.default is MISSING or getattr(value, g.name) != g.default, g.name
    assert back == p


def test_saving_over_keeps_comments_and_layout_and_drops_unset_keys(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('# my show\nname = "mine"   # the name\n\n[walk]\nspeed = 1.0  # slow\n'
                    'dwell = 3.0\n\n[look]\n# colour\nsaturation = 1.5\n')
    p = presets.Preset.from_file(path)
    new = presets.Preset(name="mine", params={"walk.speed": 2.0, "look.saturation": 1.5,
                                              "look.trails": 0.4},
                         scene=presets.SceneSettings(fade=1.0))
    presets.save_over(new, path)
    text = path.read_text()
    assert "# my show" in text and "# the name" in text and "# colour" in text
    assert "speed = 2.0  # slow" in text and "dwell" not in text
    assert presets.Preset.from_file(path) == new != p


def test_saving_over_a_bundled_preset_writes_a_copy_in_the_user_folder(make_app) -> None:
    app = make_app(size=(48, 48))
    bundled_text = (presets.bundled_dir() / "default.toml").read_text()
    app.run(max_frames=4, dt=1 / 30, script=lambda i, a: [C.SetParam("walk.speed", 4.0)]
            if i == 0 else [C.SavePreset(over=True)] if i == 2 else [])
    copy = presets.user_dir() / "default.toml"
    assert copy.is_file() and (presets.bundled_dir() / "default.toml").read_text() == bundled_text
    assert "# latentsketch default preset" in copy.read_text()      # the comments came along
    assert "speed = 4.0             # 0..10" in copy.read_text()
    assert presets.load("default").params["walk.speed"] == 4.0 and app.preset.name == "default"
    app.run(max_frames=7, dt=1 / 30, script=lambda i, a: [C.SetParam("walk.speed", 5.0)]
            if i == 4 else [C.SavePreset(over=True)] if i == 5 else [])
    assert presets.load("default").params["walk.speed"] == 5.0       # over the copy now
    assert len(list(presets.user_dir().glob("*.toml"))) == 1


def test_keys_step_through_the_presets(make_app) -> None:
    app = make_app(size=(48, 48))
    names = presets.available()
    app.run(max_frames=3, dt=1 / 30, script=lambda i, a: [C.StepPreset()] if i == 0 else [])
    assert app.preset.name == names[(names.index("default") + 1) % len(names)]
    app.run(max_frames=6, dt=1 / 30, script=lambda i, a: [C.StepPreset(-1)] if i == 3 else [])
    assert app.preset.name == "default" and not app.state.last_errors


@pytest.mark.parametrize("text,error", [
    ("[scene]\nfade = -1\n", "scene.fade = -1 is not a time"),
    ("[scene]\nmodel = 3\n", "scene.model = 3 is not a bundled model's name or a path"),
    ("[scene]\ncolour = 1\n", "unknown key scene.colour"),
])
def test_a_bad_scene_table_is_one_line(text: str, error: str) -> None:
    with pytest.raises(presets.PresetError, match=error):
        presets.Preset.from_toml(text, "x.toml")
