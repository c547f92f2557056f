"""The package as a user gets it: layering, and a plain wheel install run from another folder."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CORE = ("latentsketch.engine", "latentsketch.params", "latentsketch.commands",
        "latentsketch.latent.walks", "latentsketch.latent.interp", "latentsketch.latent.space",
        "latentsketch.model.vae", "latentsketch.model.checkpoint", "latentsketch.model.inference",
        "latentsketch.data.procedural", "latentsketch.train", "latentsketch.preset",
        "latentsketch.control.addresses", "latentsketch.control.mapping",
        "latentsketch.output.controllog", "latentsketch.output.recorder")


def test_core_imports_without_pygame() -> None:
    """Model, latent math, engine, presets and control logic never import the window layer."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'pygame' or name.startswith('pygame.'):\n"
        "            raise ImportError('pygame is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {CORE!r}:\n"
        "    __import__(m)\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]


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
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
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
             "print((r.files('latentsketch.assets') / 'model.safetensors').is_file())")
    r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, cwd=elsewhere,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert str(env_dir) in lines[0]             # the installed copy, not the checkout
    assert "default.toml" in lines[1] and "gallery.toml" in lines[1]
    assert lines[2] == "True"                   # the bundled model ships in the wheel
    r = subprocess.run([str(env_dir / "bin" / "latentsketch"), "info", "--out", str(elsewhere)],
                       capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "model id" in r.stdout and list(elsewhere.glob("latentsketch-atlas-*.png"))
