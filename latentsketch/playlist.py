"""Installation playlists: which presets play, how long, with what fade; the file format.

One TOML file holds a whole installation's programme::

    order = "shuffle"      # "sequence" (the default) or "shuffle"
    seed = 7               # the shuffle's seed: the same seed, the same order
    duration = 300         # default seconds a scene plays
    fade = 5               # default seconds of crossfade into a scene

    [hours]                # optional: outside them the show blacks out or holds still
    open = "10:00"
    close = "18:00"
    days = ["tue", "wed", "thu", "fri", "sat", "sun"]
    outside = "blackout"   # or "pause"

    [[scene]]
    preset = "gallery"     # a preset's name (the user's preset folder, then the bundled ones)
    duration = 600
    fade = 8

A scene with a problem (a bad duration, a name that is not a preset name) is skipped with one
line naming the file, the scene and the key; the rest plays. A file that cannot be read or is
not TOML, or that leaves no scene to play, raises ``PlaylistError`` (one line). Whether a named
preset exists and suits the model is checked when its turn comes (``app.kiosk``): a preset can
appear or be fixed while the show runs.

A preset's ``[kiosk]`` table (``KioskSettings``) starts installation mode when the preset is
played, with an optional ``playlist`` (a path, relative to the preset's own folder).
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentsketch.commands import preset_name
from latentsketch.errors import UserError
from latentsketch.schedule import DAYS, OUTSIDE, Hours

MAX_SECONDS = 7 * 24 * 3600.0
_TOP = ("order", "seed", "duration", "fade", "hours", "scene")
_SCENE = ("preset", "duration", "fade")
_HOURS = ("open", "close", "days", "outside")
_KIOSK = ("enabled", "playlist")


class PlaylistError(UserError, ValueError):
    """A playlist file that cannot be used at all; one line naming the file."""


@dataclass(frozen=True)
class Entry:
    """One scene: a preset name, seconds it plays, seconds of fade into it."""

    preset: str
    duration: float
    fade: float


@dataclass(frozen=True)
class Playlist:
    """A parsed playlist (``load``); ``shuffle`` with ``seed``; ``hours`` or None (always
    open)."""

    entries: tuple[Entry, ...]
    shuffle: bool = False
    seed: int = 0
    hours: Hours | None = None
    source: str = "<playlist>"

    @property
    def durations(self) -> list[float]:
        return [e.duration for e in self.entries]


@dataclass(frozen=True)
class KioskSettings:
    """A preset's ``[kiosk]`` table: ``enabled`` (default true) plays the preset in
    installation mode; ``playlist`` is a playlist file's path as written in the preset."""

    enabled: bool = True
    playlist: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"enabled": self.enabled}
        if self.playlist is not None:
            out["playlist"] = self.playlist
        return out


def parse_kiosk(t: Any) -> KioskSettings:
    """A preset's ``[kiosk]`` table; ValueError naming the key (the preset adds its file)."""
    if not isinstance(t, dict):
        raise ValueError(f"kiosk = {t!r} is not a table ([kiosk])")
    for k, v in t.items():
        if k not in _KIOSK:
            raise ValueError(f"unknown key kiosk.{k} (known: {', '.join(_KIOSK)})")
        if k == "enabled" and not isinstance(v, bool):
            raise ValueError(f"kiosk.enabled = {v!r} is not true or false")
        if k == "playlist" and not (isinstance(v, str) and v.strip()):
            raise ValueError(f"kiosk.playlist = {v!r} is not a file name")
    return KioskSettings(t.get("enabled", True), t.get("playlist"))


def load(path: str | Path) -> tuple[Playlist, list[str]]:
    """Read a playlist file: the playlist and one line for each problem skipped over (unknown
    keys, bad scenes). Raises PlaylistError (one line) when the file cannot be read, is not
    TOML, or leaves no scene."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise PlaylistError(f"playlist {path}: cannot be read ({why})") from None
    return parse(text, str(path))


def parse(text: str, source: str = "<playlist>") -> tuple[Playlist, list[str]]:
    """``load`` for text already read; ``source`` names it in messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlaylistError(f"playlist {source}: not TOML ({e})") from None
    problems: list[str] = []

    def skip(what: str) -> None:
        problems.append(f"playlist {source}: {what}")

    for k in doc:
        if k not in _TOP:
            skip(f"unknown key {k!r} ignored (known: {', '.join(_TOP)})")
    order = doc.get("order", "sequence")
    if order not in ("sequence", "shuffle"):
        skip(f"order = {order!r} is not 'sequence' or 'shuffle'; playing in sequence")
        order = "sequence"
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        skip(f"seed = {seed!r} is not a whole number; using 0")
        seed = 0
    defaults = {"duration": 60.0, "fade": 3.0}
    for key, lo in (("duration", 1.0), ("fade", 0.0)):
        if key in doc:
            try:
                defaults[key] = _seconds(key, doc[key], lo)
            except ValueError as e:
                skip(f"{e}; using {defaults[key]:g}")
    hours = None
    if "hours" in doc:
        try:
            hours = _hours(doc["hours"])
        except ValueError as e:
            skip(f"{e}; playing around the clock")
    scenes = doc.get("scene", [])
    if not isinstance(scenes, list):
        raise PlaylistError(f"playlist {source}: scene is not a list of tables ([[scene]])")
    entries = []
    for i, s in enumerate(scenes):
        try:
            entries.append(_entry(i, s, defaults))
        except ValueError as e:
            skip(f"{e}; scene skipped")
    if not entries:
        why = "; ".join(problems) if problems else f"playlist {source}: no [[scene]] tables"
        raise PlaylistError(f"{why} (nothing to play)")
    return Playlist(tuple(entries), order == "shuffle", seed, hours, source), problems


def _seconds(key: str, v: Any, lo: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not (
            math.isfinite(v) and lo <= v <= MAX_SECONDS):
        raise ValueError(f"{key} = {v!r} is not a time in {lo:g}..{MAX_SECONDS:g} s")
    return float(v)


def _entry(i: int, s: Any, defaults: dict[str, float]) -> Entry:
    if not isinstance(s, dict):
        raise ValueError(f"scene[{i}] is not a table")
    for k in s:
        if k not in _SCENE:
            raise ValueError(f"unknown key scene[{i}].{k} (known: {', '.join(_SCENE)})")
    name = s.get("preset")
    if not isinstance(name, str):
        raise ValueError(f"scene[{i}].preset = {name!r}: give a preset's name")
    try:
        name = preset_name(name)
    except ValueError:
        raise ValueError(f"scene[{i}].preset = {name[:80]!r} is not a preset's name (letters, "
                         f"digits, '_', '-', '.', spaces; no '/' or '..')") from None
    duration = _seconds(f"scene[{i}].duration", s.get("duration", defaults["duration"]), 1.0)
    fade = _seconds(f"scene[{i}].fade", s.get("fade", defaults["fade"]), 0.0)
    return Entry(name, duration, min(fade, duration))


def _clock(key: str, v: Any) -> dt.time:
    if isinstance(v, dt.time):   # TOML's own local time: open = 10:00:00
        return v
    if isinstance(v, str):
        try:
            return dt.time.fromisoformat(v)
        except ValueError:
            pass
    raise ValueError(f"hours.{key} = {v!r} is not a time of day like \"10:00\"")


def _hours(t: Any) -> Hours:
    if not isinstance(t, dict):
        raise ValueError(f"hours = {t!r} is not a table ([hours])")
    for k in t:
        if k not in _HOURS:
            raise ValueError(f"unknown key hours.{k} (known: {', '.join(_HOURS)})")
    if "open" not in t or "close" not in t:
        raise ValueError("hours needs both open and close")
    days = t.get("days", list(DAYS))
    if not isinstance(days, list) or not days or any(
            not isinstance(d, str) or d.lower()[:3] not in DAYS for d in days):
        raise ValueError(f"hours.days = {days!r} is not a list of days like [\"mon\", \"tue\"]")
    outside = t.get("outside", "blackout")
    if outside not in OUTSIDE:
        raise ValueError(f"hours.outside = {outside!r} is not one of {', '.join(OUTSIDE)}")
    return Hours(_clock("open", t["open"]), _clock("close", t["close"]),
                 frozenset(DAYS.index(d.lower()[:3]) for d in days), outside)
