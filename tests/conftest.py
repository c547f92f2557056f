"""Shared fixtures: headless SDL, one thread for torch, and a tiny seeded VAE checkpoint."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

# The user's folders (presets, directions, crash logs, engine cache) are a temporary home for the
# whole run, from collection on: a preset the person running the suite saved must not become a
# test case (``presets.available()`` is read at collection), nor a test write into their folders.
_HOME = tempfile.mkdtemp(prefix="latentsketch-tests-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
for _var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
    os.environ[_var] = os.path.join(_HOME, _var.lower())

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """Engine artifacts go to the user cache: never the real one in tests."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before

TINY_LATENT = 8


def tiny_config():
    from latentsketch.model.vae import VAEConfig

    return VAEConfig(image_size=64, latent=TINY_LATENT, enc_widths=(8, 8, 16, 16),
                     dec_widths=(16, 16, 8, 8), res_sizes=(8,), groups=4)


def write_pictures(folder: Path, n: int, seed: int = 1, size: int = 96,
                   ext: str = ".png") -> list[Path]:
    """``n`` procedural pictures (``pic0.png``...) written into ``folder`` (made if missing):
    pictures like a model's training data, for encoding, drops and directions."""
    from PIL import Image

    from latentsketch.data import procedural

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, im in enumerate(procedural.generate(n, seed=seed, size=size)):
        p = folder / f"pic{i}{ext}"
        Image.fromarray(im).save(p)
        out.append(p)
    return out


def make_tiny_model(out: Path, seed: int = 0, stats: bool = True) -> Path:
    """A seeded random VAE saved as a checkpoint, with latent statistics and keyframes."""
    from latentsketch.model import checkpoint
    from latentsketch.model.vae import VAE

    torch.manual_seed(seed)
    vae = VAE(tiny_config()).eval()
    rng = np.random.default_rng(seed)
    meta = {}
    if stats:
        meta = {
            "kl_per_dim": sorted(rng.uniform(0.1, 3, TINY_LATENT).tolist()),  # ascending
            "kl_rank": list(reversed(range(TINY_LATENT))),
            "latent_mean": rng.normal(0, 0.2, TINY_LATENT).tolist(),
            "latent_std": rng.uniform(0.6, 1.4, TINY_LATENT).tolist(),
            "keyframes": rng.normal(0, 1, (4, TINY_LATENT)).tolist(),
            "data": "tiny test model",
        }
    return checkpoint.save(vae, out, meta)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the tiny model's folder (weights + config)."""
    d = tmp_path_factory.mktemp("tiny_model")
    make_tiny_model(d)
    return d


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


@pytest.fixture(autouse=True)
def _no_swallowed_errors(caplog: pytest.LogCaptureFixture):
    """The live loop survives unexpected errors by logging them; in tests that is a failure."""
    yield
    bad = [r for r in caplog.get_records("call")
           if r.name.startswith("latentsketch") and r.levelno >= 40 and r.exc_info]
    assert not bad, f"the loop swallowed an error: {bad[0].getMessage()}"


# --- real read-only and full folders, and the user's folders (errors and files) -------------
# Tests run as root, and root writes into a chmod 555 folder: a read-only or full folder has to
# be a real file system. These mount a small tmpfs (unmounted in teardown) and skip, saying
# why, where mounting is refused (no root, no CAP_SYS_ADMIN, no mount binary).


def _mount_tmpfs(where: Path, options: str) -> None:
    import subprocess

    where.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"cannot mount tmpfs here: {e}")
    if r.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {(r.stderr or r.stdout).strip()}")


def _unmount(where: Path) -> None:
    """Unmount; a file still open on the mount (a leaked descriptor) fails the test, and a lazy
    unmount makes sure no mount outlives it."""
    import gc
    import subprocess

    if subprocess.run(["umount", str(where)], capture_output=True, timeout=30).returncode:
        gc.collect()  # a file object waiting for the collector
        r = subprocess.run(["umount", str(where)], capture_output=True, text=True, timeout=30)
        if r.returncode:
            subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)
            pytest.fail(f"{where} was still in use after the test (a file left open?): "
                        f"{r.stderr.strip()}")


def fill_disk(folder: Path) -> None:
    """Fill a file system to the last byte, so any further write fails with ENOSPC."""
    import errno

    with open(folder / "filler", "wb", buffering=0) as f:
        for chunk in (1 << 16, 1 << 12, 1 << 8, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e


def _mounted(tmp_path: Path, name: str, options: str, fill: bool = False):
    where = tmp_path / name
    _mount_tmpfs(where, options)
    if fill:
        fill_disk(where)
    yield where
    _unmount(where)


@pytest.fixture
def readonly_dir(tmp_path: Path):
    """An empty folder on a read-only file system (``[Errno 30]`` on any write, even as root)."""
    yield from _mounted(tmp_path, "readonly", "ro,size=1m")


@pytest.fixture
def full_dir(tmp_path: Path):
    """A folder on a 64 KiB file system filled to the last byte: new (empty) files can still
    be created, as on a real full disk, but any byte written fails with ``[Errno 28]``."""
    yield from _mounted(tmp_path, "full", "size=64k", fill=True)


@pytest.fixture
def small_dir(tmp_path: Path):
    """A folder on an empty file system of 512 KiB, to fill up while writing."""
    yield from _mounted(tmp_path, "small", "size=512k")


def listing(folder: Path) -> list[str]:
    """Every name under ``folder`` except a full_dir's filler, hidden files included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != "filler")


@pytest.fixture(autouse=True)
def _user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's preset folder, directions and crash reports live under the test's tmp_path,
    never in the real ~/.config, ~/.local/share or ~/.local/state of the machine running the
    tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def make_app(tiny_model: Path, tmp_path: Path):
    """``make(**AppOptions overrides)`` -> a headless App on the tiny model, closed after the
    test."""
    from latentsketch.app import App, AppOptions

    apps: list[App] = []

    def make(**kw: object) -> App:
        opts = dict(model=str(tiny_model), seed=1, fps=0, size=(256, 256), osc=False,
                    midi=False, out_dir=str(tmp_path / "out"))
        app = App(AppOptions(**{**opts, **kw}))
        apps.append(app)
        return app

    yield make
    for a in apps:
        a.close()
