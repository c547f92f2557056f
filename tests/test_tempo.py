"""The tempo clock: MIDI clock (bytes through mido's parser), taps, quantised commands and tour
segments on the beat, a beat that runs while the walk is paused."""

from __future__ import annotations

import math

import mido
import numpy as np
import pytest

from latentsketch import commands as C
from latentsketch import engine, tempo
from latentsketch.control.tempo import TempoTracker, fit_line
from latentsketch.latent.space import LatentSpace
from latentsketch.latent.tour import Grid, TourPlan, TourProgress, advance

FPS = 60.0
DT = 1.0 / FPS
CLOCK, START, STOP, CONTINUE = 0xF8, 0xFA, 0xFC, 0xFB


def _space() -> LatentSpace:
    return LatentSpace.standard(4)


def _state(**params: object) -> engine.State:
    keys = np.random.default_rng(1).normal(0, 1, (3, 4))
    return engine.State.initial(_space(), seed=3, params=params, keyframes=keys)


def _pulses(bpm: float, seconds: float, jitter: float = 0.0, t0: float = 0.0) -> list[float]:
    """Arrival times of MIDI clock pulses (24 a beat), with Gaussian jitter (s)."""
    n = int(seconds * bpm / 60 * 24)
    t = t0 + np.arange(n) * 60.0 / bpm / 24
    if jitter:
        t = t + np.random.default_rng(7).normal(0, jitter, n)
    return sorted(t.tolist())


def _play(tracker: TempoTracker, state: engine.State, events: list[tuple[float, bytes]],
          seconds: float) -> tuple[engine.State, list[engine.State], list[list[C.Command]]]:
    """Feed timed MIDI bytes through mido's parser to the tracker while the engine steps at
    FPS, as the live loop does: the frame at wall time ``now`` polls, then steps DT."""
    parser = mido.Parser()
    events = sorted(events)
    i, states, sent = 0, [], []
    for f in range(1, int(seconds * FPS) + 1):
        now = f * DT
        while i < len(events) and events[i][0] <= now:
            parser.feed(events[i][1])
            for msg in parser:
                tracker.midi(msg, events[i][0])
            i += 1
        cmds = tracker.poll(now, state, DT)
        sent.append(cmds)
        state = engine.step(state, cmds, DT, _space())
        assert not state.last_errors
        states.append(state)
    return state, states, sent


def test_midi_clock_at_120_gives_120_bpm_and_the_beat_follows_it() -> None:
    """Start, then 24 pulses a beat: 120 +- 0.5 BPM, and the engine's beat is where the
    pulses say (the first pulse after Start is beat 0)."""
    t0 = 0.3
    events = [(t0 - 0.001, bytes([START]))] + [(t, bytes([CLOCK])) for t in _pulses(120, 6, 0, t0)]
    state, _, _ = _play(TempoTracker(), _state(**{"tempo.bpm": 90.0}), events, 6.0)
    assert state.params["tempo.bpm"] == pytest.approx(120.0, abs=0.5)
    assert state.tempo.running
    assert state.tempo.beat == pytest.approx((6.0 - t0) * 2.0, abs=0.02)


def test_jittery_clock_is_smoothed() -> None:
    """Pulses with 3 ms of jitter: pulse to pulse they say anything from ~80 to ~240 BPM;
    the tempo the engine gets stays within 0.5 BPM of 120 once the window is full."""
    pulses = _pulses(120, 8, jitter=0.003)
    raw = 60.0 / 24 / np.diff(pulses)
    assert raw.max() - raw.min() > 50              # the jitter is real
    tracker = TempoTracker()
    _, states, sent = _play(tracker, _state(), [(t, bytes([CLOCK])) for t in pulses], 8.0)
    bpms = [s.params["tempo.bpm"] for s in states[int(3 * FPS):]]
    assert max(abs(b - 120.0) for b in bpms) < 0.5
    beats = np.array([s.tempo.beat for s in states[int(3 * FPS):]])
    assert np.all(np.diff(beats) > 0)               # no jumps back
    steady = [c for cmds in sent[int(3 * FPS):] for c in cmds]  # 5 s, 300 frames
    assert sum(isinstance(c, C.SetParam) for c in steady) < 5
    assert sum(isinstance(c, C.SetBeat) for c in steady) < 30


def test_stop_halts_the_beat_and_continue_goes_on() -> None:
    pulses = _pulses(120, 4)
    events = [(0.0, bytes([START]))] + [(t + 0.001, bytes([CLOCK])) for t in pulses
                                        if t < 2.0 or t > 3.0]
    events += [(2.0, bytes([STOP])), (3.0, bytes([CONTINUE]))]
    _, states, _ = _play(TempoTracker(), _state(), events, 4.0)
    stopped = [s.tempo.beat for s in states[int(2.1 * FPS):int(2.9 * FPS)]]
    assert not states[int(2.5 * FPS)].tempo.running
    assert max(stopped) - min(stopped) < 1e-9
    assert states[-1].tempo.running and states[-1].tempo.beat == pytest.approx(
        stopped[0] + 2.0, abs=0.05)


def test_song_position_pointer_moves_the_beat() -> None:
    spp = mido.Message("songpos", pos=32)     # 32 sixteenths = beat 8
    events = [(0.5, bytes(spp.bytes())), (0.5, bytes([CONTINUE]))]
    events += [(0.5 + t, bytes([CLOCK])) for t in _pulses(120, 1)]
    state, _, _ = _play(TempoTracker(), _state(), events, 1.5)
    assert state.tempo.beat == pytest.approx(8.0 + 2.0, abs=0.03)


def test_tap_tempo_from_four_taps() -> None:
    tracker, state = TempoTracker(), _state(**{"tempo.bpm": 90.0})
    taps = [1.0, 1.5, 2.0, 2.5]
    t = 0.0
    for f in range(1, int(3 * FPS)):
        now = f * DT
        while taps and taps[0] <= now:
            tracker.tap(taps.pop(0))
        state = engine.step(state, tracker.poll(now, state, DT), DT, _space())
        t = now
    assert state.params["tempo.bpm"] == pytest.approx(120.0, abs=0.01)
    # the last tap (2.5 s) was on a whole beat
    beat_at_tap = state.tempo.beat - (t - 2.5) * 2.0
    assert beat_at_tap == pytest.approx(round(beat_at_tap), abs=0.02)


def test_quantised_walk_next_waits_for_the_bar_and_the_beat_runs_while_paused() -> None:
    space = _space()
    s = _state(**{"tempo.quantise": "bar", "tempo.bpm": 120.0})
    s = engine.step(s, [C.SetPause(True), C.SetBeat(0.5)], DT, space)
    s = engine.step(s, [C.NewTarget()], DT, space)
    assert len(s.deferred) == 1 and s.walk.tour.seg == 0
    fired = None
    for _ in range(int(3 * FPS)):
        before = s.tempo.beat
        s = engine.step(s, [], DT, space)
        if fired is None and not s.deferred:
            fired = (before, s.tempo.beat)
    assert fired is not None and fired[0] < 4.0 <= fired[1] + 1e-9    # at the bar line
    assert s.walk.tour.seg == 1 and s.paused and s.tick == 0            # the walk stood still
    off = engine.step(s, [C.SetParam("tempo.quantise", 0), C.NewTarget()], DT, space)
    assert off.walk.tour.seg == 2 and not off.deferred


def test_tour_segments_change_on_the_beat_of_a_midi_clock() -> None:
    """A tour quantised to beats, clocked by MIDI at 120: every departure from a keyframe
    and every arrival falls on a beat line (within a tick of the walk clock)."""
    state = _state(**{"tempo.quantise": "beat", "walk.dwell": 0.3, "walk.speed": 2.0})
    events = [(0.0, bytes([START]))] + [(t + 1e-4, bytes([CLOCK])) for t in _pulses(120, 8)]
    _, states, _ = _play(TempoTracker(), state, events, 8.0)
    changes = []
    for a, b in zip(states, states[1:], strict=False):
        pa, pb = a.walk.tour, b.walk.tour
        if (pa.s == 0.0) != (pb.s == 0.0) or pa.seg != pb.seg:
            # the change happened inside this step: the beat line it crossed
            line = math.floor(b.tempo.beat + 1e-6)
            assert a.tempo.beat < line + 1e-6 <= b.tempo.beat + 2e-6
            changes.append(line)
    assert len(changes) >= 6          # departures and arrivals, each on a beat
    # travel 3 s / speed 2 = 1.5 s -> 3 beats (whole beats), hold 0.3 s -> the next beat
    assert set(np.diff(changes[2:])) <= {1, 3}


def test_grid_holds_end_on_lines_and_travels_take_whole_periods() -> None:
    plan = TourPlan.make(np.eye(3, 4), 4, travel=1.2)
    grid = Grid(anchor=0.1, period=0.5)
    p = advance(TourProgress(), plan, 0.55, 1.0, 0.2, grid, 0.0)
    assert (p.seg, p.s) == (0, 0.0) and p.held == pytest.approx(0.55)  # held 0.2, waits 0.6
    p = advance(TourProgress(), plan, 0.9, 1.0, 0.2, grid, 0.0)
    assert p.s == pytest.approx(0.3 / 1.0)               # left at 0.6; 1.2 s -> 1.0 s
    p = advance(TourProgress(), plan, 1.6 + 0.3, 1.0, 0.2, grid, 0.0)
    assert p.seg == 1 and p.held == pytest.approx(0.3)    # arrived at 1.6, holding
    assert advance(TourProgress(), plan, 1.0, 1.0, 0.2) != p   # unquantised: unchanged rules


def test_waves_and_lines() -> None:
    assert tempo.wave(2.25, "saw") == pytest.approx(0.25)
    assert tempo.wave(4.0, "sine", 4) == pytest.approx(0.0)
    assert tempo.wave(6.0, "sine", 4) == pytest.approx(1.0)
    assert [tempo.wave(b, "pulse") for b in (3.0, 3.2, 3.3)] == [1.0, 1.0, 0.0]
    assert tempo.crossed(3.9, 4.0, 4.0) and not tempo.crossed(4.0, 4.1, 4.0)
    assert tempo.beats_to_line(5.0, 4.0) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="wave shape"):
        tempo.wave(0.0, "square")
    a, b = fit_line([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])
    assert (a, b) == pytest.approx((1.0, 2.0))


def test_bad_beats_are_refused_in_one_line() -> None:
    s = engine.step(_state(), [C.SetBeat(math.nan)], DT, _space())
    assert s.last_errors and "beat" in s.last_errors[0] and s.tempo.beat == pytest.approx(
        DT * 2.0)
