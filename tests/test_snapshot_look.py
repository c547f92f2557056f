"""S saves what the audience saw: the look (posterize, contrast, trails...) in both PNGs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.app import App
from latentsketch.output.snapshot import read_snapshot_meta

DT = 1 / 30


@pytest.fixture
def app(make_app) -> App:
    return make_app(seed=4, size=(160, 96))


def test_snapshot_pngs_hold_the_look_shown_on_screen(app: App) -> None:
    look = [C.SetParam("walk.mode", 0.0), C.SetParam("look.posterize", 3.0),
            C.SetParam("look.softness", 0.0), C.SetParam("look.contrast", 1.6),
            C.SetParam("look.saturation", 1.8)]
    seen: dict[str, np.ndarray] = {}

    def script(i: int, a: App) -> list:
        if i == 0:
            return look
        if i == 20:  # what the window shows as the snapshot is taken, and the point behind it
            seen.update(picture=a.display.picture(), raw=a.frame.copy(),
                        z=engine.output_z(a.state, a.space))
            return [C.Snapshot()]
        return []

    app.run(max_frames=25, dt=DT, script=script)
    app.outputs.wait_snapshots()
    native_png, picture_png = sorted(app.out.root.glob("*.png"), key=lambda p: len(p.name))
    native = np.asarray(Image.open(native_png).convert("RGB"))
    picture = np.asarray(Image.open(picture_png).convert("RGB"))
    # the picture-size PNG is the picture on screen, pixel for pixel (fit: 96x96 in 160x96)
    assert picture_png.name.endswith("-96x96.png")
    assert np.array_equal(picture, seen["picture"])
    # the model-size PNG has the look too: hard posterize leaves three levels per channel
    assert native.shape == seen["raw"].shape
    levels = set(np.unique(app.display.look.lut).tolist())
    assert len(levels) == 3 and set(np.unique(native).tolist()) <= levels
    assert len(np.unique(seen["raw"])) > 20            # the raw decode had many levels
    # both hold the point that made them
    for png in (native_png, picture_png):
        meta = read_snapshot_meta(png)
        assert meta is not None and np.array_equal(meta.z_array(), seen["z"])


def test_native_snapshot_equals_the_look_applied_at_model_size(app: App) -> None:
    """Trails and the tone curve without posterize run at model size before upscaling."""
    app.run(max_frames=5, dt=DT, script=lambda i, a: [
        C.SetParam("look.trails", 0.8), C.SetParam("look.contrast", 2.0),
        C.SetParam("look.brightness", 0.5)] if i == 0 else [])
    native = app.display.native_picture()
    assert native is not None
    assert native.max() <= 128 < app.frame.max()         # brightness 0.5 is in it
    assert not np.array_equal(native, app.frame)
    # and it is what the window scaled up: a box-downscale of the picture comes close
    pic = app.display.picture().astype(np.float32)        # 96x96 from 64x64: compare means
    assert abs(pic.mean() - native.astype(np.float32).mean()) < 2.0


def test_blacked_out_snapshot_is_black_but_keeps_the_point(app: App) -> None:
    app.run(max_frames=40, dt=DT, script=lambda i, a: [C.SetParam("look.blackout", 1.0)]
            if i == 0 else [C.Snapshot()] if i == 35 else [])
    app.outputs.wait_snapshots()
    pngs = sorted(app.out.root.glob("*.png"))
    assert len(pngs) == 2
    for png in pngs:
        assert not np.asarray(Image.open(png)).any()
        assert read_snapshot_meta(png) is not None
