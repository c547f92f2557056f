"""Offline is live by construction: ``render`` plays the same engine the live window plays.

Each test runs the real live loop (``App``, headless) at a fixed dt of 1/fps and compares the
latent it decodes on every frame with what ``render.plan`` hands the exporter: bit for bit,
for every walk mode and for keyframe tours (a preset's holds, ``--duration``, ``--loop``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from latentsketch import engine
from latentsketch import preset as presets
from latentsketch.latent.tour import TourPlan
from latentsketch.model import checkpoint
from latentsketch.params import WALK_MODES
from latentsketch.render import RenderRequest, plan

FPS = 30.0
DWELL = 0.3
HOLDS = (0.2, None, 0.1)    # key 1 holds walk.dwell


@pytest.fixture(scope="module")
def loaded(tiny_model: Path) -> checkpoint.LoadedModel:
    return checkpoint.load(tiny_model)


def _keys(loaded: checkpoint.LoadedModel) -> np.ndarray:
    return np.random.default_rng(3).normal(0, 1, (len(HOLDS), loaded.space.dim))


def _preset(loaded: checkpoint.LoadedModel, name: str, mode: str = "tour",
            keys: bool = False) -> str:
    """A user preset (the folder play and render both search) with a seed and a walk."""
    lines = [f"model = '{loaded.model_id}'", "seed = 5", "[walk]", f"mode = '{mode}'",
             f"dwell = {DWELL}", "speed = 1.5", "temperature = 0.9"]
    if keys:
        for k, h in zip(_keys(loaded), HOLDS, strict=True):
            lines += ["[[keyframes]]", f"u = {[float(x) for x in k]}"]
            lines += [] if h is None else [f"hold = {h}"]
    folder = presets.user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text("\n".join(lines) + "\n")
    return name


def _live(make_app, frames: int, preset: str | None = None,
          state: engine.State | None = None) -> np.ndarray:
    """The z the live loop decodes on each of ``frames`` frames stepped at 1/FPS (its first
    frame steps 0 s, as on screen)."""
    app = make_app(preset=preset, seed=None)
    if state is not None:
        app.state = state
    seen: list[np.ndarray] = []
    decode = app.decoder.decode

    def spy(z: np.ndarray) -> np.ndarray:
        seen.append(np.array(z, copy=True))
        return decode(z)

    app.decoder.decode = spy
    app.run(max_frames=frames, dt=1.0 / FPS)
    assert app.failures == 0
    return np.stack(seen)


def _offline(req: RenderRequest, loaded: checkpoint.LoadedModel) -> tuple[np.ndarray, int]:
    clip = plan(req, loaded.model_id, loaded.space)
    z = np.stack([f.z for f in clip.frames if f.emit])
    assert len(z) == clip.count
    return z, clip.count


@pytest.mark.parametrize("mode", WALK_MODES)
def test_every_walk_mode_renders_what_the_window_shows(make_app, loaded, mode: str) -> None:
    name = _preset(loaded, f"walk-{mode}", mode)
    offline, count = _offline(RenderRequest(preset=name, walk=mode, fps=FPS, duration=2.0),
                              loaded)
    assert count == 60
    live = _live(make_app, count, name)
    np.testing.assert_array_equal(offline, live)
    assert np.abs(np.diff(live, axis=0)).max() > 1e-3      # and it moved


def test_a_preset_tour_renders_what_the_window_shows_holds_included(make_app, loaded) -> None:
    """The live window honours each keyframe's hold (it used to ignore it), and render draws
    the tour once: up to the last key and its hold."""
    name = _preset(loaded, "toured", keys=True)
    offline, count = _offline(RenderRequest(preset=name, fps=FPS), loaded)
    travel = 3.0 / 1.5
    seconds = 0.2 + DWELL + 0.1 + 2 * travel
    assert count == round(seconds * FPS) + 1
    live = _live(make_app, count, name)
    np.testing.assert_array_equal(offline, live)
    space, keys = loaded.space, _keys(loaded) * 0.9      # temperature 0.9
    at = {round(t * FPS): space.to_z(k) for t, k in
          ((0.0, keys[0]), (0.2, keys[0]), (0.2 + travel, keys[1]),
           (0.2 + travel + DWELL, keys[1]), (seconds, keys[2]))}
    for frame, z in at.items():                          # on each key while it holds
        np.testing.assert_allclose(live[frame], z, atol=1e-5, err_msg=f"frame {frame}")
    assert np.abs(live[round(0.2 * FPS) + 3] - at[0]).max() > 1e-3   # then it leaves


@pytest.mark.parametrize("duration", [4.0, 20.0])
def test_duration_scales_the_tours_own_timing(make_app, loaded, duration: float) -> None:
    """``--duration`` is exact and becomes the tour's holds and travel: the live engine given
    that tour draws the same frames."""
    name = _preset(loaded, "timed", keys=True)
    req = RenderRequest(preset=name, fps=FPS, duration=duration)
    offline, count = _offline(req, loaded)
    assert count == round(duration * FPS)
    holds = [0.2, DWELL, 0.1]
    span = duration - 1 / FPS                            # first frame to last
    scale = span / (sum(holds) + 2 * 2.0)
    tour = TourPlan.make(_keys(loaded), loaded.space.dim, [h * scale for h in holds],
                         2.0 * scale * 1.5, loop=False)
    pre = presets.load(name)
    params = {**pre.values(), "walk.mode": float(WALK_MODES.index("tour"))}
    state = engine.State.initial(loaded.space, 5, params, tour=tour)
    live = _live(make_app, count, state=state)
    np.testing.assert_array_equal(offline, live)
    last = loaded.space.to_z(_keys(loaded)[-1] * 0.9)
    np.testing.assert_allclose(live[-1], last, atol=1e-5)         # ends on the last key
    np.testing.assert_allclose(live[-2], last, atol=1e-5)         # after its (scaled) hold
    midway = -1 - math.ceil((0.1 + 2.0 / 2) * scale * FPS)      # halfway along the last move
    assert np.abs(live[midway] - last).max() > 1e-2


def test_a_loop_closes_and_keeps_its_length(loaded) -> None:
    """``--loop``: the frame after the last is the first again, and no frame repeats."""
    name = _preset(loaded, "looped", keys=True)
    clip = plan(RenderRequest(preset=name, fps=FPS, loop=True, hold=0.0,
                              seconds_per_segment=1.0), loaded.model_id, loaded.space)
    z = np.stack([f.z for f in clip.frames])
    assert clip.count == len(z) == 3 * 30
    steps = np.linalg.norm(np.diff(z, axis=0), axis=1)
    wrap = float(np.linalg.norm(z[0] - z[-1]))
    assert 0 < wrap and steps.min() > 0                   # moving everywhere: no repeat
    assert wrap < 3 * np.median(steps)                    # no jump across the loop point
    np.testing.assert_allclose(z[30], loaded.space.to_z(_keys(loaded)[1] * 0.9), atol=1e-5)


def test_a_model_tour_without_preset_keys_plays_as_live(make_app, loaded) -> None:
    """A preset that tours the model's own keyframes: render equals the window too."""
    name = _preset(loaded, "model-tour")
    offline, count = _offline(RenderRequest(preset=name, fps=FPS), loaded)
    k = loaded.space.keyframes.shape[0]
    assert count == round((k * DWELL + (k - 1) * 2.0) * FPS) + 1
    live = _live(make_app, count, name)
    np.testing.assert_array_equal(offline, live)


def test_replay_at_another_fps_still_goes_through_the_engine(loaded) -> None:
    """A replayed tour with holds: the log's state carries the tour, holds and all."""
    from latentsketch.output.controllog import ControlLog, read_log

    name = _preset(loaded, "logged", keys=True)
    pre = presets.load(name)
    state = engine.State.initial(loaded.space, 5, pre.values(), dict(pre.slots),
                                 [k.u for k in pre.keyframes], [k.hold for k in pre.keyframes])
    path = presets.user_dir() / "perf.jsonl"
    zs = []
    with ControlLog.open(path, state, loaded.model_id, name) as log:
        s = state
        for i in range(40):
            s = engine.step(s, (), 1 / 60 if i else 0.0, loaded.space)
            log.frame(i / 60, 1 / 60 if i else 0.0, ())
            zs.append(engine.output_z(s, loaded.space))
    data = read_log(path, loaded.model_id)
    assert data.initial_state(loaded.space).tour.holds == (0.2, None, 0.1)
    replayed = plan(RenderRequest(replay=path), loaded.model_id, loaded.space, data)
    np.testing.assert_array_equal(np.stack([f.z for f in replayed.frames]), np.stack(zs))
    assert replace(state).tour is state.tour
