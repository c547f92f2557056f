"""``latentsketch encode`` as a person runs it, and encoded points as named preset keyframes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentsketch import engine
from latentsketch import preset as presets
from latentsketch.app import scenes
from latentsketch.cli import main
from latentsketch.data import procedural
from latentsketch.model import checkpoint
from tests.conftest import write_pictures

COMMENTED = """\
# my show: three shapes, then what the camera saw
name = "show"   # shown on the HUD
model = "{model}"

[walk]
mode = "tour"   # a tour through the keyframes below
dwell = 2.0

# the opening picture
[[keyframes]]
u = {u}
hold = 4.0
"""


def run(*args: str) -> subprocess.CompletedProcess:
    """The command in a process of its own, as a person runs it."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    return subprocess.run([sys.executable, "-m", "latentsketch", *args], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.fixture
def encode(capsys: pytest.CaptureFixture):
    """``encode(*args)`` -> (exit status, stdout, stderr) of ``latentsketch encode`` in-process."""
    def call(*args: str) -> tuple[int, str, str]:
        code = main(["encode", *args])
        out = capsys.readouterr()
        return code, out.out, out.err
    return call


def _images(folder: Path, n: int, seed: int = 1) -> list[Path]:
    return write_pictures(folder, n, seed, size=96)


def test_encode_prints_one_json_line_per_image_and_names_the_unreadable_one(
        tiny_model: Path, tmp_path: Path) -> None:
    good = _images(tmp_path / "set", 2)
    bad = tmp_path / "set" / "zz-broken.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    solo = _images(tmp_path / "solo", 1, seed=2)[0]
    r = run("encode", str(tmp_path / "set"), str(solo), "--model", str(tiny_model))
    assert r.returncode == 2                               # one failed: said by the status
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["file"] for d in lines] == [str(good[0]), str(good[1]), str(solo)]
    model = checkpoint.load(tiny_model)
    for d in lines:
        assert d["model_id"] == model.model_id
        assert len(d["z"]) == len(d["sigma"]) == model.cfg.latent
        assert all(s > 0 for s in d["sigma"])
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]


def test_encode_exits_0_when_every_image_is_encoded(tiny_model: Path, tmp_path: Path,
                                                   encode) -> None:
    (p,) = _images(tmp_path, 1)
    code, out, err = encode(str(p), "--model", str(tiny_model))
    assert code == 0, err
    assert len(out.splitlines()) == 1 and err == ""


def test_a_json_line_round_trips_into_a_named_keyframe_keeping_comments(
        tiny_model: Path, tmp_path: Path, encode) -> None:
    model = checkpoint.load(tiny_model)
    first = [0.5] * model.cfg.latent
    path = tmp_path / "show.toml"
    path.write_text(COMMENTED.format(model=model.model_id, u=first))
    pics = _images(tmp_path / "pics", 2)
    code, out, err = encode(*map(str, pics), "--model", str(tiny_model), "--preset", str(path))
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    text = path.read_text()
    assert text.startswith(COMMENTED.format(model=model.model_id, u=first))  # untouched
    p = presets.Preset.from_file(path)
    assert [k.name for k in p.keyframes] == [None, "pic0", "pic1"]
    assert p.keyframes[0].hold == 4.0 and p.params["walk.dwell"] == 2.0
    for d, k in zip(lines, p.keyframes[1:], strict=True):
        z = model.space.to_z(np.asarray(k.u))
        np.testing.assert_allclose(z, np.asarray(d["z"], np.float32), rtol=1e-5, atol=1e-5)
    # and in Python, the same line gives the same keyframe
    k = presets.Keyframe.from_z(np.asarray(lines[0]["z"]), model.space, "pic0")
    assert k == p.keyframes[1]


def test_encode_into_a_new_preset_file_makes_one_that_loads(tiny_model: Path, tmp_path: Path,
                                                            encode) -> None:
    pics = _images(tmp_path / "pics", 3)
    target = tmp_path / "presets" / "fresh.toml"
    code, out, err = encode(str(tmp_path / "pics"), "--model", str(tiny_model), "--preset",
            str(target))
    assert code == 0, err
    p = presets.Preset.from_file(target)
    assert p.model == checkpoint.load(tiny_model).model_id and p.name == "fresh"
    assert [k.name for k in p.keyframes] == [q.stem for q in pics]


def test_a_user_preset_name_is_edited_in_the_user_folder(tiny_model: Path, tmp_path: Path,
                                                        encode) -> None:
    (pic,) = _images(tmp_path, 1)
    code, out, err = encode(str(pic), "--model", str(tiny_model), "--preset", "mine")
    assert code == 0, err
    assert [k.name for k in presets.load("mine").keyframes] == ["pic0"]
    code, out, err = encode(str(pic), "--model", str(tiny_model), "--preset", "default")
    assert code == 2 and "bundled" in err and out == ""


def test_a_preset_of_another_model_is_refused_in_one_line(tiny_model: Path, tmp_path: Path,
                                                          encode) -> None:
    path = tmp_path / "other.toml"
    path.write_text(COMMENTED.format(model="0123456789ab", u=[0.0] * 8))
    before = path.read_text()
    (pic,) = _images(tmp_path, 1)
    code, out, err = encode(str(pic), "--model", str(tiny_model), "--preset", str(path))
    assert code == 2 and out == ""
    err = err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "0123456789ab" in err[0]
    assert path.read_text() == before


def test_inline_keyframes_are_appended_inline(tmp_path: Path) -> None:
    path = tmp_path / "inline.toml"
    path.write_text('model = "0123456789ab"  # mine\nkeyframes = [{u = [1.0, 2.0]}]\n')
    presets.append_keyframes(path, "0123456789ab", 2, [presets.Keyframe((3.0, 4.0), None, "b")])
    assert "# mine" in path.read_text()
    p = presets.Preset.from_file(path)
    assert [(k.u, k.name) for k in p.keyframes] == [((1.0, 2.0), None), ((3.0, 4.0), "b")]


@pytest.mark.parametrize("text,message", [
    ('model = "0123456789ab"\n[[keyframes]]\nu = [1.0]\nname = 3\n',
     "keyframes[0].name = 3 is not a string"),
    ('model = "0123456789ab"\n[[keyframes]]\nu = [1.0]\ntitle = "x"\n',
     "unknown key keyframes[0].title (known: u, hold, name)"),
])
def test_bad_keyframe_names_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(presets.PresetError, match=re.escape(message)):
        presets.Preset.from_file(path)


def test_render_keyframes_takes_any_pictures(tiny_model: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    a, b = procedural.generate(2, seed=5, size=120)
    Image.fromarray(a).save(tmp_path / "some.jpg", quality=90)
    Image.fromarray(b[:, :100]).save(tmp_path / "other.png")     # not square: centre-cropped
    out = tmp_path / "frames"
    code = main(["render", "--model", str(tiny_model), "--keyframes", str(tmp_path / "some.jpg"),
                 str(tmp_path / "other.png"), "--frames-per-segment", "4", "--size", "64x64",
                 "--out", str(out), "--backend", "fp32"])
    assert code == 0, capsys.readouterr().err
    frames = sorted(out.glob("*.png"))
    assert len(frames) == 5
    first, last = (np.asarray(Image.open(f)) for f in (frames[0], frames[-1]))
    assert np.abs(first.astype(int) - last).mean() > 1    # two pictures, two points


def test_encode_into_a_preset_counts_in_words_and_says_what_a_preset_is(
        tiny_model: Path, tmp_path: Path, encode) -> None:
    (pic,) = _images(tmp_path, 1)
    code, out, err = encode(str(pic), "--model", str(tiny_model), "--preset",
                            str(tmp_path / "one.toml"))
    assert code == 0 and "added 1 keyframe to" in err and "keyframes" not in err, err
    # a preset of one keyframe plays: its tour stays at the picture
    model = checkpoint.load(tiny_model)
    p = presets.Preset.from_file(tmp_path / "one.toml")
    state = scenes.start_state(p, model.space, seed=1)
    for _ in range(120):
        state = engine.step(state, [], 1 / 60, model.space)
    np.testing.assert_allclose(engine.output_z(state, model.space),
                               model.space.to_z(np.asarray(p.keyframes[0].u)), atol=1e-4)
    code, out, err = encode(str(pic), "--model", str(tiny_model), "--preset", "imgs/photo.jpg")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "'imgs/photo.jpg' is neither a .toml file nor a plain name" in err, err


def test_the_same_picture_twice_gets_unique_keyframe_names(tiny_model: Path, tmp_path: Path,
                                                           encode) -> None:
    (pic,) = _images(tmp_path, 1)
    target = tmp_path / "twice.toml"
    code, out, err = encode(str(pic), str(pic), "--model", str(tiny_model), "--preset",
                            str(target))
    assert code == 0 and "named pic0-2 (pic0 was taken)" in err, err
    code, out, err = encode(str(pic), "--model", str(tiny_model), "--preset", str(target))
    assert code == 0 and "named pic0-3 (pic0 was taken)" in err, err
    assert [k.name for k in presets.Preset.from_file(target).keyframes] == [
        "pic0", "pic0-2", "pic0-3"]
