"""lerp, slerp, easing and keyframe paths: endpoints, norms, degenerate inputs, batches."""

from __future__ import annotations

import numpy as np
import pytest

from latentsketch.latent.interp import EASINGS, ease, lerp, slerp


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=16), 2.5 * rng.normal(size=16)


def test_lerp_endpoints_and_batch(pair):
    a, b = pair
    np.testing.assert_allclose(lerp(a, b, 0.0), a)
    np.testing.assert_allclose(lerp(a, b, 1.0), b)
    assert lerp(a, b, np.linspace(0, 1, 5)).shape == (5, 16)


def test_slerp_endpoints(pair):
    a, b = pair
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-12)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-12)


def test_slerp_interpolates_norm_linearly_and_angle_uniformly(pair):
    a, b = pair
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    theta = np.arccos(a @ b / (na * nb))
    for t in np.linspace(0, 1, 11):
        p = slerp(a, b, t)
        assert np.linalg.norm(p) == pytest.approx(na + (nb - na) * t, rel=1e-10)
        angle = np.arccos(np.clip(p @ a / (np.linalg.norm(p) * na), -1, 1))
        assert angle == pytest.approx(t * theta, abs=1e-7)


def test_slerp_keeps_norm_where_lerp_dips():
    a = np.array([1.0, 0.0, 0.0])
    b = np.array([0.0, 1.0, 0.0])
    assert np.linalg.norm(slerp(a, b, 0.5)) == pytest.approx(1.0)
    assert np.linalg.norm(lerp(a, b, 0.5)) == pytest.approx(np.sqrt(0.5))


def test_slerp_batch_matches_single_calls(pair):
    a, b = pair
    ts = np.linspace(0, 1, 7)
    batch = slerp(a, b, ts)
    assert batch.shape == (7, 16)
    for t, row in zip(ts, batch, strict=True):
        np.testing.assert_allclose(row, slerp(a, b, float(t)), atol=1e-12)
    many = slerp(np.stack([a, b]), np.stack([b, a]), np.array([0.25, 0.75]))
    np.testing.assert_allclose(many[0], slerp(a, b, 0.25), atol=1e-12)
    np.testing.assert_allclose(many[1], slerp(b, a, 0.75), atol=1e-12)


def test_slerp_nearly_parallel_is_finite_and_close_to_lerp():
    a = np.array([1.0, 2.0, 3.0])
    b = a * 2.0 + 1e-12
    for t in (0.0, 0.3, 1.0):
        p = slerp(a, b, t)
        assert np.all(np.isfinite(p))
        np.testing.assert_allclose(p, lerp(a, b, t), atol=1e-9)


@pytest.mark.parametrize("batched", [False, True])
def test_slerp_antiparallel_turns_through_a_perpendicular(batched):
    a = np.array([3.0, 0.0, 4.0, 0.0])
    b = -2.0 * a
    mid = slerp(a[None], b[None], np.array([0.5]))[0] if batched else slerp(a, b, 0.5)
    assert np.all(np.isfinite(mid))
    assert abs(mid @ a) < 1e-9                       # a quarter turn: orthogonal to a
    assert np.linalg.norm(mid) == pytest.approx(7.5)  # (5 + 10) / 2
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-9)


def test_slerp_zero_vectors():
    b = np.array([0.0, 3.0, -4.0])
    zero = np.zeros(3)
    np.testing.assert_allclose(slerp(zero, b, 0.25), 0.25 * b)
    np.testing.assert_allclose(slerp(b, zero, 0.25), 0.75 * b)
    assert np.all(slerp(zero, zero, 0.5) == 0.0)


def test_slerp_keeps_float32():
    a = np.ones(4, np.float32)
    b = -np.arange(4, dtype=np.float32)
    assert slerp(a, b, 0.5).dtype == np.float32
    assert slerp(a.astype(np.float64), b, 0.5).dtype == np.float64


@pytest.mark.parametrize("name", sorted(EASINGS))
def test_easing_endpoints_monotone_symmetric(name):
    t = np.linspace(0, 1, 101)
    e = ease(t, name)
    assert e[0] == pytest.approx(0.0, abs=1e-12) and e[-1] == pytest.approx(1.0)
    assert np.all(np.diff(e) >= -1e-12)
    np.testing.assert_allclose(ease(1 - t, name), 1 - e, atol=1e-12)
    assert ease(-3.0, name) == pytest.approx(0.0, abs=1e-12) and ease(7.0, name) == 1.0


def test_easing_slows_at_the_ends():
    assert ease(0.05, "cosine") < 0.05 and ease(0.05, "cubic") < 0.05
    assert ease(0.05, "linear") == pytest.approx(0.05)


def test_unknown_easing_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown easing 'bounce'.*linear"):
        ease(0.5, "bounce")
