"""The engine: determinism, frame-rate independence, glides, pause, and every command."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentsketch import commands as C
from latentsketch.engine import (
    NORM_LIMIT,
    PIN_LIMIT,
    TICK,
    U_LIMIT,
    State,
    output_u,
    output_z,
    ranked_u,
    step,
    with_preset,
)
from latentsketch.latent.space import LatentSpace
from latentsketch.params import WALK_MODES

DIM = 16
MODES = list(WALK_MODES)


@pytest.fixture(scope="module")
def space() -> LatentSpace:
    """A space whose rank order, statistics and keyframes are all non-trivial."""
    rng = np.random.default_rng(0)
    return LatentSpace(
        dim=DIM,
        rank=tuple(int(i) for i in rng.permutation(DIM)),
        mean=rng.normal(0, 0.3, DIM).astype(np.float32),
        std=rng.uniform(0.5, 2.0, DIM).astype(np.float32),
        keyframes=rng.normal(0, 1, (3, DIM)).astype(np.float32),
    )


def run(space, state, dts, schedule=None):
    """Step through ``dts``; ``schedule`` maps frame index -> commands. Returns (state, zs)."""
    zs = []
    for f, dt in enumerate(dts):
        state = step(state, (schedule or {}).get(f, ()), dt, space)
        zs.append(output_z(state, space))
    return state, np.array(zs)


def settle(space, state, seconds=None, fps=60):
    seconds = 12 * state.params["walk.glide"] + 0.1 if seconds is None else seconds
    return run(space, state, [1 / fps] * round(seconds * fps))[0]


def jittery_dts(n, seed=0):
    return list(np.random.default_rng(seed).uniform(1 / 150, 1 / 25, n))


SCRIPT = {
    10: [C.SetParam("walk.speed", 3.0)],
    30: [C.CycleMode()],
    50: [C.SetDim(0, 1.5), C.NudgeDim(2, -0.4), C.Record()],
    70: [C.StoreSlot(2), C.SetParam("walk.mode", "tour")],
    90: [C.NewTarget(), C.SetPause()],
    100: [C.SetPause(), C.SetTarget(0.5, -1.0), C.CycleMode(2)],
    130: [C.RecallSlot(2), C.ReleaseDim()],
    150: [C.Reset()],
}


def test_same_seed_and_timed_commands_give_bit_identical_z(space):
    dts = jittery_dts(200)
    _, a = run(space, State.initial(space, seed=42), dts, SCRIPT)
    _, b = run(space, State.initial(space, seed=42), dts, SCRIPT)
    assert a.dtype == np.float32 and a.shape == (200, DIM)
    np.testing.assert_array_equal(a, b)
    _, c = run(space, State.initial(space, seed=43), dts, SCRIPT)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("speed", [1.0, 6.0])
def test_every_walk_covers_the_same_path_at_30_60_and_144_fps(space, mode, speed):
    params = {"walk.mode": mode, "walk.speed": speed, "walk.dwell": 0.4}
    paths = {}
    for fps in (30, 60, 144):
        s = State.initial(space, seed=5, params=params)
        samples = []
        for f in range(1, 5 * fps + 1):      # 5 s, sampled every 1/6 s
            s = step(s, (), 1 / fps, space)
            if f % (fps // 6) == 0:
                samples.append(output_u(s))
        paths[fps] = np.array(samples)
    movement = np.linalg.norm(np.diff(paths[60], axis=0), axis=1).mean()
    assert movement > 0.05
    for fps in (30, 144):
        err = np.linalg.norm(paths[fps] - paths[60], axis=1).max()
        assert err < 1e-3 * movement, (fps, err, movement)


def test_path_is_the_same_under_jittery_frame_times(space):
    """Live dt wobbles; the path at any instant is the tick path interpolated."""
    s = State.initial(space, seed=1, params={"walk.mode": "orbit", "walk.speed": 4.0})
    ref = State.initial(space, seed=1, params={"walk.mode": "orbit", "walk.speed": 4.0})
    t = 0.0
    for dt in jittery_dts(150, seed=3):
        s = step(s, (), dt, space)
        t += dt
    ref = step(ref, (), 0.0, space)
    for _ in range(int(round((t - s.acc) / TICK))):
        ref = step(ref, (), TICK, space)
    assert s.tick == ref.tick
    np.testing.assert_allclose(s.cur_u, ref.cur_u, atol=1e-9)


@pytest.mark.parametrize("fps", [144, 1000])
def test_output_interpolates_between_ticks_so_motion_is_even(space, fps):
    """At 144 fps a frame spans 1 or 2 ticks; the picture must still move evenly."""
    s = settle(space, State.initial(space, seed=0, params={"walk.mode": "orbit"}), 0.2)
    s, moves = _frame_moves(space, s, fps // 2, fps)
    assert min(moves) > 0.0
    assert max(moves) / min(moves) < 1.05


@pytest.mark.parametrize("temperature", [0.5, 1.5])
def test_drift_stationary_std_matches_temperature(temperature):
    space = LatentSpace.standard(64)
    s = State.initial(space, seed=3, params={"walk.temperature": temperature,
                                             "walk.speed": 10.0})
    us = []
    for f in range(1800):
        s = step(s, (), 1 / 60, space)
        if f % 6 == 0:
            us.append(output_u(s))
    assert np.std(us) == pytest.approx(temperature, rel=0.06)
    assert abs(np.mean(us)) < 0.1 * temperature


def test_pause_freezes_the_walk_but_direct_edits_still_glide(space):
    s = settle(space, State.initial(space, seed=2), 0.5)
    s = step(s, [C.SetPause(True)], 1 / 60, space)
    assert s.paused
    tick = s.tick
    s = settle(space, s, 0.2)
    frozen = [output_z(s := step(s, (), 1 / 60, space), space) for _ in range(30)]
    assert s.tick == tick
    assert all(np.array_equal(frozen[0], z) for z in frozen)
    s = step(s, [C.SetDim(0, 2.0)], 1 / 60, space)
    raw = space.raw_index(0)
    first = output_u(s)[raw]
    s = step(s, (), 1 / 60, space)
    assert abs(output_u(s)[raw] - first) > 1e-4           # gliding while paused
    s = settle(space, s)
    assert output_u(s)[raw] == pytest.approx(2.0, abs=1e-3)
    s = step(s, [C.SetPause()], 1 / 60, space)           # toggle resumes
    assert not s.paused
    s = settle(space, s, 0.2)
    assert s.tick > tick


def test_recall_returns_z_to_the_stored_point(space):
    s = settle(space, State.initial(space, seed=9), 1.0)
    s = step(s, [C.StoreSlot(4), C.SetPause(True)], 1 / 60, space)
    stored = space.to_z(s.slots[3])
    s = settle(space, step(s, [C.NewTarget(), C.SetDim(1, -2.0)], 1 / 60, space))
    assert np.abs(output_z(s, space) - stored).max() > 0.5
    s = step(s, [C.RecallSlot(4)], 1 / 60, space)
    assert not s.pinned.any()                             # a recalled point is the whole picture
    s = settle(space, s)
    np.testing.assert_allclose(output_z(s, space), stored, atol=1e-3)


@pytest.mark.parametrize("mode", MODES)
def test_recall_reaches_the_point_in_every_mode_and_walks_on(space, mode):
    point = np.random.default_rng(4).normal(size=DIM)
    s = State.initial(space, seed=0, params={"walk.mode": mode, "walk.speed": 0.0},
                      slots={1: point})
    s = settle(space, step(s, [C.RecallSlot(1)], 1 / 60, space))
    np.testing.assert_allclose(output_u(s), point, atol=1e-3)
    s = settle(space, step(s, [C.SetParam("walk.speed", 2.0)], 1 / 60, space), 3.0)
    assert np.linalg.norm(output_u(s) - point) > 0.1      # the walk goes on from there


def _frame_moves(space, s, frames, fps=60):
    """Step ``frames`` frames; returns the final state and how far each frame moved u."""
    moves = []
    for _ in range(frames):
        nxt = step(s, (), 1 / fps, space)
        moves.append(float(np.linalg.norm(output_u(nxt) - output_u(s))))
        s = nxt
    return s, moves


@pytest.mark.parametrize("glide", [0.3, 1.0])
@pytest.mark.parametrize("mode", MODES)
def test_mode_switches_glide(space, mode, glide):
    s = State.initial(space, seed=1, params={"walk.mode": mode, "walk.glide": glide})
    s, old_moves = _frame_moves(space, settle(space, s, 1.0), 30)
    switched = step(s, [C.CycleMode()], 0.0, space)
    gap = float(np.linalg.norm(switched.transit))
    new = switched.mode
    if new in ("drift", "tour"):    # these carry on from the picture: nothing to glide over
        assert gap < 1e-6
    else:
        assert gap > 1.0
    s, moves = _frame_moves(space, switched, round(glide * 12 * 60))
    _, new_moves = _frame_moves(space, s, 8 * 60)  # a tour segment: dwell + travel
    walk = max(old_moves + new_moves)
    share = 1 - math.exp(-1 / 60 / glide)   # the part of the gap one frame may close
    assert max(moves) <= gap * share * 1.01 + 2 * walk
    assert float(np.linalg.norm(s.transit)) < 1e-4 * max(gap, 1.0)  # arrived on the new walk


def test_zero_glide_jumps_within_a_tick(space):
    s = State.initial(space, seed=1, params={"walk.glide": 0.0, "walk.speed": 0.0})
    s = step(s, [C.SetDim(3, 4.0)], 1 / 60, space)
    assert output_u(s)[space.raw_index(3)] == pytest.approx(4.0)


def test_commands_change_what_they_claim(space):
    base = State.initial(space, seed=0, params={"walk.mode": "drift"})
    r0, r1, r2 = (space.raw_index(i) for i in range(3))

    def one(cmd, s=base):
        out = step(s, [cmd], 0.0, space)
        assert out.last_errors == ()
        return out

    assert one(C.SetParam("walk.speed", 2.5)).params["walk.speed"] == 2.5
    assert one(C.SetParam("walk.mode", "orbit")).mode == "orbit"
    assert one(C.SetParam("walk.mode", 3)).mode == "tour"
    assert one(C.NudgeParam("walk.speed", 100)).params["walk.speed"] == 10.0  # clamped
    assert one(C.NudgeParam("walk.temperature", -0.25)).params["walk.temperature"] == 0.75
    start = WALK_MODES.index(base.mode)
    assert one(C.CycleMode()).mode == WALK_MODES[(start + 1) % len(WALK_MODES)]
    assert one(C.CycleMode(-1)).mode == WALK_MODES[(start - 1) % len(WALK_MODES)]
    s = one(C.SetDim(0, 1.25))
    assert s.pinned[r0] and s.pin[r0] == 1.25 and s.pinned.sum() == 1
    assert one(C.SetDim(0, 99)).pin[r0] == PIN_LIMIT
    assert one(C.NudgeDim(0, 0.5), s).pin[r0] == 1.75                       # moves the pin
    assert one(C.NudgeDim(1, 0.5)).centre[r1] == 0.5                        # pushes the walk
    assert one(C.OffsetDim(2, -0.7)).offset[r2] == -0.7
    assert not one(C.ReleaseDim(0), s).pinned.any()
    v = one(C.SetVector((0.1, 0.2, 0.3)))
    assert list(v.pinned[[r0, r1, r2]]) == [True, True, True] and v.pinned.sum() == 3
    assert v.pin[r2] == pytest.approx(0.3)
    assert not one(C.ReleaseDim(), v).pinned.any()
    stored = one(C.StoreSlot(9))
    np.testing.assert_array_equal(stored.slots[8], output_u(base))
    t = one(C.SetTarget(1.5, -2.0))
    assert t.centre[r0] == 1.5 and t.centre[r1] == -2.0                      # mouse.dim_x/_y
    assert one(C.NewTarget()).walk.epoch == 1
    assert one(C.SetPause(True)).paused and not one(C.SetPause(False)).paused
    assert one(C.SetPause()).paused
    goto = one(C.GotoPoint(tuple(np.full(DIM, 0.5))))
    np.testing.assert_allclose(goto.centre, 0.5)
    reset = one(C.Reset(), step(t, [C.SetDim(0, 1.0), C.OffsetDim(3, 1.0)], 0.0, space))
    assert not reset.pinned.any() and not reset.offset.any() and not reset.centre.any()
    assert one(C.SetParam("look.posterize", 4)).params["look.posterize"] == 4.0


def test_commands_never_move_the_picture_instantly(space):
    s = settle(space, State.initial(space, seed=0), 0.5)
    before = output_u(s)
    moved = step(s, [C.SetDim(0, 5), C.CycleMode(), C.SetTarget(4, 4), C.NewTarget()], 0.0,
                 space)
    np.testing.assert_allclose(output_u(moved), before, atol=1e-6)


def test_app_commands_are_ignored(space):
    s = State.initial(space, seed=0)
    a = step(s, [C.Record(), C.Snapshot(), C.Quit(), C.LoadPreset("x")], 1 / 60, space)
    b = step(s, [], 1 / 60, space)
    np.testing.assert_array_equal(output_z(a, space), output_z(b, space))
    assert a.last_errors == ()


BAD = [
    C.SetParam("walk.speed", math.nan), C.SetParam("walk.speed", 1e300),
    C.SetParam("walk.mode", "waltz"), C.SetParam("no.such", 1.0),
    C.NudgeParam("walk.speed", math.inf),
    C.SetDim(0, math.nan), C.SetDim(DIM, 1.0), C.SetDim(-1, 1.0), C.SetDim(1.5, 1.0),
    C.SetDim("0", 1.0), C.OffsetDim(0, -math.inf), C.NudgeDim(0, math.nan),
    C.SetVector((1.0, math.nan)), C.SetVector(tuple([1.0] * (DIM + 1))), C.SetVector(5.0),
    C.GotoPoint((1.0, 2.0)), C.GotoPoint(tuple([math.inf] * DIM)), C.StoreSlot(0),
    C.RecallSlot(10), C.RecallSlot(5), C.SetTarget(math.nan, 0.0), C.CycleMode(math.nan),
    C.ReleaseDim(99), "not a command", None,
]


def test_hostile_inputs_never_reach_z(space):
    s = State.initial(space, seed=0)
    for mode in MODES:
        s = step(s, [C.SetParam("walk.mode", mode)] + BAD, 1 / 60, space)
        assert len(s.last_errors) == len(BAD)
        assert all(isinstance(e, str) and "\n" not in e for e in s.last_errors)
        huge = [C.SetDim(i, 1e308 * (-1) ** i) for i in range(DIM)] + [
            C.SetTarget(1e308, -1e308), C.OffsetDim(3, 1e308), C.NudgeDim(4, 1e308),
            C.SetParam("walk.temperature", 3.0), C.SetParam("walk.glide", 0.0)]
        for dt in (1 / 60, math.nan, -1.0, math.inf, 1e9, 0.0, 1e-12):
            s = step(s, huge, dt, space)
            u, z = output_u(s), output_z(s, space)
            assert np.all(np.isfinite(z)) and z.dtype == np.float32
            assert np.abs(u).max() <= U_LIMIT
            assert np.linalg.norm(u) <= NORM_LIMIT * math.sqrt(DIM) * (1 + 1e-6)
    assert "dt" in step(s, (), math.nan, space).last_errors[0]


def test_long_stall_is_capped_not_caught_up(space):
    s = State.initial(space, seed=0)
    s = step(s, (), 30.0, space)
    assert s.tick == round(0.25 / TICK)


def test_state_is_an_immutable_value(space):
    s = State.initial(space, seed=0)
    with pytest.raises(ValueError):
        s.cur_u[0] = 1.0
    with pytest.raises(AttributeError):
        s.paused = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.params["walk.speed"] = 2.0  # type: ignore[index]
    before = s.cur_u.copy()
    step(s, [C.SetDim(0, 3.0)], 0.5, space)
    np.testing.assert_array_equal(s.cur_u, before)


def test_ranked_u_puts_the_top_dimension_first(space):
    s = step(State.initial(space, seed=0, params={"walk.glide": 0.0}),
             [C.SetDim(0, 3.0)], 1 / 60, space)
    s = step(s, (), 1 / 60, space)
    assert ranked_u(s, space)[0] == pytest.approx(3.0)
    np.testing.assert_allclose(output_z(s, space)[space.raw_index(0)],
                               space.mean[space.raw_index(0)] + 3 * space.std[space.raw_index(0)],
                               rtol=1e-6)


def test_preset_state_and_validation(space):
    kf = np.random.default_rng(2).normal(size=(2, DIM))
    s = State.initial(space, seed=0, params={"walk.speed": 2, "walk.mode": "tour"},
                      slots={3: np.ones(DIM)}, keyframes=kf)
    assert s.params["walk.speed"] == 2.0 and s.mode == "tour"
    np.testing.assert_array_equal(s.slots[2], np.ones(DIM))
    np.testing.assert_allclose(output_u(s), kf[0], atol=1e-6)  # the preset's tour, not the model's
    with pytest.raises(ValueError, match="walk.speed = -2 is out of range"):
        State.initial(space, params={"walk.speed": -2})
    with pytest.raises(ValueError, match="unknown parameter"):
        State.initial(space, params={"walk.sped": 1})
    with pytest.raises(ValueError, match="slot 3 has 2 values"):
        State.initial(space, slots={3: [1.0, 2.0]})
    with pytest.raises(ValueError, match="slot 10"):
        State.initial(space, slots={10: np.zeros(DIM)})
    live = settle(space, State.initial(space, seed=0), 0.5)
    before = output_u(live)
    loaded = with_preset(live, space, params={"walk.mode": "orbit", "walk.temperature": 2.0})
    assert loaded.mode == "orbit"
    np.testing.assert_allclose(output_u(loaded), before, atol=1e-6)  # glides, no jump


def test_tour_falls_back_to_model_keyframes_then_slots(space):
    s = State.initial(space, seed=0, params={"walk.mode": "tour"})
    np.testing.assert_allclose(output_u(s), space.keyframes[0], atol=1e-6)
    bare = LatentSpace.standard(DIM)
    slots = {1: np.full(DIM, 0.5), 2: np.full(DIM, -0.5)}
    s = State.initial(bare, seed=0, params={"walk.mode": "tour"}, slots=slots)
    np.testing.assert_allclose(output_u(s), slots[1], atol=1e-6)
