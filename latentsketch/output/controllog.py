"""The control log: a performance as JSON lines, so ``render --replay`` can play it again.

The engine is a pure function of (state, timed commands, dts), so a performance is fully
described by the state when logging started plus, for every frame, the commands and the ``dt``
that were passed to ``engine.step``. The file is line-oriented::

    {"format": "latentsketch-control-log", "version": 2, "model_id": ..., "seed": ...,
     "preset": ..., "created": ..., "state": {...}}                      <- header
    {"t": 0.0167, "dt": 0.0167, "cmds": [{"cmd": "set_dim", "index": 0, "value": 1.5}]}
    {"preset": {"name": ..., "params": {...}, "slots": {...}, "keyframes": [...],
                "holds": [...]}}
    {"t": 0.0334, "dt": 0.0167, "cmds": []}

A frame line means ``state = engine.step(state, cmds, dt)``, then the frame is shown; the
header's state is the state *before* the first frame line, so a log started mid-performance
(when recording starts) replays from that exact state. A ``preset`` line is an
``engine.with_preset`` the app made between frames; it applies before the next frame's step.
Floats are written with Python's shortest round-trip repr, so they read back bit-exact.

Writes are buffered and flushed to the OS every ``flush_seconds`` (a frame costs a few
microseconds); a crash loses at most that much, and the reader drops a truncated last line.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields, is_dataclass, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.errors import UserError
from latentsketch.latent import walks
from latentsketch.latent.directions import DirectionError, Directions, DirectionValue
from latentsketch.latent.fade import Fade
from latentsketch.latent.space import LatentSpace
from latentsketch.latent.tour import TourPlan, TourProgress
from latentsketch.model.identity import which_model
from latentsketch.params import PARAM_BY_NAME
from latentsketch.tempo import TempoState

FORMAT = "latentsketch-control-log"
VERSION = 2   # 2: tours hold per keyframe and time holds and travels continuously
_TYPES: dict[str, type] = {"State": engine.State, "WalkState": walks.WalkState,
                           "TourPlan": TourPlan, "TourProgress": TourProgress,
                           "Directions": Directions, "TempoState": TempoState,
                           "Fade": Fade}


class ControlLogError(UserError, ValueError):
    """A control log that cannot be used; one line naming the file (and line)."""


# --- state <-> JSON ------------------------------------------------------------------------

def _enc(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return {"a": v.tolist(), "t": v.dtype.name, "s": list(v.shape)}
    if is_dataclass(v) and type(v).__name__ in _TYPES:
        return {"@": type(v).__name__, **{f.name: _enc(getattr(v, f.name)) for f in fields(v)}}
    if isinstance(v, Mapping):
        return {"map": {str(k): _enc(x) for k, x in v.items()}}
    if isinstance(v, tuple | list):
        return {"tuple": [_enc(x) for x in v]}
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, bool | int | float | str):
        return v
    raise TypeError(f"cannot store a {type(v).__name__} in a control log")


def _dec(v: Any, where: str) -> Any:
    if isinstance(v, list):
        raise ValueError(f"{where}: unexpected list")
    if not isinstance(v, dict):
        return v
    if "@" in v:
        cls = _TYPES.get(v["@"])
        if cls is None:
            raise ValueError(f"{where}: unknown type {v['@']!r}")
        names = [f.name for f in fields(cls)]
        extra = sorted(set(v) - {"@", *names})
        # a field with a default may be missing: a log from before it existed (directions)
        missing = [f.name for f in fields(cls) if f.name not in v
                   and f.default is MISSING and f.default_factory is MISSING]
        if extra or missing:
            raise ValueError(f"{where}: {'unknown' if extra else 'missing'} field "
                             f"{(extra or missing)[0]!r} (log from another version?)")
        return cls(**{n: _dec(v[n], f"{where}.{n}") for n in names if n in v})
    if "a" in v:
        dtype = np.dtype(v.get("t", "float64"))
        if dtype.kind not in "fbiu":
            raise ValueError(f"{where}: arrays of {dtype} are not allowed")
        a = np.array(v["a"], dtype).reshape(v.get("s", -1))
        if dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(f"{where}: contains NaN or infinity")
        a.flags.writeable = False
        return a
    if "map" in v:
        return MappingProxyType({k: _dec(x, f"{where}.{k}") for k, x in v["map"].items()})
    if "tuple" in v:
        return tuple(_dec(x, f"{where}[{i}]") for i, x in enumerate(v["tuple"]))
    raise ValueError(f"{where}: unknown value {str(v)[:60]}")


def state_to_json(state: engine.State) -> dict[str, Any]:
    """The whole engine state as JSON-ready data; floats survive the round trip bit-exactly."""
    return _enc(state)


def state_from_json(d: Mapping[str, Any], space: LatentSpace) -> engine.State:
    """Rebuild a state written by ``state_to_json``; ValueError (one line) if it is unusable.

    The state is checked against ``space`` (dimensions) and by a dry step, so a damaged log
    is refused here instead of failing inside the engine halfway through a render.
    """
    try:
        state = _dec(dict(d), "state")
        if not isinstance(state, engine.State):
            raise ValueError("state: not an engine state")
        if state.dim != space.dim:
            raise ValueError(f"state has {state.dim} dimensions, the model {space.dim}")
        unknown = sorted(set(state.params) - set(PARAM_BY_NAME))
        if unknown:
            raise ValueError(f"state: unknown parameter {unknown[0]!r}")
        values = {p: float(v) for p, v in state.params.items()}
        bad = next((p for p, v in values.items() if not math.isfinite(v)), None)
        if bad:
            raise ValueError(f"state: parameter {bad} is not finite")
        defaults = {p.name: float(p.default) for p in PARAM_BY_NAME.values()}
        state = replace(state, params=MappingProxyType(defaults | values))
        engine.output_z(engine.step(state, (), 0.0, space), space)
    except (TypeError, ValueError, IndexError, KeyError) as e:
        raise ValueError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    return state


# --- writing -------------------------------------------------------------------------------

def _jsonable(v: Any) -> Any:
    """``json`` fallback for command values: numpy numbers and arrays, else their repr.

    The repr of an odd value makes the engine reject the replayed command just as it rejected
    the live one, and logging never raises in the live loop.
    """
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return repr(v)


_ENCODE = json.JSONEncoder(separators=(",", ":"), default=_jsonable).encode


class ControlLog:
    """Append-only writer, one line per frame. Use ``ControlLog.open``; ``close`` when done.

    ``frame`` costs a few microseconds (a string join and a buffered write); the buffer goes to
    the OS every ``flush_seconds``. Write errors raise ``OSError`` for the caller to report.
    """

    def __init__(self, f: Any, path: Path, flush_seconds: float) -> None:
        self._f = f
        self.path = path
        self.flush_seconds = flush_seconds
        self._next_flush = time.monotonic() + flush_seconds
        self.frames = 0
        self.closed = False

    @classmethod
    def open(cls, path: str | os.PathLike[str], state: engine.State, model_id: str,
             preset_name: str | None, *, backend: str | None = None,
             size: tuple[int, int] | None = None, fit: str | None = None,
             fps: float | None = None, look_visibility: float | None = None,
             decoder: dict[str, Any] | None = None, flush_seconds: float = 0.5) -> ControlLog:
        """Create ``path`` (replacing it) and write the header with ``state``: the state before
        the first ``frame``. The optional keywords describe the recording (decoder backend,
        picture size and fit, frame rate, blackout fade) so a replay defaults to the same;
        ``decoder`` is the decoder's numeric path (``Decoder.describe()``), for the record."""
        path = Path(path)
        header: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "model_id": model_id, "seed": state.seed,
            "preset": preset_name, "created": datetime.now().isoformat(timespec="seconds"),
        }
        extra = {"backend": backend, "size": None if size is None else list(size), "fit": fit,
                 "fps": fps, "look_visibility": look_visibility, "decoder": decoder}
        header.update({k: v for k, v in extra.items() if v is not None})
        header["state"] = state_to_json(state)
        f = open(path, "w", encoding="utf-8", buffering=1 << 16)
        try:
            f.write(_ENCODE(header) + "\n")
            f.flush()
        except BaseException:
            f.close()
            raise
        return cls(f, path, flush_seconds)

    def frame(self, t: float, dt: float, commands: Iterable[C.Command]) -> None:
        """Log one ``engine.step(state, commands, dt)``; ``t`` is the frame's time in seconds.

        Only engine commands are stored (the engine ignores the others).
        """
        cmds = ",".join(_ENCODE(c.to_json()) for c in commands if isinstance(c, C.EngineCommand))
        self._f.write(f'{{"t":{_ENCODE(float(t))},"dt":{_ENCODE(float(dt))},"cmds":[{cmds}]}}\n')
        self.frames += 1
        now = time.monotonic()
        if now >= self._next_flush:
            self._next_flush = now + self.flush_seconds
            self._f.flush()

    def decoder(self, description: Mapping[str, Any]) -> None:
        """Log a switch of decoding engine (``Decoder.describe()``) before the next frame, so a
        log says which engine decoded which frames; a replay ignores it."""
        self._f.write(_ENCODE({"decoder": dict(description)}) + "\n")

    def load_preset(self, name: str | None, params: Mapping[str, float],
                    slots: Mapping[int, Sequence[float]] | None = None,
                    keyframes: Sequence[Sequence[float]] | None = None,
                    holds: Sequence[float | None] = (),
                    directions: Directions | None = None,
                    direction_values: Mapping[str, DirectionValue] | None = None) -> None:
        """Log an ``engine.with_preset(state, space, params, slots, keyframes, holds,
        directions, direction_values)`` that succeeded; a replay applies it before the next
        frame's step."""
        d: dict[str, Any] = {
            "name": name, "params": dict(params),
            "slots": {str(k): list(v) for k, v in (slots or {}).items()},
            "keyframes": None if keyframes is None else [list(k) for k in keyframes],
            "holds": list(holds)}
        if directions is not None and len(directions):
            d["directions"] = directions.to_json()
        if direction_values:
            d["direction_values"] = {k: [v.offset, v.pin] for k, v in direction_values.items()}
        self._f.write(_ENCODE({"preset": d}) + "\n")

    def model_switch(self, model_id: str, ref: str, state: engine.State) -> None:
        """Log that the show switched to model ``model_id`` (``ref``: its file) with ``state``
        before the next frame. A replay refuses such a log in one line (``read_log``): it
        renders one model."""
        self._f.write(_ENCODE({"model": {"model_id": model_id, "ref": ref,
                                         "state": state_to_json(state)}}) + "\n")

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        """Flush, sync to disk and close. Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
        finally:
            self._f.close()

    def __enter__(self) -> ControlLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- reading -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PresetLoad:
    """A preset loaded during the performance: the arguments of ``engine.with_preset``."""

    name: str | None
    params: Mapping[str, float]
    slots: Mapping[int, tuple[float, ...]]
    keyframes: tuple[tuple[float, ...], ...] | None
    holds: tuple[float | None, ...] = ()
    directions: list[dict[str, Any]] | None = None     # ``Directions.to_json``
    direction_values: Mapping[str, DirectionValue] | None = None

    def apply(self, state: engine.State, space: LatentSpace) -> engine.State:
        table = None
        if self.directions is not None:
            try:
                table = Directions.from_json(self.directions, space.dim)
            except DirectionError as e:
                raise ValueError(f"preset {self.name}: {e}") from None
        return engine.with_preset(state, space, self.params, dict(self.slots),
                                  None if self.keyframes is None else list(self.keyframes),
                                  self.holds, table, self.direction_values)


@dataclass(frozen=True)
class LogFrame:
    t: float
    dt: float
    commands: tuple[C.Command, ...]
    preset: PresetLoad | None = None   # applied before this frame's step


@dataclass(frozen=True)
class ControlLogData:
    """A parsed control log. ``truncated``: the last line was cut off (a crash) and dropped."""

    path: Path
    header: Mapping[str, Any]
    frames: tuple[LogFrame, ...]
    truncated: bool = False
    decoders: tuple[tuple[int, Mapping[str, Any]], ...] = ()  # (first frame, decoder) switches

    @property
    def model_id(self) -> str:
        return self.header["model_id"]

    def opt(self, key: str) -> Any:
        """An optional header field (backend, size, fit, fps, look_visibility) or None."""
        return self.header.get(key)

    def check_model(self, model_id: str) -> None:
        if self.model_id != model_id:
            raise ControlLogError(
                f"control log {self.path} was recorded with model {self.model_id}, but the "
                f"model in use is {model_id}; pass {which_model(self.model_id)}")

    def initial_state(self, space: LatentSpace) -> engine.State:
        try:
            return state_from_json(self.header["state"], space)
        except ValueError as e:
            raise ControlLogError(f"control log {self.path}, line 1: {e}") from None


def _number(d: Mapping[str, Any], key: str) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{key!r} is missing or not a number")
    return float(v)


def _preset_line(d: Any) -> PresetLoad:
    if not isinstance(d, dict) or not isinstance(d.get("params"), dict):
        raise ValueError("preset entry needs a 'params' table")
    slots = d.get("slots") or {}
    kf = d.get("keyframes")
    holds = d.get("holds") or []
    if not isinstance(slots, dict) or not (kf is None or isinstance(kf, list)) \
            or not isinstance(holds, list):
        raise ValueError("preset entry: 'slots' must be a table, 'keyframes' and 'holds' lists")
    dirs, values = d.get("directions"), d.get("direction_values") or {}
    if not (dirs is None or isinstance(dirs, list)) or not isinstance(values, dict):
        raise ValueError("preset entry: 'directions' must be a list, 'direction_values' a table")
    try:
        dv = {str(k): DirectionValue(float(v[0]), None if v[1] is None else float(v[1]))
              for k, v in values.items()}
        return PresetLoad(d.get("name"), MappingProxyType(dict(d["params"])),
                          MappingProxyType({int(k): tuple(v) for k, v in slots.items()}),
                          None if kf is None else tuple(tuple(k) for k in kf), tuple(holds),
                          dirs, MappingProxyType(dv))
    except (TypeError, ValueError, IndexError):
        raise ValueError("preset entry: slots, keyframes and direction values must be lists "
                         "of numbers") from None


def _frame_line(d: dict[str, Any], preset: PresetLoad | None) -> LogFrame:
    cmds = d.get("cmds", [])
    if not isinstance(cmds, list):
        raise ValueError("'cmds' is not a list")
    commands = []
    for i, c in enumerate(cmds):
        try:
            commands.append(C.from_json(c))
        except ValueError as e:
            raise ValueError(f"command {i + 1}: {str(e)[:120]}") from None
    return LogFrame(_number(d, "t"), _number(d, "dt"), tuple(commands), preset)


def _header(d: Any) -> dict[str, Any]:
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ValueError("not a latentsketch control log (no header)")
    if d.get("version") is None:
        raise ValueError("the header has no version: not a control log latentsketch wrote")
    if d.get("version") == 1:
        raise ValueError("version 1 was written before tours held each keyframe for its own "
                         "time, so it cannot replay exactly; keep the video recorded with it, "
                         "or record the performance again")
    if d.get("version") != VERSION:
        raise ValueError(f"version {d.get('version')!r} is not supported (this program reads "
                         f"version {VERSION}); update latentsketch to replay it")
    if not isinstance(d.get("model_id"), str) or not isinstance(d.get("state"), dict):
        raise ValueError("header lacks model_id or state")
    return d


def read_log(path: str | os.PathLike[str], model_id: str | None = None) -> ControlLogData:
    """Parse a control log; ControlLogError names the file and line of anything malformed.

    With ``model_id``, a log recorded with another model is refused.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ControlLogError(f"control log {path}: cannot read it: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ControlLogError(f"control log {path}: not UTF-8 text") from None
    lines = text.split("\n")
    ended = lines[-1] == ""
    if ended:
        lines.pop()
    if not lines:
        raise ControlLogError(f"control log {path}: empty file")
    header: dict[str, Any] = {}
    frames: list[LogFrame] = []
    pending: PresetLoad | None = None
    decoders: list[tuple[int, Mapping[str, Any]]] = []
    truncated = False
    for n, line in enumerate(lines, 1):
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            if n == len(lines) and not ended and n > 1:
                truncated = True   # the process died mid-line: keep everything before it
                break
            raise ControlLogError(f"control log {path}, line {n}: not JSON ({e.msg})") from None
        try:
            if n == 1:
                header = _header(d)
            elif not isinstance(d, dict):
                raise ValueError("not a JSON object")
            elif "preset" in d:
                pending = _preset_line(d["preset"])
            elif "model" in d:
                new = d["model"].get("model_id") if isinstance(d["model"], dict) else None
                at = frames[-1].t if frames else 0.0
                raise ValueError(f"the show switched to model {new} at {at:.2f} s; a replay "
                                 f"renders one model, so it cannot reproduce this log (the "
                                 f"recording made beside it is the record)")
            elif "decoder" in d:
                if not isinstance(d["decoder"], dict):
                    raise ValueError("decoder is not an object")
                decoders.append((len(frames), MappingProxyType(d["decoder"])))
            else:
                frames.append(_frame_line(d, pending))
                pending = None
        except ValueError as e:
            raise ControlLogError(f"control log {path}, line {n}: {e}") from None
    data = ControlLogData(path, MappingProxyType(header), tuple(frames), truncated,
                          tuple(decoders))
    if model_id is not None:
        data.check_model(model_id)
    return data
