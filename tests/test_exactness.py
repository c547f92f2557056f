"""The latent path is bit-exact on any CPU: no NumPy transcendental on the engine's path.

NumPy's float64 sin/cos/exp/log/arccos/power take AVX-512 kernels where the CPU has them and
differ from libm in the last bit there (numpy/numpy#23523), so a control log recorded on one
machine would replay to other bits on another. A test on one machine cannot see that difference;
this one fails wherever such a call is written.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from latentsketch import engine
from latentsketch.latent import exactmath as xm
from latentsketch.latent import interp, randoms

PKG = Path(engine.__file__).parent
ENGINE_PATH = [PKG / "engine.py", PKG / "params.py", PKG / "commands.py",
               *sorted((PKG / "latent").glob("*.py"))]
DISPATCHED = {"sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh",
              "tanh", "arcsinh", "arccosh", "arctanh", "exp", "exp2", "expm1", "log", "log2",
              "log10", "log1p", "power", "float_power", "cbrt", "hypot"}


@pytest.mark.parametrize("path", ENGINE_PATH, ids=lambda p: p.name)
def test_the_engine_path_calls_no_numpy_transcendental(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    bad = [f"{path.name}:{n.lineno} np.{n.attr}" for n in ast.walk(tree)
           if isinstance(n, ast.Attribute) and n.attr in DISPATCHED
           and isinstance(n.value, ast.Name) and n.value.id in ("np", "numpy")]
    assert not bad, f"use latentsketch.latent.exactmath instead: {bad}"


def test_exact_functions_are_libm_element_for_element() -> None:
    x = np.random.default_rng(0).uniform(0.001, 0.999, (7, 5))
    for ours, ref in ((xm.sin, math.sin), (xm.cos, math.cos), (xm.log, math.log),
                      (xm.arccos, math.acos)):
        got = ours(x)
        assert got.dtype == np.float64 and got.shape == x.shape
        assert all(g == ref(v) for g, v in zip(got.ravel(), x.ravel(), strict=True))
        assert float(ours(0.5)) == ref(0.5)   # scalars too


def test_walk_noise_and_easing_use_the_exact_functions() -> None:
    u = randoms.uniforms(3, 1, 0, 8)
    n = randoms.normals(3, 1, 0, 8)
    assert n[0] == math.sqrt(-2.0 * math.log(u[0])) * math.cos(2.0 * math.pi * u[1])
    assert n[1] == math.sqrt(-2.0 * math.log(u[0])) * math.sin(2.0 * math.pi * u[1])
    assert float(interp.cosine(np.float64(0.3))) == 0.5 - 0.5 * math.cos(math.pi * 0.3)
