"""Modulation sources: named float streams that mappings bind to targets like knobs.

A source is something the program measures rather than a control a person moves: the sound's
band energies and onsets (``control.audio``), and (from the tempo clock) the beat's phase.
Each is declared once here, with the range its values take; a preset maps it as it maps a
knob (``source = "audio.low"`` instead of ``cc = 16``), with the same ``in``/``out`` ranges,
curves, smoothing and buttons (a source crossing the middle of its range upwards fires a
trigger such as ``walk/next``). Pure data: ``mapping`` validates names against it.

Adding a source is one ``ModSource`` row below; feeding it is ``ModulationBus.publish``
(``control.modulation``) live and a ``Modulator`` offline (``render --audio``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
"""A source name: a family and a name, ``audio.low``, ``beat.saw``."""


@dataclass(frozen=True)
class ModSource:
    """One named stream: its values lie in ``lo..hi`` (a mapping's default input range)."""

    name: str
    description: str
    lo: float = 0.0
    hi: float = 1.0


MOD_SOURCES: tuple[ModSource, ...] = (
    ModSource("audio.level", "overall level of the sound (-60..0 dBFS as 0..1), smoothed"),
    ModSource("audio.low", "energy below 200 Hz (kick, bass; -60..0 dBFS as 0..1), smoothed"),
    ModSource("audio.mid", "energy 200 Hz..2 kHz (voices, chords), smoothed"),
    ModSource("audio.high", "energy above 2 kHz (hats, cymbals, air), smoothed"),
    ModSource("audio.onset", "1 at each onset (a hit, a note's attack), else 0: for triggers"),
    ModSource("audio.hit", "jumps to 1 at each onset and falls with the release time"),
    ModSource("beat.saw", "the tempo clock's phase in the beat: rises 0..1 from each beat"),
    ModSource("beat.sine", "a raised cosine over each beat: 0 on the beat, 1 half-way"),
    ModSource("beat.pulse", "1 for the first quarter of each beat, else 0: for triggers"),
    ModSource("bar.saw", "the phase in the bar (tempo.bar beats): rises 0..1 from each bar"),
    ModSource("bar.sine", "a raised cosine over each bar: 0 on the bar line, 1 half-way"),
    ModSource("bar.pulse", "1 for the first quarter of each bar, else 0: for triggers"),
)

MOD_SOURCE_BY_NAME: dict[str, ModSource] = {s.name: s for s in MOD_SOURCES}
