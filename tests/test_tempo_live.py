"""The tempo in the live loop: a MIDI clock timed in the input callback, a tapped key, a
beat-phase source driving a dimension, quantised commands, and a replay of it all that needs
none of the sources (frame-exact). Ableton Link with a peer session, where aalink is there."""

from __future__ import annotations

import time
from pathlib import Path

import mido
import numpy as np
import pygame
import pytest

from latentsketch import commands as C
from latentsketch import engine, tempo
from latentsketch.control.midi import MidiInputs
from latentsketch.control.tempo import TEMPO_MESSAGES, TempoTracker
from latentsketch.model import checkpoint
from latentsketch.output.controllog import read_log
from latentsketch.render import RenderRequest, plan, replay_clip

PRESET = """
[tempo]
quantise = "beat"
bpm = 100

[[mappings]]
source = "beat.sine"
target = "z/0"
out = [-2.0, 2.0]
"""


def test_a_tempo_synced_show_replays_frame_exactly(tmp_path: Path, make_app,
                                                   tiny_model: Path) -> None:
    """MIDI clock at 120 BPM in real time (stamped as the callback would), a quantised
    walk/next, a beat.sine mapping on z/0: the control log replays it bit for bit."""
    preset = tmp_path / "beat.toml"
    preset.write_text(PRESET)
    app = make_app(preset=str(preset), log_control=True)
    tracker = app.inputs.tempo
    t0 = time.monotonic()
    sent = 0
    live_z: list[np.ndarray] = []

    def script(i: int, app) -> list:
        nonlocal sent
        time.sleep(1 / 60)
        now = time.monotonic()
        if i == 0:
            tracker.midi(mido.Message("start"), now)
        while t0 + sent / 48 <= now:            # 24 pulses a beat at 120 BPM
            tracker.midi(mido.Message("clock"), t0 + sent / 48)
            sent += 1
        if i >= 1:
            live_z.append(engine.output_z(app.state, app.space))
        return [C.NewTarget()] if i == 40 else []

    app.run(max_frames=90, dt=1 / 60, script=script)
    live_z.append(engine.output_z(app.state, app.space))
    assert app.state.params["tempo.bpm"] == pytest.approx(120.0, abs=1.0)
    app.close()
    loaded = checkpoint.load(tiny_model)
    (logf,) = (tmp_path / "out").glob("*.log.jsonl")
    log = read_log(logf, loaded.model_id)
    cmds = [c for f in log.frames for c in f.commands]
    assert any(isinstance(c, C.SetBeat) and c.running for c in cmds)
    assert any(isinstance(c, C.SetParam) and c.name == "tempo.bpm" for c in cmds)
    assert sum(isinstance(c, C.SetDim) and c.index == 0 for c in cmds) > 30   # beat.sine
    replayed = [f.z for f in replay_clip(log, loaded.space).frames]
    assert len(replayed) == len(live_z) == 90
    assert all(a.tobytes() == b.tobytes() for a, b in zip(live_z, replayed, strict=True))


def test_the_tap_key_sets_the_tempo(make_app) -> None:
    app = make_app()
    taps = {0: 0.0, 30: 0.5, 60: 1.0, 90: 1.5}   # frames at which Y goes down, 0.5 s apart
    start = time.monotonic()

    def script(i: int, app) -> list:
        if i in taps:   # the tap is timed when the key is handled: the frame's wall time
            while time.monotonic() < start + taps[i]:
                time.sleep(0.001)
            return [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_y, mod=0,
                                       scancode=0, unicode="y")]
        return []

    app.run(max_frames=94, dt=1 / 60, script=script)
    assert app.state.params["tempo.bpm"] == pytest.approx(120.0, abs=2.0)


def test_a_beat_source_drives_a_render_offline(tmp_path: Path, tiny_model: Path) -> None:
    """render with a preset mapping beat.sine: z/0 swings once a beat at the preset's tempo."""
    loaded = checkpoint.load(tiny_model)
    preset = tmp_path / "beat.toml"
    preset.write_text(PRESET.replace("bpm = 100", "bpm = 60") + "[walk]\nglide = 0\n")
    clip = plan(RenderRequest(preset=str(preset), walk="drift", fps=20.0, duration=2.0,
                              model=str(tiny_model)), loaded.model_id, loaded.space)
    z0 = np.array([loaded.space.to_ranked(loaded.space.to_u(f.z))[0] for f in clip.frames])
    # 60 BPM: a beat a second; the sine is lowest (-2) on the beat, highest (2) half-way; a
    # frame shows the value read at the start of its step (the beat one frame earlier)
    frames = [5, 10, 15, 20, 30]
    expected = [-2.0 + 4.0 * tempo.wave((k - 1) / 20.0, "sine") for k in frames]
    assert z0[frames] == pytest.approx(expected, abs=1e-3)
    assert z0.max() - z0.min() > 3.5


def test_midi_inputs_time_clock_messages_in_the_callback() -> None:
    """Ports open with a callback; clock messages go to the tempo at once with their arrival
    time, the rest wait for the loop's poll."""
    callbacks = []

    class Port:
        name = "Clock Box"

        def iter_pending(self):
            return iter(())

        def close(self) -> None:
            pass

    class Backend:
        def get_input_names(self):
            return ["Clock Box"]

        def open_input(self, name=None, virtual=False, callback=None, **kw):
            callbacks.append(callback)
            return Port()

    got: list[tuple[str, float]] = []
    ins = MidiInputs(None, virtual=False, backend=Backend(),
                     on_timed=lambda m, t: got.append((m.type, t)), timed=TEMPO_MESSAGES)
    assert ins.start() and callbacks and callbacks[0] is not None
    before = time.monotonic()
    callbacks[0](mido.Message("clock"))
    callbacks[0](mido.Message("control_change", control=1, value=2))
    assert [k for k, _ in got] == ["clock"] and before <= got[0][1] <= time.monotonic()
    assert [m.type for m in ins.poll()] == ["control_change"]
    ins.close()


class FakeLink:
    def __init__(self) -> None:
        self.session: tuple[float, float] | None = None

    def now(self) -> tuple[float, float] | None:
        return self.session

    def set_tempo(self, bpm: float) -> None:
        self.proposed = bpm


def test_a_link_session_with_peers_wins_and_alone_leaves_the_tempo_be() -> None:
    from latentsketch.latent.space import LatentSpace

    space = LatentSpace.standard(4)
    state = engine.State.initial(space, seed=1)
    link = FakeLink()
    tracker = TempoTracker(link)
    assert tracker.poll(1.0, state, 1 / 60) == []            # alone: nothing to say
    link.session = (17.5, 133.0)
    cmds = tracker.poll(1.0, state, 1 / 60)
    assert C.SetParam("tempo.bpm", 133.0) in cmds
    beat = next(c.beat for c in cmds if isinstance(c, C.SetBeat))
    assert beat == pytest.approx(17.5 - 133.0 / 60 / 60)    # at the step's start
    tracker.tap(1.0)
    tracker.tap(1.4)                                          # 150 BPM: proposed to Link
    tracker.poll(1.5, state, 1 / 60)
    assert link.proposed == pytest.approx(150.0)


def test_ableton_link_with_a_peer_session() -> None:
    aalink = pytest.importorskip("aalink", reason="Link needs the optional extra "
                                                  "latentsketch[link]")
    import asyncio

    from latentsketch.control.link import LinkSession

    ours = LinkSession(120.0)
    loop = asyncio.new_event_loop()
    try:
        async def peer_link():
            link = aalink.Link(128.0)
            link.enabled = True
            return link
        peer = loop.run_until_complete(peer_link())
        deadline = time.monotonic() + 5.0
        while ours.peers < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ours.peers >= 1, "the two Link sessions did not find each other"
        peer.tempo = 128.0
        deadline = time.monotonic() + 3.0
        while (ours.now() or (0, 0))[1] != pytest.approx(128.0) and time.monotonic() < deadline:
            time.sleep(0.05)
        beat, bpm = ours.now()
        assert bpm == pytest.approx(128.0) and beat == pytest.approx(peer.beat, abs=0.05)
        peer.enabled = False
    finally:
        ours.close()
        loop.close()
