"""The latent palette: the plane's math, the PNG and its metadata, the command, and the window's
overlay where a click glides to the cell's point."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pygame
import pytest
from PIL import Image

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.app import App
from latentsketch.cli import main
from latentsketch.latent.plane import Plane, PlaneError, from_corners, from_directions, unit_axis
from latentsketch.model import checkpoint
from latentsketch.model.inference import Decoder
from latentsketch.output.palette import (
    META_KEY,
    PaletteError,
    PaletteMeta,
    corner_point,
    make_palette,
    read_palette,
)
from latentsketch.output.palette_overlay import square_in
from latentsketch.output.snapshot import SnapshotMeta, write_png
from tests.conftest import make_tiny_model
from tests.pixels import assert_pixels_match

DT = 1 / 60


@pytest.fixture(scope="module")
def loaded(tiny_model: Path) -> checkpoint.LoadedModel:
    return checkpoint.load(tiny_model)


@pytest.fixture(scope="module")
def decoder(loaded: checkpoint.LoadedModel) -> Decoder:
    return Decoder(loaded.vae, backend="fp32", threads=1)


# --- the plane -------------------------------------------------------------------------------

def test_four_corners_sit_in_the_corner_cells_and_blend_bilinearly() -> None:
    rng = np.random.default_rng(0)
    c = rng.normal(size=(4, 6))
    p = from_corners(c)
    g = p.grid(5)
    for (r, k), i in zip([(0, 0), (0, 4), (4, 0), (4, 4)], range(4), strict=True):
        np.testing.assert_array_equal(g[r, k], c[i])
    np.testing.assert_allclose(g[2, 2], c.mean(axis=0), atol=1e-12)     # the centre
    np.testing.assert_allclose(g[0, 2], (c[0] + c[1]) / 2, atol=1e-12)  # top edge, halfway
    np.testing.assert_allclose(p.point(0.25, 0.5), g[2, 1], atol=1e-12)


def test_three_corners_make_a_parallelogram_with_origin_and_axes() -> None:
    a, b, c = np.eye(3) * [1, 2, 3]
    p = from_corners([a, b, c])
    assert p.kind == "parallelogram"
    np.testing.assert_array_equal(p.corners[3], b + c - a)
    g = p.grid(4)
    for r in range(4):
        for k in range(4):
            want = p.origin + k / 3 * p.axes[0] + r / 3 * p.axes[1]
            np.testing.assert_allclose(g[r, k], want, atol=1e-12)


def test_directions_span_the_square_around_the_centre_up_positive() -> None:
    x, y = unit_axis(4, 2), unit_axis(4, 0)
    p = from_directions(x, y, scale=(1.0, 0.5), span=2.0)
    tl, tr, bl, br = p.corners
    np.testing.assert_array_equal(tl, [1.0, 0, -2, 0])    # left and up: -x, +y
    np.testing.assert_array_equal(br, [-1.0, 0, 2, 0])
    np.testing.assert_allclose(p.grid(3)[1, 1], np.zeros(4), atol=1e-12)


@pytest.mark.parametrize("points,match", [
    ([[0, 0], [1, 1]], "3 or 4"),
    ([[0, 0], [1, 1], [2, 2]], "one line"),
    ([[0, 0], [1, 0], [float("nan"), 1]], "NaN"),
])
def test_bad_corners_are_one_line(points, match: str) -> None:
    with pytest.raises(PlaneError, match=match):
        from_corners(points)


def test_directions_must_be_unit_and_not_parallel() -> None:
    with pytest.raises(PlaneError, match="unit"):
        from_directions([2.0, 0], [0, 1.0])
    with pytest.raises(PlaneError, match="parallel"):
        from_directions([1.0, 0], [-1.0, 0])


# --- the PNG ---------------------------------------------------------------------------------

def test_palette_png_has_its_grid_and_its_plane_round_trips(
        tmp_path: Path, loaded: checkpoint.LoadedModel, decoder: Decoder) -> None:
    r = make_palette(loaded, decoder.decode_batch, tmp_path / "new" / "p.png", grid=5, cell=40)
    image, meta = read_palette(r.path)
    assert image.shape == (200, 200, 3)
    assert (meta.grid, meta.cell, meta.model_id) == (5, 40, loaded.model_id)
    np.testing.assert_array_equal(meta.plane.corners, r.meta.plane.corners)   # bit for bit
    raw = json.loads(Image.open(r.path).text[META_KEY])
    assert raw["order"] == "raw" and raw["space"] == "u" and raw["kind"] == "directions"
    origin, axes = np.array(raw["origin"]), np.array(raw["axes"])
    for row, col in [(0, 0), (1, 3), (4, 4)]:   # origin + axes give every cell's point
        want = origin + col / 4 * axes[0] + row / 4 * axes[1]
        np.testing.assert_allclose(meta.point(row, col), want, atol=1e-12)
    # default plane: the two dimensions of highest KL, +-2 sd around the data's mean
    top, second = loaded.space.raw_index(0), loaded.space.raw_index(1)
    assert raw["origin"][top] == -2.0 and raw["origin"][second] == 2.0
    # each cell shows its point
    for row, col in [(0, 0), (2, 3), (4, 1)]:
        z = loaded.space.to_z(meta.point(row, col))
        want = np.asarray(Image.fromarray(decoder.decode(z)).resize((40, 40),
                                                                    Image.Resampling.LANCZOS))
        got = image[row * 40:(row + 1) * 40, col * 40:(col + 1) * 40]
        assert_pixels_match(got, want, what=f"cell {row},{col}")
    assert meta.cell_at(45, 130) == (3, 1) and meta.cell_at(200, 0) is None


def test_corners_from_keyframes_snapshots_and_images(
        tmp_path: Path, loaded: checkpoint.LoadedModel, decoder: Decoder) -> None:
    space = loaded.space
    shot = tmp_path / "shot.png"
    write_png(shot, np.zeros((64, 64, 3), np.uint8),
              SnapshotMeta.from_z(space.to_z(space.keyframes[3]), loaded.model_id))
    photo = tmp_path / "photo.png"
    Image.new("RGB", (90, 70), (200, 40, 40)).save(photo)
    r = make_palette(loaded, decoder.decode_batch, tmp_path / "p.png",
                     corners=["kf:0", str(shot), str(photo), "kf:1"], grid=3)
    c = read_palette(r.path)[1].plane.corners
    np.testing.assert_array_equal(c[0], space.keyframes[0].astype(np.float64))
    np.testing.assert_allclose(c[1], space.keyframes[3], atol=1e-5)   # through float32 z
    np.testing.assert_array_equal(c[3], space.keyframes[1].astype(np.float64))
    assert r.meta.plane.kind == "corners" and "photo.png" in r.meta.source


def test_bad_corners_name_what_is_wrong(tmp_path: Path, loaded: checkpoint.LoadedModel) -> None:
    with pytest.raises(PaletteError, match=r"kf:9.* 4 keyframes \(kf:0..kf:3\)"):
        corner_point("kf:9", loaded)
    with pytest.raises(PaletteError, match="missing.png"):
        corner_point(str(tmp_path / "missing.png"), loaded)
    other = tmp_path / "other.png"
    write_png(other, np.zeros((8, 8, 3), np.uint8), SnapshotMeta((0.0,) * 8, "0123456789ab"))
    with pytest.raises(PaletteError, match="snapshot of model 0123456789ab"):
        corner_point(str(other), loaded)
    for spec in ("kf:x", "kf:-1", "kf:1.5"):
        with pytest.raises(PaletteError) as e:
            corner_point(spec, loaded)
        assert f"{spec[3:]!r} is not a keyframe number" in str(e.value)
        assert "has 4 keyframes" not in str(e.value)
    with pytest.raises(PaletteError) as e:
        corner_point(str(tmp_path), loaded)   # a folder
    assert str(e.value) == (f"corner image {tmp_path}: a folder, not a picture; give an image "
                            "file (PNG, JPEG, ...)")


def test_palette_refuses_an_out_that_is_not_png(tmp_path: Path, tiny_model: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    """The plane lives in PNG metadata: a .jpg name would get PNG bytes (or lose the plane)."""
    for name in ("a.jpg", "a.PNG.webp", "noext"):
        assert main(["palette", "--model", str(tiny_model), "--out", str(tmp_path / name),
                     "--grid", "2"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "a palette is a PNG" in err[0] and name in err[0]
    assert not list(tmp_path.iterdir())
    assert main(["palette", "--model", str(tiny_model), "--out", str(tmp_path / "b.PNG"),
                 "--grid", "2"]) == 0


def test_a_damaged_or_foreign_png_is_not_a_palette(tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    Image.new("RGB", (16, 16)).save(plain)
    with pytest.raises(PaletteError, match="not a latentsketch palette"):
        read_palette(plain)
    meta = PaletteMeta("abc", 2, 8, from_corners([[0, 0], [1, 0], [0, 1]]))
    d = meta.to_json()
    d["grid"] = 3                           # says 24 px, holds 16
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt(META_KEY, json.dumps(d))
    bad = tmp_path / "bad.png"
    Image.new("RGB", (16, 16)).save(bad, pnginfo=info)
    with pytest.raises(PaletteError, match="24x24"):
        read_palette(bad)


def test_palette_command_writes_the_png_and_says_where(tmp_path: Path, tiny_model: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "p.png"
    assert main(["palette", str(tiny_model), "--out", str(out), "--grid", "3"]) == 0
    assert f"wrote {out}: 3x3 cells of 64 px" in capsys.readouterr().out
    assert read_palette(out)[0].shape == (192, 192, 3)
    assert main(["palette", str(tiny_model), "--out", str(tmp_path / "q.png"),
                 "--corners", "kf:0", "kf:1"]) == 2
    err = capsys.readouterr().err
    assert "takes 3 or 4 points" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "q.png").exists()
    assert main(["palette", str(tiny_model), "--out", str(out), "--grid", "1"]) == 2


# --- the window ------------------------------------------------------------------------------

def key(k: int, unicode: str = "") -> list[pygame.event.Event]:
    return [pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, scancode=0, unicode=unicode),
            pygame.event.Event(pygame.KEYUP, key=k, mod=0, scancode=0, unicode=unicode)]


def click(pos: tuple[int, int]) -> list[pygame.event.Event]:
    return [pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1),
            pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1)]


def cell_centre(app: App, grid: int, row: int, col: int) -> tuple[int, int]:
    sq = square_in(app.display.picture_rect)
    return (sq.x + int((col + 0.5) * sq.width / grid), sq.y + int((row + 0.5) * sq.height / grid))


def wait_for_palette(app: App, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while app.palette.meta is None:
        assert time.monotonic() < end, "the palette was never made"
        app.run(max_frames=app.frames + 1, dt=DT)


def test_a_click_on_a_cell_glides_to_its_point(make_app) -> None:
    app = make_app(size=(300, 200))
    app.run(max_frames=2, dt=DT, script=lambda i, a: [C.SetParam("walk.mode", 0.0),
                                                      C.SetParam("walk.temperature", 0.0)])
    app.run(max_frames=3, dt=DT, script=lambda i, a: key(pygame.K_a, "a"))
    assert app.palette.visible and app.palette.busy     # made in the background ...
    shown = app.display.screen.copy()
    wait_for_palette(app)                               # ... while frames go on
    meta = app.palette.meta
    assert meta is not None and meta.grid == 8 and meta.model_id == app.loaded.model_id
    assert app.palette.seconds is not None
    app.run(max_frames=app.frames + 1, dt=DT)
    rect = square_in(app.display.picture_rect)
    assert rect.size == (200, 200)
    after = pygame.surfarray.array3d(app.display.screen)
    assert not np.array_equal(pygame.surfarray.array3d(shown), after)   # the palette is drawn

    row, col = 5, 2
    pos = cell_centre(app, meta.grid, row, col)
    app.run(max_frames=app.frames + 1, dt=DT, script=lambda i, a: click(pos))
    want = meta.point(row, col)
    np.testing.assert_allclose(app.state.centre, want, atol=1e-9)   # drift centres on it
    assert app.palette.visible
    app.run(max_frames=app.frames + 480, dt=DT)   # 8 s: the glide (0.6 s) has settled
    np.testing.assert_allclose(engine.output_u(app.state), want, atol=1e-3)
    # Escape hides the palette (and does not quit); the key shows it again, made once
    app.run(max_frames=app.frames + 1, dt=DT, script=lambda i, a: key(pygame.K_ESCAPE))
    assert app.running and not app.palette.visible
    app.run(max_frames=app.frames + 1, dt=DT, script=lambda i, a: key(pygame.K_a, "a"))
    assert app.palette.visible and not app.palette.busy
    app.run(max_frames=app.frames + 1, dt=DT, script=lambda i, a: key(pygame.K_a, "a"))
    assert not app.palette.visible


def test_a_click_beside_the_palette_hides_it_and_sends_nothing(make_app) -> None:
    app = make_app(size=(300, 200))
    app.run(max_frames=1, dt=DT, script=lambda i, a: [C.TogglePalette(True)])
    wait_for_palette(app)
    before = app.state.centre
    app.run(max_frames=app.frames + 1, dt=DT, script=lambda i, a: click((5, 100)))
    assert not app.palette.visible
    np.testing.assert_array_equal(app.state.centre, before)


def test_a_saved_palette_is_shown_as_it_is_and_another_models_is_refused(
        tmp_path: Path, make_app, loaded: checkpoint.LoadedModel, decoder: Decoder) -> None:
    r = make_palette(loaded, decoder.decode_batch, tmp_path / "p.png", grid=4,
                     corners=["kf:0", "kf:1", "kf:2"])
    app = make_app(palette=str(r.path))
    app.run(max_frames=2, dt=DT, script=lambda i, a: [
        C.TogglePalette(True), C.SetParam("walk.mode", 0.0),
        C.SetParam("walk.temperature", 0.0)] if i == 0 else [])
    assert app.palette.meta is not None and not app.palette.busy    # nothing to make
    assert app.palette.meta.grid == 4
    pos = cell_centre(app, 4, 0, 3)     # the top-right corner: the second corner given
    app.run(max_frames=app.frames + 1, dt=DT, script=lambda i, a: click(pos))
    np.testing.assert_array_equal(app.state.centre, loaded.space.keyframes[1])

    other = tmp_path / "other"
    other.mkdir()
    make_tiny_model(other, seed=5)
    o = checkpoint.load(other)
    r2 = make_palette(o, Decoder(o.vae, backend="fp32", threads=1).decode_batch,
                      tmp_path / "o.png", grid=2)
    with pytest.raises(PaletteError, match=f"palette of model {o.model_id}, running"):
        make_app(palette=str(r2.path))


def test_palette_action_is_declared_once_with_its_key() -> None:
    from latentsketch.actions import action
    from latentsketch.control.keyboard import Keyboard

    a = action("palette")
    assert a.command() == C.TogglePalette()
    b = Keyboard().find(pygame.K_a)
    assert b is not None and "palette" in b.description
    assert C.from_json(C.FollowPoint((1.0, 2.0)).to_json()) == C.FollowPoint((1.0, 2.0))


def test_unit_plane_kinds_are_checked() -> None:
    with pytest.raises(PlaneError, match="kind"):
        Plane(np.zeros((4, 2)), "round")
