"""Offline export: real files decoded with PyAV, the live window's pixels, loops, snapshots,
every shipped preset, the CLI, and a replay of the headless live loop against its recording."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from latentsketch import commands as C
from latentsketch import engine
from latentsketch import preset as presets
from latentsketch.cli import main
from latentsketch.latent.tour import TourPlan
from latentsketch.model import checkpoint
from latentsketch.model.inference import Decoder
from latentsketch.output import display as live_display
from latentsketch.output.controllog import read_log
from latentsketch.output.export import (
    Clip,
    ExportError,
    ExportSettings,
    Frame,
    export,
    fit_geometry,
    scaler,
)
from latentsketch.output.look import Look
from latentsketch.output.picture import Picture
from latentsketch.output.snapshot import SnapshotMeta, write_png
from latentsketch.params import defaults
from latentsketch.render import RenderRequest, render, replay_clip, tour_clip
from tests.pixels import PATHS, PathDecoder, assert_pixels_match

LOOK = {**defaults(), "look.contrast": 1.3, "look.saturation": 1.4, "look.posterize": 4.0,
        "look.trails": 0.4, "look.brightness": 0.9}


@pytest.fixture(scope="module")
def loaded(tiny_model: Path) -> checkpoint.LoadedModel:
    return checkpoint.load(tiny_model)


@pytest.fixture(scope="module", params=list(PATHS))
def decoder(request: pytest.FixtureRequest, loaded: checkpoint.LoadedModel) -> Decoder:
    """The exporter's decoder on each numeric path (see tests/pixels.py)."""
    return PathDecoder(loaded.vae, request.param)


def video_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def png_frames(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]


def expected(clip_frames: list[Frame], decoder: Decoder, size: tuple[int, int], fit: str,
             filter: str) -> list[np.ndarray]:
    """What the exporter should produce: each z decoded alone and put through ``Picture``."""
    pic = Picture(scaler(filter), Look())
    out = [pic.batch([decoder.decode(f.z)], [f.params], [f.dt], size, fit)[0]
           for f in clip_frames]
    return [o for o, f in zip(out, clip_frames, strict=True) if f.emit]


def morph(loaded: checkpoint.LoadedModel, n: int = 6, loop: bool = False,
          params: dict | None = None) -> Clip:
    """The engine's tour of the model's keyframes at 24 fps: ``n`` frames per segment, no
    holds (K keys: (K-1) n + 1 frames, or K n when looping)."""
    space = loaded.space
    k = space.keyframes.shape[0]
    plan = TourPlan.make(space.keyframes, space.dim, [0.0] * k, travel=n / 24, loop=loop)
    state = engine.State.initial(space, 0, {**(params or defaults()), "walk.mode": "tour"},
                                 tour=plan)
    return tour_clip(space, state, 24, k * n if loop else (k - 1) * n + 1, loop)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-9))


# --- the picture -----------------------------------------------------------------------------

@pytest.mark.parametrize("src,dst", [((64, 64), (1920, 1080)), ((64, 64), (1080, 1920)),
                                     ((64, 64), (512, 512)), ((64, 48), (33, 100)),
                                     ((64, 64), (0, 10)), ((96, 96), (97, 31))])
def test_fit_geometry_is_the_windows(src: tuple[int, int], dst: tuple[int, int]) -> None:
    for mode in ("fit", "fill", "stretch"):
        assert fit_geometry(src, dst, mode) == live_display.fit_geometry(src, dst, mode)


@pytest.mark.parametrize("window,fit", [((160, 90), "fill"), ((96, 128), "fit"),
                                        ((128, 128), "stretch")])
def test_live_filter_reproduces_the_window_pixel_for_pixel(
        decoder: Decoder, loaded: checkpoint.LoadedModel, window: tuple[int, int],
        fit: str) -> None:
    disp = live_display.Display(window, fit=fit, fps=0)
    try:
        rng = np.random.default_rng(0)
        look = Look()
        pic = None
        for i in range(8):
            frame = decoder.decode(loaded.space.to_z(rng.normal(0, 1, loaded.space.dim)))
            params = {**LOOK, "look.blackout": float(i in (4, 5)), "look.posterize": i % 5}
            disp.show(frame, params, 1 / 30)
            if pic is None:
                pic = Picture(scaler("live"), look)
            ours = pic.batch([frame], [params], [1 / 30], disp.picture_size, fit)[0]
            live = disp.picture()
            assert np.array_equal(ours, live), f"frame {i}"   # the window's own scaler
    finally:
        disp.close()


@pytest.mark.parametrize("filter", ["bicubic", "live"])
def test_a_batch_with_look_changes_equals_frame_by_frame(decoder: Decoder,
                                                         loaded: checkpoint.LoadedModel,
                                                         filter: str) -> None:
    rng = np.random.default_rng(1)
    frames = list(decoder.decode_batch(loaded.space.to_z(rng.normal(0, 1, (10, 8)))))
    params = [{**LOOK, "look.posterize": float(i // 3 * 2), "look.blackout": float(i == 6)}
              for i in range(10)]
    dts = [1 / 20] * 10
    one = Picture(scaler(filter), Look())
    many = Picture(scaler(filter), Look())
    singles = [one.batch([f], [p], [dt], (100, 60), "fit")[0]
               for f, p, dt in zip(frames, params, dts, strict=True)]
    batched = many.batch(frames, params, dts, (100, 60), "fit")
    for i, (a, b) in enumerate(zip(singles, batched, strict=True)):
        assert_pixels_match(b, a, look=True, what=f"frame {i}")
    assert len({a.tobytes() for a in singles}) == 10


# --- files -----------------------------------------------------------------------------------

def test_keyframe_morph_to_mp4_holds_the_decoded_frames(
        tmp_path: Path, loaded: checkpoint.LoadedModel, decoder: Decoder) -> None:
    clip = morph(loaded)
    frames = list(clip.frames)
    settings = ExportSettings(size=(128, 96), fit="fit")
    r = export(Clip(frames, clip.count, clip.fps), decoder, tmp_path / "m.mp4", settings)
    got = video_frames(tmp_path / "m.mp4")
    assert r.frames == clip.count == len(got) == 3 * 6 + 1
    assert got[0].shape == (96, 128, 3)
    want = expected(frames, decoder, (128, 96), "fit", "bicubic")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert psnr(g, w) > 30, f"frame {i}"
        assert psnr(g, w) > psnr(g, want[(i + 9) % len(want)]) + 3  # it is this frame, not any
    assert max(np.abs(g[:, :16].astype(int)).max() for g in got) <= 24  # black bars
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("name", ["m.mov", "m.gif", "frames"])
def test_other_formats_hold_every_frame(tmp_path: Path, loaded: checkpoint.LoadedModel,
                                        decoder: Decoder, name: str) -> None:
    clip = morph(loaded, n=3)
    frames = list(clip.frames)
    out = tmp_path / name
    export(Clip(frames, clip.count, clip.fps), decoder, out, ExportSettings(size=(96, 64),
                                                                           fit="fill"))
    want = expected(frames, decoder, (96, 64), "fill", "bicubic")
    if name == "frames":  # lossless: the pictures, within the pixel promise
        got = png_frames(out)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_pixels_match(g, w, what=f"frame {i}")
    elif name.endswith(".gif"):
        with Image.open(out) as im:
            assert im.info.get("loop") == 0 and im.n_frames == len(want)  # loops forever
        got = video_frames(out)
    else:
        got = video_frames(out)
    assert len(got) == len(want) == 10 and got[0].shape == (64, 96, 3)
    assert min(psnr(g, w) for g, w in zip(got, want, strict=True)) > 28


def test_a_loop_leads_from_its_last_frame_into_its_first(
        tmp_path: Path, loaded: checkpoint.LoadedModel, decoder: Decoder) -> None:
    clip = morph(loaded, n=8, loop=True)
    frames = list(clip.frames)
    z = np.stack([f.z for f in frames])
    assert len(z) == 4 * 8                       # key 0 is not repeated at the end
    steps = np.linalg.norm(np.diff(z, axis=0), axis=1)
    wrap = np.linalg.norm(z[0] - z[-1])
    # the last segment slows into key 0, and the first speeds out of it: across the loop point
    # the motion is as smooth as around any other key, no jump and no repeated frame
    assert 0 < wrap < steps[-1] < steps[-4] and steps[0] < steps[1] < steps[3]
    assert 0.3 < wrap / steps[0] < 3
    export(Clip(frames, clip.count, clip.fps), decoder, tmp_path / "l.gif",
           ExportSettings(size=(64, 64)))
    got = [g.astype(int) for g in video_frames(tmp_path / "l.gif")]
    diffs = [np.abs(a - b).mean() for a, b in zip(got, got[1:], strict=False)]
    wrap_px = np.abs(got[0] - got[-1]).mean()
    assert 0 < wrap_px <= max(diffs) * 1.2


def test_a_loop_with_trails_starts_with_the_trails_it_ends_with(
        tmp_path: Path, loaded: checkpoint.LoadedModel, decoder: Decoder) -> None:
    params = {**defaults(), "look.trails": 0.6}
    clip = morph(loaded, n=5, loop=True, params=params)
    frames = list(clip.frames)
    assert sum(not f.emit for f in frames) > 0   # the warm-up pass through the end
    export(Clip(frames, clip.count, clip.fps), decoder, tmp_path / "once", ExportSettings())
    emitted = [f for f in frames if f.emit]
    twice = [Frame(f.z, f.params, f.dt) for f in emitted * 2]  # played on repeat
    export(Clip(twice, len(twice), clip.fps), decoder, tmp_path / "twice", ExportSettings())
    once, rep = png_frames(tmp_path / "once"), png_frames(tmp_path / "twice")
    assert len(once) == clip.count
    assert_pixels_match(rep[clip.count], once[0], look=True)
    assert np.abs(once[0].astype(int) - rep[0]).max() > 3  # without warm-up it would differ


def test_snapshots_round_trip_as_keyframes(tmp_path: Path, tiny_model: Path,
                                           loaded: checkpoint.LoadedModel,
                                           decoder: Decoder) -> None:
    rng = np.random.default_rng(4)
    zs = [loaded.space.to_z(rng.normal(0, 1, loaded.space.dim)) for _ in range(3)]
    shots = []
    for i, z in enumerate(zs):
        shots.append(write_png(tmp_path / f"s{i}.png", decoder.decode(z),
                               SnapshotMeta.from_z(z, loaded.model_id)))
    r = render(RenderRequest(model=tiny_model, keyframes=shots, frames_per_segment=4,
                             out=tmp_path / "frames", size=(64, 64), backend=decoder.backend,
                             threads=1))
    got = png_frames(r.path)
    assert r.frames == len(got) == 9
    for i, z in zip((0, 4, 8), zs, strict=True):  # each key lands on its snapshot's picture
        assert_pixels_match(got[i], decoder.decode(z))
    Image.fromarray(got[0]).save(tmp_path / "plain.png")   # no metadata: it is encoded
    from latentsketch.encoding import encode_paths

    (enc,) = encode_paths(loaded, [tmp_path / "plain.png"])
    r = render(RenderRequest(model=tiny_model, keyframes=[shots[0], tmp_path / "plain.png"],
                             frames_per_segment=4, out=tmp_path / "mixed", size=(64, 64),
                             backend=decoder.backend, threads=1))
    mixed = png_frames(r.path)
    assert_pixels_match(mixed[0], decoder.decode(zs[0]))
    assert_pixels_match(mixed[-1], decoder.decode(enc.z.astype(np.float32)))
    (tmp_path / "plain.png").write_bytes(b"not a picture")
    with pytest.raises(ExportError, match="plain.png: not an image"):
        render(RenderRequest(model=tiny_model, keyframes=[shots[0], tmp_path / "plain.png"],
                             out=tmp_path / "x.mp4", threads=1))
    write_png(tmp_path / "other.png", got[0], SnapshotMeta.from_z(zs[0], "ffffffffffff"))
    with pytest.raises(ExportError, match=f"model ffffffffffff.*{loaded.model_id}"):
        render(RenderRequest(model=tiny_model, keyframes=[shots[0], tmp_path / "other.png"],
                             out=tmp_path / "x.mp4", threads=1))
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("name", sorted(f.name[:-5] for f in presets.bundled_dir().iterdir()
                                         if f.name.endswith(".toml")))
def test_every_shipped_preset_renders(tmp_path: Path, tiny_model: Path, name: str) -> None:
    out = tmp_path / f"{name}.mp4"
    r = render(RenderRequest(model=tiny_model, preset=name, duration=1.0, fps=12,
                             size=(96, 64), out=out, backend="fp32", threads=1))
    got = video_frames(out)
    assert r.frames == len(got) >= 10 and got[0].shape == (64, 96, 3)
    assert np.abs(got[0].astype(int) - got[-1]).mean() > 0.5   # it moves


@pytest.mark.parametrize("seconds,loop", [(4.0, False), (7.0, False), (5.0, True)])
def test_a_tour_lasts_exactly_the_duration_asked(tmp_path: Path, tiny_model: Path,
                                                 seconds: float, loop: bool) -> None:
    r = render(RenderRequest(model=tiny_model, preset="gallery", duration=seconds, fps=30,
                             loop=loop, size=(32, 32), out=tmp_path / "t", backend="fp32"))
    assert r.frames == round(seconds * 30) == len(png_frames(r.path))


# --- the command line ------------------------------------------------------------------------

def test_cli_renders_a_walk_into_the_output_folder(tmp_path: Path, tiny_model: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    out_dir = tmp_path / "out"
    code = main(["render", "--model", str(tiny_model), "--walk", "orbit", "--seed", "3",
                 "--duration", "0.5", "--size", "64x48", "--fit", "fill", "--out-dir",
                 str(out_dir), "--threads", "1"])
    assert code == 0
    (video,) = out_dir.glob("latentsketch-*.mp4")
    assert len(video_frames(video)) == 15
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--walk", "drift", "--size", "65x64", "--out", "{tmp}/odd.mp4"], "must be even"),
    (["--walk", "drift", "--replay", "{tmp}/x.log.jsonl"], "choose one source"),
    (["--walk", "drift", "--loop"], "--loop"),
    (["--walk", "drift", "--out", "{tmp}/x.avi"], "unsupported output format"),
    (["--replay", "{tmp}/missing.log.jsonl"], "missing.log.jsonl: cannot read"),
    (["--preset", "nope"], "preset 'nope' not found"),
    (["--preset", "gallery", "--frames-per-segment", "0"], "--frames-per-segment 0 must be"),
    (["--walk", "noise", "--duration", "-1"], "duration -1 must be"),
])
def test_cli_errors_are_one_line(tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture,
                                 args: list[str], message: str) -> None:
    argv = ["render", "--model", str(tiny_model), "--threads", "1", "--out-dir",
            str(tmp_path / "o"), *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not list((tmp_path / "o").glob("*")) if (tmp_path / "o").exists() else True


def test_an_interrupted_render_leaves_nothing_behind(tmp_path: Path, tiny_model: Path) -> None:
    def stop(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    for out in (tmp_path / "given.mp4", None):
        with pytest.raises(KeyboardInterrupt):
            render(RenderRequest(model=tiny_model, walk="noise", duration=2, size=(64, 64),
                                 out=out, out_dir=tmp_path / "o", threads=1), stop)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# --- replay equals live ----------------------------------------------------------------------

def test_replay_of_the_live_loop_equals_what_it_showed(tmp_path: Path, tiny_model: Path,
                                                       loaded: checkpoint.LoadedModel) -> None:
    """The headless live loop with wall-clock dts records while scripted inputs play; the
    control log written beside the recording replays to the same z (bit for bit) and the same
    pixels."""
    from latentsketch.app import App, AppOptions

    script_cmds = {2: [C.Record(True)], 6: [C.SetDim(0, 1.5)],
                   10: [C.SetParam("look.posterize", 4), C.SetParam("look.contrast", 1.4)],
                   14: [C.SetParam("walk.mode", "orbit"), C.SetParam("walk.speed", 4.0)],
                   18: [C.SetParam("look.trails", 0.5), C.NudgeDim(1, -0.8)],
                   22: [C.SetParam("look.blackout", 1)], 26: [C.SetParam("look.blackout", 0)],
                   30: [C.ReleaseDim(), C.SetPause(True)], 34: [C.SetPause(False)],
                   40: [C.Record(False)]}
    live_z: list[np.ndarray] = []
    live_pics: list[np.ndarray] = []

    def script(i: int, app: App) -> list[C.Command]:
        if 3 <= i <= 40:   # frame i-1 was recorded: keep its z and its clean picture
            live_z.append(engine.output_z(app.state, app.space))
            live_pics.append(app.display.picture(app._record_size()))
        return script_cmds.get(i, [])

    app = App(AppOptions(model=str(tiny_model), seed=1, fps=0, size=(128, 96), fit="fill",
                         osc=False, midi=False, out_dir=str(tmp_path / "out"), backend="fp32"))
    try:
        app.run(max_frames=44, script=script)   # dt None: real, varying wall-clock dts
    finally:
        app.close()
    (video,) = (tmp_path / "out").glob("*.mp4")
    (logf,) = (tmp_path / "out").glob("*.log.jsonl")
    log = read_log(logf, loaded.model_id)
    assert len(log.frames) == len(live_z) == 38
    assert len({f.dt for f in log.frames}) > 1      # the dts really varied

    replayed = [f.z for f in replay_clip(log, loaded.space).frames]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(live_z, replayed, strict=True))

    r = render(RenderRequest(model=tiny_model, replay=logf, out=tmp_path / "replay",
                             size=(128, 96), fit="fill", backend="fp32"))
    pics = png_frames(r.path)
    assert len(pics) == 38
    for i, (a, b) in enumerate(zip(pics, live_pics, strict=True)):
        assert_pixels_match(a, b, look=True, what=f"frame {i}")
    recorded = video_frames(video)
    assert len(recorded) == 38
    # yuv420 halves the chroma of hard posterised colour edges at 128x96: ~24.5 dB at worst
    assert min(psnr(a, b) for a, b in zip(recorded, pics, strict=True)) > 22

    # at another fps the same performance lasts as long (the path itself is compared on
    # grid-aligned times in test_controllog)
    resampled = replay_clip(log, loaded.space, fps=240)
    clock = sum(min(f.dt, engine.MAX_DT) for f in log.frames)
    z240 = np.stack([f.z for f in resampled.frames])
    assert resampled.count == len(z240) == max(1, round(clock * 240))
    assert np.isfinite(z240).all()


def test_walk_tour_with_a_tours_options_tours_the_model_keys(loaded: checkpoint.LoadedModel) \
        -> None:
    """``--walk tour --hold 0.5 --seconds-per-segment 1``: the model's keyframes as a tour,
    not "these options need a tour" (a newcomer's finding)."""
    from latentsketch.render import plan

    k = loaded.space.keyframes.shape[0]
    clip = plan(RenderRequest(walk="tour", hold=0.5, seconds_per_segment=1.0, fps=10),
                loaded.model_id, loaded.space)
    assert clip.count == round((k * 0.5 + (k - 1) * 1.0) * 10) + 1
    with pytest.raises(ExportError, match="--walk tour on a model with keyframes"):
        plan(RenderRequest(walk="noise", hold=0.5), loaded.model_id, loaded.space)


def test_a_squeezed_tour_and_a_cut_off_log_are_said(tmp_path: Path, tiny_model: Path,
                                                    loaded: checkpoint.LoadedModel,
                                                    capsys: pytest.CaptureFixture) -> None:
    """A tour squeezed to under 3 frames a move would strobe: render says so (and how to get
    the first seconds instead); a control log cut off mid-line replays with a line saying so."""
    from latentsketch.render import plan

    clip = plan(RenderRequest(walk="tour", loop=True, duration=1.0, fps=10), loaded.model_id,
                loaded.space)
    assert clip.notes and "it will flicker" in clip.notes[0]
    assert not plan(RenderRequest(walk="tour", loop=True, fps=10), loaded.model_id,
                    loaded.space).notes
    log = tmp_path / "cut.log.jsonl"
    state = engine.State.initial(loaded.space, 1)
    from latentsketch.output.controllog import ControlLog

    with ControlLog.open(log, state, loaded.model_id, None) as w:
        for i in range(6):
            w.frame(i / 30, 1 / 30, ())
    log.write_text(log.read_text()[:-10])
    assert main(["render", "--model", str(tiny_model), "--replay", str(log), "--size", "64x64",
                 "--out", str(tmp_path / "r.mp4")]) == 0
    err = capsys.readouterr().err
    assert "last line was cut off" in err and "5 whole frames" in err


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_a_replay_says_the_rate_its_file_plays_at(tmp_path: Path, tiny_model: Path,
                                                  loaded: checkpoint.LoadedModel,
                                                  capsys: pytest.CaptureFixture,
                                                  suffix: str) -> None:
    """A log recorded at a nominal 60 fps whose frames came 1/30 s apart: the file follows the
    frame times, so render says ~30 fps (the container's real rate), not 60."""
    from latentsketch.output.controllog import ControlLog

    log = tmp_path / "show.log.jsonl"
    with ControlLog.open(log, engine.State.initial(loaded.space, 1), loaded.model_id, None,
                         fps=60.0) as w:
        for i in range(30):
            w.frame(i / 30, 1 / 30, ())
    out = tmp_path / f"r{suffix}"
    assert main(["render", "--model", str(tiny_model), "--replay", str(log), "--size", "64x64",
                 "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert "~30 fps on average" in line and "at 60 fps" not in line, line
    if suffix == ".mp4":
        with av.open(str(out)) as c:
            s = c.streams.video[0]
            assert s.frames == 30 and float(s.duration * s.time_base) == pytest.approx(1.0, 0.05)
    assert main(["render", "--model", str(tiny_model), "--replay", str(log), "--size", "64x64",
                 "--fps", "30", "--out", str(tmp_path / f"even{suffix}")]) == 0
    assert " at 30 fps (" in capsys.readouterr().out
