"""Walks: counter-based randomness, tick grouping independence, and each mode's shape."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentsketch.latent import walks

H = 1.0 / 240
DIM = 32


def _run(ws, mode, ticks, groups, tick0=0, **kw):
    """Advance ``ticks`` ticks in chunks of the given sizes (cycled), returning the final state."""
    kw = {"h": H, "speed": 1.0, "dwell": 0.5, **kw}
    done, i = 0, 0
    while done < ticks:
        k = min(groups[i % len(groups)], ticks - done)
        ws = walks.advance(ws, mode, tick0 + done, k, **kw)
        done, i = done + k, i + 1
    return ws


def test_random_numbers_are_a_function_of_the_counter():
    a = walks.normals(5, 1, 0, 100)
    np.testing.assert_array_equal(a, walks.normals(5, 1, 0, 100))
    np.testing.assert_array_equal(a[37:61], walks.normals(5, 1, 37, 24))  # any slice, any parity
    assert not np.allclose(a, walks.normals(6, 1, 0, 100))                # seed matters
    assert not np.allclose(a, walks.normals(5, 2, 0, 100))                # stream matters
    u = walks.uniforms(5, 1, 10**12, 10_000)
    assert u.min() > 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    n = walks.normals(9, 3, 0, 40_000)
    assert abs(n.mean()) < 0.02 and abs(n.std() - 1.0) < 0.02


@pytest.mark.parametrize("mode", ["drift", "noise", "orbit", "tour"])
def test_path_does_not_depend_on_tick_grouping(mode):
    ws = walks.initial_walk(DIM, 11)
    one = _run(ws, mode, 600, [1])
    big = _run(ws, mode, 600, [60])
    odd = _run(ws, mode, 600, [1, 2, 7, 3, 13])
    ref = walks.position(one, mode)
    for other in (big, odd):
        np.testing.assert_allclose(walks.position(other, mode), ref, atol=1e-9)
    assert not np.allclose(ref, walks.position(ws, mode), atol=0.05)  # and it did move


@pytest.mark.parametrize("mode", ["drift", "noise", "orbit", "tour"])
@pytest.mark.parametrize("ticks", [1, 2, 9])
def test_move_returns_the_last_two_tick_positions(mode, ticks):
    keys = np.random.default_rng(0).normal(size=(3, DIM))
    kw = {"h": H, "speed": 3.0, "dwell": 0.02}
    ws = _run(walks.initial_walk(DIM, 6), mode, 50, [7], **kw)
    new, prev, cur = walks.move(ws, mode, 50, ticks, keys=keys, **kw)
    before = walks.advance(ws, mode, 50, ticks - 1, **kw)
    after = walks.advance(before, mode, 50 + ticks - 1, 1, **kw)
    np.testing.assert_allclose(prev, walks.position(before, mode, keys), atol=1e-12)
    np.testing.assert_allclose(cur, walks.position(after, mode, keys), atol=1e-12)
    np.testing.assert_allclose(walks.position(new, mode, keys), cur, atol=1e-12)


def test_drift_is_smooth_and_has_unit_stationary_variance():
    ws = walks.initial_walk(256, 2)
    ys, prev = [], walks.position(ws, "drift")
    max_step = 0.0
    for t in range(0, 240 * 40, 24):   # 40 s sampled every 0.1 s (20 time constants)
        ws = walks.advance(ws, "drift", t, 24, h=H, speed=1.0, dwell=0.0)
        y = walks.position(ws, "drift")
        max_step = max(max_step, float(np.abs(y - prev).max()))
        ys.append(y)
        prev = y
    ys = np.array(ys)
    assert ys.std() == pytest.approx(1.0, abs=0.06)
    assert max_step < 0.6  # smoothed OU: no per-tick jitter (0.1 s steps of a unit process)


def test_speed_zero_freezes_every_mode():
    ws = walks.initial_walk(DIM, 4)
    for mode in ("drift", "noise", "orbit"):
        moved = walks.advance(ws, mode, 0, 500, h=H, speed=0.0, dwell=0.0)
        np.testing.assert_array_equal(walks.position(moved, mode), walks.position(ws, mode))


def test_noise_has_unit_variance_and_moves_smoothly():
    ws = walks.initial_walk(128, 8)
    vals = []
    for t in range(200):
        ws = walks.advance(ws, "noise", t * 48, 48, h=H, speed=1.0, dwell=0.0)
        vals.append(walks.position(ws, "noise"))
    vals = np.array(vals)
    assert vals.std() == pytest.approx(1.0, abs=0.08)
    bound = math.sqrt(2 * walks.NOISE_TERMS) * max(walks.NOISE_RATES) * 0.2  # max |w'| * 0.2 s
    assert np.abs(np.diff(vals, axis=0)).max() < bound


def test_orbit_is_a_great_circle_at_the_typical_radius():
    ws = walks.initial_walk(DIM, 3)
    pts = []
    period = 2 * math.pi / walks.ORBIT_RATE
    for _ in range(8):
        pts.append(walks.position(ws, "orbit"))
        ws = walks.advance(ws, "orbit", 0, round(period / 8 / H), h=H, speed=1.0, dwell=0.0)
    pts = np.array(pts)
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), math.sqrt(DIM), rtol=1e-9)
    assert np.linalg.matrix_rank(pts, tol=1e-6) == 2  # a plane through the origin
    np.testing.assert_allclose(walks.position(ws, "orbit"), pts[0], atol=0.02)  # full turn


def test_tour_dwells_on_keyframes_then_travels():
    keys = np.random.default_rng(0).normal(size=(3, DIM))
    ws = walks.initial_walk(DIM, 0)
    kw = {"h": H, "speed": 1.0, "dwell": 0.5}
    np.testing.assert_allclose(walks.position(ws, "tour", keys), keys[0])
    ws = _run(ws, "tour", 100, [7], **kw)                 # still dwelling (0.5 s = 120 ticks)
    np.testing.assert_allclose(walks.position(ws, "tour", keys), keys[0])
    ws = _run(ws, "tour", 120 + round(walks.TOUR_TRAVEL / H) - 100, [7], tick0=100, **kw)
    np.testing.assert_allclose(walks.position(ws, "tour", keys), keys[1], atol=1e-6)
    ws = _run(ws, "tour", 2 * (120 + 720), [5], **kw)      # two more segments: wraps around
    np.testing.assert_allclose(walks.position(ws, "tour", keys), keys[0], atol=1e-6)


def test_tour_without_keys_visits_random_typical_points():
    ws = walks.initial_walk(64, 1)
    a = walks.position(ws, "tour")
    ws = _run(ws, "tour", 240 + 720, [10], dwell=1.0)
    b = walks.position(ws, "tour")
    assert np.linalg.norm(a - b) > 5.0
    for p in (a, b):
        assert np.linalg.norm(p) == pytest.approx(8.0, rel=0.25)   # sqrt(64)


def test_new_target_and_start_at():
    keys = np.eye(3, DIM) * 3
    ws = walks.initial_walk(DIM, 0)
    for mode in ("drift", "noise", "orbit"):
        moved = walks.new_target(ws, mode)
        assert moved.epoch == 1
        assert np.linalg.norm(walks.position(moved, mode) - walks.position(ws, mode)) > 1.0
    nxt = walks.new_target(ws, "tour")
    np.testing.assert_allclose(walks.position(nxt, "tour", keys), keys[1])
    here = np.full(DIM, 0.25)
    np.testing.assert_array_equal(walks.position(walks.start_at(ws, "drift", here), "drift"), here)
    started = walks.start_at(ws, "tour", here)
    np.testing.assert_array_equal(walks.position(started, "tour", keys), here)
    assert walks.start_at(ws, "orbit", here) is ws


def test_walk_state_arrays_are_read_only():
    ws = walks.advance(walks.initial_walk(DIM, 0), "drift", 0, 3, h=H, speed=1.0, dwell=0.0)
    with pytest.raises(ValueError):
        ws.drift_y[0] = 1.0
