"""The look stage: lookup tables against a plain float reference, posterise, fades, trails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentsketch.output.look import Look, LookParams


def _reference(frame: np.ndarray, p: LookParams, gain: float) -> np.ndarray:
    """The look written the slow, obvious way: float maths pixel by pixel, no tables.

    Saturation gives a uint8 frame (frames are uint8 between stages); the tone curve
    follows in float: contrast, posterise with logistic steps normalised through (0,0)-(1,1),
    then gain.
    """
    f = frame.astype(np.float64)
    if p.saturation != 1.0:
        lum = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
        f = np.clip(np.rint(lum[..., None] + p.saturation * (f - lum[..., None])), 0, 255)
    y = np.clip((f / 255.0 - 0.5) * p.contrast + 0.5, 0.0, 1.0)
    n = p.posterize if p.posterize != 1 else 2
    if n >= 2:
        out = np.empty_like(y)
        for idx, v in np.ndenumerate(y):
            s = v * (n - 1)
            k = min(math.floor(s), n - 2)
            t = s - k
            if p.softness <= 1e-3:
                step = 1.0 if t >= 0.5 else 0.0
            else:
                a = 4.4 / p.softness
                sig = [1 / (1 + math.exp(-a * (q - 0.5))) for q in (t, 0.0, 1.0)]
                step = (sig[0] - sig[1]) / (sig[2] - sig[1])
            out[idx] = (k + step) / (n - 1)
        y = out
    return np.clip(np.rint(y * gain * 255.0), 0, 255).astype(np.uint8)


def _frame(seed: int = 0, shape: tuple[int, int] = (24, 20)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


@pytest.mark.parametrize("p", [
    LookParams(contrast=1.6),
    LookParams(contrast=0.5, brightness=0.7),
    LookParams(saturation=1.8, contrast=1.3),
    LookParams(saturation=0.0),
    LookParams(posterize=4, softness=0.0),
    LookParams(posterize=4, softness=0.3, contrast=1.2, saturation=1.5),
    LookParams(posterize=7, softness=0.9, brightness=0.5),
    LookParams(posterize=1, softness=0.2),
    LookParams(posterize=16, softness=0.05, contrast=2.5),
])
def test_lookup_tables_match_float_reference(p: LookParams) -> None:
    look = Look()
    look.advance(p, 1 / 60)
    frame = _frame()
    out = look.process(frame)
    ref = _reference(frame, p, p.brightness)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_post_on_padded_pixels_matches_rgb() -> None:
    """post works on raw surface bytes (BGRX, odd lengths): the table is channel-symmetric."""
    look = Look()
    look.advance(LookParams(posterize=5, softness=0.2, contrast=1.4), 1 / 60)
    rgb = _frame(1, (17, 13))
    bgrx = np.concatenate([rgb[..., ::-1], np.full((17, 13, 1), 7, np.uint8)], axis=2).copy()
    look.post(bgrx)
    expected = look.lut[rgb]
    assert np.array_equal(bgrx[..., 2::-1], expected)
    odd = rgb.reshape(-1)[:101].copy()
    look.post(odd)
    assert np.array_equal(odd, look.lut[rgb.reshape(-1)[:101]])


@pytest.mark.parametrize("levels", [2, 3, 4, 6, 8])
def test_hard_posterize_gives_at_most_n_levels(levels: int) -> None:
    look = Look()
    look.advance(LookParams(posterize=levels, softness=0.0), 1 / 60)
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=2)
    out = look.process(ramp, upscale=lambda a: np.repeat(a, 4, axis=0))
    for ch in range(3):
        assert len(np.unique(out[..., ch])) == levels


def test_soft_posterize_concentrates_on_levels() -> None:
    look = Look()
    look.advance(LookParams(posterize=4, softness=0.3), 1 / 60)
    out = look.lut.astype(int)
    near = np.min(np.abs(out[:, None] - np.array([0, 85, 170, 255])[None, :]), axis=1)
    assert (near <= 8).mean() > 0.6          # most of the ramp sits on the four levels
    assert np.all(np.diff(out) >= 0)         # and the curve never runs backwards


def test_neutral_is_identity_and_free() -> None:
    look = Look()
    look.advance({}, 1 / 60)
    frame = _frame(2)
    assert look.pre(frame) is frame
    assert not look.needs_post
    assert np.array_equal(look.process(frame), frame)
    assert np.array_equal(look.lut, np.arange(256))


def test_from_params_reads_look_values_and_clamps() -> None:
    p = LookParams.from_params({"look.contrast": 9.0, "look.posterize": 4.4,
                                "look.blackout": 1.0, "walk.speed": 3.0})
    assert p.contrast == 3.0 and p.posterize == 4 and p.blackout
    assert p.saturation == 1.0


def test_blackout_fades_to_zero_and_back_in_time() -> None:
    look = Look(fade_seconds=0.5)
    frame = np.full((8, 8, 3), 200, np.uint8)
    look.advance({"look.blackout": 1}, 0.0)
    assert np.array_equal(look.process(frame), frame)          # the fade takes time
    means = []
    for _ in range(40):                                         # 40 x 1/60 s = 0.67 s
        look.advance({"look.blackout": 1}, 1 / 60)
        means.append(look.process(frame).mean())
    assert 20 < means[14] < 180                                 # half way: half dark
    assert all(a >= b for a, b in zip(means, means[1:], strict=False))
    assert means[-1] == 0 and look.is_black
    for _ in range(40):
        look.advance({"look.blackout": 0}, 1 / 60)
    assert np.array_equal(look.process(frame), frame)


def test_blackout_fade_is_frame_rate_independent() -> None:
    a, b = Look(), Look()
    for _ in range(12):
        a.advance({"look.blackout": 1}, 1 / 60)
    for _ in range(4):
        b.advance({"look.blackout": 1}, 1 / 20)
    assert a.visibility == pytest.approx(b.visibility)


def test_blackout_also_covers_posterized_picture() -> None:
    look = Look()
    for _ in range(60):
        look.advance({"look.blackout": 1, "look.posterize": 4}, 1 / 60)
    assert look.is_black
    assert look.process(_frame(3)).max() == 0


def test_trails_blend_with_previous_frames_frame_rate_independently() -> None:
    black = np.zeros((4, 4, 3), np.uint8)
    white = np.full((4, 4, 3), 255, np.uint8)

    def run(dt: float, seconds: float) -> float:
        look = Look()
        look.advance({"look.trails": 0.9}, dt)
        look.process(black)
        v = 0.0
        for _ in range(round(seconds / dt)):
            look.advance({"look.trails": 0.9}, dt)
            v = float(look.process(white).mean())
        return v

    one = run(1 / 60, 1 / 60)
    assert one == pytest.approx(25.5, abs=1.0)                  # 10 % of the new frame
    assert run(1 / 60, 0.5) == pytest.approx(run(1 / 30, 0.5), abs=1.0)
    assert run(1 / 60, 3.0) >= 254                               # and it converges
    look = Look()
    look.advance({"look.trails": 0.0}, 1 / 60)
    look.process(black)
    assert look.process(white).min() == 255                      # off: no memory


def test_saturation_zero_is_grey() -> None:
    look = Look()
    look.advance({"look.saturation": 0.0}, 1 / 60)
    out = look.process(_frame(4))
    assert np.abs(out.astype(int) - out[..., :1].astype(int)).max() <= 1


def test_hue_turns_colours_around_the_grey_axis() -> None:
    """look.hue: a third of a turn takes red to green and green to blue, greys stay grey,
    luminance stays (W3C hueRotate), a whole turn is the identity, and 0 costs nothing."""
    frame = np.array([[[200, 30, 30], [30, 200, 30], [128, 128, 128], [90, 140, 210]]],
                     np.uint8)
    luma = np.array([0.213, 0.715, 0.072])
    look = Look()
    look.advance({"look.hue": 120.0}, 1 / 60)
    out = look.process(frame).astype(int)
    assert out[0, 0].argmax() == 1 and out[0, 1].argmax() == 2       # red -> green -> blue
    assert np.abs(out[0, 2] - 128).max() <= 1                        # grey stays grey
    assert abs(out[0, 3] @ luma - frame[0, 3] @ luma) < 2            # luminance kept
    look.advance({"look.hue": 180.0}, 1 / 60)
    half = look.process(frame).astype(int)
    look.advance({"look.hue": -180.0}, 1 / 60)
    assert np.array_equal(look.process(frame).astype(int), half)     # -180 = +180
    look.advance({"look.hue": 0.0}, 1 / 60)
    assert look.pre(frame) is frame                                  # off: untouched, free
