"""Pictures dropped on the live window: a glide to one, a tour through several, the overlay,
and a control log that replays the show without the pictures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pygame
import pytest

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.app import App
from latentsketch.encoding import encode_paths
from latentsketch.output.dropview import SHOW_SECONDS
from latentsketch.output.snapshot import SnapshotMeta, write_png
from latentsketch.render import RenderRequest, plan
from tests.conftest import write_pictures

DT = 1 / 60


def _pictures(folder: Path, n: int, seed: int = 3, ext: str = ".png") -> list[Path]:
    return write_pictures(folder, n, seed, size=80, ext=ext)


def _drop(*paths: Path) -> list[pygame.event.Event]:
    return [pygame.event.Event(pygame.DROPFILE, file=str(p)) for p in paths]


def _settle(app: App, zs: list[np.ndarray] | None = None, timeout: float = 30.0) -> None:
    """Run frames until the drop worker has handed over every drop."""
    deadline = time.monotonic() + timeout
    while app.inputs.drops.busy:
        assert time.monotonic() < deadline, "the drop worker did not answer"
        _frames(app, 1, zs)


def _frames(app: App, n: int, zs: list[np.ndarray] | None = None,
            events: list[pygame.event.Event] | None = None) -> None:
    """``n`` frames (``events`` in the first), keeping each frame's z in ``zs``."""
    for i in range(n):
        app.run(max_frames=app.frames + 1, dt=DT,
                script=lambda f, a, i=i: (events or []) if i == 0 else [])
        if zs is not None:
            zs.append(engine.output_z(app.state, app.space))


def _u(app: App, path: Path) -> np.ndarray:
    """The point of ``path`` encoded alone (the worker batches a drop: float rounding of
    another batch shape differs by ~1e-6, hence the tolerances)."""
    (e,) = encode_paths(app.loaded, [path])
    return app.space.to_u(e.z).astype(np.float64)


def test_a_dropped_picture_glides_to_its_encoded_point(make_app, tmp_path: Path) -> None:
    (pic,) = _pictures(tmp_path, 1)
    app = make_app()
    said: list[str] = []
    app.say = lambda msg, error=False: said.append(msg)  # type: ignore[method-assign]
    _frames(app, 1, events=[C.SetPause(True)])  # type: ignore[list-item]
    _frames(app, 1, events=_drop(pic))
    _settle(app)
    _frames(app, 300)                           # 5 s: the 0.6 s glide is over
    (e,) = encode_paths(app.loaded, [pic])
    np.testing.assert_allclose(engine.output_z(app.state, app.space), e.z, atol=1e-3)
    assert "going to pic0.png" in said


def test_a_dropped_snapshot_goes_to_its_stored_point(make_app, tmp_path: Path) -> None:
    app = make_app()
    z = app.space.to_z(np.linspace(-1, 1, app.space.dim))
    shot = write_png(tmp_path / "shot.png", np.zeros((64, 64, 3), np.uint8),
                     SnapshotMeta.from_z(z, app.loaded.model_id))
    _frames(app, 1, events=[C.SetPause(True)])  # type: ignore[list-item]
    _frames(app, 1, events=_drop(shot))
    _settle(app)
    _frames(app, 300)
    np.testing.assert_allclose(engine.output_z(app.state, app.space), z, atol=1e-3)


def test_several_files_make_a_tour_in_the_order_given(make_app, tmp_path: Path) -> None:
    a, b, c = _pictures(tmp_path, 3)
    app = make_app()
    _frames(app, 1, events=[C.SetParam("walk.dwell", 30.0),  # type: ignore[list-item]
                            C.SetParam("walk.glide", 0.1)])
    _frames(app, 1, events=_drop(c, a, b))
    _settle(app)
    assert app.state.mode == "tour" and app.state.tour is not None
    keys = app.state.tour.keys
    for key, p in zip(keys, (c, a, b), strict=True):
        np.testing.assert_allclose(key, _u(app, p), atol=1e-4)
    _frames(app, 120)                           # the picture glides to the first, and holds
    np.testing.assert_allclose(engine.output_u(app.state), keys[0], atol=1e-3)
    _frames(app, 1, events=[C.NewTarget()])  # type: ignore[list-item]
    _frames(app, 120)
    np.testing.assert_allclose(engine.output_u(app.state), keys[1], atol=1e-3)


def test_a_folder_or_a_drag_over_several_frames_is_one_tour(make_app, tmp_path: Path) -> None:
    pics = _pictures(tmp_path / "set", 3)
    app = make_app()
    _frames(app, 1, events=_drop(tmp_path / "set"))
    _settle(app)
    assert app.state.tour is not None and app.state.tour.count == 3   # sorted, as listed
    np.testing.assert_allclose(app.state.tour.keys[2], _u(app, pics[2]), atol=1e-4)
    _frames(app, 1, events=[pygame.event.Event(pygame.DROPBEGIN), *_drop(pics[1])])
    _frames(app, 1, events=_drop(pics[0]))
    assert app.state.tour.count == 3            # nothing yet: the drag goes on
    _frames(app, 1, events=[pygame.event.Event(pygame.DROPCOMPLETE)])
    _settle(app)
    assert app.state.tour.count == 2
    np.testing.assert_allclose(app.state.tour.keys[0], _u(app, pics[1]), atol=1e-4)


def test_an_unreadable_file_is_one_message_and_the_others_tour(make_app,
                                                               tmp_path: Path) -> None:
    a, b = _pictures(tmp_path, 2)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not a jpeg")
    app = make_app()
    said: list[tuple[str, bool]] = []
    app.say = lambda msg, error=False: said.append((msg, error))  # type: ignore[method-assign]
    _frames(app, 1, events=_drop(a, bad, b))
    _settle(app)
    errors = [m for m, error in said if error]
    assert len(errors) == 1 and str(bad) in errors[0]
    assert app.state.tour is not None and app.state.tour.count == 2
    assert ("touring 2 pictures from pic0.png", False) in said


def test_a_replay_of_a_drop_needs_no_pictures(make_app, tmp_path: Path) -> None:
    pics = _pictures(tmp_path / "pics", 3)
    app = make_app(log_control=True)
    zs: list[np.ndarray] = []
    _frames(app, 20, zs)
    _frames(app, 1, zs, events=_drop(pics[0]))
    _settle(app, zs)
    _frames(app, 60, zs)
    _frames(app, 1, zs, events=_drop(pics[1], pics[2]))
    _settle(app, zs)
    _frames(app, 120, zs)
    app.close()
    for p in pics:
        p.unlink()
    (log,) = (tmp_path / "out").glob("*.log.jsonl")
    text = log.read_text()
    assert '"goto_point"' in text and '"set_tour"' in text and "pic1" not in text
    replayed = plan(RenderRequest(replay=log), app.loaded.model_id, app.space)
    np.testing.assert_array_equal(np.stack([f.z for f in replayed.frames]), np.stack(zs))


def test_key_i_shows_the_dropped_picture_beside_the_models_version(make_app,
                                                                  tmp_path: Path) -> None:
    (pic,) = _pictures(tmp_path, 1)
    app = make_app(size=(400, 400))
    said: list[str] = []
    app.say = lambda msg, error=False: said.append(msg)  # type: ignore[method-assign]
    press_i = [pygame.event.Event(kind, key=pygame.K_i, mod=0, scancode=0, unicode="i")
               for kind in (pygame.KEYDOWN, pygame.KEYUP)]
    _frames(app, 1, events=press_i)
    assert not app.dropview.visible and any("nothing dropped" in m for m in said)
    _frames(app, 1, events=[*_drop(pic), C.SetPause(True)])  # type: ignore[list-item]
    _settle(app)
    (pair,) = app.inputs.last_drop.pairs
    (e,) = encode_paths(app.loaded, [pic])
    assert np.array_equal(pair[0], e.image)     # the picture as the encoder saw it
    _frames(app, 300)                           # the glide there is over
    before = pygame.surfarray.array3d(app.display.screen)
    _frames(app, 1, events=press_i)
    assert app.dropview.visible
    shown = pygame.surfarray.array3d(app.display.screen)
    assert np.abs(shown.astype(int) - before).mean() > 1   # the overlay is drawn
    _frames(app, int(SHOW_SECONDS / DT) + 2)
    assert not app.dropview.visible
    after = pygame.surfarray.array3d(app.display.screen)
    assert np.abs(after.astype(int) - before).mean() < 0.05   # and gone again


@pytest.mark.parametrize("ext", [".jpg", ".webp"])
def test_start_from_any_picture(make_app, tmp_path: Path, ext: str) -> None:
    (pic,) = _pictures(tmp_path, 1, ext=ext)
    app = make_app(start_from=str(pic))
    _frames(app, 1, events=[C.SetPause(True)])  # type: ignore[list-item]
    _frames(app, 300)
    (e,) = encode_paths(app.loaded, [pic])
    np.testing.assert_allclose(engine.output_z(app.state, app.space), e.z, atol=1e-3)


def test_a_tour_command_round_trips_and_bad_points_are_refused(tiny_model: Path) -> None:
    import json

    from latentsketch.model import checkpoint

    space = checkpoint.load(tiny_model).space
    pts = tuple(tuple(float(v) for v in np.full(space.dim, x)) for x in (0.5, -0.5, 1.0))
    cmd = C.SetTour(pts)
    assert C.from_json(json.loads(json.dumps(cmd.to_json()))) == cmd
    s = engine.step(engine.State.initial(space, 1), [cmd], DT, space)
    assert s.last_errors == () and s.mode == "tour"
    np.testing.assert_array_equal(s.tour.keys, np.asarray(pts))
    for bad, why in ((pts[:1], "at least 2"), (((np.nan,) * space.dim,) * 2, "NaN"),
                     (None, "not a list"), ((("a",) * space.dim,) * 2, "not lists of numbers")):
        after = engine.step(s, [C.SetTour(bad)], DT, space)  # type: ignore[arg-type]
        assert len(after.last_errors) == 1 and why in after.last_errors[0]
        assert after.tour is s.tour and np.all(np.isfinite(engine.output_z(after, space)))
