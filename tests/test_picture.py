"""The one picture pipeline: the window, the exporter, the recorder and the look registry."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from collections.abc import Iterator, Mapping  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from latentsketch import commands as C  # noqa: E402
from latentsketch import effects  # noqa: E402
from latentsketch.app import App  # noqa: E402
from latentsketch.output.display import Display, SurfaceScaler  # noqa: E402
from latentsketch.output.export import Clip, ExportSettings, Frame, export  # noqa: E402
from latentsketch.output.look import Look, LookParams  # noqa: E402
from latentsketch.output.picture import ArrayScaler, Picture, bicubic_up, steepen_edges  # noqa: E402
from latentsketch.output.recorder import Recorder  # noqa: E402
from latentsketch.output.video import FrameWriter  # noqa: E402
from latentsketch.params import PARAMS, defaults  # noqa: E402

DT = 1 / 30
LOOKS = [  # trails carry over, posterise runs after scaling, the tone table changes, grain
    {"look.contrast": 1.3, "look.saturation": 1.5, "look.trails": 0.5},
    {"look.posterize": 4, "look.softness": 0.1, "look.trails": 0.5, "look.grain": 0.4},
    {"look.posterize": 3, "look.brightness": 0.7, "look.grain": 1.0},
    {"look.posterize": 5, "look.contrast": 1.6, "look.grain": 0.2},
    {"look.saturation": 0.2, "look.brightness": 0.9},
]
BLACKOUT = range(4, 8)   # frames 4-7 fade to black (0.25 s steps), 8-11 fade back in


def _frames(n: int, size: int = 64, seed: int = 0) -> list[np.ndarray]:
    """Smooth random frames (the kind of picture a VAE decodes)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 8, 8, 3)).astype(np.uint8)
    return [np.array(Image.fromarray(s).resize((size, size), Image.Resampling.BICUBIC))
            for s in small]


def _params(i: int) -> dict[str, float]:
    return {**defaults(), **LOOKS[i % len(LOOKS)], "look.blackout": float(i in BLACKOUT)}


def _dt(i: int) -> float:
    return 0.25 if i in BLACKOUT else DT


# --- the window and the exporter's live filter ------------------------------------------------

class _Frames:
    """A decoder that hands out fixed frames: ``z[0]`` is the frame's index."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames
        self.size = frames[0].shape[0]
        self.engine = "fixed"

    def decode_batch(self, z: np.ndarray) -> np.ndarray:
        return np.stack([self.frames[int(v[0])] for v in np.atleast_2d(z)])


@pytest.mark.parametrize("window,fit", [((200, 120), "fit"), ((160, 90), "fill"),
                                        ((48, 40), "stretch")])
def test_the_window_and_a_live_export_are_one_picture(tmp_path: Path, window: tuple[int, int],
                                                      fit: str) -> None:
    """Frames shown in the window and the same frames exported with the ``live`` filter (PNG:
    lossless) are equal pixel for pixel, look and all, upscaled or (48x40) shrunk."""
    frames = _frames(12)
    disp = Display(window, fit=fit, fps=0)
    try:
        shown = []
        for i, f in enumerate(frames):
            disp.show(f, _params(i), _dt(i))
            shown.append(disp.picture())
        size = disp.picture_size
    finally:
        disp.close()
    clip = Clip([Frame(np.array([i], np.float32), _params(i), _dt(i)) for i in range(12)],
                12, 30.0)
    export(clip, _Frames(frames), tmp_path / "png",  # type: ignore[arg-type]
           ExportSettings(size=size, fit=fit, filter="live", batch=5))
    written = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "png").glob("*.png"))]
    assert len(written) == 12
    assert shown[7].max() == 0 < shown[4].max()          # the blackout reached black
    for i, (s, w) in enumerate(zip(shown, written, strict=True)):
        assert np.array_equal(s, w), f"frame {i}"


def test_draw_render_and_batch_agree_on_any_scaler() -> None:
    """The three ways out of the pipeline give one picture: the drawn image, a render at
    another size and fit, and a batch -- with numpy's scaler as with pygame's."""
    frames = _frames(6, seed=1)
    for make in (lambda: SurfaceScaler(), lambda: ArrayScaler("bilinear")):
        live, offline = Picture(make()), Picture(make())
        batched = offline.batch(frames, [_params(i) for i in range(6)],
                                [_dt(i) for i in range(6)], (90, 60), "fit")
        for i, f in enumerate(frames):
            live.feed(f, _params(i), _dt(i))
            image, rect = live.draw((90, 60), "fit")
            assert rect == (15, 0, 60, 60)
            got = live.render((90, 60), "fit")
            assert np.array_equal(got, batched[i]), f"{type(live.scaler).__name__} {i}"
            if image is None:
                assert got.max() == 0
            else:
                assert np.array_equal(live.scaler.read(image, 60, 60), got[:, 15:75])
                assert not got[:, :15].any() and not got[:, 75:].any()    # the bars
        assert np.array_equal(live.native(), offline.native())


# --- the recorder -----------------------------------------------------------------------------

class _Keep(FrameWriter):
    """A writer that keeps the frames it is given (lossless), in a list."""

    def __init__(self, path: Path, w: int, h: int, fps: object, into: list[np.ndarray]):
        super().__init__(path, w, h, fps)
        self.into = into

    def _write(self, frame: np.ndarray, pts: int) -> None:
        self.into.append(frame.copy())

    def _close(self) -> None:
        self.into.append(np.empty(0, np.uint8))   # marks a clean finish


def test_the_recorder_takes_its_frames_from_the_pipeline_not_the_window(
        make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    """While recording at another size and fit than the window's, each recorded frame is the
    pipeline's picture of that frame, and the window is never asked for one."""
    app: App = make_app(size=(160, 96), record_size=(64, 48))
    written: list[np.ndarray] = []
    app.outputs.recorder = Recorder(writer_factory=lambda p, w, h, fps: _Keep(p, w, h, fps,
                                                                              written))

    def no_window(*a: object, **k: object) -> np.ndarray:
        raise AssertionError("the recorder asked the window for a picture")
    monkeypatch.setattr(app.display, "picture", no_window)
    expected: list[np.ndarray] = []

    def script(i: int, a: App) -> list:
        if 3 < i <= 23:   # the frame recorded last, as the pipeline renders it
            expected.append(a.picture.render((64, 48), a.display.fit))
        looks = [C.SetParam("look.posterize", 4.0), C.SetParam("look.softness", 0.0),
                 C.SetParam("look.trails", 0.6)]
        return [*looks, C.Record(True)] if i == 3 else [C.Record(False)] if i == 23 else []

    app.run(max_frames=25, dt=DT, script=script)
    assert written[-1].size == 0 and len(written) == 21          # 20 frames, then finished
    for i, (got, want) in enumerate(zip(written, expected, strict=False)):
        assert np.array_equal(got, want), f"frame {i}"
    assert written[5][:, :8].max() == 0 < written[5][:, 8:56].max()   # 48x48 in 64x48
    assert len(np.unique(written[5])) <= 4                            # posterised


# --- the look registry ------------------------------------------------------------------------

class _Invert(effects.PixelEffect):
    name = "invert"
    knobs = (effects.Knob("invert", 0, 0, 1, kind="bool", help="negative picture"),)

    def __init__(self) -> None:
        self.on = False

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        self.on = values["invert"] >= 0.5

    @property
    def active(self) -> bool:
        return self.on

    def apply(self, f: np.ndarray) -> np.ndarray:
        return 255.0 - f


class _Threshold(effects.ToneEffect):
    name = "threshold"
    crisp = True
    knobs = (effects.Knob("threshold", 0.0, 0.0, 1.0, help="black/white cut (0 = off)"),)

    def __init__(self) -> None:
        self.cut = 0.0

    def advance(self, values: Mapping[str, float], dt: float) -> None:
        self.cut = values["threshold"]

    @property
    def settings(self) -> tuple[float, ...] | None:
        return (self.cut,) if self.cut > 0 else None

    def curve(self, y: np.ndarray) -> np.ndarray:
        return (y >= self.cut).astype(np.float64)


@pytest.fixture
def toys() -> Iterator[None]:
    effects.register(_Invert)
    effects.register(_Threshold)
    try:
        yield
    finally:
        effects.unregister("invert")
        effects.unregister("threshold")


def test_a_registered_effect_reaches_every_picture(toys: None) -> None:
    """Two toy effects, registered and nothing else: their knobs are look values, and the
    window's pipeline and an offline batch both run them."""
    assert LookParams().invert == 0.0 and LookParams(threshold=7).threshold == 1.0  # clamped
    frame = _frames(1, seed=2)[0]
    offline = Picture(ArrayScaler("bicubic"))
    same, inverted = offline.batch([frame, frame], [{}, {"look.invert": 1}], [DT, DT],
                                   (64, 64), "fit")
    assert np.array_equal(same, frame) and np.array_equal(inverted, 255 - frame)
    disp = Display((128, 128), fit="stretch", fps=0)
    try:
        disp.show(frame, {"look.threshold": 0.5}, DT)
        cut = disp.picture()
        disp.show(frame, {"look.threshold": 0.5, "look.invert": 1}, DT)
        both = disp.picture()
    finally:
        disp.close()
    assert set(np.unique(cut).tolist()) == {0, 255}     # crisp: cut after the upscale
    assert set(np.unique(both).tolist()) == {0, 255} and not np.array_equal(both, cut)


def test_an_effect_gone_from_the_registry_is_gone_from_new_looks(toys: None) -> None:
    assert [type(e).__name__ for e in Look().effects][-2:] == ["_Invert", "_Threshold"]
    effects.unregister("invert")
    try:
        assert "invert" not in LookParams() and all(
            not isinstance(e, _Invert) for e in Look().effects)
    finally:
        effects.register(_Invert)   # for the fixture to remove


def test_look_parameters_are_the_registered_knobs() -> None:
    """params.PARAMS holds exactly the built-in effects' knobs as look.* parameters."""
    look = [p for p in PARAMS if p.section == "look"]
    assert [p.name for p in look] == [k.name for k in effects.knobs()]
    for p, k in zip(look, effects.knobs(), strict=True):
        assert (p.default, p.lo, p.hi, p.kind, p.help) == (k.default, k.lo, k.hi, k.kind,
                                                            k.help)
    with pytest.raises(ValueError, match="look.trails belongs to another effect"):
        effects.register(type("Echo", (effects.Trails,), {"name": "echo"}))
    with pytest.raises(ValueError, match="already registered"):
        effects.register(effects.Trails)
    assert [e.name for e in effects.registered()] == [
        "trails", "saturation", "hue", "contrast", "posterize", "brightness", "blackout",
        "grain"]


# --- hard edges at display resolution ---------------------------------------------------------

def _soft_shapes(size: int = 64) -> np.ndarray:
    """A decoder-like frame: two soft-edged discs (edges a few native pixels wide)."""
    y, x = np.mgrid[0:size, 0:size] / size
    a = 1 / (1 + np.exp((np.hypot(x - 0.4, y - 0.45) - 0.3) * 25))
    b = 1 / (1 + np.exp((np.hypot(x - 0.75, y - 0.7) - 0.18) * 30))
    rgb = np.stack([a, 0.6 * b + 0.2 * a, b], -1)
    return np.rint(rgb * 255).astype(np.uint8)


def _stair_steps(picture: np.ndarray, frame: np.ndarray) -> float:
    """Share of pixels more than 24 levels from the ideal: the same two-level posterise on a
    float bicubic upscale of ``frame`` with its edges steepened as the pipeline does (no
    grid of the native pixels left in its edges)."""
    import torch

    h, w = picture.shape[:2]
    x = torch.from_numpy(steepen_edges(frame).astype(np.float32)).permute(2, 0, 1)[None]
    ideal = torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic")[0].permute(1, 2, 0)
    ideal = np.where(ideal.numpy() >= 127.5, 255, 0)
    return float((np.abs(picture.astype(np.int16) - ideal).max(2) > 24).mean())


def _posterized(scaler: SurfaceScaler | ArrayScaler, frame: np.ndarray) -> np.ndarray:
    pic = Picture(scaler)
    pic.feed(frame, {**defaults(), "look.posterize": 2, "look.softness": 0.0}, DT)
    return pic.render((512, 512), "fit")


def test_posterize_draws_clean_edges_not_the_native_pixel_grid(monkeypatch) -> None:
    """Posterise thresholds the upscaled picture. Upscaled by smoothscale straight from 64 px,
    its edges follow the native pixel grid (stair-steps); the window's scaler asks for a 2x
    bicubic step first, which halves the pixels off the ideal. The exporter's torch scalers
    are clean without it."""
    frame = _soft_shapes()
    stepped = _stair_steps(_posterized(SurfaceScaler(), frame), frame)
    monkeypatch.setattr(SurfaceScaler, "crisp_prestep", 1)
    plain = _stair_steps(_posterized(SurfaceScaler(), frame), frame)
    assert stepped < 0.65 * plain, (plain, stepped)
    for f in ("bilinear", "bicubic"):
        assert _stair_steps(_posterized(ArrayScaler(f), frame), frame) < 0.004


def _rings(picture: np.ndarray, levels: int = 4) -> int:
    """Pixels of a posterised picture at an intermediate level of some channel (neither
    black nor full): the bands a soft edge to black passes through."""
    q = np.rint(picture.astype(np.float32) * (levels - 1) / 255)
    return int(((q > 0) & (q < levels - 1)).any(2).sum())


def test_posterize_rings_around_soft_shapes_become_thin_lines() -> None:
    """A soft disc of full red on black, posterised to 4 levels at 512 px: the pipeline's
    steepened edges leave at most half the ring pixels that posterising the plain upscale
    draws, and the disc's inside and the black around it stay as they were. The edge is a
    decoder's: ~5 native pixels from 10 % to 90 %."""
    y, x = np.mgrid[0:64, 0:64] / 64
    disc = 1 / (1 + np.exp((np.hypot(x - 0.5, y - 0.5) - 0.3) * 50))
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[..., 0] = np.rint(disc * 255)
    params = {**defaults(), "look.posterize": 4, "look.softness": 0.0}
    for scaler in (SurfaceScaler(), ArrayScaler("bicubic")):
        pic = Picture(scaler)
        pic.feed(frame, params, DT)
        shown = pic.render((512, 512), "fit")
        tone = pic.look.tone
        plain = scaler.scale([bicubic_up(frame, scaler.crisp_prestep)], (
            0, 0, 64 * scaler.crisp_prestep, 64 * scaler.crisp_prestep), (512, 512))[0]
        tone.apply(plain)
        assert _rings(shown) <= 0.5 * _rings(plain), (_rings(shown), _rings(plain))
        assert shown[256, 256, 0] == plain[256, 256, 0] == 255 and not shown[5, 5].any()


def test_steepen_edges_keeps_flats_and_ramps_and_never_overshoots() -> None:
    rng = np.random.default_rng(3)
    flat = np.full((16, 16, 3), 77, np.uint8)
    ramp = np.repeat(np.repeat(np.arange(0, 160, 10, dtype=np.uint8)[None, :, None], 16, 0),
                     3, 2)
    assert np.array_equal(steepen_edges(flat), flat)
    assert np.array_equal(steepen_edges(ramp)[:, 2:-2], ramp[:, 2:-2])   # inside the ramp
    noise = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = steepen_edges(noise)
    p = np.pad(noise, ((2, 2), (2, 2), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(p, (5, 5), axis=(0, 1))
    assert (out >= windows.min((-2, -1))).all() and (out <= windows.max((-2, -1))).all()
    assert out.dtype == np.uint8 and out.shape == noise.shape
    assert np.array_equal(steepen_edges(noise, gain=1.0), noise)
