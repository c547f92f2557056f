"""``latentsketch render``: turn keyframes, a walk or a logged performance into a video file.

Three sources, one exporter (``output.export``):

- keyframes -- a preset's tour or PNG snapshots -- as eased slerp morphs (standardised
  coordinates, like the live tour); with ``loop`` the last segment returns to the first key,
  whose frame is not repeated, so the file loops seamlessly;
- a walk: ``engine.step`` from a seeded state with ``dt = 1/fps``, the same path the live
  window shows at any frame rate;
- a control log: the logged commands through ``engine.step`` on the logged dts (the z sequence
  is bit-exact, the picture matches the recording with the ``live`` filter), or resampled at
  another fps (each command applied at the first output step at or after its logged time).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentsketch import engine
from latentsketch import preset as presets
from latentsketch.latent.interp import EASINGS, keyframe_path
from latentsketch.latent.space import LatentSpace
from latentsketch.latent.walks import TOUR_TRAVEL
from latentsketch.model import checkpoint
from latentsketch.model.engines import ENGINES, cache_dir, runner
from latentsketch.model.inference import Decoder
from latentsketch.output.controllog import ControlLogData, LogFrame, read_log
from latentsketch.output.export import (
    Clip,
    ExportError,
    ExportResult,
    ExportSettings,
    Frame,
    Progress,
    export,
)
from latentsketch.output.paths import DEFAULT_OUT_DIR, OutputDir
from latentsketch.output.snapshot import read_snapshot_meta
from latentsketch.params import WALK_MODES
from latentsketch.timestep import clamp_dt

DEFAULT_SIZE = (1024, 1024)     # the size of a snapshot's shareable copy
DEFAULT_FPS = 30.0
DEFAULT_WALK_SECONDS = 10.0
DEFAULT_PRESET = "default"      # no source at all: what ``latentsketch`` (play) starts with
MAX_FPS = 240.0
FORMATS = (".mp4", ".mov", ".gif", "/")  # "/" = a folder of PNG frames
_EPS = 1e-9                     # seconds: float noise when comparing logged and output times


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
    easing: str = "cosine"
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


# --- sources -------------------------------------------------------------------------------

def _guard(u: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(u, nan=0.0), -engine.U_LIMIT, engine.U_LIMIT)


def keyframe_clip(space: LatentSpace, keys: np.ndarray, params: Mapping[str, float], fps: float,
                  frames_per_segment: int, easing: str = "cosine", loop: bool = False,
                  holds: Sequence[int] | None = None) -> Clip:
    """An eased slerp morph through ``keys`` (K, D; standardised, raw order).

    Each key is shown for ``1 + holds[i]`` frames, then ``frames_per_segment - 1`` in-betweens
    lead to the next. With ``loop`` the last segment leads back to key 0 and stops one frame
    short of it, so playing the file on repeat is seamless.
    """
    keys = _guard(np.asarray(keys, np.float64))
    k, n = len(keys), int(frames_per_segment)
    if k < 2:
        raise ExportError(f"a morph needs at least 2 keyframes, got {k}")
    if n < 1:
        raise ExportError(f"frames per segment {n} must be at least 1")
    if easing not in EASINGS:
        raise ExportError(f"easing {easing!r} is not one of {', '.join(EASINGS)}")
    holds = [0] * k if holds is None else [max(0, int(h)) for h in holds]
    s: list[float] = []
    for i in range(k if loop else k - 1):
        s += [float(i)] * (1 + holds[i]) + [i + j / n for j in range(1, n)]
    if not loop:
        s += [float(k - 1)] * (1 + holds[-1])
    z = space.to_z(_guard(keyframe_path(keys, np.asarray(s), easing, loop)))  # (N, D)
    params = dict(params)
    dt = 1.0 / fps
    frames = [Frame(row, params, dt) for row in z]
    trails = params.get("look.trails", 0.0)
    if loop and trails > 0:  # run the end through the look first: the loop point has trails
        keep = trails ** (clamp_dt(dt) * 60.0)   # as Look.advance steps it
        warm = min(len(frames), math.ceil(math.log(1 / 512) / math.log(keep)) if keep < 1
                   else len(frames))
        frames = [Frame(f.z, params, dt, emit=False) for f in frames[-warm:]] + frames
    return Clip(frames, len(z), fps, _visibility(params))


def walk_clip(space: LatentSpace, state: engine.State, fps: float, duration: float) -> Clip:
    """The engine's walk from ``state``, one frame every ``1/fps`` s of walk time."""
    count = max(1, round(duration * fps))
    dt = 1.0 / fps

    def frames() -> Iterator[Frame]:
        s = state
        for i in range(count):
            if i:
                s = engine.step(s, (), dt, space)
            yield Frame(engine.output_z(s, space), s.params, dt)

    return Clip(frames(), count, fps, _visibility(state.params))


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
    if fps is None:
        return Clip(_exact(state, log, space), len(frames), _logged_fps(log), visibility)
    times, clock = [], 0.0   # when each frame's commands were applied, on the engine's clock
    for f in frames:
        times.append(clock)
        clock += _effective(f.dt)
    count = max(1, round(clock * fps))
    return Clip(_resampled(state, log, space, times, fps, count), count, fps, visibility)


def _exact(state: engine.State, log: ControlLogData, space: LatentSpace) -> Iterator[Frame]:
    for f in log.frames:
        if f.preset is not None:
            state = _apply_preset(state, f, space)
        state = engine.step(state, f.commands, f.dt, space)
        yield Frame(engine.output_z(state, space), state.params, f.dt, f.t)


def _resampled(state: engine.State, log: ControlLogData, space: LatentSpace,
               times: list[float], fps: float, count: int) -> Iterator[Frame]:
    dt, k = 1.0 / fps, 0
    for j in range(count):
        cmds: list = []
        while k < len(times) and times[k] <= j * dt + _EPS:
            f = log.frames[k]
            if f.preset is not None:  # after the commands before it, before its own
                state = _apply_preset(engine.step(state, cmds, 0.0, space), f, space)
                cmds = []
            cmds += f.commands
            k += 1
        state = engine.step(state, cmds, dt, space)
        yield Frame(engine.output_z(state, space), state.params, dt)


def _apply_preset(state: engine.State, f: LogFrame, space: LatentSpace) -> engine.State:
    try:
        return f.preset.apply(state, space) if f.preset is not None else state
    except ValueError:
        return state   # the live app only logs presets that loaded; a damaged one is skipped


def _effective(dt: float) -> float:
    """The seconds ``engine.step`` really advances for ``dt``."""
    return clamp_dt(dt)


def _logged_fps(log: ControlLogData) -> float:
    fps = log.opt("fps")
    if isinstance(fps, int | float) and 0 < fps <= 1000:
        return float(fps)
    dts = [f.dt for f in log.frames if math.isfinite(f.dt) and f.dt > 0]
    return float(min(240, max(1, round(1.0 / float(np.median(dts)))))) if dts else 60.0


def _visibility(params: Mapping[str, float]) -> float:
    return 0.0 if params.get("look.blackout", 0.0) >= 0.5 else 1.0


def snapshot_keys(paths: Sequence[str | os.PathLike[str]], model_id: str,
                  space: LatentSpace) -> np.ndarray:
    """Keyframes (K, D) in standardised coordinates from latentsketch snapshot PNGs."""
    rows = []
    for p in paths:
        meta = read_snapshot_meta(p)
        if meta is None:
            raise ExportError(f"{p}: not a latentsketch snapshot (it carries no latent vector); "
                              "use snapshots taken in the live window")
        if meta.model_id != model_id:
            raise ExportError(f"{p}: snapshot of model {meta.model_id}, but the model in use is "
                              f"{model_id}; pass --model with the snapshot's model")
        if len(meta.z) != space.dim:
            raise ExportError(f"{p}: snapshot has {len(meta.z)} values, the model {space.dim}")
        rows.append(space.to_u(meta.z_array()))
    return np.stack(rows).astype(np.float64)


# --- request -> clip -> file ---------------------------------------------------------------

def _load_preset(name: str) -> presets.Preset:
    p = Path(name)
    if p.suffix == ".toml" and p.is_file():
        return presets.Preset.from_file(p)
    return presets.load(name)


def _timing(req: RenderRequest, fps: float, segments: int, holds: list[float],
            travel: float) -> tuple[int, list[int]]:
    """Frames per segment and hold frames per key, from the request or the tour's defaults.

    ``--duration`` alone scales the tour's own dwell and travel times to fit; with ``--hold``
    the segments share what the holds leave.
    """
    if req.hold is not None:
        holds = [req.hold] * len(holds)
    if req.frames_per_segment is not None or req.seconds_per_segment is not None:
        n = req.frames_per_segment or round((req.seconds_per_segment or 0.0) * fps)
        return max(1, n), [round(h * fps) for h in holds]
    if req.duration is None:
        return max(1, round(travel * fps)), [round(h * fps) for h in holds]
    total = req.duration * fps - (0 if req.loop else 1)
    if req.hold is None:
        holds = [h * req.duration / (segments * travel + sum(holds)) for h in holds]
    frames = [round(h * fps) for h in holds]
    n = max(1, round((total - sum(frames)) / segments))
    # n is whole frames per segment: the holds absorb the rounding, so --duration is exact
    short = round(total) - (segments * n + sum(frames))
    for i in range(len(frames)):
        take = max(short, -frames[i]) if short < 0 else short
        frames[i] += take
        short -= take
        if short == 0:
            break
    return n, frames


def _check_source(req: RenderRequest) -> None:
    sources = [n for n, on in (("--replay", req.replay is not None),
                               ("--keyframes", bool(req.keyframes)),
                               ("--walk", req.walk is not None)) if on]
    if len(sources) > 1:
        raise ExportError(f"choose one source: {' and '.join(sources)} were both given")
    if req.fps is not None and not 0 < req.fps <= MAX_FPS:
        raise ExportError(f"fps {req.fps:g} must be more than 0 and at most {MAX_FPS:g}")
    positive = {"duration": req.duration, "seconds per segment": req.seconds_per_segment,
                "frames per segment": req.frames_per_segment}
    for name, v in positive.items():
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ExportError(f"{name} {v:g} must be a finite number more than 0")
    if req.hold is not None and not (math.isfinite(req.hold) and req.hold >= 0):
        raise ExportError(f"hold {req.hold:g} must be a finite number of seconds, 0 or more")
    if req.backend is not None and req.backend not in ("auto", "fp32", "bf16", *ENGINES):
        raise ExportError(f"--backend {req.backend!r} is not one of auto, fp32, bf16, "
                          f"{', '.join(ENGINES)}")
    if req.threads < 1:
        raise ExportError(f"threads {req.threads} must be at least 1")
    if req.replay is not None and (req.preset is not None or req.duration is not None
                                   or req.loop):
        raise ExportError("--replay takes everything from the log; drop --preset, --duration "
                          "and --loop")


def plan(req: RenderRequest, model_id: str, space: LatentSpace,
         log: ControlLogData | None = None) -> Clip:
    """The clip a request describes, without decoding anything (tests use it directly).

    ``log`` is ``req.replay`` already read (``render`` reads it once for its header too).
    """
    _check_source(req)
    if req.replay is not None:
        return replay_clip(log or read_log(req.replay, model_id), space, req.fps)
    live = req.preset is None and not req.keyframes and req.walk is None
    if live:  # no source: the default preset as the live window plays it, not its whole tour
        pre = presets.load(DEFAULT_PRESET)
    else:
        pre = _load_preset(req.preset) if req.preset is not None else presets.Preset()
    pre.check_model(model_id, space.dim)
    params = pre.values()
    fps = req.fps or DEFAULT_FPS
    keys: np.ndarray | None = None
    holds: list[float] = []
    if req.keyframes:
        keys = snapshot_keys(req.keyframes, model_id, space)
    elif req.walk is None and not live:
        tour = params["walk.mode"] == WALK_MODES.index("tour")
        if len(pre.keyframes) >= 2:
            keys = np.array([k.u for k in pre.keyframes]) * params["walk.temperature"]
            holds = [params["walk.dwell"] if k.hold is None else k.hold for k in pre.keyframes]
        elif tour and space.keyframes.shape[0] >= 2:
            keys = space.keyframes.astype(np.float64) * params["walk.temperature"]
            holds = [params["walk.dwell"]] * len(keys)
    if keys is None:
        if req.loop or req.frames_per_segment or req.seconds_per_segment or req.hold:
            raise ExportError("--loop, --hold and the segment options apply to keyframe "
                              "renders (--keyframes, or a preset with a tour)")
        if req.walk is not None:
            if req.walk not in WALK_MODES:
                raise ExportError(f"walk {req.walk!r} is not one of {', '.join(WALK_MODES)}")
            params["walk.mode"] = float(WALK_MODES.index(req.walk))
        seed = req.seed if req.seed is not None else (pre.seed or 0)
        try:
            state = engine.State.initial(space, seed, params, dict(pre.slots),
                                         [k.u for k in pre.keyframes] or None)
        except ValueError as e:
            raise ExportError(f"preset {pre.source}: {e}") from None
        return walk_clip(space, state, fps, req.duration or DEFAULT_WALK_SECONDS)
    speed = params["walk.speed"]
    travel = TOUR_TRAVEL / speed if holds and speed > 0 else TOUR_TRAVEL
    segments = max(1, len(keys) if req.loop else len(keys) - 1)
    n, hold_frames = _timing(req, fps, segments, holds or [0.0] * len(keys), travel)
    return keyframe_clip(space, keys, params, fps, n, req.easing, req.loop, hold_frames)


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
    loaded = checkpoint.load(req.model)
    log = read_log(req.replay, loaded.model_id) if req.replay is not None else None
    clip = plan(req, loaded.model_id, loaded.space, log)
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
