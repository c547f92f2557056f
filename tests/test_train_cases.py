"""Training as a new user runs it into trouble: each case is one line, before any work is lost.

Real folders and files: a read-only tmpfs mount (tests run as root, and root writes into a
``chmod 555`` folder), the case folders in ``tests/cases/``, a folder that already holds a model.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from latentsketch.errors import UserError
from latentsketch.model import checkpoint
from latentsketch.train import TrainConfig, Trainer, TrainEvent, train

CASES = Path(__file__).parent / "cases"


def _cfg(out: Path, **kw: object) -> TrainConfig:
    base = dict(data="procedural", out=str(out), size=64, latent=4, width=8, epochs=1,
                batch_size=8, lr=3e-3, n_images=48, warmup_steps=5, seed=0,
                precision="fp32", threads=1)
    return TrainConfig(**{**base, **kw})


def test_read_only_out_is_refused_before_any_step(readonly_dir: Path) -> None:
    events: list[TrainEvent] = []
    t0 = time.perf_counter()
    with pytest.raises(UserError, match=f"output folder {readonly_dir / 'm'}: cannot write"):
        train(_cfg(readonly_dir / "m", n_images=20000), events.append)
    assert events == [] and time.perf_counter() - t0 < 5  # before the data is even made
    with pytest.raises(UserError, match=f"output folder {readonly_dir}: cannot write"):
        Trainer(_cfg(readonly_dir))


def test_existing_model_is_refused_without_resume_and_replaced_with_force(tmp_path: Path
                                                                           ) -> None:
    out = tmp_path / "m"
    train(_cfg(out))
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(UserError, match=r"holds a model; pass --resume to continue it or "
                                        r"--force to replace it"):
        Trainer(_cfg(out, seed=1))
    assert (out / "model.safetensors").read_bytes() == before
    train(_cfg(out, seed=1, force=True))
    after = checkpoint.load(out)
    assert (out / "model.safetensors").read_bytes() != before
    assert after.config["training"]["config"]["seed"] == 1


def test_resume_where_there_is_no_model_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="holds no model to resume"):
        Trainer(_cfg(tmp_path / "empty", resume=True))


def _cli(*args: str) -> subprocess.CompletedProcess:
    from tests.test_cli import run

    return run(*args)


def test_cli_says_one_line_for_a_read_only_out_and_an_existing_model(readonly_dir: Path,
                                                                      tmp_path: Path) -> None:
    from tests.conftest import make_tiny_model

    r = _cli("train", "procedural", "--out", str(readonly_dir / "m"))
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (f"latentsketch: error: output folder {readonly_dir / 'm'}: "
                                f"cannot write there (Read-only file system); choose another --out")
    make_tiny_model(tmp_path / "m")
    r = _cli("train", "procedural", "--out", str(tmp_path / "m"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "holds a model; pass --resume to continue it or --force to replace it" in r.stderr


def test_a_diverging_run_says_lower_the_rate_and_leaves_no_broken_model(tmp_path: Path) -> None:
    data = str(CASES / "ten-images")
    out = tmp_path / "m"
    with pytest.raises(UserError) as e:
        train(_cfg(out, data=data, lr=1e4, batch_size=4, epochs=3))
    msg = str(e.value)
    assert re.match(r"training diverged at step \d+ \((loss nan|held-out PSNR fell from "
                    r"[\d.]+ to [\d.]+ dB)\)", msg), msg
    assert "try a lower --lr, e.g. 2e-3; no model was saved" in msg and "\n" not in msg
    assert not (out / "model.safetensors").exists() and not (out / "train_state.safetensors"
                                                             ).exists()
    # a good model in --out survives a resumed run that diverges, byte for byte
    train(_cfg(out, data=data, batch_size=4, epochs=2))
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    with pytest.raises(UserError, match=r"diverged at step \d+ .*the model saved at step 4 is "
                                        r"kept"):
        train(_cfg(out, data=data, lr=1e4, batch_size=4, epochs=6, resume=True))
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before
    checkpoint.load(out)  # still loads: finite weights


def _folder(path: Path, images: list[np.ndarray]) -> str:
    from PIL import Image

    path.mkdir()
    for i, a in enumerate(images):
        Image.fromarray(a).save(path / f"{i}.png")
    return str(path)


def test_one_image_trains_into_a_playable_model(tmp_path: Path) -> None:
    events: list[TrainEvent] = []
    path, metrics = train(_cfg(tmp_path / "m", data=str(CASES / "one-image"), epochs=30),
                          events.append)
    assert "none held out" in events[0].message and "random crops" in events[0].message
    steps = [e for e in events if e.kind == "step"]
    assert len(steps) == 30  # one full batch (the image 8 times, flipped and cropped) per epoch
    recon = [e.terms["recon"] for e in steps]
    assert np.mean(recon[-5:]) < np.mean(recon[:5])
    loaded = checkpoint.load(path)
    assert loaded.space.keyframes.shape == (1, 4)  # one picture: a tour of one keyframe
    assert metrics["measured_on"].startswith("training images")
    assert np.isfinite(metrics["heldout_psnr_db"])
    assert (tmp_path / "m" / "samples.png").is_file()


@pytest.mark.parametrize("kind", ["identical", "one colour"])
def test_degenerate_folders_train(kind: str, tmp_path: Path) -> None:
    from latentsketch.data import procedural

    if kind == "identical":
        images = [procedural.generate(1, seed=3, size=64)[0]] * 25
    else:
        images = [np.full((40, 60, 3), (200, 30, 90), np.uint8)] * 3
    events: list[TrainEvent] = []
    path, metrics = train(_cfg(tmp_path / "m", data=_folder(tmp_path / "pics", images),
                               epochs=4), events.append)
    assert "every image is the same" in events[0].message
    loaded = checkpoint.load(path)
    assert loaded.space.keyframes.shape[0] == 1
    assert all(np.isfinite(v) for v in metrics.values() if isinstance(v, float))
    if kind == "one colour":
        assert "edge_ratio_walk" not in metrics  # no edges in the data to compare with


def test_the_measuring_after_the_last_step_shows_progress(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import latentsketch.progress as progress

    events: list[TrainEvent] = []
    real = progress.train
    monkeypatch.setattr(progress, "train",
                        lambda cfg, cb: real(cfg, lambda e: (events.append(e), cb(e))))
    progress.train_with_progress(_cfg(tmp_path / "m", n_images=100))
    kinds = [e.kind for e in events]
    last_step = max(i for i, k in enumerate(kinds) if k == "step")
    after = events[last_step + 1 : -1]
    measure = [e for e in after if e.kind == "measure"]
    assert kinds[-1] == "done" and len(measure) >= 4
    assert all(e.kind in ("saving", "measure", "epoch") for e in after)
    assert measure[0].message == "comparing raw and EMA weights"
    assert measure[1].message == "encoding 95 images"
    assert [e.progress for e in measure] == sorted(e.progress for e in measure)
    assert measure[-1].progress == 1.0
    err = capsys.readouterr().err
    assert "measure: 100%" in err and "encoding 95 images" in err and "saved " in err


def test_a_full_disk_mid_run_is_one_line_and_leaves_no_partial_files(tmp_path: Path) -> None:
    d = tmp_path / "full"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root and mount rights): "
                    f"{r.stderr.strip()}")
    try:
        with pytest.raises(UserError, match=rf"output folder {d}: cannot write \(No space left "
                                            r"on device\)"):
            train(_cfg(d, epochs=2))  # the model (~1 MB) cannot fit; the probe file can
        left = sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
        assert not [n for n in left if n.endswith(".tmp") or ".latentsketch" in n], left
        assert "model.safetensors" not in left
        assert all((d / n).stat().st_size > 0 for n in left), left
    finally:
        subprocess.run(["umount", str(d)], check=False)
