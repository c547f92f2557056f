"""look.grain: film grain / dither at display resolution, the same in the window and offline."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from latentsketch import effects  # noqa: E402
from latentsketch.grain import TILE, Grain, GrainTile  # noqa: E402
from latentsketch.output.display import SurfaceScaler  # noqa: E402
from latentsketch.output.look import Look  # noqa: E402
from latentsketch.output.picture import ArrayScaler, Picture  # noqa: E402

DT = 1 / 60


def _grey(size: int = 32, value: int = 128) -> np.ndarray:
    return np.full((size, size, 3), value, np.uint8)


def _run(frames: int, params: dict[str, float], size: tuple[int, int] = (300, 200),
         frame: np.ndarray | None = None) -> list[np.ndarray]:
    picture = Picture(ArrayScaler("bilinear"))
    src = _grey() if frame is None else frame
    return picture.batch([src] * frames, [params] * frames, [DT] * frames, size, "stretch")


def test_grain_is_zero_mean_fine_and_the_same_in_every_channel() -> None:
    """On mid-grey (no clipping) the grain averages to nothing, over the picture and at every
    pixel over time (no fixed pattern), has the strength asked for, and is monochrome."""
    frames = np.stack(_run(240, {"look.grain": 0.5}, (256, 256))).astype(np.float64) - 128
    assert abs(frames.mean()) < 0.02
    assert frames.std() == pytest.approx(0.5 * effects.GRAIN_MAX_STD, rel=0.05)
    per_pixel = frames.mean(axis=0)                        # 240 frames of std ~6 each
    assert np.abs(per_pixel).max() < 2.0 and per_pixel.std() < 0.6
    assert np.array_equal(frames[..., 0], frames[..., 1])
    assert np.array_equal(frames[..., 0], frames[..., 2])
    # fine: neighbours one pixel apart are correlated, two or more apart hardly at all
    g = frames[0, ..., 0]

    def corr(d: int) -> float:
        return float(np.corrcoef(g[:, :-d].ravel(), g[:, d:].ravel())[0, 1])
    assert corr(1) > 0.3 and abs(corr(3)) < 0.1


def test_grain_changes_every_frame_and_replays_identically() -> None:
    a = _run(6, {"look.grain": 0.3})
    b = _run(6, {"look.grain": 0.3})
    for i in range(6):
        assert np.array_equal(a[i], b[i]), f"frame {i} differs between two runs"
    for i in range(5):
        assert (a[i] != a[i + 1]).mean() > 0.5, f"frame {i + 1} kept frame {i}'s grain"


def test_grain_off_is_the_picture_without_the_effect() -> None:
    """look.grain = 0 gives the same bytes as a look with no grain effect registered."""
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(4)]
    params = [{"look.posterize": 4, "look.contrast": 1.3, "look.grain": 0.0}] * 4
    with_effect = Picture(ArrayScaler("bilinear"))
    assert with_effect.look.grain == ()
    effects.unregister("grain")
    try:
        without = Picture(ArrayScaler("bilinear"))
        assert not any(isinstance(e, effects.FilmGrain) for e in without.look.effects)
    finally:
        effects.register(effects.FilmGrain)
    got = with_effect.batch(frames, params, [DT] * 4, (90, 70), "fit")
    want = without.batch(frames, [{k: v for k, v in p.items() if k != "look.grain"}
                                  for p in params], [DT] * 4, (90, 70), "fit")
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w)


def test_grain_follows_brightness_and_the_fade_to_black() -> None:
    half = np.stack(_run(20, {"look.grain": 0.5, "look.brightness": 0.5}))
    assert (half.astype(np.float64) - 64).std() == pytest.approx(
        0.25 * effects.GRAIN_MAX_STD, rel=0.1)
    look = Look()
    for _ in range(40):
        look.advance({"look.grain": 1.0, "look.blackout": 1.0}, 0.1)
    assert look.is_black and look.grain == ()


@pytest.mark.parametrize("size", [(300, 200), (TILE, TILE), (7, 513)])
def test_window_blits_and_numpy_give_the_same_bytes(size: tuple[int, int]) -> None:
    """pygame's saturating blend blits on a surface == Grain.apply on an RGB array, at the
    clipping ends too (black, white, and values within the grain's reach of them)."""
    w, h = size
    rng = np.random.default_rng(0)
    rgb = rng.choice(np.array([0, 1, 5, 128, 250, 254, 255], np.uint8), (h, w, 3))
    grain = Grain(GrainTile(9.0), frame=17)
    pygame.display.init()
    try:
        scaler = SurfaceScaler()
        image = scaler.draw(rgb, (0, 0, w, h), (w, h))
        scaler.add_grain(image, grain, w, h)
        window = scaler.read(image, w, h)
    finally:
        pygame.display.quit()
    arrays = rgb.copy()
    grain.apply(arrays)
    reference = np.clip(rgb.astype(np.int16) + _noise(grain, w, h)[..., None], 0, 255)
    assert np.array_equal(arrays, reference)
    assert np.array_equal(window, arrays)
    assert not np.array_equal(arrays, rgb)


def _noise(grain: Grain, w: int, h: int) -> np.ndarray:
    """The grain's signed noise over a w x h picture, block by block (int16)."""
    n = grain.tile.plus.astype(np.int16) - grain.tile.minus.astype(np.int16)
    out = np.zeros((h, w), np.int16)
    for x, y, sx, sy, bw, bh in grain.blocks(w, h):
        out[y:y + bh, x:x + bw] = n[sy:sy + bh, sx:sx + bw]
    return out


def _flat_runs(rows: np.ndarray, at_least: int) -> int:
    """How many runs of at least ``at_least`` equal pixels along the rows."""
    count = 0
    for row in rows:
        edges = np.flatnonzero(np.diff(row.astype(np.int16)) != 0)
        runs = np.diff(np.concatenate(([-1], edges, [row.size - 1])))
        count += int((runs >= at_least).sum())
    return count


@pytest.mark.parametrize("lo,hi,params", [
    (20, 40, {}),                                          # 8-bit steps stretched by the upscale
    (0, 255, {"look.posterize": 16, "look.softness": 0.0}),   # posterised
])
def test_grain_breaks_banding_of_a_smooth_gradient(lo: int, hi: int,
                                                    params: dict[str, float]) -> None:
    """A 64-px ramp upscaled to 1024 px shows flat bands tens of pixels wide, quantized to
    8 bits or posterised. With a little grain (std ~1 level) almost no long flat run is
    left, and the average down each column still follows the ramp."""
    ramp = np.linspace(lo, hi, 64).astype(np.uint8)
    frame = np.repeat(np.repeat(ramp[None, :, None], 64, axis=0), 3, axis=2)
    plain = _run(1, params, (1024, 64), frame)[0][..., 0]
    grainy = _run(1, {**params, "look.grain": 0.1}, (1024, 64), frame)[0][..., 0]
    assert _flat_runs(plain, 24) >= 64 * 10               # every row has 10+ long bands
    assert _flat_runs(grainy, 24) <= _flat_runs(plain, 24) // 50  # left: only at black,
    #                                                    where half the grain clips away
    drift = np.abs(grainy.astype(np.float64).mean(axis=0) - plain.mean(axis=0))
    assert drift.mean() < 0.5
