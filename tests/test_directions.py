"""Directions: principal and attribute directions, where they are stored, and every input that
drives them (OSC over real UDP, MIDI/OSC mappings, the mouse pad, presets, control logs)."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from pathlib import Path

import mido
import numpy as np
import pygame
import pytest
import torch
from PIL import Image
from pythonosc.osc_message_builder import OscMessageBuilder

from latentsketch import cli, engine
from latentsketch import commands as C
from latentsketch import preset as presets
from latentsketch.app import App, AppOptions, scenes, status
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.mouse import Mouse
from latentsketch.latent import directions as D
from latentsketch.latent.space import LatentSpace
from latentsketch.mapping import ControlMapping, parse_target
from latentsketch.model import checkpoint, direction_files
from latentsketch.output.controllog import read_log, state_from_json, state_to_json
from latentsketch.render import replay_clip
from latentsketch.train import TrainConfig, train

DIM = 8
DT = 1 / 30


def _u(n: int = 300, seed: int = 0) -> np.ndarray:
    """Correlated standardised points (N, DIM): their principal directions differ from axes."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, DIM)) @ rng.normal(size=(DIM, DIM))
    return (u - u.mean(0)) / u.std(0)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with principal directions in its config, as ``train`` stores them."""
    from tests.conftest import make_tiny_model

    out = tmp_path_factory.mktemp("directed")
    make_tiny_model(out)
    cfg = json.loads((out / "model.json").read_text())
    cfg["directions"] = D.principal(_u()).to_json()
    (out / "model.json").write_text(json.dumps(cfg))
    return out


def _with_round(loaded: checkpoint.LoadedModel) -> D.Directions:
    """The model's directions plus an attribute direction ``round``."""
    rng = np.random.default_rng(1)
    basis = loaded.space.directions
    extra = D.attribute("round", rng.normal(1, 1, (20, DIM)), rng.normal(0, 1, (20, DIM)), basis)
    return basis.merged(extra)


def _settle(state: engine.State, space, cmds=(), frames: int = 3) -> engine.State:
    """Apply ``cmds``, with no glide, and step on a little."""
    state = engine.step(state, [C.SetParam("walk.glide", 0.0), *cmds], DT, space)
    for _ in range(frames):
        state = engine.step(state, (), DT, space)
    return state


def _proj(state: engine.State, k: int) -> float:
    d = state.directions
    return float(engine._output_u64(state) @ d.unit[k]) / float(d.scale[k])


# --- the maths -----------------------------------------------------------------------------

def test_principal_directions_are_orthonormal_signed_and_scaled() -> None:
    u = _u()
    p = D.principal(u)
    assert p.names == tuple(f"pc{i}" for i in range(DIM)) and set(p.kinds) == {"pc"}
    np.testing.assert_allclose(p.unit @ p.unit.T, np.eye(DIM), atol=1e-12)
    # scale = the population std of the data's projection, in decreasing order
    np.testing.assert_allclose((u @ p.unit.T).std(axis=0), p.scale, rtol=1e-12)
    assert np.all(np.diff(p.scale) <= 0)
    # the sign: each direction's largest-magnitude component is positive
    assert all(row[np.argmax(np.abs(row))] > 0 for row in p.unit)
    assert D.principal(-u).unit.tobytes() == p.unit.tobytes()   # the data's sign does not matter
    again = D.Directions.from_json(json.loads(json.dumps(p.to_json())), DIM)
    assert again == p and again.unit.tobytes() == p.unit.tobytes()


def test_attribute_scale_is_the_datas_spread_along_it() -> None:
    u = _u()
    basis = D.principal(u)
    a = D.attribute("warm", u[:50] + 2.0, u[50:100], basis)
    assert a.kinds == ("attribute",) and np.isclose(np.linalg.norm(a.unit[0]), 1.0)
    assert np.isclose(a.scale[0], (u @ a.unit[0]).std(), rtol=1e-9)
    with pytest.raises(D.DirectionError, match="same mean point"):
        D.attribute("none", u[:10], u[:10], basis)
    with pytest.raises(D.DirectionError, match="kept for principal"):
        D.attribute("pc3", u[:10] + 1, u[:10], basis)


# --- stored with the checkpoint, never in the weights --------------------------------------

def test_training_stores_principal_directions_with_the_checkpoint(tmp_path: Path) -> None:
    cfg = TrainConfig(data="procedural", out=str(tmp_path / "m"), size=64, latent=4, width=8,
                      epochs=1, batch_size=8, lr=3e-3, n_images=48, warmup_steps=5, seed=0,
                      precision="fp32", threads=1)
    path, _ = train(cfg)
    stored = json.loads((tmp_path / "m" / "model.json").read_text())["directions"]
    loaded = checkpoint.load(path)
    d = loaded.space.directions
    assert d.names == tuple(x["name"] for x in stored) and d.n_pcs == len(d) >= 3
    np.testing.assert_allclose(d.unit @ d.unit.T, np.eye(len(d)), atol=1e-9)
    assert d.unit.tobytes() == np.array([x["u"] for x in stored]).tobytes()   # bit for bit
    # the scales are the spread of the encoded training images along each direction
    assert 0.3 < float(np.sum(d.scale ** 2)) / 4 <= 1.0 + 1e-6


def test_directions_command_writes_a_sidecar_by_model_id_and_leaves_the_weights(
        tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    weights = tiny_model / "model.safetensors"
    before = hashlib.sha256(weights.read_bytes()).hexdigest()
    folder = _folder(tmp_path / "mixed", [(220, 40, 30), (30, 60, 210), (240, 240, 240),
                                          (20, 20, 20), (40, 200, 60), (200, 200, 40)])
    assert cli.main(["directions", str(tiny_model), "--data", str(folder)]) == 0
    assert "principal directions from 6 images" in capsys.readouterr().out
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == before
    loaded = checkpoint.load(tiny_model)
    side = direction_files.user_file(loaded.model_id)
    assert side.is_file() and json.loads(side.read_text())["model_id"] == loaded.model_id
    assert loaded.space.directions.n_pcs == 5   # 6 images span at most 5 directions


def test_directions_out_dash_writes_the_file_to_stdout(
        tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """--out - is standard output (the Unix convention), not a file named '-'; the summary goes
    to stderr so the JSON can be piped."""
    folder = _folder(tmp_path / "mixed", [(220, 40, 30), (30, 60, 210), (240, 240, 240),
                                          (20, 20, 20)])
    monkeypatch.chdir(tmp_path)
    assert cli.main(["directions", "--model", str(tiny_model), "--data", str(folder),
                     "--out", "-"]) == 0
    out, err = capsys.readouterr()
    assert not (tmp_path / "-").exists()
    loaded = checkpoint.load(tiny_model)
    doc = json.loads(out)
    assert doc["model_id"] == loaded.model_id
    (tmp_path / "d.json").write_text(out)
    d = direction_files.read(tmp_path / "d.json", loaded.model_id, loaded.space.dim)
    assert d.n_pcs == 3 and "written to standard output" in err


def _folder(path: Path, colours: list[tuple[int, int, int]], jitter: int = 0) -> Path:
    path.mkdir(parents=True)
    rng = np.random.default_rng(len(colours))
    for i, c in enumerate(colours):
        a = np.clip(np.array(c) + rng.integers(-jitter, jitter + 1, (48, 48, 3)), 0, 255)
        Image.fromarray(a.astype(np.uint8)).save(path / f"{i}.png")
    return path


def test_attribute_direction_from_red_and_blue_points_from_b_to_a(model: Path,
                                                                   tmp_path: Path) -> None:
    red = _folder(tmp_path / "red", [(230, 30, 30)] * 4, jitter=20)
    blue = _folder(tmp_path / "blue", [(30, 30, 230)] * 4, jitter=20)
    assert cli.main(["directions", str(model), "--from", str(blue), "--to", str(red),
                     "--name", "red"]) == 0
    loaded = checkpoint.load(model)
    d = loaded.space.directions
    k = d.index("red")
    assert d.kinds[k] == "attribute" and d.n_pcs == DIM   # the config's are still there

    def mean_u(folder: Path) -> np.ndarray:
        x = np.stack([np.asarray(Image.open(p).convert("RGB").resize((64, 64), Image.LANCZOS))
                      for p in sorted(folder.glob("*.png"))])
        with torch.no_grad():
            mu, _ = loaded.vae.encode(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255)
        return ((mu.numpy().astype(np.float64) - loaded.space.mean) / loaded.space.std).mean(0)

    want = mean_u(red) - mean_u(blue)
    cos = float(d.unit[k] @ want) / np.linalg.norm(want)
    assert cos > 0.99, cos
    assert np.isclose(d.scale[k], D.spread_along(d.unit[k], d.principal()))


def test_a_sidecar_of_another_model_is_refused_in_one_line(
        model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    loaded = checkpoint.load(model)
    other = D.principal(_u(seed=5))
    direction_files.write(direction_files.user_file(loaded.model_id), "0123456789ab", other)
    with caplog.at_level(logging.WARNING, logger="latentsketch"):
        again = checkpoint.load(model)
    lines = [r.getMessage() for r in caplog.records if "belong to model 0123456789ab" in
             r.getMessage()]
    assert len(lines) == 1 and "refused" in lines[0] and "\n" not in lines[0]
    assert again.space.directions == loaded.space.directions   # loaded without it
    shapes = checkpoint.model_id_of(checkpoint.bundled_path("shapes"))   # a bundled model's
    direction_files.write(tmp_path / "old.json", shapes, other)
    with pytest.raises(direction_files.DirectionsFileError, match="pass --model shapes"):
        direction_files.read(tmp_path / "old.json", loaded.model_id, other.dim)
    with pytest.raises(direction_files.DirectionsFileError, match="refused"):
        from latentsketch import model_directions

        model_directions.principal(str(model), "procedural",
                                   str(direction_files.user_file(loaded.model_id)))


# --- the engine ----------------------------------------------------------------------------

def test_offset_pin_release_and_attribute_pin_refused(model: Path) -> None:
    loaded = checkpoint.load(model)
    space = loaded.space
    s = engine.State.initial(space, 3, directions=_with_round(loaded))
    k_round, k_pc = s.directions.index("round"), s.directions.index("pc1")
    s = _settle(s, space, [C.SetDirection("pc1", 1.25)])
    assert abs(_proj(s, k_pc) - 1.25) < 1e-9                      # pinned: exactly there
    s = _settle(s, space, frames=30)
    assert abs(_proj(s, k_pc) - 1.25) < 1e-9                      # while the walk moves on
    before = engine._output_u64(s)
    s = engine.step(s, [C.SetDirection("round", 1.0)], 0.0, space)
    assert s.last_errors and "attribute direction" in s.last_errors[0]
    assert "not pinned" in s.last_errors[0] and not s.dir_pinned[k_round]
    np.testing.assert_array_equal(engine._output_u64(s), before)  # refused: nothing changed
    # an offset adds value * scale * unit to the point, exactly
    free = _settle(engine.State.initial(space, 3, directions=_with_round(loaded)), space)
    moved = _settle(engine.State.initial(space, 3, directions=_with_round(loaded)), space,
                    [C.OffsetDirection("round", -9.0)])            # clamped to -4 sd
    d = free.directions
    np.testing.assert_allclose(engine._output_u64(moved) - engine._output_u64(free),
                               -4.0 * d.scale[k_round] * d.unit[k_round], atol=1e-12)
    s = _settle(s, space, [C.ReleaseDirection("pc1")], frames=60)
    assert not s.dir_pinned.any() and abs(_proj(s, k_pc) - 1.25) > 1e-3
    for bad in (C.OffsetDirection("nope", 1.0), C.SetDirection("pc1", float("nan"))):
        assert engine.step(s, [bad], 0.0, space).last_errors


def test_osc_over_udp_pins_pc0_then_releases_it(model: Path, tmp_path: Path) -> None:
    app = App(AppOptions(model=str(model), seed=2, fps=0, size=(96, 96), osc=True, osc_port=0,
                         midi=False, out_dir=str(tmp_path / "out")))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert app.osc is not None
        app.state = engine.step(app.state, [C.SetParam("walk.glide", 0.0)], 0.0, app.space)

        def send(address: str, *args: float) -> None:
            b = OscMessageBuilder(address)
            for a in args:
                b.add_arg(a)
            tx.sendto(b.build().dgram, ("127.0.0.1", app.osc.port))
            end = time.monotonic() + 3.0   # until the loop has taken it in
            while app.osc.queue.empty() and time.monotonic() < end:
                time.sleep(0.002)
            app.run(max_frames=app.frames + 3, dt=DT)

        send("/latentsketch/pc/0", 1.5)
        k = app.state.directions.index("pc0")
        assert app.state.dir_pinned[k]
        assert abs(_proj(app.state, k) - 1.5) < 1e-6
        assert status.directions_line(app.state) == "pc0 pin +1.50"   # on the HUD
        z = engine.output_z(app.state, app.space).astype(np.float64)
        u = (z - app.space.mean) / app.space.std
        assert abs(float(u @ app.state.directions.unit[k]) / app.state.directions.scale[k]
                   - 1.5) < 1e-4                          # the decoded z, in float32
        send("/latentsketch/pc/0/release")
        assert not app.state.dir_pinned.any()
        send("/latentsketch/pc/0", 9.0)                  # beyond -4..4: dropped, counted
        assert not app.state.dir_pinned.any() and app.translator.dropped.total >= 1
    finally:
        tx.close()
        app.close()


def test_an_unknown_direction_over_osc_is_an_osc_drop_with_address_and_sender(
        model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """/dir/<unknown> (set or release) is dropped where it arrives, like any bad OSC message:
    one line with the address, the sender, the known names and what makes one; no engine
    error without them."""
    app = App(AppOptions(model=str(model), seed=2, fps=0, size=(96, 96), osc=True, osc_port=0,
                         midi=False, out_dir=str(tmp_path / "out")))
    said: list[str] = []
    app.say = lambda text, error=False: said.append(text)  # type: ignore[method-assign]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert app.osc is not None
        tx.bind(("127.0.0.1", 0))
        sender = f"127.0.0.1:{tx.getsockname()[1]}"
        with caplog.at_level(logging.WARNING, logger="latentsketch.osc"):
            for address in ("/latentsketch/dir/nosuch", "/latentsketch/dir/other/release"):
                app.translator.dropped.interval = 0.0
                tx.sendto(_osc(address, 0.5), ("127.0.0.1", app.osc.port))
                end = time.monotonic() + 3.0
                while app.osc.queue.empty() and time.monotonic() < end:
                    time.sleep(0.002)
                app.run(max_frames=app.frames + 2, dt=DT)
        lines = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
        assert len(lines) == 2, lines
        for line, name in zip(lines, ("nosuch", "other"), strict=True):
            assert line.startswith("OSC: ignored /latentsketch/") and sender in line, line
            assert f"no direction '{name}' (known: pc0" in line and "latentsketch directions" \
                in line
        assert not any("offset_direction" in t or "set_direction" in t for t in said), said
        assert app.translator.dropped.by_reason["unknown"] == 2
    finally:
        tx.close()
        app.close()


def _osc(address: str, *args: float) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def test_midi_and_osc_mappings_drive_directions(model: Path) -> None:
    loaded = checkpoint.load(model)
    space = loaded.space
    assert parse_target("pc/2").direction == "pc2" and parse_target("dir/round").kind == \
        "direction"
    m = MappingRuntime([ControlMapping("pc/0", cc=1), ControlMapping("dir/round", osc="/knob"),
                        ControlMapping("dir/round/release", note=36)], DIM)
    assert ControlMapping("dir/round", osc="/k", z_mode="offset") == ControlMapping(
        "dir/round", osc="/k")                            # offset is a dir/ target's default
    m.feed_midi(mido.Message("control_change", control=1, value=127))
    m.feed_osc("/knob", (0.75,))
    cmds = m.update(1 / 60, {})
    assert C.SetDirection("pc0", 3.0) in cmds and C.OffsetDirection("round", 1.5) in cmds
    s = engine.State.initial(space, 1, directions=_with_round(loaded))
    s = _settle(s, space, cmds)
    assert abs(_proj(s, 0) - 3.0) < 1e-9 and s.dir_offset[s.directions.index("round")] == 1.5
    release = m.feed_midi(mido.Message("note_on", note=36, velocity=100))
    assert release == [C.ReleaseDirection("round")]
    current = engine.direction_values(s)
    assert current["pc/0"] == 3.0 and "dir/round" in current


def test_mouse_pad_steers_principal_directions() -> None:
    mouse = Mouse()
    params = {"mouse.pad": 1.0, "mouse.dim_x": 2.0, "mouse.dim_y": 0.0}
    rect = (0, 0, 100, 100)

    def ev(kind: int, **kw: object) -> pygame.event.Event:
        return pygame.event.Event(kind, **kw)

    mouse.handle(ev(pygame.MOUSEBUTTONDOWN, button=1, pos=(50, 50)), rect, params)
    drag = mouse.handle(ev(pygame.MOUSEMOTION, pos=(100, 0), rel=(50, -50), buttons=(1, 0, 0)),
                        rect, params)
    assert [type(c) for c in drag] == [C.SetDirection] * 2
    assert drag[0].name == "pc2" and drag[0].value == pytest.approx(3.0)
    assert mouse.handle(ev(pygame.MOUSEBUTTONUP, button=1, pos=(100, 0)), rect, params) == [
        C.ReleaseDirection("pc2"), C.ReleaseDirection("pc0")]
    mouse.handle(ev(pygame.MOUSEBUTTONDOWN, button=1, pos=(25, 25)), rect, params)
    click = mouse.handle(ev(pygame.MOUSEBUTTONUP, button=1, pos=(25, 25)), rect, params)
    assert click == [C.SetTarget(pytest.approx(-1.47), pytest.approx(1.47), "pcs")]


def test_a_click_in_pcs_mode_moves_the_centre_along_the_two_directions(model: Path) -> None:
    space = checkpoint.load(model).space
    s = engine.State.initial(space, 1, {"mouse.pad": "pcs", "mouse.dim_x": 1, "mouse.dim_y": 0})
    s = engine.step(s, [C.SetTarget(1.0, -0.5, "pcs")], 0.0, space)
    d = s.directions
    assert not s.last_errors
    assert abs(float(s.centre @ d.unit[1]) - d.scale[1]) < 1e-9
    assert abs(float(s.centre @ d.unit[0]) + 0.5 * d.scale[0]) < 1e-9


# --- presets and control logs --------------------------------------------------------------

def test_a_preset_with_direction_offsets_loads_back_to_the_same_state(model: Path) -> None:
    loaded = checkpoint.load(model)
    space = loaded.space
    s = engine.State.initial(space, 4, directions=_with_round(loaded))
    s = _settle(s, space, [C.OffsetDirection("round", 1.5), C.SetDirection("pc1", -0.75),
                           C.OffsetDirection("pc3", 0.5)])
    saved, path = scenes.save_preset(presets.Preset(name="mine"), s, loaded.model_id, ())
    text = path.read_text()
    assert "[directions.round]" in text and "[directions.pc1]" in text and "pin = -0.75" in text
    back = presets.load(path.stem)
    assert back == saved
    fresh = scenes.start_state(back, space, 4)          # the model alone: round comes from it
    assert fresh.directions == s.directions
    for f in ("dir_offset", "dir_pin", "dir_pinned"):
        assert getattr(fresh, f).tobytes() == getattr(s, f).tobytes(), f
    lost = presets.Preset.from_toml("[directions.pc7]\npin = 1.0\n", source="lost.toml")
    with pytest.raises(presets.PresetError, match=r"preset lost.toml: no direction 'pc7'"):
        scenes.start_state(lost, LatentSpace.standard(DIM), 1)   # a model without directions
    with pytest.raises(presets.PresetError, match=r"directions\.pc0\.u: principal"):
        presets.Preset.from_toml(f"model = '{loaded.model_id}'\n[directions.pc0]\nu = [1.0]\n")
    with pytest.raises(presets.PresetError, match=r"directions\.round\.pin: an attribute"):
        presets.Preset.from_toml(f"model = '{loaded.model_id}'\n[directions.round]\n"
                                 f"u = {[1.0] + [0.0] * (DIM - 1)}\npin = 1.0\n")


def test_a_control_log_with_direction_commands_replays_bit_exactly(model: Path,
                                                                     tmp_path: Path) -> None:
    loaded = checkpoint.load(model)
    pre = presets.Preset(name="dirs", model=loaded.model_id,
                         directions=_with_round(loaded).attributes(),
                         direction_values={"round": D.DirectionValue(-1.0)})
    pre.save(presets.user_dir() / "dirs.toml")
    app = App(AppOptions(model=str(model), seed=6, fps=0, size=(96, 96), osc=False, midi=False,
                         out_dir=str(tmp_path / "out"), log_control=True))
    script = {3: [C.SetDirection("pc0", 2.0)], 9: [C.OffsetDirection("pc2", -1.0)],
              14: [C.LoadPreset("dirs")], 20: [C.OffsetDirection("round", 2.5)],
              26: [C.ReleaseDirection("pc0")], 31: [C.ReleaseDirection(None)]}
    zs: list[np.ndarray] = []

    def run(i: int, a: App) -> list:
        if i:
            zs.append(engine.output_z(a.state, a.space))
        return script.get(i, [])

    try:
        app.run(max_frames=40, dt=DT, script=run)
        zs.append(engine.output_z(app.state, app.space))
        assert app.state.directions.index("round") >= 0 and not app.state.last_errors
    finally:
        app.close()
    log = read_log(next((tmp_path / "out").glob("*.log.jsonl")), loaded.model_id)
    replayed = np.stack([f.z for f in replay_clip(log, loaded.space).frames])
    assert replayed.tobytes() == np.stack(zs).tobytes()
    assert len({z.tobytes() for z in zs}) > 30                   # it moved


def test_an_older_log_state_without_directions_still_reads(model: Path) -> None:
    space = checkpoint.load(model).space
    d = state_to_json(engine.State.initial(space, 1))
    for f in ("directions", "dir_offset", "dir_pinned", "dir_pin"):
        del d[f]
    state = state_from_json(d, space)
    assert len(state.directions) == 0 and not engine.step(state, (), DT, space).last_errors


def test_the_bundled_model_ships_its_principal_directions_beside_its_weights() -> None:
    weights = checkpoint.bundled_path()
    side = direction_files.beside(weights)
    loaded = checkpoint.load()
    assert side.is_file() and json.loads(side.read_text())["model_id"] == loaded.model_id
    d = loaded.space.directions
    assert d.n_pcs == loaded.space.dim == len(d)
    np.testing.assert_allclose(d.unit @ d.unit.T, np.eye(len(d)), atol=1e-9)


@pytest.mark.parametrize("argv, line", [
    (["--from", "a"], "needs --from B/ --to A/ --name NAME together"),
    (["--from", "a", "--to", "b", "--name", "x", "--data", "c"], "leave it out with --from"),
    (["--from", "a", "--to", "b", "--name", "pc2"], "kept for principal directions"),
    (["--from", "a", "--to", "b", "--name", "no/slash"], "--name: direction name"),
    (["--data", "/no/such/folder"], "--data /no/such/folder: not a folder"),
    (["--from", "a", "--to", "nowhere", "--name", "x"], "images nowhere: not a folder"),
])
def test_directions_command_mistakes_are_one_line(tiny_model: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture,
                                                  argv: list[str], line: str) -> None:
    for folder in ("a", "b"):
        _folder(tmp_path / folder, [(200, 10, 10), (10, 10, 200)])
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert cli.main(["directions", str(tiny_model), *argv]) == 2
    finally:
        os.chdir(cwd)
    errors = [x for x in capsys.readouterr().err.splitlines() if "error" in x]
    assert len(errors) == 1 and line in errors[0], errors


def test_osc_feedback_shows_where_the_picture_is_along_each_direction(model: Path) -> None:
    """--osc-out sends /latentsketch/pc/<i> (the place along PC i, a pin shows its value) and
    /latentsketch/dir/<name> (an attribute direction's offset) over real UDP: a motor fader
    follows it, and sent back in it means the same state."""
    from latentsketch.app.status import feedback
    from latentsketch.control.osc import OscReceiver
    from latentsketch.control.osc_out import OscFeedback

    loaded = checkpoint.load(model)
    space = loaded.space
    s = engine.State.initial(space, 3, directions=_with_round(loaded))
    s = _settle(s, space, [C.SetDirection("pc1", 1.25), C.OffsetDirection("round", -0.5)])
    fb = feedback(s, space, recording=False, preset="default", dt=DT)
    with OscReceiver("127.0.0.1", 0) as rx:
        out = OscFeedback("127.0.0.1", rx.port)
        sent = out.maybe_send(fb, now=0.0)
        got: list = []
        end = time.monotonic() + 3.0
        while len(got) < sent and time.monotonic() < end:
            got += rx.drain()
            time.sleep(0.002)
        out.close()
    by_address = {m.address: m.args for m in got}
    assert by_address["/latentsketch/pc/1"] == (1.25,)
    assert by_address["/latentsketch/dir/round"] == (-0.5,)
    k0 = s.directions.index("pc0")
    u = engine.output_u(s).astype(np.float64)
    want = float(u @ s.directions.unit[k0]) / float(s.directions.scale[k0])
    assert abs(by_address["/latentsketch/pc/0"][0] - want) < 2e-3   # rounded to 0.001
