"""Walks: counter-based randomness, tick grouping independence, each mode's shape, the tour's
timing, and the registry (a new mode is one class)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentsketch.latent import randoms, tour, walks
from latentsketch.latent.tour import TourPlan
from latentsketch.latent.walks import Motion
from latentsketch.params import WALK_MODES

H = 1.0 / 240
DIM = 32


def _motion(**kw: object) -> Motion:
    return Motion(**{"h": H, "speed": 1.0, "dwell": 0.5, **kw})


def _pos(ws: walks.WalkState, mode: str, m: Motion | None = None) -> np.ndarray:
    return walks.WALKS[mode].position(ws, m or _motion())


def _run(ws, mode, ticks, groups, tick0=0, m: Motion | None = None):
    """Move ``ticks`` ticks in chunks of the given sizes (cycled), returning the final state."""
    m = m or _motion()
    done, i = 0, 0
    while done < ticks:
        k = min(groups[i % len(groups)], ticks - done)
        ws = walks.WALKS[mode].advance(ws, tick0 + done, k, m)
        done, i = done + k, i + 1
    return ws


def test_random_numbers_are_a_function_of_the_counter():
    a = randoms.normals(5, 1, 0, 100)
    np.testing.assert_array_equal(a, randoms.normals(5, 1, 0, 100))
    np.testing.assert_array_equal(a[37:61], randoms.normals(5, 1, 37, 24))  # any slice/parity
    assert not np.allclose(a, randoms.normals(6, 1, 0, 100))                # seed matters
    assert not np.allclose(a, randoms.normals(5, 2, 0, 100))                # stream matters
    u = randoms.uniforms(5, 1, 10**12, 10_000)
    assert u.min() > 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    n = randoms.normals(9, 3, 0, 40_000)
    assert abs(n.mean()) < 0.02 and abs(n.std() - 1.0) < 0.02


@pytest.mark.parametrize("mode", WALK_MODES)
def test_path_does_not_depend_on_tick_grouping(mode):
    ws = walks.initial_walk(DIM, 11)
    one = _run(ws, mode, 600, [1])
    big = _run(ws, mode, 600, [60])
    odd = _run(ws, mode, 600, [1, 2, 7, 3, 13])
    ref = _pos(one, mode)
    for other in (big, odd):
        np.testing.assert_allclose(_pos(other, mode), ref, atol=1e-9)
    assert not np.allclose(ref, _pos(ws, mode), atol=0.05)  # and it did move


def test_drift_is_smooth_and_has_unit_stationary_variance():
    ws = walks.initial_walk(256, 2)
    ys, prev = [], _pos(ws, "drift")
    max_step = 0.0
    for t in range(0, 240 * 40, 24):   # 40 s sampled every 0.1 s (20 time constants)
        ws = _run(ws, "drift", 24, [24], tick0=t)
        y = _pos(ws, "drift")
        max_step = max(max_step, float(np.abs(y - prev).max()))
        ys.append(y)
        prev = y
    ys = np.array(ys)
    assert ys.std() == pytest.approx(1.0, abs=0.06)
    assert max_step < 0.6  # smoothed OU: no per-tick jitter (0.1 s steps of a unit process)


def test_speed_zero_freezes_every_mode():
    ws = walks.initial_walk(DIM, 4)
    m = _motion(speed=0.0, dwell=0.0, plan=TourPlan.make(np.eye(3, DIM), DIM))
    for mode in WALK_MODES:
        moved = _run(ws, mode, 500, [500], m=m)
        np.testing.assert_array_equal(_pos(moved, mode, m), _pos(ws, mode, m))


def test_noise_has_unit_variance_and_moves_smoothly():
    ws = walks.initial_walk(128, 8)
    vals = []
    for t in range(200):
        ws = _run(ws, "noise", 48, [48], tick0=t * 48)
        vals.append(_pos(ws, "noise"))
    vals = np.array(vals)
    assert vals.std() == pytest.approx(1.0, abs=0.08)
    bound = math.sqrt(2 * walks.NOISE_TERMS) * max(walks.NOISE_RATES) * 0.2  # max |w'| * 0.2 s
    assert np.abs(np.diff(vals, axis=0)).max() < bound


def test_orbit_is_a_great_circle_at_the_typical_radius():
    ws = walks.initial_walk(DIM, 3)
    pts = []
    period = 2 * math.pi / walks.ORBIT_RATE
    for _ in range(8):
        pts.append(_pos(ws, "orbit"))
        ws = _run(ws, "orbit", round(period / 8 / H), [10_000])
    pts = np.array(pts)
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), math.sqrt(DIM), rtol=1e-9)
    assert np.linalg.matrix_rank(pts, tol=1e-6) == 2  # a plane through the origin
    np.testing.assert_allclose(_pos(ws, "orbit"), pts[0], atol=0.02)  # full turn


def test_spiral_winds_over_a_sphere_at_the_typical_radius():
    ws = walks.initial_walk(DIM, 3)
    pts = []
    for _ in range(200):                                  # 200 s in 1 s steps
        ws = _run(ws, "spiral", 240, [240])
        pts.append(_pos(ws, "spiral"))
    pts = np.array(pts)
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), math.sqrt(DIM), rtol=1e-9)
    assert np.linalg.matrix_rank(pts, tol=1e-6) == 3      # a sphere in a 3-D subspace
    steps = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    # smooth: azimuth at ORBIT_RATE plus the elevation's swing, at most ~1.4x the orbit's pace
    assert steps.max() < 1.5 * walks.ORBIT_RATE * math.sqrt(DIM)
    period = round(2 * math.pi / walks.ORBIT_RATE)        # one turn of azimuth: not back
    assert np.linalg.norm(pts[period] - pts[0]) > 0.5


def test_tour_dwells_on_keyframes_then_travels():
    keys = np.random.default_rng(0).normal(size=(3, DIM))
    m = _motion(plan=TourPlan.make(keys, DIM))
    ws = walks.initial_walk(DIM, 0)
    np.testing.assert_allclose(_pos(ws, "tour", m), keys[0])
    ws = _run(ws, "tour", 100, [7], m=m)                  # still dwelling (0.5 s = 120 ticks)
    np.testing.assert_allclose(_pos(ws, "tour", m), keys[0])
    ws = _run(ws, "tour", 120 + round(tour.TOUR_TRAVEL / H) - 100, [7], tick0=100, m=m)
    np.testing.assert_allclose(_pos(ws, "tour", m), keys[1], atol=1e-6)
    ws = _run(ws, "tour", 2 * (120 + 720), [5], m=m)      # two more segments: wraps around
    np.testing.assert_allclose(_pos(ws, "tour", m), keys[0], atol=1e-6)


def test_tour_holds_each_key_its_own_time_and_may_stop_at_the_last():
    keys = np.eye(3, DIM) * 2.0
    plan = TourPlan.make(keys, DIM, holds=[0.25, None, 1.0], travel=0.5, loop=False)
    m = _motion(dwell=0.75, plan=plan)
    assert plan.duration(0.75) == pytest.approx(0.25 + 0.75 + 1.0 + 2 * 0.5)
    ws = walks.initial_walk(DIM, 0)
    seen = []
    for t in range(0, 240 * 4, 6):                        # 4 s in 25 ms frames
        ws = _run(ws, "tour", 6, [6], tick0=t, m=m)
        seen.append((round((t + 6) * H, 3), ws.tour.seg, _pos(ws, "tour", m)))
    at = {time: (seg, p) for time, seg, p in seen}
    np.testing.assert_array_equal(at[0.25][1], keys[0])     # key 0 held its own 0.25 s ...
    assert not np.array_equal(at[0.3][1], keys[0])          # ... then left
    np.testing.assert_array_equal(at[1.5][1], keys[1])      # key 1: walk.dwell, 0.75 s
    assert not np.array_equal(at[1.6][1], keys[1])
    for time, seg, p in seen:
        if time > 2.01:                                     # arrived at the last key: stays
            assert seg == 2
            np.testing.assert_array_equal(p, keys[2])


def test_tour_timing_is_continuous_between_ticks():
    """A segment of 0.1 s plus a hold of 1/7 s (neither a whole number of 1/240 s ticks) ends
    when it should, whatever the frame grouping: time is not rounded up to ticks per key."""
    keys = np.eye(4, DIM)
    plan = TourPlan.make(keys, DIM, holds=[1 / 7] * 4, travel=0.1)
    p = tour.TourProgress()
    for _ in range(240):
        p = tour.advance(p, plan, H, 1.0, 0.0)
    # 1 s = 4 x (1/7 + 0.1) + 0.0286 s: in the 5th hold, at key 0 again
    assert p.seg == 4 and p.s == 0.0
    assert p.held == pytest.approx(1.0 - 4 * (1 / 7 + 0.1), abs=1e-12)
    q = tour.advance(tour.TourProgress(), plan, 1.0, 1.0, 0.0)
    assert (q.seg, q.s) == (p.seg, p.s) and q.held == pytest.approx(p.held, abs=1e-12)


@pytest.mark.parametrize("easing", ["linear", "cubic"])
def test_tour_easing_shapes_the_move(easing):
    keys = np.stack([np.zeros(DIM), np.ones(DIM)])
    plan = TourPlan.make(keys, DIM, holds=[0.0, 0.0], travel=1.0)
    m = _motion(plan=plan, easing=easing)
    ws = _run(walks.initial_walk(DIM, 0), "tour", 60, [60], m=m)     # a quarter of the way
    frac = float(_pos(ws, "tour", m)[0])
    assert frac == pytest.approx({"linear": 0.25, "cubic": 4 * 0.25 ** 3}[easing], abs=1e-9)


def test_tour_without_keys_visits_random_typical_points():
    ws = walks.initial_walk(64, 1)
    m = _motion(dwell=1.0)
    a = _pos(ws, "tour", m)
    ws = _run(ws, "tour", 240 + 720, [10], m=m)
    b = _pos(ws, "tour", m)
    assert np.linalg.norm(a - b) > 5.0
    for p in (a, b):
        assert np.linalg.norm(p) == pytest.approx(8.0, rel=0.25)   # sqrt(64)


def test_new_target_and_start_at():
    keys = np.eye(3, DIM) * 3
    m = _motion(plan=TourPlan.make(keys, DIM))
    ws = walks.initial_walk(DIM, 0)
    for mode in ("drift", "noise", "orbit"):
        moved = walks.WALKS[mode].new_target(ws, m)
        assert moved.epoch == 1
        assert np.linalg.norm(_pos(moved, mode) - _pos(ws, mode)) > 1.0
    tour_mode = walks.WALKS["tour"]
    nxt = tour_mode.new_target(ws, m)
    np.testing.assert_allclose(tour_mode.position(nxt, m), keys[1])
    here = np.full(DIM, 0.25)
    np.testing.assert_array_equal(_pos(walks.WALKS["drift"].start_at(ws, here), "drift"), here)
    started = tour_mode.start_at(ws, here)
    np.testing.assert_array_equal(tour_mode.position(started, m), here)
    assert walks.WALKS["orbit"].start_at(ws, here) is ws
    last = TourPlan.make(keys, DIM, loop=False)                  # a tour that stops at the end
    end = tour_mode.new_target(tour_mode.new_target(ws, _motion(plan=last)), _motion(plan=last))
    assert tour_mode.new_target(end, _motion(plan=last)) is end


def test_walk_state_arrays_are_read_only():
    ws = _run(walks.initial_walk(DIM, 0), "drift", 3, [3])
    with pytest.raises(ValueError):
        ws.drift_y[0] = 1.0


def test_a_new_mode_is_one_registered_class(tmp_path):
    """A mode registered in ``walks`` (before the rest of the program is imported, as a class
    in walks.py is) becomes a walk.mode choice, an OSC enum value and an engine walk, with
    no other edit."""
    code = """
import numpy as np
from latentsketch.latent import walks

@walks.register
class Still(walks.WalkMode):
    name = "still"
    help = "stays at the centre"
    def position(self, ws, m):
        return np.zeros(ws.dim)

from latentsketch import engine, params
from latentsketch import commands as C
from latentsketch.latent.space import LatentSpace
assert params.WALK_MODES[-1] == "still", params.WALK_MODES
assert "still: stays at the centre" in params.param("walk.mode").help
space = LatentSpace.standard(8)
s = engine.State.initial(space, 3, {"walk.mode": "drift"})
for _ in range(80):
    s = engine.step(s, [C.SetParam("walk.mode", "still")] if _ == 1 else [], 0.1, space)
assert s.mode == "still"
assert np.abs(engine.output_u(s)).max() < 1e-3   # glided to the centre and stays
print("ok")
"""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
    with pytest.raises(ValueError, match="registered twice"):
        walks.register(type(walks.WALKS["drift"]))


@pytest.mark.parametrize("mode", WALK_MODES)
@pytest.mark.parametrize("ticks", [1, 4, 9])
def test_a_frame_is_advance_then_one_tick_ahead(mode, ticks):
    """``frame`` (the engine's per-frame call; drift has its own one-pass form) gives the
    state after ``ticks`` and the positions then and one tick later."""
    m = _motion(speed=1.5, dwell=0.02, plan=TourPlan.make(np.eye(3, DIM) * 2, DIM))
    walker = walks.WALKS[mode]
    ws = _run(walks.initial_walk(DIM, 5), mode, 30, [7], m=m)
    new, cur, ahead = walker.frame(ws, 30, ticks, m)
    ref = walker.advance(ws, 30, ticks, m)
    np.testing.assert_allclose(cur, walker.position(ref, m), atol=1e-12)
    np.testing.assert_allclose(walker.position(new, m), cur, atol=1e-12)
    later = walker.advance(ref, 30 + ticks, 1, m)
    np.testing.assert_allclose(ahead, walker.position(later, m), atol=1e-12)
