"""The tempo clock's arithmetic: beat position, grid boundaries, beat-phase waves.

Pure functions and one small value (``TempoState``) that the engine keeps in its state. The
beat position is a float count of beats since the song's start (or since the clock began); it
advances with real time at ``bpm`` while the transport runs, whether or not the walk is paused.
A grid is ``"beat"`` or ``"bar"`` (``beats_per_bar`` beats); quantised things happen when the
beat position crosses one of its lines. Where the tempo comes from (taps, OSC, MIDI clock,
Ableton Link) is ``control/tempo.py``'s business: it reaches the engine only as logged commands,
so a replay needs none of those sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BPM_RANGE = (20.0, 300.0)
GRIDS = ("off", "beat", "bar")
"""What ``tempo.quantise`` may be: quantised commands and tour segments wait for the next line
of this grid (``off``: they happen at once)."""
SHAPES = ("saw", "sine", "pulse")
"""Beat-phase waves, each 0..1: a rising ramp, a raised cosine starting at 0, a short pulse."""
PULSE_WIDTH = 0.25   # of a period: the pulse is 1 for the first quarter of each beat or bar
_EPS = 1e-9          # beats: a position within this of a grid line is on it


@dataclass(frozen=True, slots=True)
class TempoState:
    """Where the tempo clock is: ``beat`` (beats since the start, float) and whether the
    transport ``running`` (a MIDI stop halts the beat; pause of the walk does not)."""

    beat: float = 0.0
    running: bool = True

    def advance(self, dt: float, bpm: float) -> TempoState:
        """``dt`` seconds later at ``bpm`` (unchanged when stopped)."""
        if not self.running or dt <= 0.0:
            return self
        return TempoState(self.beat + dt * bpm / 60.0, True)


def grid_beats(grid: str, beats_per_bar: int) -> float:
    """Length of one grid step in beats; ValueError for an unknown or ``off`` grid."""
    if grid == "beat":
        return 1.0
    if grid == "bar":
        return float(max(1, int(beats_per_bar)))
    raise ValueError(f"grid {grid!r} is not beat or bar")


def crossed(before: float, after: float, step: float) -> bool:
    """Whether moving from beat ``before`` to ``after`` (forward) reaches a grid line
    (a multiple of ``step`` beats) after ``before``; a line at ``after`` counts."""
    if not after > before:
        return False
    return math.floor((after + _EPS) / step) > math.floor((before + _EPS) / step)


def beats_to_line(beat: float, step: float) -> float:
    """Beats from ``beat`` to the next grid line at or after it (0 on a line)."""
    k = math.ceil(beat / step - _EPS)
    return max(0.0, k * step - beat)


def seconds_per_beat(bpm: float) -> float:
    return 60.0 / bpm


def wave(beat: float, shape: str, per: float = 1.0) -> float:
    """A beat-phase source: ``shape`` (``SHAPES``) over periods of ``per`` beats (1: a beat,
    ``beats_per_bar``: a bar), 0..1, phase 0 on each grid line. ValueError for another shape."""
    if not per > 0.0:
        raise ValueError(f"period {per!r} must be a positive number of beats")
    phase = (beat / per) % 1.0
    if shape == "saw":
        return phase
    if shape == "sine":
        return 0.5 - 0.5 * math.cos(2.0 * math.pi * phase)
    if shape == "pulse":
        return 1.0 if phase < PULSE_WIDTH else 0.0
    raise ValueError(f"wave shape {shape!r} is not one of {', '.join(SHAPES)}")


def check_bpm(bpm: float) -> float:
    """``bpm`` as a float in ``BPM_RANGE``; ValueError (one line) otherwise."""
    lo, hi = BPM_RANGE
    if isinstance(bpm, bool) or not isinstance(bpm, int | float) or not math.isfinite(bpm) \
            or not lo <= bpm <= hi:
        raise ValueError(f"tempo {bpm!r} BPM is not in {lo:g}..{hi:g}")
    return float(bpm)
