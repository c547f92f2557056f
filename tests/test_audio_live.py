"""Live sound: the analysis worker fed from generated WAV files (the same thread a sound card
feeds), its values reaching the engine only as logged commands (a replay needs no sound),
and a missing sound input as one line while the show goes on."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import av
import numpy as np
import pytest

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.control.audio import FEATURES
from latentsketch.control.audio_input import AudioFeed, FileInput
from latentsketch.control.audio_track import AudioTrack, read_sound
from latentsketch.control.modulation import ModulationBus
from latentsketch.model import checkpoint
from latentsketch.output.controllog import read_log
from latentsketch.output.video import H264Writer
from latentsketch.render import replay_clip
from tests.sounds import RATE, SOUND_MAPPINGS, kicks, sine, write_wav

PRESET = SOUND_MAPPINGS


def test_the_worker_finds_what_the_offline_analysis_finds(tmp_path: Path):
    x, truth = kicks()
    wav = write_wav(tmp_path / "kicks.wav", x)
    bus = ModulationBus(capacity=100_000)
    feed = AudioFeed(FileInput(wav, realtime=False, loop=False), bus).start()
    deadline = time.monotonic() + 10
    while feed.running and time.monotonic() < deadline:
        time.sleep(0.01)
    feed.close()
    assert feed.poll() == []
    timed = bus.drain_timed()
    onset = [t - feed.t0 for name, v, t in timed if name == "audio.onset" and v > 0.5]
    assert len(onset) == len(truth)
    assert np.all(np.abs(np.asarray(onset) - truth) < 1 / 60)   # one frame at 60 fps
    track = AudioTrack.from_sound(read_sound(wav))
    low = [v for name, v, _ in timed if name == "audio.low"]
    assert np.array_equal(low, track.values[:, FEATURES.index("audio.low")])


def test_sound_in_moves_the_live_picture_through_logged_commands(tmp_path: Path, make_app,
                                                                 tiny_model: Path):
    x, _ = kicks(seconds=1.0)
    wav = write_wav(tmp_path / "kicks.wav", x)
    preset = tmp_path / "sound.toml"
    preset.write_text(PRESET)
    live_z: list[np.ndarray] = []

    def script(i: int, app) -> list:
        time.sleep(1 / 60)          # let the sound play in real time
        if i >= 1:
            live_z.append(engine.output_z(app.state, app.space))
        return []

    app = make_app(audio_in=str(wav), preset=str(preset), log_control=True)
    assert app.inputs.audio is not None
    app.run(max_frames=41, dt=1 / 60, script=script)
    live_z.append(engine.output_z(app.state, app.space))
    app.close()
    loaded = checkpoint.load(tiny_model)
    (logf,) = (tmp_path / "out").glob("*.log.jsonl")
    log = read_log(logf, loaded.model_id)
    cmds = [c for f in log.frames for c in f.commands]
    assert any(isinstance(c, C.SetDim) and c.index == 0 for c in cmds)
    assert any(isinstance(c, C.NewTarget) for c in cmds)       # the kicks' onsets
    replayed = [f.z for f in replay_clip(log, loaded.space).frames]
    assert len(replayed) == len(live_z) == 41
    assert all(a.tobytes() == b.tobytes() for a, b in zip(live_z, replayed, strict=True))


def test_no_sound_input_is_one_line_and_the_show_goes_on(make_app,
                                                         caplog: pytest.LogCaptureFixture):
    app = make_app(audio_in="no-such-sound-card-xyz")
    assert app.inputs.audio is None
    lines = [r.getMessage() for r in caplog.records if "--audio-in" in r.getMessage()]
    assert len(lines) == 1 and "playing on without sound" in lines[0] and "\n" not in lines[0]
    app.run(max_frames=3, dt=1 / 60)
    assert app.frames == 3


def test_a_recording_started_while_sound_plays_carries_it(tmp_path: Path, make_app):
    x, _ = kicks(seconds=2.0)
    wav = write_wav(tmp_path / "kicks.wav", x)

    def script(i: int, app) -> list:
        return {2: [C.Record(True)], 40: [C.Record(False)]}.get(i, [])

    app = make_app(audio_in=str(wav), fps=60)
    app.run(max_frames=42, script=script)        # wall-clock dts, as a show runs
    (video,) = (tmp_path / "out").glob("*.mp4")
    with av.open(str(video)) as c:
        v = c.streams.video[0]
        frames, shown = v.frames, float(v.duration * v.time_base)
        audio = c.streams.audio[0]
        seconds = sum(f.samples for f in c.decode(audio)) / audio.rate
    assert frames == 38
    # the sound lasts as long as the frames were shown, to a few blocks
    assert abs(seconds - shown) < 0.25, (seconds, shown)


def test_a_killed_recording_keeps_its_sound(tmp_path: Path):
    """Crash safety holds with sound: the fragmented file as a kill leaves it plays both."""
    path = tmp_path / "rec.mp4"
    w = H264Writer(path, 64, 64, 30, preset="ultrafast", crash_safe=True,
                   fragment_seconds=0.25, audio=(RATE, 1))
    block = sine(220.0, seconds=1 / 30)[:, None].astype(np.float32)
    for i in range(45):
        w.write_audio(block)
        w.write(np.full((64, 64, 3), i * 5, np.uint8))
    shutil.copy(path, tmp_path / "killed.mp4")     # what is on disk before any close
    w.close()
    with av.open(str(tmp_path / "killed.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) >= 30
        c.seek(0)
        assert sum(f.samples for f in c.decode(audio=0)) >= RATE // 2
    with av.open(str(path)) as c:               # the clean close remuxed both streams
        assert len(c.streams.audio) == 1 and c.streams.video[0].frames == 45
