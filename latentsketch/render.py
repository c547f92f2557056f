"""``latentsketch render``: turn keyframes, a walk or a logged performance into a video file.

Every source is an initial ``engine.State`` plus timed steps through ``engine.step`` (``run``),
the calls the live window makes, so a render shows what the window would:

- keyframes -- a preset's tour, the model's, or pictures (a snapshot's stored point, any
  other image encoded) -- as the engine's tour
  (``latent.tour``) with the request's timing: ``--hold``, ``--duration``,
  ``--seconds-per-segment`` and ``--frames-per-segment`` become the tour's holds and travel,
  ``--easing`` its ``walk.easing``; with ``loop`` the file ends one frame before the first key
  comes round again, so it plays seamlessly on repeat, without it the tour stops at its last key;
- a walk: the state from a seeded preset with ``dt = 1/fps``, the same path the live window
  shows at any frame rate;
- a control log: the logged commands on the logged dts (the z sequence is bit-exact, the
  picture matches the recording with the ``live`` filter), or resampled at another fps (each
  command applied at the first output step at or after its logged time).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from latentsketch import commands as C
from latentsketch import engine
from latentsketch import preset as presets
from latentsketch.latent.interp import EASINGS
from latentsketch.latent.space import LatentSpace
from latentsketch.latent.tour import MIN_TRAVEL, TourPlan
from latentsketch.model import checkpoint
from latentsketch.model.engines import ENGINES, cache_dir, runner
from latentsketch.model.inference import Decoder
from latentsketch.output.controllog import ControlLogData, PresetLoad, read_log
from latentsketch.output.export import (
    Clip,
    ExportError,
    ExportResult,
    ExportSettings,
    Frame,
    Progress,
    export,
)
from latentsketch.output.image_points import image_points
from latentsketch.output.paths import DEFAULT_OUT_DIR, OutputDir
from latentsketch.output.snapshot import SnapshotError
from latentsketch.params import WALK_MODES
from latentsketch.timestep import clamp_dt

DEFAULT_SIZE = (1024, 1024)     # the size of a snapshot's shareable copy
DEFAULT_FPS = 30.0
DEFAULT_WALK_SECONDS = 10.0
DEFAULT_PRESET = "default"      # no source at all: what ``latentsketch`` (play) starts with
MAX_FPS = 240.0
MAX_HOURS = 24.0   # the longest video one export plans (a walk, a tour, a resampled replay)
FORMATS = (".mp4", ".mov", ".gif", "/")  # "/" = a folder of PNG frames
_EPS = 1e-9                     # seconds: float noise when comparing logged and output times
FLICKER_FRAMES = 3.0            # a tour's move shorter than this many frames is a strobe


@dataclass(frozen=True)
class RenderRequest:
    """Everything ``latentsketch render`` accepts; None means "the default" (see each field).

    At most one source: ``replay``, ``keyframes``, ``walk``, or a ``preset`` alone (its
    keyframes, else the model's keyframes if it tours, else its walk). ``preset`` also sets
    the look and walk parameters of keyframe and walk renders. No source at all renders what
    the live window starts with: the default preset's walk, for ``duration`` (default 10 s).
    """

    model: str | os.PathLike[str] | None = None
    preset: str | None = None                 # name in the preset folders, or a .toml file
    keyframes: Sequence[str | os.PathLike[str]] = ()
    walk: str | None = None                   # drift, noise, orbit or tour
    replay: str | os.PathLike[str] | None = None
    seed: int | None = None                   # default: the preset's, else 0
    duration: float | None = None             # seconds (walk default 10; keyframes: total)
    seconds_per_segment: float | None = None  # keyframes; default: the tour's travel time
    frames_per_segment: int | None = None
    hold: float | None = None                 # seconds on each key; default: the tour's dwell
    easing: str | None = None                 # keyframes; default: the preset's walk.easing
    loop: bool = False
    out: str | os.PathLike[str] | None = None  # default: a fresh name in out_dir
    out_dir: str | os.PathLike[str] = DEFAULT_OUT_DIR
    format: str = ".mp4"                      # when ``out`` is None: .mp4 .mov .gif or "/"
    fps: float | None = None                  # default 30; a replay: the logged frame times
    size: tuple[int, int] | None = None       # default 1024x1024; a replay: the recording's
    fit: str | None = None                    # default fit; a replay: the recording's
    filter: str = "auto"                      # auto: live for a replay, else bicubic
    backend: str | None = None                # decoder; a replay: the recording's, else auto
    threads: int = 1                          # decoder threads: x264 has the other core


# --- sources: an initial state and timed commands, through engine.step --------------------

@dataclass(frozen=True, slots=True)
class Step:
    """One ``engine.step``: a logged preset load first (if any), then ``commands`` and ``dt``
    seconds; ``emit`` says whether a frame is shown after it (a replay resampled to another
    rate applies some commands between output frames)."""

    dt: float
    commands: tuple[C.Command, ...] = ()
    preset: PresetLoad | None = None
    emit: bool = True
    t: float | None = None


def run(state: engine.State, steps: Iterable[Step], space: LatentSpace) -> Iterator[Frame]:
    """Every offline source, played: ``engine.step`` on each step, a frame after each emitted
    one. The live window makes the same calls with wall-clock dts (its first frame steps 0 s),
    so the same state and steps give the same z sequence, bit for bit."""
    for st in steps:
        if st.preset is not None:
            state = _apply_preset(state, st.preset, space)
        state = engine.step(state, st.commands, st.dt, space)
        if st.emit:
            yield Frame(engine.output_z(state, space), state.params, st.dt, st.t)


def _even(count: int, fps: float) -> Iterator[Step]:
    """The first frame shows the initial state (0 s), then one every ``1/fps`` s."""
    dt = 1.0 / fps
    for i in range(count):
        yield Step(dt if i else 0.0)


def frame_count(seconds: float, fps: float, given: str) -> int:
    """Frames of a ``seconds``-long export at ``fps`` (at least 1). ExportError naming the
    options that made it (``given``) when it is longer than MAX_HOURS: a typo such as
    ``--duration 1e9`` would otherwise render for days, or plan more frames than fit in memory."""
    if not seconds * fps <= MAX_HOURS * 3600 * fps:   # also refuses inf and nan
        raise ExportError(f"{given}: a video of {seconds / 3600:,.0f} hours; one export is "
                          f"at most {MAX_HOURS:g} hours: shorten it")
    return max(1, round(seconds * fps))


def walk_clip(space: LatentSpace, state: engine.State, fps: float, duration: float) -> Clip:
    """The engine's walk from ``state``, one frame every ``1/fps`` s of walk time."""
    count = frame_count(duration, fps, "--duration")
    return Clip(run(state, _even(count, fps), space), count, fps, _visibility(state.params))


def tour_clip(space: LatentSpace, state: engine.State, fps: float, count: int,
              loop: bool = False) -> Clip:
    """``count`` frames of the state's tour (``State.tour``, walk mode tour) at ``fps``.

    A loop's frames repeat with period ``count``: when trails are on, the last frames run
    through the look first (not written), so the loop point already has its trails.
    """
    frames = list(run(state, _even(count, fps), space))
    trails = state.params.get("look.trails", 0.0)
    if loop and trails > 0:
        keep = trails ** (clamp_dt(1.0 / fps) * 60.0)   # as Look.advance steps it
        warm = min(count, math.ceil(math.log(1 / 512) / math.log(keep)) if keep < 1 else count)
        frames = [replace(f, emit=False) for f in frames[count - warm:]] + frames
    return Clip(frames, count, fps, _visibility(state.params))


def replay_clip(log: ControlLogData, space: LatentSpace, fps: float | None = None) -> Clip:
    """The logged performance through the engine: on the logged dts (``fps`` None: bit-exact
    z, frames at their logged times) or resampled to steps of ``1/fps``."""
    state = log.initial_state(space)
    frames = log.frames
    if not frames:
        raise ExportError(f"control log {log.path} holds no frames")
    visibility = log.opt("look_visibility")
    if visibility is None:
        visibility = _visibility(state.params)
    notes = (f"control log {log.path}: its last line was cut off (the program stopped while "
             f"writing it); replaying the {len(frames)} whole frames before it",) \
        if log.truncated else ()
    if fps is None:
        steps = (Step(f.dt, f.commands, f.preset, t=f.t) for f in frames)
        return Clip(run(state, steps, space), len(frames), _logged_fps(log), visibility, notes)
    times, clock = [], 0.0   # when each frame's commands were applied, on the engine's clock
    for f in frames:
        times.append(clock)
        clock += clamp_dt(f.dt)
    count = frame_count(clock, fps, f"control log {log.path} at --fps {fps:g}")
    return Clip(run(state, _resampled(log, times, fps, count), space), count, fps, visibility,
                notes)


def _resampled(log: ControlLogData, times: list[float], fps: float,
               count: int) -> Iterator[Step]:
    """Each logged command at the first output step at or after its logged time; a preset
    load after the commands logged before it."""
    dt, k = 1.0 / fps, 0
    for j in range(count):
        cmds: list[C.Command] = []
        preset: PresetLoad | None = None
        while k < len(times) and times[k] <= j * dt + _EPS:
            f = log.frames[k]
            if f.preset is not None:
                if cmds or preset is not None:
                    yield Step(0.0, tuple(cmds), preset, emit=False)
                cmds, preset = [], f.preset
            cmds += f.commands
            k += 1
        yield Step(dt, tuple(cmds), preset)


def _apply_preset(state: engine.State, preset: PresetLoad, space: LatentSpace) -> engine.State:
    try:
        return preset.apply(state, space)
    except ValueError:
        return state   # the live app only logs presets that loaded; a damaged one is skipped


def _logged_fps(log: ControlLogData) -> float:
    fps = log.opt("fps")
    if isinstance(fps, int | float) and 0 < fps <= 1000:
        return float(fps)
    dts = [f.dt for f in log.frames if math.isfinite(f.dt) and f.dt > 0]
    return float(min(240, max(1, round(1.0 / float(np.median(dts)))))) if dts else 60.0


def _visibility(params: Mapping[str, float]) -> float:
    return 0.0 if params.get("look.blackout", 0.0) >= 0.5 else 1.0


def image_keys(paths: Sequence[str | os.PathLike[str]], model: checkpoint.LoadedModel
               ) -> np.ndarray:
    """Keyframes (K, D) in standardised coordinates from pictures, in order (folders: their
    images, sorted): a latentsketch snapshot of this model gives its stored point, any other
    image its encoding. ExportError (one line naming the file) for one that cannot be used."""
    try:
        points = image_points(model, paths)
    except SnapshotError as e:
        raise ExportError(str(e)) from None
    return np.stack([model.space.to_u(p.z) for p in points]).astype(np.float64)


# --- request -> clip -> file ---------------------------------------------------------------

def _tour_timing(req: RenderRequest, fps: float, plan: TourPlan, dwell: float,
                 speed: float) -> tuple[TourPlan, int, float]:
    """The request's timing as the tour's own: (plan, frame count, walk.speed).

    The count shows the tour once: with ``loop`` up to one frame short of the first key
    again, else up to the last key and its hold. Without timing options the plan is the live
    window's (its holds, its travel at the preset's speed). ``--hold`` sets every hold,
    ``--seconds-per-segment``/``--frames-per-segment`` the travel; ``--duration`` alone scales
    holds and travels to fit, with ``--hold`` the travels share what the holds leave.
    """
    assert plan.keys is not None
    k, dim = plan.count, plan.keys.shape[1]
    timed = (req.hold, req.duration, req.frames_per_segment, req.seconds_per_segment)
    if all(v is None for v in timed):
        if speed <= 0:
            raise ExportError("walk.speed is 0, so the tour never moves; give --duration or "
                              "--seconds-per-segment, or a preset with a speed")
        plan = replace(plan, loop=req.loop)
        count = frame_count(plan.duration(dwell, speed), fps, "the preset's walk.dwell, holds "
                            "and walk.speed")
        return plan, count + (0 if req.loop else 1), speed
    segments = k if req.loop else k - 1
    holds = [req.hold if req.hold is not None else plan.hold(i, dwell) for i in range(k)]
    speed = speed if speed > 0 else 1.0
    travel = plan.travel / speed
    if req.frames_per_segment is not None:
        travel = req.frames_per_segment / fps
    elif req.seconds_per_segment is not None:
        travel = req.seconds_per_segment
    if req.duration is not None:
        span = req.duration - (0.0 if req.loop else 1.0 / fps)   # first to last frame
        if req.hold is not None:
            travel = (span - sum(holds)) / segments
        else:
            scale = span / (segments * travel + sum(holds))
            holds, travel = [h * scale for h in holds], travel * scale
    if travel < MIN_TRAVEL:
        raise ExportError(f"{travel * 1e3:.3g} ms per segment leaves no time to travel "
                          f"(at least {MIN_TRAVEL * 1e3:g} ms); lower --hold or raise --duration")
    try:
        new = TourPlan.make(plan.keys, dim, holds, travel * speed, req.loop)
    except ValueError as e:
        raise ExportError(str(e)) from None
    given = " and ".join(n for n, v in (("--duration", req.duration), ("--hold", req.hold),
                                         ("--seconds-per-segment", req.seconds_per_segment),
                                         ("--frames-per-segment", req.frames_per_segment))
                         if v is not None)
    if req.duration is not None:
        return new, frame_count(req.duration, fps, given), speed
    return new, frame_count(new.duration(dwell, speed), fps, given) + (0 if req.loop else 1), \
        speed


def _check_source(req: RenderRequest) -> None:
    sources = [n for n, on in (("--replay", req.replay is not None),
                               ("--keyframes", bool(req.keyframes)),
                               ("--walk", req.walk is not None)) if on]
    if len(sources) > 1:
        raise ExportError(f"choose one source: {' and '.join(sources)} were both given")
    if req.fps is not None and not 0 < req.fps <= MAX_FPS:
        raise ExportError(f"--fps {req.fps:g} must be more than 0 and at most {MAX_FPS:g}")
    positive = {"--duration": req.duration, "--seconds-per-segment": req.seconds_per_segment,
                "--frames-per-segment": req.frames_per_segment}
    for name, v in positive.items():
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ExportError(f"{name} {v:g} must be a finite number more than 0")
    if req.duration is not None and (req.seconds_per_segment or req.frames_per_segment):
        raise ExportError("--duration sets the whole length, the segment options each "
                          "segment's: give one of them")
    if req.hold is not None and not (math.isfinite(req.hold) and req.hold >= 0):
        raise ExportError(f"--hold {req.hold:g} must be a finite number of seconds, 0 or more")
    if req.backend is not None and req.backend not in ("auto", "fp32", "bf16", *ENGINES):
        raise ExportError(f"--backend {req.backend!r} is not one of auto, fp32, bf16, "
                          f"{', '.join(ENGINES)}")
    if req.threads < 1:
        raise ExportError(f"--threads {req.threads} must be at least 1")
    if req.replay is not None and (req.preset is not None or req.duration is not None
                                   or req.loop):
        raise ExportError("--replay takes everything from the log; drop --preset, --duration "
                          "and --loop")


def plan(req: RenderRequest, model_id: str, space: LatentSpace,
         log: ControlLogData | None = None, model: checkpoint.LoadedModel | None = None
         ) -> Clip:
    """The clip a request describes, without decoding anything (tests use it directly).

    Every source is an initial ``engine.State`` plus timed steps through ``engine.step``
    (``run``): a tour is the state's ``TourPlan`` with the request's timing, a walk the state
    alone, a replay the logged commands. ``log`` is ``req.replay`` already read (``render``
    reads it once for its header too); ``model`` is ``req.model`` already loaded (keyframe
    pictures that are not snapshots are encoded with it; loaded here if needed).
    """
    _check_source(req)
    if req.replay is not None:
        return replay_clip(log or read_log(req.replay, model_id), space, req.fps)
    live = req.preset is None and not req.keyframes and req.walk is None
    if live:  # no source: the default preset as the live window plays it, not its whole tour
        pre = presets.load(DEFAULT_PRESET)
    else:
        pre = presets.load_option(req.preset) if req.preset is not None else presets.Preset()
    pre.check_model(model_id, space.dim)
    params = pre.values()
    if req.easing is not None:
        if req.easing not in EASINGS:
            raise ExportError(f"easing {req.easing!r} is not one of {', '.join(EASINGS)}")
        params["walk.easing"] = float(tuple(EASINGS).index(req.easing))
    fps = req.fps or DEFAULT_FPS
    seed = req.seed if req.seed is not None else (pre.seed or 0)
    tour = _keyframe_tour(req, pre, params, space, model)
    if tour is None:
        if req.loop or req.frames_per_segment or req.seconds_per_segment or req.hold:
            raise ExportError("--loop, --hold and the segment options apply to tours of "
                              "keyframes (--keyframes, a preset with keyframes, or --walk tour "
                              "on a model with keyframes)")
        if req.walk is not None:
            if req.walk not in WALK_MODES:
                raise ExportError(f"walk {req.walk!r} is not one of {', '.join(WALK_MODES)}")
            params["walk.mode"] = float(WALK_MODES.index(req.walk))
        state = _initial(pre, space, seed, params)
        return walk_clip(space, state, fps, req.duration or DEFAULT_WALK_SECONDS)
    params["walk.mode"] = float(WALK_MODES.index("tour"))
    tour, count, speed = _tour_timing(req, fps, tour, params["walk.dwell"], params["walk.speed"])
    params["walk.speed"] = speed
    clip = tour_clip(space, _initial(pre, space, seed, params, tour), fps, count, req.loop)
    move_frames = tour.travel / speed * fps
    if move_frames < FLICKER_FRAMES:
        clip = replace(clip, notes=(
            f"{tour.count} keyframes in {count / fps:g} s leave {move_frames:.1f} frames per "
            f"move: it will flicker; give a longer --duration, or --walk tour --duration "
            f"{count / fps:g} for the first {count / fps:g} s of the tour",))
    return clip


def _keyframe_tour(req: RenderRequest, pre: presets.Preset, params: dict[str, float],
                   space: LatentSpace, model: checkpoint.LoadedModel | None) -> TourPlan | None:
    """The keyframes a request tours, as the live window would: pictures (snapshots' points
    or encoded images, passed through exactly: temperature 1, no holds), else the preset's
    keyframes with their holds, else the model's when the preset tours. None: not a keyframe
    render."""
    if req.keyframes:
        params["walk.temperature"] = 1.0   # the tour's points are then the pictures' own
        keys = image_keys(req.keyframes, model or checkpoint.load(req.model))
        return _plan_of(keys, space, [0.0] * len(keys))
    timed = (req.loop or req.hold is not None or req.seconds_per_segment is not None
             or req.frames_per_segment is not None)
    if (req.walk is not None and not (req.walk == "tour" and timed)) or (
            req.preset is None and req.walk is None):
        return None   # a walk; --walk tour with a tour's options tours the keys
    if len(pre.keyframes) >= 2:
        return _plan_of([k.u for k in pre.keyframes], space, [k.hold for k in pre.keyframes])
    tours = params["walk.mode"] == WALK_MODES.index("tour") or req.walk == "tour"
    if tours and space.keyframes.shape[0] >= 2:
        return _plan_of(np.nan_to_num(space.keyframes.astype(np.float64)), space, [])
    return None


def _plan_of(keys: np.ndarray | Sequence[Sequence[float]], space: LatentSpace,
             holds: Sequence[float | None]) -> TourPlan:
    try:
        return TourPlan.make(keys, space.dim, holds, limit=engine.U_LIMIT)
    except ValueError as e:
        raise ExportError(f"keyframes: {e}") from None


def _initial(pre: presets.Preset, space: LatentSpace, seed: int, params: dict[str, float],
             tour: TourPlan | None = None) -> engine.State:
    try:
        return engine.State.initial(space, seed, params, dict(pre.slots),
                                    [k.u for k in pre.keyframes] or None,
                                    [k.hold for k in pre.keyframes], tour,
                                    pre.directions, pre.direction_values)
    except ValueError as e:
        raise ExportError(f"preset {pre.source}: {e}") from None


def _out_folder(req: RenderRequest) -> Path:
    """The folder the output goes into (``out``'s parent, or ``out`` for PNG frames)."""
    if req.out is None:
        return Path(req.out_dir)
    out = Path(req.out)
    return out.parent if out.suffix else out


def _output(req: RenderRequest) -> tuple[Path, bool]:
    """The output path and whether it was reserved here (an empty placeholder to clean up)."""
    if req.out is not None:  # a missing folder is created, as ``train --out`` does
        # (a folder of PNG frames is made by its writer, which removes it if the export fails)
        OutputDir(Path(req.out).parent).ensure()
        return Path(req.out), False
    if req.format not in FORMATS:
        raise ExportError(f"format {req.format!r} is not one of {', '.join(FORMATS)}")
    return OutputDir(Path(req.out_dir)).reserve(req.format), True


def render(req: RenderRequest, progress: Progress | None = None) -> ExportResult:
    """Load the model, plan the clip, decode and write it; returns what was written.

    Errors are one line: ExportError, CheckpointError, PresetError, SnapshotError,
    ControlLogError, OutputError.
    """
    _check_source(req)
    OutputDir(_out_folder(req)).check()   # before any work, and without leaving a folder
    model = req.model
    if model is None and req.preset is not None:   # the preset's [scene] model, if it names one
        model = presets.model_path(presets.load_option(req.preset))
    loaded = checkpoint.load(model)
    log = read_log(req.replay, loaded.model_id) if req.replay is not None else None
    clip = plan(req, loaded.model_id, loaded.space, log, loaded)
    size, fit, backend = req.size, req.fit, req.backend
    if log is not None:
        logged = log.opt("size")
        size = size or (tuple(logged) if isinstance(logged, list) and len(logged) == 2
                        else DEFAULT_SIZE)
        fit = fit or log.opt("fit")
        backend = backend or log.opt("backend")
    filter = req.filter if req.filter != "auto" else ("live" if log else "bicubic")
    # A replay with the window's filter decodes as the live loop does, one frame at a time on
    # one thread: batched or multi-threaded decodes differ by a level on a few pixels, which
    # posterise can amplify.
    as_live = log is not None and filter == "live"
    settings = ExportSettings(size=size or DEFAULT_SIZE, fit=fit or "fit", filter=filter,
                              batch=1 if as_live else ExportSettings.batch)
    threads = torch.get_num_threads()
    path, reserved = _output(req)
    try:
        decoder = Decoder(loaded.vae, backend=backend if backend in ("fp32", "bf16") else "auto",
                          threads=1 if as_live else req.threads)
        if backend in ENGINES:     # --backend names an engine: that one, or one line why not
            decoder.adopt(backend, runner(backend, loaded.vae.decoder,
                                          cache_dir(loaded.model_id), req.threads))
        elif req.backend in (None, "auto"):  # a replay's logged precision is kept, not its engine
            logged = backend if backend in ("fp32", "bf16") else None
            _adopt_measured_engine(decoder, loaded, 1 if as_live else req.threads, logged)
        return export(clip, decoder, path, settings, progress=progress)
    except BaseException:
        if reserved:
            _remove_placeholder(path)
        raise
    finally:
        torch.set_num_threads(threads)


def _adopt_measured_engine(decoder: Decoder, loaded: checkpoint.LoadedModel,
                           threads: int, precision: str | None = None) -> None:
    """Decode on the engine the live window measured fastest for this model on this CPU kind,
    if it did (never builds one here: a render should not wait for a build); with
    ``precision`` (a replay's logged one) only an engine of that precision."""
    from latentsketch.model.engine_upgrade import read_choice
    from latentsketch.model.engines import EngineUnavailable

    folder = cache_dir(loaded.model_id)
    choice = read_choice(folder)
    if choice is None or choice.winner == decoder.engine or (
            precision is not None and not choice.winner.endswith(f"-{precision}")):
        return
    try:
        decoder.adopt(choice.winner, runner(choice.winner, loaded.vae.decoder, folder, threads))
    except EngineUnavailable:
        pass


def _remove_placeholder(path: Path) -> None:
    try:
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        elif path.is_file() and path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass
