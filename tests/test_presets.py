"""Presets: shipped ones load, round trips are exact, bad files give one line naming file+key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from latentsketch.commands import SetParam
from latentsketch.mapping import Mapping
from latentsketch.params import PARAMS
from latentsketch.preset import (
    Display,
    Keyframe,
    Preset,
    PresetError,
    available,
    bundled_dir,
    check_name,
    find,
    load,
)

SHIPPED = ("default", "gallery", "nanokontrol2", "touchdesigner")


def test_every_shipped_preset_loads_and_round_trips():
    assert set(SHIPPED) <= set(available())
    for name in SHIPPED:
        p = load(name)
        assert p.name == name and p.description
        assert Preset.from_toml(p.to_toml()) == p


def test_shipped_presets_say_what_they_claim():
    default = load("default")
    lift = {"look.contrast": 1.15, "look.saturation": 1.2}  # the default preset's subtle look
    assert default.values() == {p.name: lift.get(p.name, float(p.default)) for p in PARAMS}
    gallery = load("gallery")
    assert gallery.params["walk.mode"] == 3.0 and gallery.params["walk.speed"] < 0.5
    assert gallery.display == Display(fit="fill", fullscreen=True, hud=False)
    nano = load("nanokontrol2")
    assert nano.params == {} and nano.display is None and nano.midi_input == "nanoKONTROL2"
    by_cc = {m.cc: m for m in nano.mappings}
    assert [by_cc[c].target for c in range(8)] == [f"z/{i}" for i in range(8)]   # faders
    assert by_cc[16].target == "walk.speed" and by_cc[23].target == "look.trails"  # knobs
    assert by_cc[32].target == "slot/recall/1" and by_cc[64].target == "slot/store/1"
    assert by_cc[48].target == "z/0/release" and by_cc[45].target == "record"
    assert all(m.channel == 1 for m in nano.mappings) and len(by_cc) == len(nano.mappings)
    td = load("touchdesigner")
    assert [m.osc for m in td.mappings] == [f"/chan{i}" for i in range(1, 9)]
    assert all(m.input_range() == (0.0, 1.0) for m in td.mappings)


def test_shipped_presets_load_as_when_they_spelled_out_the_knob_range():
    """The shipped presets once wrote ``out = [-3.0, 3.0]`` on every latent-dimension mapping;
    that is the declared default now, so they leave it out and must load to the same state."""
    for name in SHIPPED:
        f = find(name)
        text = f.read_text(encoding="utf-8")
        assert "out = [-3.0, 3.0]" not in text
        spelled = re.sub(r'(?m)^(target = "z/\d+")$', r"\1\nout = [-3.0, 3.0]", text)
        assert spelled.count("out = [-3.0, 3.0]") == {"nanokontrol2": 8,
                                                      "touchdesigner": 4}.get(name, 0)
        before = Preset.from_toml(spelled, source=str(f))
        assert load(name) == before
        for m in before.mappings:
            if m.parsed_target.kind == "dim":
                assert m.output_range() == (-3.0, 3.0)


def test_full_preset_round_trip_through_a_file(tmp_path):
    p = Preset(
        name="live",
        description="a set",
        params={"walk.mode": 1.0, "walk.speed": 0.1 + 0.2, "look.posterize": 4.0,
                "look.blackout": 1.0},
        seed=2**40 + 3,
        model="0123456789ab",
        slots={1: (0.1, -2.5, 1e-9), 9: (3.0, 0.0, -0.0)},
        keyframes=(Keyframe((1.0, 2.0, 3.0)), Keyframe((0.5, 0.25, 0.125), hold=2.5)),
        mappings=(Mapping("z/0", cc=0, channel=1, takeover="soft", smooth=0.05),
                  Mapping("walk.speed", osc="/chan5", curve="exp", out_range=(0.05, 10)),
                  Mapping("pause", note=36, button="gate")),
        display=Display(fit="stretch", fullscreen=True, borderless=True, hud=True),
        midi_input="Launch",
    )
    path = p.save(tmp_path / "sub" / "live.toml")
    q = Preset.from_file(path)
    assert q == p and q.source == str(path)
    assert Preset.from_toml(q.to_toml()) == p
    assert p.param_commands() == (SetParam("walk.mode", 1.0), SetParam("walk.speed", 0.1 + 0.2),
                                  SetParam("look.posterize", 4.0), SetParam("look.blackout", 1.0))
    p.check_model("0123456789ab", 3)
    with pytest.raises(PresetError, match="model 0123456789ab, the running model is ffffffffffff"):
        p.check_model("ffffffffffff", 3)
    with pytest.raises(PresetError, match="3 values, the model 4"):
        p.check_model("0123456789ab", 4)


BAD = [
    ("[walk]\nspeed = -2\n", "walk.speed = -2 is out of range 0..10"),
    ("[walk]\nsped = 1\n", "unknown key walk.sped (known in [walk]: mode, speed"),
    ("[walk]\nmode = 'spiral'\n", "walk.mode = 'spiral' is not one of drift, noise, orbit, tour"),
    ("[walk]\nspeed = 'fast'\n", "walk.speed = 'fast' is not a number"),
    ("[walk]\nspeed = true\n", "walk.speed = True is not a number"),
    ("[look]\nposterize = 4.5\n", "look.posterize = 4.5 is not a whole number"),
    ("[look]\nblackout = 1\n", "look.blackout = 1 is not true or false"),
    ("[look]\ntrails = nan\n", "look.trails = nan is not finite"),
    ("colour = 'red'\n", "unknown key 'colour'"),
    ("walk = 3\n", "walk is not a table"),
    ("seed = -1\n", "seed = -1 is not a whole number"),
    ("model = 'xyz'\n", "model = 'xyz' is not a model id"),
    ("model = '0123456789ab'\n[slots]\n10 = [0.0]\n", "slots.10: slots are numbered 1..9"),
    ("model = '0123456789ab'\n[slots]\n1 = [0.0, nan]\n", "slots.1 contains a non-finite number"),
    ("[slots]\n1 = [0.0]\n", "slots and keyframes need model"),
    ("model = '0123456789ab'\n[slots]\n1 = [0.0]\n2 = [0.0, 1.0]\n", "different lengths [1, 2]"),
    ("model = '0123456789ab'\n[[keyframes]]\nu = [1.0]\nhold = -1\n", "keyframes[0].hold = -1"),
    ("[[mappings]]\ncc = 1\ntarget = 'z/0'\ncurve = 'log'\n",
     "mappings[0].curve = 'log' is not one of linear, exp"),
    ("[[mappings]]\ncc = 1\ntarget = 'z/0'\n[[mappings]]\ntarget = 'z/1'\n",
     "mappings[1].source: needs exactly one of osc, cc, note"),
    ("[display]\nfit = 'zoom'\n", "display.fit = 'zoom' is not one of fit, fill, stretch"),
    ("[display]\nvsync = true\n", "unknown key display.vsync"),
    ("[midi]\ninput = 3\n", "midi.input = 3 is not a device name filter"),
    ("[walk\nspeed = 1\n", "line 1"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_presets_give_one_line_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "live.toml"
    path.write_text(text)
    with pytest.raises(PresetError) as e:
        Preset.from_file(path)
    line = str(e.value)
    assert line.startswith(f"preset {path}: ") and message in line and "\n" not in line


def test_the_documented_error_line_exactly():
    with pytest.raises(PresetError) as e:
        Preset.from_toml("[walk]\nspeed = -2\n", source="presets/live.toml")
    assert str(e.value) == "preset presets/live.toml: walk.speed = -2 is out of range 0..10"


def test_unreadable_files_are_one_line(tmp_path):
    with pytest.raises(PresetError, match=r"^preset .*missing.toml: cannot read it"):
        Preset.from_file(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe name")
    with pytest.raises(PresetError, match="not UTF-8"):
        Preset.from_file(tmp_path / "bin.toml")


@pytest.mark.parametrize("name", ["../default", "a/b", "a\\b", ".hidden", "", "..", "x" * 65,
                                  "/etc/passwd", "nul\x00"])
def test_names_outside_the_preset_folders_are_refused(name):
    with pytest.raises(PresetError) as e:
        check_name(name)
    assert "not a plain name" in str(e.value)


def test_lookup_only_in_preset_folders_user_first(tmp_path: Path):
    assert check_name("live set 2.toml") == "live set 2"
    (tmp_path / "default.toml").write_text("name = 'default'\n[walk]\nspeed = 7.0\n")
    (tmp_path / "mine.toml").write_text("[walk]\nspeed = 2.0\n")
    assert load("default", (tmp_path,)).params["walk.speed"] == 7.0  # the user's wins
    assert load("default").params["walk.speed"] == 1.0              # the bundled one
    assert load("mine.toml", (tmp_path,)).name == "mine"
    assert find("gallery", (tmp_path,)) == bundled_dir() / "gallery.toml"
    assert "mine" in available((tmp_path,))
    with pytest.raises(PresetError, match="not found in the preset folders .*gallery"):
        load("nope", (tmp_path,))
