"""Fine-tuning (``train --from``): the run starts from the source's weights and names it; the
default picks the bundled default model; contradicting flags and --resume are one line. And
the tool that makes a folder of photo crops from the scikit-image/scikit-learn wheels."""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from latentsketch import cli
from latentsketch.model import checkpoint
from latentsketch.model.vae import VAE, VAEConfig
from latentsketch.train import TrainConfig, Trainer, state, transfer

ROOT = Path(__file__).resolve().parent.parent


def _source(folder: Path, seed: int = 3) -> Path:
    """A seeded untrained 64-px model of the preset architecture (width 8, latent 8)."""
    torch.manual_seed(seed)
    return checkpoint.save(VAE(VAEConfig.preset(64, 8, 8)), folder)


def _pictures(folder: Path, n: int = 24) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
            folder / f"{i}.png")
    return folder


def _cfg(tmp_path: Path, **kw: object) -> TrainConfig:
    base = dict(data=str(_pictures(tmp_path / "pics")), out=str(tmp_path / "m"), size=64,
                latent=8, width=8, steps=2, batch_size=8, precision="fp32", threads=1)
    return TrainConfig(**{**base, **kw})


def _parse(*argv: str):
    return cli.build_parser().parse_args(["train", *argv])


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_fine_tune_starts_from_the_source_weights_and_records_its_id(tmp_path: Path) -> None:
    src = _source(tmp_path / "src")
    source = checkpoint.load(src).vae
    t = Trainer(_cfg(tmp_path, start_from=str(src.parent)))
    assert _same(t.vae, source) and t.ema is not None and _same(t.ema, source)
    assert t.step == 0 and not t.opt.state  # a fresh optimizer and schedule
    assert any("starting from the model" in n and "--from none" in n for n in t.notes)
    scratch = Trainer(_cfg(tmp_path, out=str(tmp_path / "s"), start_from=None))
    assert not _same(scratch.vae, source)
    assert any(n.startswith("training from scratch") for n in scratch.notes)  # said, not silent

    t.train_step(t.batches.next()[0])
    t.save(t.vae, "raw", final=False, stats={})
    state.save(t)
    training = json.loads((tmp_path / "m" / "model.json").read_text())["training"]
    record = {"model": str(src.parent), "id": checkpoint.model_id_of(src)}
    assert training["from"] == record
    # a resume without flags takes the run's own architecture and keeps its source's record
    a = _parse(str(tmp_path / "pics"), "--out", str(tmp_path / "m"), "--resume")
    assert cli._train_source(a) is None and (a.latent, a.width, a.size) == (8, 8, 64)
    resumed = Trainer(_cfg(tmp_path, resume=True))
    assert resumed.step == 1 and resumed.started_from == record


def test_the_default_starts_from_the_bundled_default_unless_told_otherwise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _source(tmp_path / "src")
    monkeypatch.setitem(checkpoint.BUNDLED, "tiny", src.name)
    monkeypatch.setattr(checkpoint, "DEFAULT", "tiny")
    monkeypatch.setattr(checkpoint, "bundled_path", lambda name=None: src)
    monkeypatch.chdir(tmp_path)
    pics = str(_pictures(tmp_path / "pics", 2))
    a = _parse(pics)
    source = cli._train_source(a)
    assert source is not None and source.given == "tiny"
    assert source.model_id == checkpoint.model_id_of(src)
    assert (a.arch, a.size, a.latent, a.width) == ("preset", 64, 8, 8)
    cfg = transfer.configure(TrainConfig(data=pics), source, lr_given=False, warmup_given=False)
    assert cfg.start_from == "tiny" and cfg.warmup_steps == transfer.FINETUNE_WARMUP
    # transparent pixels meet the source's training background, unless --background says
    dark = transfer.Source("tiny", src, source.model_id, source.flags, (0, 0, 0))
    assert transfer.configure(TrainConfig(data=pics), dark, False, False).background == (0, 0, 0)
    assert transfer.configure(TrainConfig(data=pics), dark, False, False,
                              background_given=True).background == TrainConfig.background
    # an architecture flag, --from none, procedural data or --resume: from scratch
    for argv in ((pics, "--latent", "16"), (pics, "--from", "none"), ("procedural",),
                 (pics, "--resume")):
        a = _parse(*argv)
        assert cli._train_source(a) is None, argv
    a = _parse(pics, "--latent", "16")
    cli._train_source(a)
    assert (a.arch, a.size, a.latent, a.width) == ("preset", 64, 16, 32)


@pytest.mark.parametrize("argv, says", [
    (("--from", "SRC", "--size", "128"), "--size 128 contradicts the model SRC (--from SRC), "
                                         "whose size is 64"),
    (("--from", "SRC", "--arch", "sharp128", "--size", "128"), "contradicts the model SRC"),
    (("--from", "SRC", "--resume"), "--from SRC with --resume"),
])
def test_contradicting_flags_and_from_with_resume_are_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
        says: str) -> None:
    src = str(_source(tmp_path / "src").parent)
    pics = str(_pictures(tmp_path / "pics", 2))
    argv = tuple(src if x == "SRC" else x for x in argv)
    assert cli.main(["train", pics, "--out", str(tmp_path / "m"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says.replace("SRC", src) in err, err
    assert not (tmp_path / "m").exists()  # refused before any work


def _load_tool():
    spec = importlib.util.spec_from_file_location("photo_crops", ROOT / "tools/photo_crops.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_photo_crops_reads_a_wheel_and_writes_the_same_crops_for_a_seed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = _load_tool()
    monkeypatch.setattr(tool, "_installed", lambda name: None)  # the wheel alone
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, colour in (("skimage/data/rocket.jpg", (200, 30, 30)),
                             ("sklearn/datasets/images/china.jpg", (30, 30, 200))):
            buf = io.BytesIO()
            Image.new("RGB", (40, 24), colour).save(buf, format="JPEG")
            z.writestr(name, buf.getvalue())
    photos = tool.load_photos([wheel])
    assert sorted(photos) == ["skimage/data/rocket.jpg", "sklearn/datasets/images/china.jpg"]
    first = tool.make_crops(tmp_path / "a", 6, 16, 0, photos)
    again = tool.make_crops(tmp_path / "b", 6, 16, 0, photos)
    assert len(first) == 6 and sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        p.name for p in first]  # no temporary files left
    for p, q in zip(first, again, strict=True):
        assert p.read_bytes() == q.read_bytes()
        im = Image.open(p)
        assert im.size == (16, 16) and im.mode == "RGB"
    reds = [np.asarray(Image.open(p))[..., 0].mean() > 100 for p in first]
    assert reds == [True, False] * 3  # the photos in turn (sorted by name)
    with pytest.raises(SystemExit, match="no photographs"):
        tool.load_photos([])


@pytest.mark.parametrize("minutes", ["-1", "0", "nan"])
def test_a_budget_of_no_minutes_is_one_line(tmp_path: Path, minutes: str,
                                            capsys: pytest.CaptureFixture) -> None:
    pics = _pictures(tmp_path / "pics", 2)
    assert cli.main(["train", str(pics), "--out", str(tmp_path / "m"), "--minutes", minutes]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"--minutes {float(minutes):g}" in lines[0]
    assert not (tmp_path / "m").exists()
