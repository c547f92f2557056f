"""TOML presets: parameters, mappings, slots, keyframes and display settings of a performance.

The fields of ``[walk]``, ``[look]``... come from ``params.PARAMS`` (one declaration drives them),
so adding a parameter adds a preset field. Every value is validated on load and a problem is
reported in one line naming the file and the key::

    preset presets/live.toml: walk.speed = -2 is out of range 0..10

A ``[directions.<name>]`` table sets a direction (``latent.directions``) in standard deviations
of the data along it: ``offset = 1.5`` and, for principal directions (``pc0``...), ``pin = -1``.
With ``u = [...]`` (raw order, the preset's ``model``) and ``scale`` it also carries an
attribute direction of its own, so a preset brings its directions to another machine.

Presets are read with ``tomllib`` and written with ``tomlkit``; a preset written by the program
loads back equal. Named presets are looked up only in the preset folders (the user's folder,
``user_dir()``, then the bundled ones shipped as package ``latentsketch.presets``); a name is a
plain file name without ``/``, ``\\`` or ``..``, so a name arriving over OSC cannot reach other
files. Presets saved from the window go to the user's folder, so ``--preset NAME`` finds them.

This module is ``preset`` (singular) because ``latentsketch.presets`` is the package of bundled
``.toml`` files: a ``presets.py`` module would collide with it.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Table

from latentsketch import bundled
from latentsketch.commands import PRESET_NAME, preset_name
from latentsketch.engine import SLOTS
from latentsketch.errors import UserError, os_error_line
from latentsketch.latent.directions import (
    PC_NAME,
    DirectionError,
    Directions,
    DirectionValue,
)
from latentsketch.latent.directions import check_name as check_direction_name
from latentsketch.latent.fade import DEFAULT_FADE as DEFAULT_FADE  # re-exported: the API
from latentsketch.latent.fade import MAX_FADE
from latentsketch.latent.space import LatentSpace
from latentsketch.mapping import ControlMapping, MappingError
from latentsketch.model import checkpoint
from latentsketch.model.checkpoint import CheckpointError
from latentsketch.params import DIR_LIMIT, FIT_MODES, PARAM_BY_NAME, PARAMS
from latentsketch.playlist import KioskSettings, parse_kiosk
from latentsketch.projection import Projection, ProjectionError
from latentsketch.tempfiles import temp_beside
from latentsketch.userdirs import config_dir

_SECTIONS = tuple(dict.fromkeys(p.section for p in PARAMS))
_MODEL_ID = re.compile(r"[0-9a-f]{12}")
_TOP = ("name", "description", "seed", "model", "slots", "keyframes", "mappings", "display",
        "midi", "directions", *_SECTIONS, "scene", "projection", "kiosk")
_DIRECTION_KEYS = ("u", "scale", "offset", "pin")


class PresetError(UserError, ValueError):
    """A preset that cannot be used; the message is one line naming the file and the key."""


def check_name(name: str) -> str:
    """A preset name as given over OSC or on the command line, without ``.toml``; or PresetError
    saying what a preset can be (a .toml file or a plain name)."""
    try:
        return preset_name(name)
    except ValueError:
        raise PresetError(f"preset {name[:80]!r} is neither a .toml file nor a plain name (a "
                          "preset's name: letters, digits, '_', '-', '.', spaces; no '/' or "
                          "'..'); give a preset file ending in .toml or a preset's name"
                          ) from None


def bundled_dir() -> Traversable:
    return bundled.folder("latentsketch.presets", "presets")


def user_dir() -> Path:
    """Where the user's own presets live: ``$XDG_CONFIG_HOME/latentsketch/presets`` (default
    ``~/.config/...``) on Linux, ``~/Library/Application Support/...`` on macOS,
    ``%APPDATA%\\latentsketch\\presets`` on Windows. Read at each call, never cached."""
    return config_dir() / "presets"


def search_path(folders: tuple[Path, ...] | None = None) -> tuple[Path | Traversable, ...]:
    """The preset folders in lookup order: ``folders`` (default: the user's folder), then the
    bundled presets."""
    return (*((user_dir(),) if folders is None else folders), bundled_dir())


def find(name: str, folders: tuple[Path, ...] | None = None) -> Traversable:
    """The file of preset ``name``: the first of ``folders`` (default: the user's folder) that
    has it, else the bundled one; PresetError if none has it."""
    stem = check_name(name)
    for folder in search_path(folders):
        candidate = folder / f"{stem}.toml"
        if candidate.is_file():
            return candidate
    known = ", ".join(available(folders)) or "none"
    raise PresetError(f"preset {stem!r} not found in the preset folders (available: {known})")


def available(folders: tuple[Path, ...] | None = None) -> list[str]:
    """Names of all presets in ``folders`` (default: the user's folder) and the bundled one."""
    names: set[str] = set()
    for folder in search_path(folders):
        try:
            if folder.is_dir():
                names.update(f.name[:-5] for f in folder.iterdir()
                             if f.name.endswith(".toml") and PRESET_NAME.fullmatch(f.name[:-5]))
        except OSError:  # an unreadable user folder hides its presets, nothing more
            continue
    return sorted(names)


def load(name: str, folders: tuple[Path, ...] | None = None) -> Preset:
    """Load a preset by name from the preset folders (never from an arbitrary path);
    ``folders`` defaults to the user's folder, searched before the bundled presets."""
    f = find(name, folders)
    return Preset.from_toml(_read(f, str(f)), source=str(f))


def load_option(name: str) -> Preset:
    """``--preset``'s value: a ``.toml`` file that exists (a path the person typed), else a
    name in the preset folders (``load``). Remote inputs (OSC ``/latentsketch/preset``) use
    ``load``, which never reads an arbitrary path."""
    p = Path(name)
    if p.suffix == ".toml" and p.is_file():
        return Preset.from_file(p)
    return load(name)


def _read(f: Traversable | Path, source: str) -> str:
    try:
        return f.read_bytes().decode("utf-8")
    except OSError as e:
        raise PresetError(f"preset {source}: cannot read it: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise PresetError(f"preset {source}: not UTF-8 text") from None


MAX_NAME = 200  # characters of a keyframe's name


@dataclass(frozen=True)
class Keyframe:
    """A point of a tour: ``u`` in the model's raw order (standardised), optional hold seconds
    and an optional name (``latentsketch encode --preset`` names each after its picture)."""

    u: tuple[float, ...]
    hold: float | None = None
    name: str | None = None

    @classmethod
    def from_z(cls, z: np.ndarray, space: LatentSpace, name: str | None = None,
               hold: float | None = None) -> Keyframe:
        """The keyframe at latent point ``z`` ((latent,), raw order) of the model of ``space``;
        ``u`` holds float32 values (``space.to_u``).

        Raises ValueError for a vector of another length or with NaN/inf.
        """
        z = np.asarray(z, np.float64)
        if z.shape != (space.dim,) or not np.all(np.isfinite(z)):
            raise ValueError(f"a latent point must be {space.dim} finite numbers, "
                             f"not {z.shape[0] if z.ndim == 1 else z.shape}")
        # float32's shortest repr: exact once read back as float32, and a file people can read
        return cls(tuple(float(str(v)) for v in space.to_u(z)), hold, name)

    def to_dict(self) -> dict[str, Any]:
        """The ``[[keyframes]]`` table: name (if any), u, hold (if any)."""
        return ({} if self.name is None else {"name": self.name}) | {"u": list(self.u)} | (
            {} if self.hold is None else {"hold": self.hold})


@dataclass(frozen=True)
class DisplaySettings:
    """Window settings; a preset without a ``[display]`` table leaves the window alone."""

    fit: str = "fit"
    fullscreen: bool = False
    borderless: bool = False
    hud: bool = False
    operator: bool = False   # a separate operator window (HUD, preview); this one stays clean


@dataclass(frozen=True)
class SceneSettings:
    """``[scene]``: how a switch to this preset goes. ``fade``: seconds over which parameters
    ramp and the picture crossfades (None: the switch's own, else ``DEFAULT_FADE``); ``model``:
    the model it plays, a bundled model's name (``shapes``, ``emoji``) or a path to a model
    (``~`` expanded; relative to the preset's folder), resolved by ``model_path``."""

    fade: float | None = None
    model: str | None = None


@dataclass(frozen=True)
class Preset:
    """A parsed, validated preset. ``params`` holds only the values the file sets, so a preset
    of mappings alone (a controller layout) changes no parameter when loaded."""

    name: str = "untitled"
    description: str = ""
    params: MappingProxyType[str, float] = field(default_factory=lambda: MappingProxyType({}))
    seed: int | None = None
    model: str | None = None
    slots: MappingProxyType[int, tuple[float, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    keyframes: tuple[Keyframe, ...] = ()
    mappings: tuple[ControlMapping, ...] = ()
    display: DisplaySettings | None = None
    midi_input: str | None = None
    directions: Directions = field(default_factory=Directions.empty)  # attribute directions
    direction_values: MappingProxyType[str, DirectionValue] = field(
        default_factory=lambda: MappingProxyType({}))
    scene: SceneSettings | None = None   # [scene]: fade time, model reference
    projection: Projection | None = None   # [projection]: the audience window's geometry
    source: str = field(default="<preset>", compare=False)
    kiosk: KioskSettings | None = None   # [kiosk]: play in installation mode (app.kiosk)

    def __post_init__(self) -> None:
        for k in ("params", "slots", "direction_values"):
            if not isinstance(getattr(self, k), MappingProxyType):
                object.__setattr__(self, k, MappingProxyType(dict(getattr(self, k))))

    # --- reading -------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> Preset:
        return cls.from_toml(_read(Path(path), str(path)), source=str(path))

    @classmethod
    def from_toml(cls, text: str, source: str = "<string>") -> Preset:
        """Parse and validate; raises PresetError naming ``source`` and the key."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise PresetError(f"preset {source}: {e}") from None
        try:
            return _parse(doc, source)
        except _KeyError as e:
            raise PresetError(f"preset {source}: {e}") from None

    # --- using ---------------------------------------------------------------------------------

    def values(self) -> dict[str, float]:
        """Every declared parameter: the preset's value, or the declared default."""
        return {p.name: self.params.get(p.name, float(p.default)) for p in PARAMS}

    def check_model(self, model_id: str, dim: int) -> None:
        """Refuse slots/keyframes stored for another model (raises PresetError)."""
        vectors = [*self.slots.values(), *(k.u for k in self.keyframes), *self.directions.unit]
        if not vectors:
            return
        if self.model != model_id:
            what = "slots and keyframes" if len(vectors) > len(self.directions) else "directions"
            raise PresetError(f"preset {self.source}: {what} belong to model "
                              f"{self.model}, the running model is {model_id}; pass "
                              f"{checkpoint.which_model(self.model)}")
        bad = next((len(v) for v in vectors if len(v) != dim), None)
        if bad is not None:
            raise PresetError(f"preset {self.source}: vectors have {bad} values, the model {dim}")

    # --- writing -------------------------------------------------------------------------------

    def to_toml(self) -> str:
        doc = tomlkit.document()
        doc.add(tomlkit.comment("latentsketch preset"))
        doc["name"] = self.name
        if self.description:
            doc["description"] = self.description
        if self.seed is not None:
            doc["seed"] = self.seed
        if self.model is not None:
            doc["model"] = self.model
        for section in _SECTIONS:
            table = tomlkit.table()
            for p in PARAMS:
                if p.section == section and p.name in self.params:
                    table[p.key] = _toml_value(p.name, self.params[p.name])
            if table:
                doc[section] = table
        d = self.display
        if d is not None:
            doc["display"] = {"fit": d.fit, "fullscreen": d.fullscreen,
                              "borderless": d.borderless, "hud": d.hud} | (
                                  {"operator": True} if d.operator else {})
        if self.midi_input is not None:
            doc["midi"] = {"input": self.midi_input}
        if self.slots:
            doc["slots"] = {str(k): list(v) for k, v in sorted(self.slots.items())}
        if self.keyframes:
            aot = tomlkit.aot()
            for k in self.keyframes:
                aot.append(tomlkit.item(k.to_dict()))
            doc["keyframes"] = aot
        if self.mappings:
            aot = tomlkit.aot()
            for m in self.mappings:
                aot.append(tomlkit.item(m.to_dict()))
            doc["mappings"] = aot
        dirs = self._direction_tables()
        if dirs:
            doc["directions"] = dirs
        if self.scene is not None:
            doc["scene"] = scene_table(self.scene)
        if self.projection is not None:
            pr = self.projection
            doc["projection"] = {"rotate": pr.rotate, "mirror": pr.mirror,
                                 "corners": [list(c) for c in pr.corners]}
        if self.kiosk is not None:
            doc["kiosk"] = self.kiosk.to_dict()
        return tomlkit.dumps(doc)

    def _direction_tables(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        d = self.directions
        for k, name in enumerate(d.names):
            out[name] = {"u": [float(x) for x in d.unit[k]], "scale": float(d.scale[k])}
        for name, v in self.direction_values.items():
            t = out.setdefault(name, {})
            if v.offset != 0.0:
                t["offset"] = float(v.offset)
            if v.pin is not None:
                t["pin"] = float(v.pin)
        return out

    def save(self, path: str | Path) -> Path:
        """Write atomically: a half-written preset never replaces a good one, and a failed
        write leaves no temporary file. Raises PresetError (one line naming ``path``)."""
        return _write_atomically(Path(path), self.to_toml())


def _write_atomically(path: Path, text: str) -> Path:
    """``text`` into ``path`` through a temporary file and a rename; PresetError on failure,
    with no temporary file left."""
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_beside(path, ".tmp")   # short and unique: any legal name saves
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
        raise PresetError(os_error_line(e, path, "save preset")) from None
    return path


# --- adding keyframes to a preset a person wrote ------------------------------------------------

def keyframes_file(option: str) -> Path:
    """``encode --preset``'s value -> the file to add keyframes to: a ``.toml`` path as given
    (it may not exist yet), else the user preset of that name (``user_dir()/NAME.toml``).

    Raises PresetError for a bad name, and for a bundled preset's name that has no user copy
    (the bundled files are part of the installed program).
    """
    if option.endswith(".toml"):
        return Path(option).expanduser()
    stem = check_name(option)
    path = user_dir() / f"{stem}.toml"
    if not path.exists() and (bundled_dir() / f"{stem}.toml").is_file():
        raise PresetError(f"preset {stem!r} is bundled with latentsketch and is not edited; "
                          f"give a new name or a .toml file")
    return path


def unique_names(taken: Iterable[str | None], names: Sequence[str]) -> list[str]:
    """``names`` made unique among themselves and ``taken``: a repeated ``photo`` becomes
    ``photo-2``, then ``photo-3`` (the first free number)."""
    used = {t for t in taken if t is not None}
    out: list[str] = []
    for name in names:
        new, k = name, 1
        while new in used:
            k += 1
            new = f"{name}-{k}"
        used.add(new)
        out.append(new)
    return out


def append_keyframes(path: str | Path, model_id: str, dim: int,
                     keyframes: tuple[Keyframe, ...] | list[Keyframe]) -> Path:
    """Add ``keyframes`` (of model ``model_id``, ``dim`` values each) at the end of the preset
    at ``path``, keeping everything else in the file as written (comments, order, layout: the
    file is edited through ``tomlkit.parse``); a new preset if there is no file.

    The file is checked first and written atomically (a failure leaves it as it was). Raises
    PresetError (one line naming the file) for a broken preset, one made for another model
    or another latent size, or a file that cannot be written.
    """
    path = Path(path)
    if path.exists():
        text = _read(path, str(path))
    else:
        new_doc = tomlkit.document()
        new_doc.add(tomlkit.comment("latentsketch preset: keyframes from latentsketch encode"))
        new_doc["name"] = path.stem
        text = tomlkit.dumps(new_doc)
    current = Preset.from_toml(text, str(path))
    if current.model is not None and current.model != model_id:
        raise PresetError(f"preset {path}: made for model {current.model}, these keyframes "
                          f"are of model {model_id}; give another preset, or pass "
                          f"{checkpoint.which_model(current.model)}")
    bad = next((len(k.u) for k in keyframes if len(k.u) != dim), None)
    if bad is not None:
        raise ValueError(f"keyframes of {bad} values for a model of {dim}")
    current.check_model(model_id, dim)
    if not keyframes:
        return path
    doc = tomlkit.parse(text)
    if "model" not in doc:
        doc["model"] = model_id
    tables = [tomlkit.item(k.to_dict()) for k in keyframes]
    existing = doc.get("keyframes")
    if existing is None:
        aot = tomlkit.aot()
        for t in tables:
            aot.append(t)
        doc["keyframes"] = aot
    elif isinstance(existing, AoT):
        for t in tables:
            existing.append(t)
    else:  # keyframes = [ {u = [...]}, ... ] written inline
        for k in keyframes:
            inline = tomlkit.inline_table()
            inline.update(k.to_dict())
            existing.append(inline)
    new = tomlkit.dumps(doc)
    Preset.from_toml(new, str(path))   # what is written always loads
    return _write_atomically(path, new)


def model_path(p: Preset) -> Path | None:
    """The weights file preset ``p``'s ``[scene] model`` names, or None when it names none: a
    bundled model's name, else a path (``~`` expanded; a relative one is taken from the
    preset's folder, then from the current folder). Raises PresetError (one line) when no
    model is there."""
    ref = p.scene.model if p.scene is not None else None
    if ref is None:
        return None
    candidates = [ref]
    here = Path(p.source).parent
    if ref not in checkpoint.BUNDLED and not Path(ref).expanduser().is_absolute() \
            and Path(p.source).suffix == ".toml":
        candidates.insert(0, str(here / ref))
    for c in candidates:
        try:
            return checkpoint.resolve(c).resolve()
        except CheckpointError as e:
            error = e
    raise PresetError(f"preset {p.source}: scene.model = {ref!r}: {error}")


# --- saving over a preset a person wrote -----------------------------------------------------

def is_bundled(source: str | Path) -> bool:
    """Whether ``source`` is one of the bundled preset files (part of the installed program)."""
    try:
        return Path(source).resolve().parent == Path(str(bundled_dir())).resolve()
    except (OSError, ValueError):
        return False


def over_path(p: Preset) -> Path:
    """Where saving over ``p`` writes: its own file, unless it is bundled (or has no file):
    then ``user_dir()/<file name>``, a copy that ``--preset NAME`` finds first."""
    source = Path(p.source)
    if source.suffix == ".toml" and not is_bundled(source):
        return source
    stem = source.stem if source.suffix == ".toml" else saved_name_prefix(p.name)
    return user_dir() / f"{stem}.toml"


def save_over(p: Preset, path: str | Path, template: str | Path | None = None) -> Path:
    """Write ``p`` to ``path`` keeping the comments, order and layout of the file there (or
    of ``template``, the file ``p`` came from: a bundled preset copied to the user's folder):
    the old text is edited through ``tomlkit.parse``, key by key, and only what changed is
    rewritten; keys ``p`` no longer sets go. Without either file, a fresh ``to_toml``.

    Checked (what is written loads back equal to ``p``) and written atomically. Raises
    PresetError (one line naming the file) for a file that cannot be read or written.
    """
    path = Path(path)
    base = path if path.exists() else Path(template) if template is not None else None
    new = p.to_toml()
    if base is not None and base.exists():
        doc = tomlkit.parse(_read(base, str(base)))
        _merge(doc, tomlkit.parse(new))
        text = tomlkit.dumps(doc)
    else:
        text = new
    if Preset.from_toml(text, str(path)) != p:   # a merge that lost something: write it whole
        text = new
    return _write_atomically(path, text)


def _merge(old: Container | Table, new: Container | Table) -> None:
    """Make ``old`` hold ``new``'s keys and values, keeping ``old``'s items (and so their
    comments and formatting) where the value is the same, and its tables where both have one."""
    for k in [k for k in old if k not in new]:
        del old[k]
    for k in new:
        cur, item = old.get(k), new[k]
        if isinstance(cur, Table) and isinstance(item, Table):
            _merge(cur, item)
        elif cur is None or _plain(cur) != _plain(item):
            old[k] = item


def _plain(v: Any) -> Any:
    return v.unwrap() if hasattr(v, "unwrap") else v


_STAMP = re.compile(r"-\d{8}-\d{6}(-\d+)?$")


def saved_name_prefix(name: str) -> str:
    """The first part of a saved preset's file name, from the name of the preset it was saved
    from: ``default`` and ``default-20261130-071000`` both give ``default`` (the saved file adds
    its own timestamp); characters a preset name may not hold become ``-``."""
    base = re.sub(r"[^A-Za-z0-9_. -]", "-", _STAMP.sub("", name))
    base = re.sub(r"\.{2,}", ".", base).strip(" .-")[:40].rstrip(" .-")
    return base if base and re.match(r"[A-Za-z0-9_]", base) else "preset"


def _toml_value(name: str, v: float) -> Any:
    p = PARAM_BY_NAME[name]
    if p.kind == "enum":
        return p.choices[int(v)]
    if p.kind == "bool":
        return bool(v)
    if p.kind == "int":
        return int(v)
    return float(v)


class _KeyError(Exception):
    """Internal: a validation message that already starts with the key."""


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _vector(key: str, v: Any) -> tuple[float, ...]:
    if not isinstance(v, list) or not 1 <= len(v) <= 4096 or not all(_is_num(x) for x in v):
        raise _KeyError(f"{key} is not a list of numbers")
    if not all(math.isfinite(x) for x in v):
        raise _KeyError(f"{key} contains a non-finite number")
    return tuple(float(x) for x in v)


def _table(key: str, v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _KeyError(f"{key} is not a table")
    return v


def _param(name: str, v: Any) -> float:
    p = PARAM_BY_NAME[name]
    if p.kind == "bool" and not isinstance(v, bool):
        raise _KeyError(f"{name} = {v!r} is not true or false")
    if p.kind != "bool" and isinstance(v, bool):
        raise _KeyError(f"{name} = {v!r} is not a number")
    if p.kind == "int" and not isinstance(v, int):
        raise _KeyError(f"{name} = {v!r} is not a whole number")
    if p.kind == "enum" and not isinstance(v, str | int):
        raise _KeyError(f"{name} = {v!r} is not one of {', '.join(p.choices)}")
    try:
        return p.coerce(v)
    except ValueError as e:
        raise _KeyError(str(e)) from None


def _parse(doc: dict[str, Any], source: str) -> Preset:
    for k in doc:
        if k not in _TOP:
            raise _KeyError(f"unknown key {k!r} (known: {', '.join(_TOP)})")
    kw: dict[str, Any] = {"source": source}
    name = doc.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise _KeyError(f"name = {name!r} is not a string")
    kw["name"] = name
    desc = doc.get("description", "")
    if not isinstance(desc, str):
        raise _KeyError(f"description = {desc!r} is not a string")
    kw["description"] = desc
    if "seed" in doc:
        seed = doc["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise _KeyError(f"seed = {seed!r} is not a whole number in 0..2^63-1")
        kw["seed"] = seed
    if "model" in doc:
        model = doc["model"]
        if not isinstance(model, str) or not _MODEL_ID.fullmatch(model):
            raise _KeyError(f"model = {model!r} is not a model id (12 lowercase hex digits)")
        kw["model"] = model
    params: dict[str, float] = {}
    for section in _SECTIONS:
        for key, v in _table(section, doc.get(section, {})).items():
            name = f"{section}.{key}"
            if name not in PARAM_BY_NAME:
                known = ", ".join(p.key for p in PARAMS if p.section == section)
                raise _KeyError(f"unknown key {name} (known in [{section}]: {known})")
            params[name] = _param(name, v)
    kw["params"] = params
    slots: dict[int, tuple[float, ...]] = {}
    for key, v in _table("slots", doc.get("slots", {})).items():
        if not (key.isascii() and key.isdigit() and 1 <= int(key) <= SLOTS):
            raise _KeyError(f"slots.{key}: slots are numbered 1..{SLOTS}")
        slots[int(key)] = _vector(f"slots.{key}", v)
    kw["slots"] = slots
    frames = doc.get("keyframes", [])
    if not isinstance(frames, list):
        raise _KeyError("keyframes is not a list of tables ([[keyframes]])")
    keyframes = []
    for i, f in enumerate(frames):
        f = _table(f"keyframes[{i}]", f)
        extra = set(f) - {"u", "hold", "name"}
        if extra:
            raise _KeyError(f"unknown key keyframes[{i}].{sorted(extra)[0]} "
                            f"(known: u, hold, name)")
        hold = f.get("hold")
        if hold is not None and not (_is_num(hold) and 0 <= hold <= 3600):
            raise _KeyError(f"keyframes[{i}].hold = {hold!r} is not a time in 0..3600 s")
        kname = f.get("name")
        if kname is not None and not (isinstance(kname, str) and len(kname) <= MAX_NAME):
            raise _KeyError(f"keyframes[{i}].name = {kname!r} is not a string of at most "
                            f"{MAX_NAME} characters")
        keyframes.append(Keyframe(_vector(f"keyframes[{i}].u", f.get("u")),
                                  None if hold is None else float(hold), kname))
    kw["keyframes"] = tuple(keyframes)
    kw["directions"], kw["direction_values"] = _directions(_table("directions",
                                                                  doc.get("directions", {})))
    lengths = {len(v) for v in (*slots.values(), *(k.u for k in keyframes))}
    if len(lengths) > 1:
        raise _KeyError(f"slots and keyframes have different lengths {sorted(lengths)}")
    if lengths and "model" not in kw:
        raise _KeyError("slots and keyframes need model = '<model id>' (the model they belong to)")
    table = kw["directions"]
    if len(table) and "model" not in kw:
        raise _KeyError("directions with u need model = '<model id>' (the model they belong to)")
    if len(table) and lengths and table.dim not in lengths:
        raise _KeyError(f"directions have {table.dim} values, slots and keyframes "
                        f"{sorted(lengths)[0]}")
    maps = doc.get("mappings", [])
    if not isinstance(maps, list):
        raise _KeyError("mappings is not a list of tables ([[mappings]])")
    mappings = []
    for i, m in enumerate(maps):
        try:
            mappings.append(ControlMapping.from_dict(m))
        except MappingError as e:
            text = str(e)
            raise _KeyError(f"mappings[{i}]{'' if text.startswith('=') else '.'}{text}") from None
    kw["mappings"] = tuple(mappings)
    if "display" in doc:
        kw["display"] = _display(_table("display", doc["display"]))
    if "scene" in doc:
        kw["scene"] = _scene(_table("scene", doc["scene"]))
    if "projection" in doc:
        kw["projection"] = _projection(_table("projection", doc["projection"]))
    midi = _table("midi", doc.get("midi", {}))
    for k, v in midi.items():
        if k != "input":
            raise _KeyError(f"unknown key midi.{k} (known: input)")
        if not isinstance(v, str):
            raise _KeyError(f"midi.input = {v!r} is not a device name filter")
        kw["midi_input"] = v
    if "kiosk" in doc:
        try:
            kw["kiosk"] = parse_kiosk(doc["kiosk"])
        except ValueError as e:
            raise _KeyError(str(e)) from None
    return Preset(**kw)


def _dir_number(key: str, v: Any, lo: float, hi: float) -> float:
    if not _is_num(v) or not lo <= v <= hi:
        raise _KeyError(f"{key} = {v!r} is not a number in {lo:g}..{hi:g}")
    return float(v)


def _directions(t: dict[str, Any]) -> tuple[Directions, dict[str, DirectionValue]]:
    """``[directions.<name>]`` tables: the attribute directions they carry (``u``, ``scale``)
    and the value each sets (``offset``, ``pin``; an empty table releases its direction)."""
    names: list[str] = []
    units: list[tuple[float, ...]] = []
    scales: list[float] = []
    values: dict[str, DirectionValue] = {}
    for name, d in t.items():
        key = f"directions.{name}"
        try:
            check_direction_name(name)
        except DirectionError as e:
            raise _KeyError(f"{key}: {e}") from None
        d = _table(key, d)
        extra = sorted(set(d) - set(_DIRECTION_KEYS))
        if extra:
            raise _KeyError(f"unknown key {key}.{extra[0]} (known: {', '.join(_DIRECTION_KEYS)})")
        if "u" in d:
            if PC_NAME.fullmatch(name):
                raise _KeyError(f"{key}.u: principal directions come from the model; set only "
                                f"offset or pin")
            u = np.array(_vector(f"{key}.u", d["u"]))
            norm = math.sqrt(float(np.sum(u * u)))
            if not norm > 0:
                raise _KeyError(f"{key}.u is all zeros")
            names.append(name)
            units.append(tuple(u / norm) if abs(norm - 1.0) > 1e-12 else tuple(u))
            scales.append(_dir_number(f"{key}.scale", d.get("scale", 1.0), 1e-9, 1e9))
        elif "scale" in d:
            raise _KeyError(f"{key}.scale needs u (the direction it scales)")
        pin = d.get("pin")
        if pin is not None and "u" in d:
            raise _KeyError(f"{key}.pin: an attribute direction can be offset, not pinned")
        values[name] = DirectionValue(
            _dir_number(f"{key}.offset", d.get("offset", 0.0), -DIR_LIMIT, DIR_LIMIT),
            None if pin is None else _dir_number(f"{key}.pin", pin, -DIR_LIMIT, DIR_LIMIT))
    if len({len(u) for u in units}) > 1:
        raise _KeyError("directions: their u vectors have different lengths")
    dim = len(units[0]) if units else 0
    try:
        table = Directions(tuple(names), np.array(units, np.float64).reshape(len(units), dim),
                           np.array(scales), ("attribute",) * len(names))
    except DirectionError as e:
        raise _KeyError(f"directions: {e}") from None
    return table, values


def _display(t: dict[str, Any]) -> DisplaySettings:
    out: dict[str, Any] = {}
    for k, v in t.items():
        if k == "fit":
            if v not in FIT_MODES:
                raise _KeyError(f"display.fit = {v!r} is not one of {', '.join(FIT_MODES)}")
        elif k in ("fullscreen", "borderless", "hud", "operator"):
            if not isinstance(v, bool):
                raise _KeyError(f"display.{k} = {v!r} is not true or false")
        else:
            raise _KeyError(f"unknown key display.{k} (known: fit, fullscreen, borderless, hud, "
                            f"operator)")
        out[k] = v
    return DisplaySettings(**out)


def scene_table(scene: SceneSettings) -> dict[str, Any]:
    """The ``[scene]`` table of ``scene`` (only the keys it sets)."""
    return {k: v for k, v in (("fade", scene.fade), ("model", scene.model)) if v is not None}


def _scene(t: dict[str, Any]) -> SceneSettings:
    out: dict[str, Any] = {}
    for k, v in t.items():
        if k == "fade":
            if not (_is_num(v) and 0 <= v <= MAX_FADE and math.isfinite(v)):
                raise _KeyError(f"scene.fade = {v!r} is not a time in 0..{MAX_FADE:g} s")
            out[k] = float(v)
        elif k == "model":
            if not (isinstance(v, str) and 0 < len(v) <= 4096 and "\0" not in v):
                raise _KeyError(f"scene.model = {v!r} is not a bundled model's name or a path")
            out[k] = v
        else:
            raise _KeyError(f"unknown key scene.{k} (known: fade, model)")
    return SceneSettings(**out)


def _projection(t: dict[str, Any]) -> Projection:
    extra = sorted(set(t) - {"rotate", "mirror", "corners"})
    if extra:
        raise _KeyError(f"unknown key projection.{extra[0]} (known: rotate, mirror, corners)")
    rotate, mirror = t.get("rotate", 0), t.get("mirror", False)
    if isinstance(rotate, bool) or not isinstance(rotate, int):
        raise _KeyError(f"projection.rotate = {rotate!r} is not 0, 90, 180 or 270")
    if not isinstance(mirror, bool):
        raise _KeyError(f"projection.mirror = {mirror!r} is not true or false")
    corners = t.get("corners", [list(c) for c in Projection().corners])
    if not (isinstance(corners, list) and all(isinstance(c, list) for c in corners)):
        raise _KeyError("projection.corners is not four [x, y] pairs")
    try:
        return Projection(rotate, mirror, tuple(tuple(c) for c in corners))
    except ProjectionError as e:
        raise _KeyError(f"projection.{e}") from None
