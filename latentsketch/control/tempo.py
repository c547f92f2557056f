"""Tempo in: taps, MIDI clock and Ableton Link -> the engine's tempo commands, once a frame.

Events carry the time they happened (``time.monotonic``), taken where they arrive: in the MIDI
callback thread (``MidiInputs(on_timed=...)``), the OSC receiver thread (``OscInput.received``),
or the key handler. A 60 Hz poll would quantise them to 16.7 ms; a beat at 120 BPM is 500 ms,
so that error alone would wobble the tempo by a few percent.

``poll(now, state, dt)`` turns what arrived into engine commands: ``SetParam("tempo.bpm")`` when
the tempo moved, ``SetBeat`` when the engine's beat drifted from the source's, or the transport
started or stopped. They are logged like every command, so a replay needs none of the sources.

MIDI clock (24 pulses per quarter note): a least-squares line through the last
``CLOCK_WINDOW`` pulses (beat position against arrival time) gives tempo and phase. Jitter of a
few milliseconds per pulse averages out over the window (four seconds at 120 BPM), while a tempo
change is followed within it. Start (0xFA) puts the next pulse on beat 0, Continue (0xFB) goes
on from the Song Position Pointer (0xF2, in sixteenths), Stop (0xFC) halts the beat.

Taps: two or more within ``TAP_GAP`` of each other set the tempo from the line through them
(up to ``TAPS`` of them), and the last tap falls on a beat.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from latentsketch import commands as C
from latentsketch.engine import State
from latentsketch.tempo import BPM_RANGE, SHAPES, wave

log = logging.getLogger("latentsketch.tempo")

PPQN = 24
CLOCK_WINDOW = 8 * PPQN   # pulses in the tempo fit: 8 beats
MIN_FIT = PPQN // 2       # pulses before the fit's tempo is used (half a beat)
CLOCK_TIMEOUT = 0.5       # s without a pulse: the clock is gone
TAPS = 8
TAP_GAP = 2.0             # s: a longer pause starts a new tap sequence
PHASE_TOLERANCE = 0.01    # beats the engine may drift from the source before a SetBeat
BPM_TOLERANCE = 0.1       # BPM the engine may differ from the source before a SetParam
TEMPO_MESSAGES = frozenset({"clock", "start", "stop", "continue", "songpos"})
"""MIDI messages the tempo takes, with their times (``MidiInputs(on_timed=...)``)."""


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b * x``; returns (a, b). Needs two different xs (ValueError)."""
    n = len(xs)
    if n < 2 or n != len(ys):
        raise ValueError("a line needs at least two points")
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx <= 0.0:
        raise ValueError("a line needs two different x values")
    b = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - b * mx, b


BEAT_SOURCES = tuple(f"{per}.{shape}" for per in ("beat", "bar") for shape in SHAPES)
"""The beat-phase modulation sources (``modsources``): saw, sine and pulse per beat or bar."""


def beat_sources(state: State, names: Iterable[str] = BEAT_SOURCES) -> list[tuple[str, float]]:
    """The values of the beat-phase sources among ``names`` at the engine's beat: what the
    mappings get each frame (live) or step (offline), so a knob can follow the beat."""
    out = []
    for name in names:
        if name in BEAT_SOURCES:
            per, shape = name.split(".")
            beats = 1.0 if per == "beat" else max(1.0, state.params["tempo.bar"])
            out.append((name, wave(state.tempo.beat, shape, beats)))
    return out


class BeatModulator:
    """The beat-phase sources as an offline ``Modulator`` (``render``): one value per step,
    read from the engine's tempo clock, as the live loop feeds them each frame."""

    def samples(self, t0: float, t1: float, state: State) -> list[tuple[str, float]]:
        return beat_sources(state)


def _bpm(v: float) -> float:
    lo, hi = BPM_RANGE
    return min(hi, max(lo, v))


class LinkSession(Protocol):
    """What the tempo needs of an Ableton Link session (``control/link.py``): the session's
    beat and tempo now, read from the loop."""

    def now(self) -> tuple[float, float] | None: ...

    def set_tempo(self, bpm: float) -> None: ...


class TempoTracker:
    """Turns timed tempo events into engine commands; feeders may call from any thread.

    ``link``: an Ableton Link session to follow (it wins over taps and MIDI clock while it has
    peers, as Link sessions do).
    """

    def __init__(self, link: LinkSession | None = None) -> None:
        self.link = link
        self._lock = threading.Lock()
        self._events: deque[tuple[str, float, float]] = deque(maxlen=10_000)
        self._pulses: deque[tuple[float, float]] = deque(maxlen=CLOCK_WINDOW)  # (t, beat)
        self._next_pulse: float | None = None  # beat of the next pulse; None: not counting yet
        self._last_pulse = -math.inf
        self._stopped = False
        self._clock_bpm: float | None = None
        self._taps: deque[float] = deque(maxlen=TAPS)
        self._tap: tuple[float, float, float] | None = None  # (time, bpm, beat) to answer
        self._transport: bool | None = None                  # a start (True) or stop to send
        self._jump = False                                   # the position jumped: send it

    # --- feeders (any thread) ------------------------------------------------------------------

    def midi(self, msg: Any, t: float) -> None:
        """A MIDI real-time or song-position message received at ``t`` (others are ignored)."""
        kind = getattr(msg, "type", None)
        if kind in TEMPO_MESSAGES:
            value = float(getattr(msg, "pos", 0)) if kind == "songpos" else 0.0
            with self._lock:
                self._events.append((kind, value, t))

    def tap(self, t: float) -> None:
        """A tap at time ``t``."""
        with self._lock:
            self._events.append(("tap", 0.0, t))

    # --- the loop ------------------------------------------------------------------------------

    @property
    def clock_bpm(self) -> float | None:
        """The MIDI clock's tempo as last fitted, or None before one."""
        return self._clock_bpm

    def poll(self, now: float, state: State, dt: float) -> list[C.Command]:
        """Commands for this frame's step: ``state`` is the engine after the last step, at
        wall time ``now - dt`` (the step about to run moves it on to ``now``)."""
        at = now - dt
        with self._lock:
            events, self._events = list(self._events), deque(maxlen=10_000)
        for kind, value, t in events:
            self._take(kind, value, t, state, at)
        out: list[C.Command] = []
        source = self._source(at, now, state.params["tempo.bpm"])
        if source is None:
            if self._transport is False:
                out.append(C.SetBeat(state.tempo.beat, running=False))
            self._transport, self._jump = None, False
            return out
        beat, bpm = source
        if abs(bpm - state.params["tempo.bpm"]) > BPM_TOLERANCE:
            out.append(C.SetParam("tempo.bpm", round(bpm, 2)))
        running = self._transport
        if running is not None or self._jump or abs(beat - state.tempo.beat) > PHASE_TOLERANCE:
            out.append(C.SetBeat(beat, running))
        self._transport, self._jump = None, False
        return out

    # --- internals -----------------------------------------------------------------------------

    def _take(self, kind: str, value: float, t: float, state: State, at: float) -> None:
        if kind == "tap":
            self._take_tap(t, state, at)
        elif kind == "clock":
            if self._stopped:       # clock goes on while stopped: the position does not
                return
            if self._next_pulse is None:   # a clock without a start: go on from the engine's
                self._next_pulse = state.tempo.beat + (t - at) * state.params["tempo.bpm"] / 60
            self._pulses.append((t, self._next_pulse))
            self._next_pulse += 1.0 / PPQN
            self._last_pulse = t
        elif kind == "start":
            self._restart(0.0)
            self._stopped, self._transport = False, True
        elif kind == "continue":
            self._restart(state.tempo.beat if self._next_pulse is None else self._next_pulse)
            self._stopped, self._transport = False, True
        elif kind == "stop":
            self._stopped, self._transport = True, False
        elif kind == "songpos":
            self._restart(value / 4.0)     # sixteenths -> beats

    def _restart(self, beat: float) -> None:
        """The next pulse is at ``beat``: the pulses before no longer fit a line with it."""
        self._pulses.clear()
        self._next_pulse = beat
        self._jump = True

    def _take_tap(self, t: float, state: State, at: float) -> None:
        if self._taps and t - self._taps[-1] > TAP_GAP:
            self._taps.clear()
        self._taps.append(t)
        if len(self._taps) < 2:
            return
        _, period = fit_line(range(len(self._taps)), list(self._taps))
        if period <= 0:
            return
        engine_beat = state.tempo.beat + (t - at) * state.params["tempo.bpm"] / 60.0
        self._tap = (t, _bpm(60.0 / period), float(round(engine_beat)))
        if self.link is not None:    # with peers the session's tempo wins: propose it there
            self.link.set_tempo(self._tap[1])

    def _source(self, at: float, now: float, bpm_now: float) -> tuple[float, float] | None:
        """(beat at wall time ``at``, bpm) from the source that has something to say."""
        if self.link is not None:
            got = self.link.now()
            if got is not None:
                self._tap = None
                beat, bpm = got[0], _bpm(got[1])
                return beat + (at - now) * bpm / 60.0, bpm
        if self._stopped:
            return None
        if at - self._last_pulse < CLOCK_TIMEOUT and len(self._pulses) >= 2:
            self._tap = None            # a running clock outranks taps
            return self._from_clock(at)
        if self._tap is not None:
            t, bpm, beat = self._tap
            self._tap = None
            return beat + (at - t) * bpm / 60.0, bpm
        if self._jump and self._next_pulse is not None:   # a start or a jump, no pulse yet
            return self._next_pulse, self._clock_bpm or bpm_now
        return None

    def _from_clock(self, at: float) -> tuple[float, float]:
        ts = [p[0] for p in self._pulses]
        beats = [p[1] for p in self._pulses]
        t0 = ts[-1]
        a, rate = fit_line([t - t0 for t in ts], beats)   # beats per second, centred times
        if len(ts) >= MIN_FIT and rate > 0:
            self._clock_bpm = _bpm(60.0 * rate)
        if len(ts) < MIN_FIT or self._clock_bpm is None:   # too few for a line
            bpm = self._clock_bpm or _bpm(60.0 * max(rate, 1e-3))
            return beats[-1] + (at - t0) * bpm / 60.0, bpm
        return a + rate * (at - t0), self._clock_bpm
