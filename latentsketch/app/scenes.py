"""The scenes a show starts from, goes to and keeps: presets, and the points pictures stand for.

Functions of values: each returns the new preset, state or command, or raises its one-line
error, and leaves messages, the HUD and the control log to the loop, so a failed load or save
changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from latentsketch import commands as C
from latentsketch import engine
from latentsketch import preset as presets
from latentsketch.latent.directions import DirectionValue
from latentsketch.latent.space import LatentSpace
from latentsketch.mapping import ControlMapping
from latentsketch.model.checkpoint import LoadedModel
from latentsketch.output.image_points import image_points
from latentsketch.output.paths import OutputDir, removed_on_failure
from latentsketch.output.snapshot import SnapshotError


def tour(p: presets.Preset) -> tuple[list[tuple[float, ...]] | None, list[float | None]]:
    """A preset's keyframes (``None`` without any: the walk is not a tour) and their holds."""
    return [k.u for k in p.keyframes] or None, [k.hold for k in p.keyframes]


def start_state(p: presets.Preset, space: LatentSpace, seed: int | None) -> engine.State:
    """The state a session starts in: ``seed`` (``--seed``), else the preset's, else a fresh
    random one, so two shows differ unless someone asks for the same."""
    if seed is None:
        seed = p.seed if p.seed is not None else int.from_bytes(os.urandom(4), "little")
    keyframes, holds = tour(p)
    try:
        return engine.State.initial(space, seed, p.params, dict(p.slots), keyframes, holds,
                                    directions=p.directions, direction_values=p.direction_values)
    except ValueError as e:   # a direction the model does not have
        raise presets.PresetError(f"preset {p.source}: {e}") from None


def load_preset(name: str, state: engine.State, space: LatentSpace,
                model_id: str) -> tuple[presets.Preset, engine.State]:
    """Preset ``name`` and ``state`` under it (the walk goes on from where it is); raises
    PresetError or ValueError for a preset that is missing, broken or of another model."""
    p = presets.load(name)
    p.check_model(model_id, space.dim)
    keyframes, holds = tour(p)
    return p, engine.with_preset(state, space, p.params, dict(p.slots), keyframes, holds,
                                 p.directions, p.direction_values)


def next_preset(current: str, step: int) -> str:
    """The preset ``step`` places after ``current`` among the preset folders' names (sorted,
    wrapping round); ``current`` itself if it is the only one."""
    names = presets.available()
    if not names:
        return current
    if current not in names:
        return names[0] if step > 0 else names[-1]
    return names[(names.index(current) + step) % len(names)]


def fade_of(p: presets.Preset, fade: float | None = None) -> float:
    """How long a switch to ``p`` fades: ``fade`` (the caller's), else the preset's
    ``[scene] fade``, else ``preset.DEFAULT_FADE`` seconds."""
    if fade is not None:
        return float(fade)
    if p.scene is not None and p.scene.fade is not None:
        return p.scene.fade
    return presets.DEFAULT_FADE


def switch_command(p: presets.Preset, fade: float | None = None) -> C.SwitchScene:
    """The engine command that switches to preset ``p`` over ``fade_of(p, fade)`` seconds,
    carrying the preset's content (so a control log replays it without the file)."""
    keyframes, holds = tour(p)
    d = p.directions
    return C.SwitchScene(
        name=p.name, fade=fade_of(p, fade),
        params=tuple((k, float(v)) for k, v in p.params.items()),
        slots=tuple((i, tuple(u)) for i, u in sorted(p.slots.items())),
        keyframes=None if keyframes is None else tuple(tuple(k) for k in keyframes),
        holds=tuple(holds),
        directions=tuple((n, kind, float(sc), tuple(float(x) for x in u))
                         for n, kind, sc, u in zip(d.names, d.kinds, d.scale, d.unit,
                                                   strict=True)),
        direction_values=tuple((n, float(v.offset), None if v.pin is None else float(v.pin))
                               for n, v in p.direction_values.items()))


def save_preset(current: presets.Preset, state: engine.State, model_id: str,
                mappings: tuple[ControlMapping, ...],
                display: presets.DisplaySettings | None = None,
                over: bool = False) -> tuple[presets.Preset, Path]:
    """Save ``state`` as a new preset in the user's preset folder (``--preset NAME`` and OSC
    ``/latentsketch/preset`` look there), named after ``current`` plus a time stamp; the
    file's ``name`` is that name. ``display`` is the window as it is now (fit, fullscreen,
    HUD), so the preset loads back to what was on screen. Raises OSError or ValueError and
    leaves no file.

    ``over``: save over ``current`` instead, in its own file (``preset.over_path``: a bundled
    preset's goes to a copy in the user's folder), keeping its name, its comments and its
    layout (``preset.save_over``).
    """
    if over:
        path = presets.over_path(current)
        p = _saved(current, state, model_id, mappings, display, current.name, path)
        return p, presets.save_over(p, path, template=current.source)
    folder = OutputDir(presets.user_dir(), presets.saved_name_prefix(current.name),
                       label="preset folder")
    path = folder.reserve(".toml")
    p = _saved(current, state, model_id, mappings, display, path.stem, path)
    with removed_on_failure(path):
        p.save(path)
    return p, path


def _saved(current: presets.Preset, state: engine.State, model_id: str,
           mappings: tuple[ControlMapping, ...], display: presets.DisplaySettings | None,
           name: str, path: Path) -> presets.Preset:
    """``current`` updated to what plays now, named ``name``, from ``path``."""
    params = {**state.params, **(state.fade.end if state.fade is not None else {})}
    return replace(current, name=name, source=str(path), params=params,   # a fade's targets
                   seed=state.seed, model=model_id, mappings=mappings,
                   display=display if display is not None else current.display,
                   slots={i + 1: tuple(float(x) for x in s)
                          for i, s in enumerate(state.slots) if s is not None},
                   **preset_directions(state))


def preset_directions(state: engine.State) -> dict[str, Any]:
    """The directions a preset saved now holds: the value of each direction that is offset or
    pinned, and the attribute directions among them (so the preset carries them along)."""
    d = state.directions
    active = [k for k in range(len(d)) if state.dir_offset[k] != 0.0 or state.dir_pinned[k]]
    values = {d.names[k]: DirectionValue(float(state.dir_offset[k]),
                                         float(state.dir_pin[k]) if state.dir_pinned[k] else None)
              for k in active}
    return {"directions": d.select(k for k in active if d.kinds[k] == "attribute"),
            "direction_values": values}


def picture_point(path: Path, model: LoadedModel) -> C.GotoPoint:
    """The point a picture stands for (``--start-from``): a snapshot's stored point, any other
    image encoded; SnapshotError (one line naming the file) if it cannot be used."""
    if path.is_dir():
        raise SnapshotError(f"{path}: a folder; start from one picture")
    (point,) = image_points(model, [path])
    return C.GotoPoint(point.u(model))
