"""The package as a user gets it: its import layers, and a plain wheel install run from another
folder."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

def test_import_layers_hold() -> None:
    """DESIGN.md's layers and "pygame only in the window layer", over the whole import graph
    (import-linter's contracts in pyproject.toml): a new upward import fails here."""
    pytest.importorskip("importlinter")
    lint = Path(sys.executable).with_name("lint-imports")
    cmd = [str(lint)] if lint.exists() else [
        sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]
    r = subprocess.run([*cmd, "--config", str(ROOT / "pyproject.toml")], capture_output=True,
                       text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0 and "0 broken" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


def _see_running_site_packages(py: Path) -> None:
    """Let the new venv import the dependencies of the interpreter running the tests.

    ``system_site_packages=True`` would show it the *base* interpreter's packages, which inside
    a venv or a conda env are not the ones installed here. A ``.pth`` file naming the running
    interpreter's site directories works from a system Python, a venv and a conda env alike;
    paths added by a ``.pth`` are appended after the venv's own site-packages, and ``.pth``
    files inside them are not run, so the editable checkout stays invisible: the wheel is what
    gets imported.
    """
    import site
    import sysconfig

    dirs = [sysconfig.get_paths()[k] for k in ("purelib", "platlib")]
    dirs += [d for d in sys.path if d.rstrip("/").endswith(("site-packages", "dist-packages"))]
    dirs += [site.getusersitepackages()] if site.ENABLE_USER_SITE else []
    r = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       capture_output=True, text=True, timeout=60, check=True)
    own = Path(r.stdout.strip())
    (own / "_latentsketch_test_deps.pth").write_text(
        "\n".join(dict.fromkeys(d for d in dirs if Path(d).is_dir())) + "\n")


@pytest.mark.skipif(os.environ.get("LATENTSKETCH_SKIP_WHEEL") == "1", reason="asked to skip")
def test_wheel_install_runs_from_any_folder(tmp_path: Path) -> None:
    """Build a wheel, install it (not editable) in a fresh venv, run it from an empty folder."""
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(wheels), str(ROOT)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next(wheels.glob("latentsketch-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    _see_running_site_packages(py)
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                        "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    if "no such option: --python" in r.stderr:  # pip < 22.3
        pytest.skip("pip too old for --python")
    assert r.returncode == 0, r.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": ""}
    probe = ("import latentsketch, importlib.resources as r;"
             "print(latentsketch.__file__);"
             "print(sorted(p.name for p in r.files('latentsketch.presets').iterdir()"
             " if p.name.endswith('.toml')));"
             "print(all((r.files('latentsketch.assets') / f).is_file() for f in"
             " ('model.safetensors', 'emoji.safetensors', 'emoji.json', 'emoji-LICENSE.md',"
             " 'emoji.directions.json')))")
    r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, cwd=elsewhere,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert str(env_dir) in lines[0]             # the installed copy, not the checkout
    assert "default.toml" in lines[1] and "gallery.toml" in lines[1]
    assert lines[2] == "True"                   # the bundled models ship in the wheel
    r = subprocess.run([str(env_dir / "bin" / "latentsketch"), "info", "--out", str(elsewhere)],
                       capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "model id" in r.stdout and list(elsewhere.glob("latentsketch-atlas-*.png"))
