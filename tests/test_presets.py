"""Presets: shipped ones load and do what they describe (play, route real MIDI and OSC), round
trips are exact, bad files give one line naming file+key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import mido
import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from latentsketch import engine
from latentsketch.commands import RecallSlot, Record, StoreSlot
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.osc import parse_datagram
from latentsketch.latent.space import LatentSpace
from latentsketch.mapping import ControlMapping
from latentsketch.output.look import Look
from latentsketch.params import PARAMS, param
from latentsketch.preset import (
    DisplaySettings,
    Keyframe,
    Preset,
    PresetError,
    available,
    bundled_dir,
    check_name,
    find,
    load,
)

SHIPPED = ("default", "gallery", "nanokontrol2", "touchdesigner", "ambient", "pulse")


def test_every_shipped_preset_loads_and_round_trips():
    assert set(SHIPPED) <= set(available())
    for name in SHIPPED:
        p = load(name)
        assert p.name == name and p.description
        assert Preset.from_toml(p.to_toml()) == p


def _space(tiny_model: Path) -> LatentSpace:
    from latentsketch.model import checkpoint

    return checkpoint.load(tiny_model).space


def _start(p: Preset, space: LatentSpace) -> engine.State:
    """The state the live loop starts from with preset ``p`` (as ``App`` builds it)."""
    return engine.State.initial(space, 1, p.params, dict(p.slots),
                                [k.u for k in p.keyframes] or None)


def _play(p: Preset, space: LatentSpace, seconds: float) -> np.ndarray:
    """Output u (frames, dim) of ``seconds`` of the preset's walk at 60 fps."""
    s, us = _start(p, space), []
    for _ in range(round(seconds * 60)):
        s = engine.step(s, [], 1 / 60, space)
        us.append(engine.output_u(s))
    return np.array(us)


def _route(p: Preset, space: LatentSpace, inputs: list[Callable[[MappingRuntime], list]],
           frames: int = 120) -> tuple[engine.State, list]:
    """Feed real inputs through the preset's mappings into the engine, one a frame, then let
    smoothing settle; returns the state and every command, as the live loop runs them."""
    mapper, s, cmds = MappingRuntime(p.mappings, space.dim), _start(p, space), []
    for i in range(len(inputs) + frames):
        new = inputs[i](mapper) if i < len(inputs) else []
        current = dict(s.params)  # what the loop tells the mapper (soft takeover, relative)
        u = np.where(s.pinned, s.pin, engine.output_u(s))
        current |= {f"z/{k}": float(v) for k, v in enumerate(space.to_ranked(u))}
        new += mapper.update(1 / 60, current)
        cmds += new
        s = engine.step(s, new, 1 / 60, space)
        assert not s.last_errors, s.last_errors
    return s, cmds


def _cc(control: int, value: int, channel: int = 1) -> Callable[[MappingRuntime], list]:
    msg = mido.Message("control_change", channel=channel - 1, control=control, value=value)
    return lambda m: m.feed_midi(msg)


def _osc(address: str, value: float) -> Callable[[MappingRuntime], list]:
    """A message as TouchDesigner's OSC Out CHOP sends it: raw bytes, parsed as the receiver
    parses them."""
    b = OscMessageBuilder(address)
    b.add_arg(value, "f")
    ((addr, args),) = parse_datagram(b.build().dgram)
    return lambda m: m.feed_osc(addr, args)


def test_default_preset_tours_the_models_encoded_images(tiny_model: Path) -> None:
    """What ``latentsketch`` starts with plays: z stays finite and moves, and the walk is a
    tour that comes to rest on each of the model's keyframes (encoded training images)."""
    space = _space(tiny_model)
    us = _play(load("default"), space, 4 * 2.5 * 2)  # twice round 4 keyframes, ~2.5 s each
    assert np.isfinite(us).all() and np.abs(np.diff(us, axis=0)).max() > 0
    keys = space.keyframes.astype(np.float64)
    nearest = np.linalg.norm(us[:, None, :] - keys[None], axis=2).min(axis=0)  # per keyframe
    assert (nearest < 0.01).all(), nearest


def test_default_preset_lifts_contrast_and_colour() -> None:
    """Its look is the subtle lift it describes: more contrast and more saturated colour
    than the declared defaults, on the same picture."""
    rng = np.random.default_rng(0)
    frame = (64 + rng.integers(0, 128, (32, 32, 3))).astype(np.uint8)  # a flat, dull picture

    def shown(values: dict[str, float]) -> np.ndarray:
        look = Look()
        look.advance(values, 1 / 60)
        out = np.array(look.pre(frame), np.uint8, order="C")
        look.post(out)
        return out.astype(float)

    lifted, plain = shown(load("default").values()), shown({p.name: p.default for p in PARAMS})
    assert lifted.std() > 1.05 * plain.std()                                        # contrast
    chroma = lambda im: (im.max(axis=2) - im.min(axis=2)).mean()  # noqa: E731
    assert chroma(lifted) > 1.1 * chroma(plain)                                     # colour


def test_gallery_preset_is_a_slower_tour_for_the_wall(make_app, tiny_model: Path) -> None:
    """Unattended on a wall: the same kind of tour as the default, moving slower, on a window
    that fills the screen without the HUD."""
    space = _space(tiny_model)
    gallery, default = _play(load("gallery"), space, 10), _play(load("default"), space, 10)
    path = lambda us: np.linalg.norm(np.diff(us, axis=0), axis=1).sum()  # noqa: E731
    assert np.isfinite(gallery).all() and 0 < path(gallery) < 0.6 * path(default)
    app = make_app(preset="gallery")
    app.run(max_frames=3, dt=1 / 60)
    assert app.state.mode == "tour" and app.display.fit == "fill" and not app.hud.visible
    assert app.display.fullscreen or "fullscreen failed" in " ".join(app.display.warnings)


def test_nanokontrol2_routes_its_faders_knobs_and_buttons(tiny_model: Path) -> None:
    """Factory-mode nanoKONTROL2 messages on channel 1 reach what the preset says: fader n pins
    dimension n (soft takeover: swept through the current value first), knobs set walk and
    look, the S/M/R buttons store, recall and release, REC records; channel 2 does nothing."""
    space = _space(tiny_model)
    nano = load("nanokontrol2")
    assert nano.midi_input == "nanoKONTROL2"
    state, _ = _route(nano, space, [_cc(n, v) for n in range(8) for v in (0, 127)])
    ranked = np.array([state.pin[space.raw_index(k)] for k in range(8)])
    assert all(state.pinned[space.raw_index(k)] for k in range(8))
    assert np.allclose(ranked, 3.0, atol=1e-3)         # each fader at the top: +3 std
    before = state.params
    state, _ = _route(nano, space, [_cc(16, 127), _cc(16, 0), _cc(23, 0), _cc(23, 127)])
    assert state.params["walk.speed"] < before["walk.speed"]
    assert state.params["look.trails"] > before["look.trails"]
    state, cmds = _route(nano, space, [_cc(64, 127), _cc(64, 0), _cc(32, 127)])
    assert state.slots[0] is not None and state.slots[1:] == (None,) * 8   # S1 stores slot 1
    assert cmds.index(StoreSlot(1)) < cmds.index(RecallSlot(1))          # M1 recalls it
    settle = [lambda m: []] * 60                                  # a second for the glide
    state, _ = _route(nano, space, [_cc(0, 0), _cc(0, 127), *settle, _cc(48, 127)])
    assert not state.pinned[space.raw_index(0)]                            # R1 releases z/0
    _, cmds = _route(nano, space, [_cc(45, 127)])
    assert any(isinstance(c, Record) for c in cmds)
    _, cmds = _route(nano, space, [_cc(0, 0, channel=2), _cc(0, 127, channel=2)])
    assert cmds == []


def test_touchdesigner_routes_chan1_to_chan8_over_their_whole_range(tiny_model: Path) -> None:
    """/chan1../chan8 carrying a slider's 0..1, as raw OSC bytes: 1 puts dims 0-3 at +3 std
    and the walk and look targets at the top of their ranges, 0 at the bottom."""
    space = _space(tiny_model)
    td = load("touchdesigner")
    for v, std in ((1.0, 3.0), (0.0, -3.0)):
        state, _ = _route(td, space, [_osc(f"/chan{i}", v) for i in range(1, 9)])
        for k in range(4):
            raw = space.raw_index(k)
            assert state.pinned[raw] and state.pin[raw] == pytest.approx(std, abs=1e-3)
        assert not any(state.pinned[space.raw_index(k)] for k in range(4, space.dim))
        top = {n: (param(n).hi if v else param(n).lo) for n in
               ("walk.temperature", "look.posterize", "look.trails")}
        top["walk.speed"] = 10.0 if v else 0.05    # the preset's own range, on an exp curve
        for name, want in top.items():
            assert state.params[name] == pytest.approx(want, abs=1e-3), name


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
        mappings=(ControlMapping("z/0", cc=0, channel=1, takeover="soft", smooth=0.05),
                  ControlMapping("walk.speed", osc="/chan5", curve="exp", out_range=(0.05, 10)),
                  ControlMapping("pause", note=36, button="gate")),
        display=DisplaySettings(fit="stretch", fullscreen=True, borderless=True, hud=True),
        midi_input="Launch",
    )
    path = p.save(tmp_path / "sub" / "live.toml")
    q = Preset.from_file(path)
    assert q == p and q.source == str(path)
    assert Preset.from_toml(q.to_toml()) == p
    assert q.values()["walk.speed"] == 0.1 + 0.2 and q.values()["walk.glide"] == 0.6  # default
    p.check_model("0123456789ab", 3)
    with pytest.raises(PresetError, match="model 0123456789ab, the running model is ffffffffffff"):
        p.check_model("ffffffffffff", 3)
    with pytest.raises(PresetError, match="3 values, the model 4"):
        p.check_model("0123456789ab", 4)


BAD = [
    ("[walk]\nspeed = -2\n", "walk.speed = -2 is out of range 0..10"),
    ("[walk]\nsped = 1\n", "unknown key walk.sped (known in [walk]: mode, speed"),
    ("[walk]\nmode = 'zigzag'\n",
     "walk.mode = 'zigzag' is not one of drift, noise, orbit, tour, spiral"),
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
    assert "neither a .toml file nor a plain name" in str(e.value)


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


def test_bundled_data_is_found_in_an_uninstalled_checkout(monkeypatch: pytest.MonkeyPatch) \
        -> None:
    """``pytest`` or ``python -m latentsketch`` in a fresh clone that was never installed:
    the presets and the model come from the checkout's own folders."""
    from latentsketch import bundled
    from latentsketch.model import checkpoint

    def not_installed(package: str):
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(bundled, "files", not_installed)
    assert "default" in available()
    assert load("default").name == "default"
    assert checkpoint.bundled_path().is_file()
