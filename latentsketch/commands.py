"""The engine's vocabulary: small immutable commands that every input produces.

Keyboard, mouse, OSC, MIDI, presets and control logs all speak this language, so the loop has
one place to apply them and a log of them replays a performance. Latent dimensions here are
indexed by KL rank (0 = the dimension that carries most); the engine maps ranks to the
checkpoint's raw order. Directions (``latent.directions``) are named: ``pc0``... or an
attribute's name.

Two families: ``EngineCommand`` changes ``State`` inside ``engine.step`` (and is what a control
log stores); ``AppCommand`` acts on the program around the engine (recording, window, presets).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Command:
    kind: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return {"cmd": self.kind, **d}


@dataclass(frozen=True)
class EngineCommand(Command):
    pass


@dataclass(frozen=True)
class AppCommand(Command):
    pass


# --- engine commands -------------------------------------------------------------------------

@dataclass(frozen=True)
class SetParam(EngineCommand):
    """Set a declared parameter (see params.PARAMS); the engine validates and clamps."""

    kind: ClassVar[str] = "set_param"
    name: str
    value: float


@dataclass(frozen=True)
class NudgeParam(EngineCommand):
    """Add to a parameter, clamped to its range (keys, wheel, endless encoders)."""

    kind: ClassVar[str] = "nudge_param"
    name: str
    delta: float


@dataclass(frozen=True)
class CycleMode(EngineCommand):
    kind: ClassVar[str] = "cycle_mode"
    step: int = 1


@dataclass(frozen=True)
class SetDim(EngineCommand):
    """Pin dimension ``index`` (KL rank) at ``value`` prior standard deviations."""

    kind: ClassVar[str] = "set_dim"
    index: int
    value: float


@dataclass(frozen=True)
class OffsetDim(EngineCommand):
    """Add ``value`` (standard deviations) to dimension ``index`` on top of the walk."""

    kind: ClassVar[str] = "offset_dim"
    index: int
    value: float


@dataclass(frozen=True)
class NudgeDim(EngineCommand):
    """Push dimension ``index`` by ``delta`` std; pinned dims move their pin, free ones the walk."""

    kind: ClassVar[str] = "nudge_dim"
    index: int
    delta: float


@dataclass(frozen=True)
class ReleaseDim(EngineCommand):
    """Unpin dimension ``index``; ``None`` releases every pinned dimension."""

    kind: ClassVar[str] = "release_dim"
    index: int | None = None


@dataclass(frozen=True)
class SetVector(EngineCommand):
    """Pin leading dimensions (KL-rank order) at once, e.g. ``/latentsketch/z f f f``."""

    kind: ClassVar[str] = "set_vector"
    values: tuple[float, ...]


@dataclass(frozen=True)
class GotoPoint(EngineCommand):
    """Glide the walk to a point given in raw (stored) order, standardised coordinates."""

    kind: ClassVar[str] = "goto_point"
    u: tuple[float, ...]


@dataclass(frozen=True)
class SetTour(EngineCommand):
    """Tour ``points`` (each raw order, standardised) in the order given, from the first,
    looping, holding ``walk.dwell`` on each: pictures dropped on the window. The points are
    what a control log keeps, so a replay needs no picture files."""

    kind: ClassVar[str] = "set_tour"
    points: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class FollowPoint(EngineCommand):
    """Steer the walk to a point (raw order, standardised) as a live source does (the
    camera): like ``GotoPoint``, but pins and offsets stay, so knobs keep their hold."""

    kind: ClassVar[str] = "follow_point"
    u: tuple[float, ...]


@dataclass(frozen=True)
class StoreSlot(EngineCommand):
    kind: ClassVar[str] = "store_slot"
    slot: int


@dataclass(frozen=True)
class RecallSlot(EngineCommand):
    kind: ClassVar[str] = "recall_slot"
    slot: int


@dataclass(frozen=True)
class SetDirection(EngineCommand):
    """Pin principal direction ``name`` (``pc0``...) at ``value`` standard deviations of the
    data along it, while the walk moves the rest; attribute directions cannot be pinned."""

    kind: ClassVar[str] = "set_direction"
    name: str
    value: float


@dataclass(frozen=True)
class OffsetDirection(EngineCommand):
    """Add ``value`` standard deviations along direction ``name`` on top of the walk."""

    kind: ClassVar[str] = "offset_direction"
    name: str
    value: float


@dataclass(frozen=True)
class ReleaseDirection(EngineCommand):
    """Unpin direction ``name`` and drop its offset; ``None`` releases every direction."""

    kind: ClassVar[str] = "release_direction"
    name: str | None = None


@dataclass(frozen=True)
class SetTarget(EngineCommand):
    """Move the walk's centre to (x, y) std in the mouse's two dimensions (a click); with
    ``axes = "pcs"`` along the two principal directions of those numbers instead."""

    kind: ClassVar[str] = "set_target"
    x: float
    y: float
    axes: str = "dims"


@dataclass(frozen=True)
class NewTarget(EngineCommand):
    """Jump the walk to a fresh random target (next keyframe in a tour)."""

    kind: ClassVar[str] = "new_target"


@dataclass(frozen=True)
class Reset(EngineCommand):
    """Glide back to the origin of the data (the mean of the encoded set)."""

    kind: ClassVar[str] = "reset"


@dataclass(frozen=True)
class SetPause(EngineCommand):
    """``None`` toggles; pause freezes the walk's clock, direct edits still apply."""

    kind: ClassVar[str] = "set_pause"
    on: bool | None = None


@dataclass(frozen=True)
class SwitchScene(EngineCommand):
    """Switch to a scene (a preset's content, as ``engine.with_preset`` takes it) over
    ``fade`` seconds: continuous parameters ramp, the picture's jump fades out (``latent.fade``);
    ``fade = 0`` switches at once and the picture glides with ``walk.glide``.

    The preset's content travels in the command (vectors raw order, standardised), so a control
    log replays the switch without the preset file. ``params`` are (name, value) pairs (enum
    values as indices); ``slots`` (slot 1..9, u); ``keyframes`` None keeps the tour, () clears
    it; ``directions`` (name, kind, scale, u); ``direction_values`` (name, offset, pin or None).
    """

    kind: ClassVar[str] = "switch_scene"
    name: str = ""
    fade: float = 0.0
    params: tuple[tuple[str, float], ...] = ()
    slots: tuple[tuple[int, tuple[float, ...]], ...] = ()
    keyframes: tuple[tuple[float, ...], ...] | None = None
    holds: tuple[float | None, ...] = ()
    directions: tuple[tuple[str, str, float, tuple[float, ...]], ...] = ()
    direction_values: tuple[tuple[str, float, float | None], ...] = ()


# --- app commands ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Record(AppCommand):
    """``None`` toggles recording."""

    kind: ClassVar[str] = "record"
    on: bool | None = None


@dataclass(frozen=True)
class Snapshot(AppCommand):
    kind: ClassVar[str] = "snapshot"


@dataclass(frozen=True)
class LoadPreset(AppCommand):
    """A preset by name, looked up only in the preset folders (``preset_name`` says which
    names are allowed)."""

    kind: ClassVar[str] = "load_preset"
    name: str
    fade: float | None = None   # seconds; None: the preset's [scene] fade


PRESET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_. -]{0,63}")
"""A preset's file name without ``.toml``: no ``/``, ``\\`` or ``..``, so it stays in its folder."""


def preset_name(name: str) -> str:
    """A preset name as sent over OSC or typed on the command line, without ``.toml``.

    Here rather than in ``preset`` so the OSC layer can refuse a bad name where it arrives
    (counted, with its sender) without importing the preset package; ValueError, one line.
    """
    stem = name[:-5] if name.endswith(".toml") else name
    if ".." in stem or not PRESET_NAME.fullmatch(stem):
        raise ValueError(f"preset name {name[:80]!r} is not a plain name (letters, digits, "
                         "'_', '-', '.', spaces; no '/' or '..')")
    return stem


@dataclass(frozen=True)
class SavePreset(AppCommand):
    """Save the state as a new preset; ``over``: over the current one (a bundled one: a copy
    in the user's folder), keeping its comments."""

    kind: ClassVar[str] = "save_preset"
    over: bool = False


@dataclass(frozen=True)
class StepPreset(AppCommand):
    """Switch to the next (``step`` 1) or previous (-1) preset in the preset folders, by name,
    with the preset's own fade."""

    kind: ClassVar[str] = "step_preset"
    step: int = 1


@dataclass(frozen=True)
class ToggleFullscreen(AppCommand):
    kind: ClassVar[str] = "fullscreen"


@dataclass(frozen=True)
class ToggleHud(AppCommand):
    kind: ClassVar[str] = "hud"


@dataclass(frozen=True)
class ToggleHelp(AppCommand):
    kind: ClassVar[str] = "help"


@dataclass(frozen=True)
class TogglePalette(AppCommand):
    """Show (True) or hide (False) the latent palette over the picture; ``None`` toggles."""

    kind: ClassVar[str] = "palette"
    on: bool | None = None


@dataclass(frozen=True)
class CycleFit(AppCommand):
    """fit -> fill -> stretch."""

    kind: ClassVar[str] = "fit"


@dataclass(frozen=True)
class MidiLearn(AppCommand):
    """Arm MIDI learn for ``target`` (a parameter name or ``z/<i>``); ``None`` cancels."""

    kind: ClassVar[str] = "midi_learn"
    target: str | None = None


@dataclass(frozen=True)
class ArmLearn(AppCommand):
    """Arm learn for the target the performer changed last (press again to cancel)."""

    kind: ClassVar[str] = "arm_learn"


@dataclass(frozen=True)
class ShowDropped(AppCommand):
    """Show the last dropped pictures beside the model's versions of them, for a moment."""

    kind: ClassVar[str] = "show_dropped"


@dataclass(frozen=True)
class Quit(AppCommand):
    kind: ClassVar[str] = "quit"


_ALL: dict[str, type[Command]] = {
    c.kind: c
    for c in (
        SetParam, NudgeParam, CycleMode, SetDim, OffsetDim, NudgeDim, ReleaseDim, SetVector,
        SetDirection, OffsetDirection, ReleaseDirection, GotoPoint, SetTour, StoreSlot,
        RecallSlot, SetTarget, NewTarget, Reset, SetPause, Record, Snapshot, LoadPreset,
        SavePreset, ToggleFullscreen, ToggleHud, ToggleHelp, CycleFit, MidiLearn, ArmLearn,
        ShowDropped, Quit, FollowPoint, TogglePalette, SwitchScene, StepPreset,
    )
}


def _tuples(v: Any) -> Any:
    """JSON lists back to the tuples commands hold (nested: a tour's points)."""
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def from_json(d: dict[str, Any]) -> Command:
    """Rebuild a command from ``Command.to_json`` output; ValueError on anything malformed."""
    try:
        cls = _ALL[d["cmd"]]
    except (KeyError, TypeError):
        raise ValueError(f"unknown command {d!r}") from None
    kwargs = {}
    for f in fields(cls):
        if f.name in d:
            v = d[f.name]
            kwargs[f.name] = _tuples(v)
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ValueError(f"bad command {d!r}: {e}") from None
