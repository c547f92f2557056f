"""Inference engines: each one's pixels against torch fp32, the measured choice, the cache, the
background build in a real child process, and the live loop adopting an engine mid-show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from latentsketch.app import App, AppOptions
from latentsketch.info import describe
from latentsketch.model import checkpoint, engines
from latentsketch.model.engine_build import CHOICE
from latentsketch.model.engine_upgrade import EngineUpgrade, read_choice
from latentsketch.model.inference import Decoder
from latentsketch.output.controllog import read_log
from latentsketch.render import RenderRequest, render
from tests.pixels import assert_pixels_match

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def built(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built in a child process, as the product does: after measuring several OpenVINO models
    a process can crash on a later signal (OpenVINO 2026.4), and this one receives signals."""
    out = tmp_path_factory.mktemp("engines")
    subprocess.run([sys.executable, "-m", "latentsketch.model.engine_build", str(tiny_model),
                    str(out)], check=True, timeout=600, capture_output=True)
    return out


def test_build_writes_graphs_and_a_choice_measured_here(built: Path) -> None:
    assert (built / "decoder.onnx").stat().st_size > 1000
    choice = engines.EngineChoice.from_json((built / CHOICE).read_text())
    assert choice.cpu == engines.cpu_key() and choice.versions == engines.versions()
    ran = {t.name: t for t in choice.timings if t.ms is not None}
    assert {"torch-fp32", "onnxruntime-fp32"} <= set(ran)
    assert all(t.ms > 0 for t in ran.values())
    assert choice.winner in ran
    # fp32 engines are within a level of torch; an int8 engine wins only within its bound
    assert all(t.max_levels <= 1 for n, t in ran.items() if n.endswith("fp32"))
    if choice.winner.endswith("int8"):
        assert ran[choice.winner].max_levels <= engines.INT8_MAX_LEVELS
    not_run = [t for t in choice.timings if t.ms is None]
    assert all(t.why for t in not_run)          # each says why it could not run here
    assert not list(built.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["onnxruntime-fp32", "openvino-fp32"])
def test_every_fp32_engine_decodes_the_torch_picture(built: Path, tiny_model: Path,
                                                     name: str) -> None:
    loaded = checkpoint.load(tiny_model)
    try:
        run = engines.runner(name, loaded.vae.decoder, built)
    except engines.EngineUnavailable as e:
        pytest.skip(f"{name} cannot run here: {e}")
    dec = Decoder(loaded.vae, backend="fp32")
    z = engines.calibration_latents(loaded.space, 8, seed=3)
    want = dec.decode_batch(z)
    dec.adopt(name, run)
    assert dec.engine == name and dec.describe()["engine"] == name.split("-")[0]
    for i in range(len(z)):    # batch 1, as the live loop decodes
        assert_pixels_match(dec.decode(z[i]), want[i], what=f"{name} frame {i}")


def test_a_choice_from_another_cpu_or_version_is_measured_again(built: Path,
                                                                tmp_path: Path) -> None:
    d = json.loads((built / CHOICE).read_text())
    assert read_choice(built) is not None
    for key, value in (("cpu", "amx_bf16-avx512f"), ("versions", {"torch": "0.1"}),
                       ("threads", 2)):
        (tmp_path / CHOICE).write_text(json.dumps({**d, key: value}))
        assert read_choice(tmp_path) is None, key
    (tmp_path / CHOICE).write_text('{"winner": ')   # a torn file
    assert read_choice(tmp_path) is None


def test_the_cache_lives_in_the_user_cache_keyed_by_model(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a, b = engines.cache_dir("aaaaaaaaaaaa"), engines.cache_dir("bbbbbbbbbbbb")
    assert a != b and a.is_relative_to(tmp_path / "latentsketch" / "engines")
    assert not a.is_relative_to(Path(checkpoint.__file__).parents[1])


def test_a_killed_build_leaves_nothing_that_looks_finished(tiny_model: Path,
                                                           tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "latentsketch.model.engine_build",
                             str(tiny_model), str(tmp_path / "b")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "b").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=30)
    assert not (tmp_path / "b" / CHOICE).exists()
    assert read_choice(tmp_path / "b") is None


def _run_until(app: App, done, limit_s: float = 240.0) -> None:  # noqa: ANN001
    """Play frames (``max_frames`` counts from the session's start) until ``done()``."""
    deadline = time.monotonic() + limit_s
    while not done() and time.monotonic() < deadline:
        app.run(max_frames=app.frames + 5, dt=1 / 60)


def test_the_live_loop_plays_at_once_and_adopts_the_engine_built_in_the_background(
        tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    t0 = time.monotonic()
    app = App(AppOptions(model=str(tiny_model), fps=0, size=(64, 64), osc=False, midi=False,
                         out_dir=str(tmp_path / "out"), backend="onnxruntime-fp32",
                         log_control=True))
    try:
        app.run(max_frames=3, dt=1 / 60)
        assert app.frames == 3 and time.monotonic() - t0 < 30
        assert app.upgrade is not None and app.upgrade.state == "building"
        assert app.decoder.engine.startswith("torch-")   # the picture did not wait
        _run_until(app, lambda: app.decoder.engine == "onnxruntime-fp32")
        assert app.decoder.engine == "onnxruntime-fp32"
        switched_at = app.frames
        app.run(max_frames=app.frames + 3, dt=1 / 60)
    finally:
        app.close()
    (logf,) = (tmp_path / "out").glob("*.log.jsonl")
    log = read_log(logf)
    assert log.header["decoder"]["engine"] == "torch"
    ((frame, desc),) = log.decoders
    assert desc["engine"] == "onnxruntime" and desc["precision"] == "fp32"
    assert 3 <= frame <= switched_at
    # a second start finds the measured choice: no build, the engine is loaded at once
    again = EngineUpgrade(str(tiny_model), app.loaded.model_id, app.loaded.vae.decoder,
                          "torch-fp32", force="onnxruntime-fp32")
    try:
        assert again.proc is None and again.state in ("loading", "done")
        deadline = time.monotonic() + 60
        ready = None
        while ready is None and time.monotonic() < deadline:
            ready = again.poll()
            time.sleep(0.01)
        assert ready is not None and ready[0] == "onnxruntime-fp32"
    finally:
        again.close()
    assert os.environ["XDG_CACHE_HOME"] == str(tmp_path / "cache")
    assert np.isfinite(app.frame).all()
    # an offline render decodes on the engine measured here; forcing torch still works
    choice = read_choice(engines.cache_dir(app.loaded.model_id))
    assert choice is not None
    req = RenderRequest(model=tiny_model, walk="drift", duration=0.5, fps=10, size=(64, 64),
                        out=tmp_path / "frames")
    assert render(req).engine == choice.winner
    forced = render(replace(req, out=tmp_path / "frames32", backend="fp32"))
    assert forced.engine == "torch-fp32"
    named = render(replace(req, out=tmp_path / "framesort", backend="onnxruntime-fp32"))
    assert named.engine == "onnxruntime-fp32"
    # a replay of the recorded log keeps its precision and decodes on the measured engine
    replayed = render(RenderRequest(model=tiny_model, replay=logf, out=tmp_path / "replayed"))
    assert replayed.engine == choice.winner or not choice.winner.endswith("-fp32")
    # a start that fails (a missing preset) with the cache warm exits in one line, not with an
    # abort from an engine torn down mid-load (a newcomer's case)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "SDL_VIDEODRIVER": "dummy"}
    r = subprocess.run([sys.executable, "-m", "latentsketch", "--model", str(tiny_model),
                        "--preset", "nosuch", "--no-osc", "--no-midi"], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 2 and "preset 'nosuch' not found" in r.stderr, r.stderr
    assert "terminate" not in r.stderr
    text = describe(str(tiny_model), tmp_path / "info", dims=1)   # info says what was measured
    assert f"engines    {choice.winner} wins; " in text and "torch-fp32" in text
