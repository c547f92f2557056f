"""Sound that moves the picture offline: features of generated WAV files (onsets within a
frame of the truth, bands where the energy is), ``render --audio`` frame-exact and
deterministic, the sound muxed into the MP4 at the film's length, refusals in one line."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from latentsketch import engine
from latentsketch.cli import main
from latentsketch.commands import SetDim
from latentsketch.control.audio import FEATURES
from latentsketch.control.audio_track import AudioTrack
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.modulation import OfflineModulation
from latentsketch.mapping import shape
from latentsketch.model import checkpoint
from latentsketch.output.controllog import ControlLog
from latentsketch.preset import Preset
from latentsketch.render import RenderRequest, plan, render
from tests.sounds import SOUND_MAPPINGS, kicks, sine, write_wav

FPS = 30.0
PRESET = '[walk]\nmode = "drift"\n' + SOUND_MAPPINGS


@pytest.fixture(scope="module")
def kick_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    x, truth = kicks()
    return write_wav(tmp_path_factory.mktemp("snd") / "kicks.wav", x), truth


def test_a_kick_every_half_second_gives_onsets_within_one_frame(kick_wav):
    path, truth = kick_wav
    onsets = AudioTrack.read(path).onsets()
    assert len(onsets) == len(truth)
    assert np.all(np.abs(onsets - truth) < 1 / FPS), onsets - truth


def test_a_low_sine_raises_low_and_not_high(tmp_path: Path):
    track = AudioTrack.read(write_wav(tmp_path / "low.wav", sine(60.0)))
    last = dict(zip(FEATURES, track.values[-1], strict=True))
    assert last["audio.low"] > 0.8 and last["audio.level"] > 0.8
    assert last["audio.high"] < 0.05 and last["audio.mid"] < 0.3
    high = AudioTrack.read(write_wav(tmp_path / "high.wav", sine(5000.0)))
    last = dict(zip(FEATURES, high.values[-1], strict=True))
    assert last["audio.high"] > 0.8 and last["audio.low"] < 0.05


def test_render_audio_drives_mappings_frame_exactly_and_twice_the_same(
        tmp_path: Path, tiny_model: Path, kick_wav):
    wav, truth = kick_wav
    preset = tmp_path / "sound.toml"
    preset.write_text(PRESET)
    loaded = checkpoint.load(tiny_model)
    req = RenderRequest(model=tiny_model, preset=str(preset), audio=wav, fps=FPS)
    a = list(plan(req, loaded.model_id, loaded.space).frames)
    b = list(plan(req, loaded.model_id, loaded.space).frames)
    assert len(a) == round(2.0 * FPS)                      # the film lasts the sound
    assert all(x.z.tobytes() == y.z.tobytes() for x, y in zip(a, b, strict=True))
    # the commands before frame i pin dimension 0 where audio.low stood at its time (the
    # last hop at or before it): what the live loop would have drained by then
    track = AudioTrack.read(wav)
    low = track.values[:, FEATURES.index("audio.low")]
    mod = OfflineModulation(MappingRuntime(Preset.from_file(preset).mappings, 8), [track],
                            loaded.space)
    state = engine.State.initial(loaded.space, seed=0)
    sent = None
    for i in range(48):
        pins = [c for c in mod.commands(state, 1 / FPS if i else 0.0) if isinstance(c, SetDim)]
        k = np.searchsorted(track.times, i / FPS + 1e-9, side="right") - 1
        want = None if k < 0 else shape(low[k], -2.0, 2.0, "linear")
        assert pins == ([] if want == sent else [SetDim(0, pytest.approx(want, abs=1e-9))])
        sent = want
    silent = list(plan(RenderRequest(model=tiny_model, preset=str(preset), fps=FPS,
                                     duration=2.0), loaded.model_id, loaded.space).frames)
    assert any(x.z.tobytes() != y.z.tobytes() for x, y in zip(a, silent, strict=True))


def test_rendered_mp4_carries_the_sound_for_the_films_length(tmp_path: Path, tiny_model: Path,
                                                             kick_wav):
    wav, _ = kick_wav
    r = render(RenderRequest(model=tiny_model, walk="drift", audio=wav, fps=FPS, duration=1.5,
                             size=(64, 64), out=tmp_path / "film.mp4"))
    with av.open(str(r.path)) as c:
        audio = c.streams.audio[0]
        samples = sum(f.samples for f in c.decode(audio))
        assert audio.codec_context.name == "aac"
    assert r.frames == 45
    assert samples / audio.rate == pytest.approx(1.5, abs=0.05)   # AAC adds a frame at most
    assert [p.name for p in tmp_path.iterdir()] == ["film.mp4"]   # no hidden file left


def test_replay_with_audio_only_muxes(tmp_path: Path, tiny_model: Path, kick_wav):
    wav, _ = kick_wav
    loaded = checkpoint.load(tiny_model)
    logf = tmp_path / "show.log.jsonl"
    with ControlLog.open(logf, engine.State.initial(loaded.space, seed=3), loaded.model_id,
                         None, size=(32, 32), fps=FPS) as log:
        for i in range(12):
            log.frame(i / FPS, 1 / FPS if i else 0.0, [])
    r = render(RenderRequest(model=tiny_model, replay=logf, audio=wav, out=tmp_path / "r.mov"))
    with av.open(str(r.path)) as c:
        (audio,) = c.streams.audio
        samples = sum(f.samples for f in c.decode(audio))
    assert r.frames == 12 and samples / audio.rate == pytest.approx(12 / FPS, abs=1e-3)


@pytest.mark.parametrize("args,message", [
    (["--walk", "drift", "--format", "gif", "--audio", "{wav}"], "--audio: .gif holds no sound"),
    (["--walk", "drift", "--out", "{tmp}/frames", "--audio", "{wav}"],
     "--audio: a folder of PNG frames holds no sound"),
    (["--walk", "drift", "--audio", "{tmp}/none.wav"], "--audio {tmp}/none.wav: no such file"),
    (["--walk", "drift", "--audio", "{tmp}/junk.wav"], "not a sound PyAV can read"),
])
def test_audio_refusals_are_one_line(tmp_path: Path, tiny_model: Path, kick_wav,
                                     capsys: pytest.CaptureFixture, args, message):
    (tmp_path / "junk.wav").write_bytes(b"RIFF nonsense")
    argv = ["render", "--model", str(tiny_model), "--out-dir", str(tmp_path / "o"),
            *[x.format(tmp=tmp_path, wav=kick_wav[0]) for x in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message.format(tmp=tmp_path) in err and "\n" not in err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_every_modulation_source_is_documented():
    from latentsketch.modsources import MOD_SOURCES

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- sources:", 1)[1].split("<!-- /sources -->", 1)[0]
    for src in MOD_SOURCES:
        assert f"| `{src.name}` |" in table, src.name
