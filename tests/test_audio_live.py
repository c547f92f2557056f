"""Live sound: the analysis worker fed from generated WAV files (the same thread a sound card
feeds), its values reaching the engine only as logged commands (a replay needs no sound),
and a missing sound input as one line while the show goes on."""

from __future__ import annotations

import time
from pathlib import Path

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
from latentsketch.render import replay_clip
from tests.sounds import kicks, write_wav

PRESET = """
[[mappings]]
source = "audio.low"
target = "z/0"
out = [-2.0, 2.0]

[[mappings]]
source = "audio.onset"
target = "walk/next"
"""


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
