"""What the loop reports: the HUD's figures, OSC feedback, the parameters a frame changed, and
the target learn binds to.

Functions of one frame's values, so they are the same whoever calls them; the loop draws and
sends what they return.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.control.osc import OscUnavailable
from latentsketch.control.osc_out import Feedback, OscFeedback, parse_host_port
from latentsketch.latent.directions import PC_NAME
from latentsketch.latent.space import LatentSpace
from latentsketch.output.hud import HudInfo
from latentsketch.output.recorder import RecorderStatus
from latentsketch.output.session import Say


def age(seen: float | None, now: float) -> float:
    """Seconds since an input last spoke (the HUD's activity light); never spoken: infinite."""
    return math.inf if seen is None else now - seen


def hud_info(state: engine.State, space: LatentSpace, rec: RecorderStatus, decode_ms: float,
             osc_age: float | None, midi_age: float | None, status: str) -> HudInfo:
    """The HUD's figures for this frame; an age is ``None`` for an input that is not open."""
    ranked = engine.ranked_u(state, space)
    pinned = frozenset(k for k in range(space.dim) if state.pinned[space.raw_index(k)])
    return HudInfo(
        decode_ms=decode_ms, mode=state.mode, speed=state.params["walk.speed"],
        temperature=state.params["walk.temperature"], dims=tuple(ranked.tolist()),
        pinned=pinned, paused=state.paused, recording=rec.recording, rec_seconds=rec.elapsed,
        rec_dropped=rec.frames_dropped, rec_queued=rec.frames_queued,
        osc_age=osc_age, midi_age=midi_age, status=status, directions=directions_line(state),
    )


def directions_line(state: engine.State, most: int = 4) -> str:
    """The directions in use, for the HUD: ``pc0 pin +1.50  round +0.80`` (at most ``most``)."""
    used = np.flatnonzero(state.dir_pinned | (state.dir_offset != 0.0)).tolist()
    parts = [f"{state.directions.names[k]} pin {state.dir_pin[k]:+.2f}" if state.dir_pinned[k]
             else f"{state.directions.names[k]} {state.dir_offset[k]:+.2f}" for k in used[:most]]
    return "  ".join(parts) + ("  ..." if len(used) > most else "")


def open_feedback(target: str, say: Say) -> OscFeedback | None:
    """The OSC feedback sender for ``--osc-out HOST:PORT``; a bad address or a socket that
    will not open is one message, and the show plays without feedback."""
    try:
        host, port = parse_host_port(target)
        return OscFeedback(host, port)
    except (ValueError, OscUnavailable) as e:
        say(str(e), error=True)
        return None


def feedback(state: engine.State, space: LatentSpace, recording: bool, preset: str,
             dt: float) -> Feedback:
    """What a controller shows of the loop: the top eight dimensions in rank order, the
    parameters, the directions (``direction_feedback``) and the fps of this frame's ``dt``."""
    ranked = engine.ranked_u(state, space)
    return Feedback(z=tuple(float(v) for v in ranked[:8]), params=state.params,
                    paused=state.paused, recording=recording, preset=preset,
                    fps=(1.0 / dt) if dt > 0 else 0.0,
                    directions=direction_feedback(state))


def direction_feedback(state: engine.State, top: int = 8) -> tuple[tuple[str, float], ...]:
    """(address tail, value) for OSC feedback: for the first ``top`` principal directions, the
    picture's place along each (u . unit / scale, in std of the data's projection; a pinned one
    shows its pin); for each attribute direction, its offset (they only offset)."""
    d = state.directions
    if d is None or len(d) == 0:
        return ()
    u = engine.output_u(state).astype(np.float64)
    out: list[tuple[str, float]] = []
    pcs = 0
    for k, (name, kind) in enumerate(zip(d.names, d.kinds, strict=True)):
        if kind == "pc" and pcs < top:
            pcs += 1
            out.append((f"pc/{name[2:]}", float(u @ d.unit[k]) / float(d.scale[k])))
        elif kind == "attribute":
            out.append((f"dir/{name}", float(state.dir_offset[k])))
    return tuple(out)


def changed_params(params: Mapping[str, float], before: Mapping[str, float],
                   local: Sequence[C.Command]) -> list[tuple[str, float]]:
    """Every parameter this frame changed, whatever input changed it (keys, wheel, MIDI, OSC,
    mappings), with its new value; a key or the wheel (``local``) also gives the value it
    could not change (at the end of the range), so a press never goes unanswered. A sender
    repeating the current value (TouchDesigner cooks every frame) gives nothing."""
    names = [n for n, v in params.items() if before.get(n) != v]
    for c in local:
        name = "walk.mode" if isinstance(c, C.CycleMode) else (
            c.name if isinstance(c, C.SetParam | C.NudgeParam) else None)
        if name in params and name not in names:
            names.append(name)
    return [(n, params[n]) for n in names]


def learn_target(c: C.Command, current: str) -> str:
    """What the performer changed last, the target learn binds to: a parameter, a dimension or
    a direction ``c`` sets or nudges (not the mouse's own), else ``current``."""
    if isinstance(c, C.SetParam | C.NudgeParam) and not c.name.startswith("mouse."):
        return c.name
    if isinstance(c, C.SetDim | C.NudgeDim | C.OffsetDim) and isinstance(c.index, int):
        return f"z/{c.index}"
    if isinstance(c, C.SetDirection | C.OffsetDirection) and isinstance(c.name, str):
        pc = isinstance(c, C.SetDirection) and PC_NAME.fullmatch(c.name)
        return f"pc/{c.name[2:]}" if pc else f"dir/{c.name}"
    return current
