"""Inference engines behind the one ``Decoder``: torch, ONNX Runtime and OpenVINO, fp32/bf16/int8.

Each engine turns latent vectors (B, latent) float32 into pictures (B, C, H, W) float32 in 0..1.
torch needs nothing prepared; ONNX Runtime and OpenVINO run a graph exported once per model
(``export_onnx``) and, for int8, quantised once with calibration latents from the model's data
region (``quantize_int8``: static post-training quantisation, QDQ format, per-channel weights).
Which engine is fastest differs by CPU (AMX, AVX-512 with bf16, AVX2 only) by 2x and more, so
``measure`` times every engine the machine can run at batch 1 on one thread and keeps the
fastest whose pixels stay within ``INT8_MAX_LEVELS`` of torch fp32. The artifacts and the choice
live in the user cache folder, keyed by model id and engine versions (``cache_dir``); they are
built in a subprocess (``engine_build``) so the live picture never waits for them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from latentsketch import userdirs
from latentsketch.errors import UserError
from latentsketch.latent.space import LatentSpace
from latentsketch.model.vae import DecoderNet

Runner = Callable[[np.ndarray], np.ndarray]  # (B, latent) float32 -> (B, C, H, W) float32

ONNX_OPSET = 18
INT8_MAX_LEVELS = 3   # an int8 engine is kept only if no pixel is further than this from fp32
ENGINES = ("torch-fp32", "torch-bf16", "onnxruntime-fp32", "onnxruntime-int8",
           "openvino-fp32", "openvino-bf16", "openvino-int8")


CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # what picks oneDNN's kernels


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AMX or AVX512-BF16); elsewhere it is emulated
    and ~50x slower than fp32 (measured on an AVX2-only EPYC)."""
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


class EngineUnavailable(UserError, RuntimeError):
    """The engine cannot run here (package missing, CPU lacks the precision, no artifact).

    Normally caught (the decoder stays on torch); a forced ``--backend`` shows it as one line."""


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Versions that decide whether cached artifacts are still valid."""
    return {"torch": torch.__version__, "onnxruntime": _version("onnxruntime"),
            "openvino": _version("openvino"), "onnx": _version("onnx")}


def cache_root() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/latentsketch`` (``~/.cache``), the platform's
    equivalent on macOS and Windows; never inside the installed package."""
    return userdirs.cache_dir()


def cache_dir(model_id: str) -> Path:
    """Where one model's engine artifacts live, keyed by model id and the engines' versions."""
    key = hashlib.sha256(json.dumps(versions(), sort_keys=True).encode()).hexdigest()[:10]
    return cache_root() / "engines" / model_id / key


def cpu_key() -> str:
    """A short id of this CPU's kernel-choosing features: a choice measured on another CPU kind
    is measured again."""
    have = sorted(cpu_flags() & set(CPU_FEATURES))
    return "-".join(have) or "generic"


# --- artifacts ---------------------------------------------------------------------------------

def export_onnx(net: DecoderNet, path: Path) -> Path:
    """Export the decoder (float32, dynamic batch) to ONNX at ``path``, written atomically.

    Uses the TorchScript exporter (``dynamo=False``): it needs no extra package and was measured
    exact to 2e-7 against eager torch (FACTS.md). Raises EngineUnavailable without ``onnx``.
    """
    if _version("onnx") is None:
        raise EngineUnavailable("the onnx package is not installed")
    net = net.float().eval()
    z = torch.zeros(1, net.fc.in_features)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (z,), str(tmp), input_names=["z"], output_names=["x"],
                          opset_version=ONNX_OPSET, dynamo=False,
                          dynamic_axes={"z": {0: "batch"}, "x": {0: "batch"}})
    os.replace(tmp, path)
    return path


def quantize_int8(onnx_fp32: Path, path: Path, calibration: np.ndarray) -> Path:
    """Static int8 post-training quantisation of an exported decoder (ONNX Runtime, QDQ).

    ``calibration``: (N, latent) float32 latents from where the model is played (its data
    region and keyframes). Weights per channel int8, activations uint8 with ``reduce_range``
    (7-bit: CPUs without VNNI saturate otherwise, as ONNX Runtime's docs warn).
    """
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
    except ImportError as e:
        raise EngineUnavailable(f"onnxruntime quantization is unavailable: {e}") from None

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.rows = iter(calibration.astype(np.float32))

        def get_next(self) -> dict[str, np.ndarray] | None:
            row = next(self.rows, None)
            return None if row is None else {"z": row[None]}

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_static(str(onnx_fp32), str(tmp), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QUInt8, reduce_range=True)
    os.replace(tmp, path)
    return path


# --- runners -----------------------------------------------------------------------------------

def _eager_copy(net: DecoderNet, precision: str,
                device: torch.device) -> tuple[torch.nn.Module, torch.dtype]:
    """A copy of ``net`` on ``device`` in channels_last and the precision's dtype (bf16 as a
    bf16 copy of the weights), and that dtype."""
    import copy

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    module = copy.deepcopy(net).eval().to(device).to(memory_format=torch.channels_last)
    return module.to(dtype), dtype


def torch_runner(net: DecoderNet, precision: str, device: torch.device) -> Runner:
    """Eager torch in channels_last; bf16 as a bf16 copy of the weights."""
    module, dtype = _eager_copy(net, precision, device)

    @torch.inference_mode()
    def run(z: np.ndarray) -> np.ndarray:
        zt = torch.from_numpy(np.ascontiguousarray(z, np.float32)).to(device, dtype)
        return module(zt).float().cpu().numpy()

    return run


def torch_frame_runner(net: DecoderNet, precision: str, device: torch.device) -> Runner:
    """Like ``torch_runner`` but returns finished frames, (B, H, W, 3) uint8: scaling,
    rounding (half to even, as ``np.rint``) and the conversion run on ``device``, so on a GPU
    the frame stays there until one copy of the uint8 pixels (the frame's one
    synchronisation, a quarter of float32's bytes). Equal to the CPU path's frames."""
    module, dtype = _eager_copy(net, precision, device)

    @torch.inference_mode()
    def run(z: np.ndarray) -> np.ndarray:
        zt = torch.from_numpy(np.ascontiguousarray(z, np.float32)).to(device, dtype)
        x = module(zt).float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        frame = x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
        return frame.permute(0, 2, 3, 1).contiguous().cpu().numpy()

    return run


def onnxruntime_runner(onnx_path: Path, threads: int) -> Runner:
    """An ONNX Runtime CPU session on ``threads`` threads with spinning off (two spinning threads
    made 436 of 600 frames late beside the render loop, FACTS.md)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise EngineUnavailable("onnxruntime is not installed") from None
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])

    def run(z: np.ndarray) -> np.ndarray:
        return session.run(None, {"z": np.ascontiguousarray(z, np.float32)})[0]

    return run


def openvino_runner(onnx_path: Path, precision: str, threads: int, cache: Path | None) -> Runner:
    """An OpenVINO CPU model compiled for latency; ``precision`` fp32, bf16 (native bf16 CPUs
    only) or int8 (from the QDQ graph). ``cache``: OpenVINO's own compiled-blob cache."""
    try:
        import openvino as ov
    except ImportError:
        raise EngineUnavailable("openvino is not installed") from None
    core = ov.Core()
    config: dict[str, object] = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                                 "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16"
                                 else "f32"}
    if cache is not None:
        config["CACHE_DIR"] = str(cache)
    compiled = core.compile_model(str(onnx_path), "CPU", config)
    request = compiled.create_infer_request()

    def run(z: np.ndarray) -> np.ndarray:
        return np.array(request.infer({0: np.ascontiguousarray(z, np.float32)})[0])

    return run


def runner(name: str, net: DecoderNet, artifacts: Path | None, threads: int = 1,
           device: torch.device | None = None) -> Runner:
    """The runner of engine ``name`` (one of ``ENGINES``). Raises EngineUnavailable."""
    kind, precision = name.rsplit("-", 1)
    device = device or next(net.parameters()).device
    if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        raise EngineUnavailable("this CPU has no native bf16 (AMX or AVX512-BF16)")
    if kind == "torch":
        return torch_runner(net, precision, device)
    if device.type != "cpu":
        raise EngineUnavailable(f"{kind} runs on the CPU here; the model is on {device.type}")
    graph = None if artifacts is None else artifacts / (
        "decoder-int8.onnx" if precision == "int8" else "decoder.onnx")
    if graph is None or not graph.is_file():
        raise EngineUnavailable(f"{kind} needs the model's exported graph ({graph} is missing):"
                                f" play the model once (it exports and measures the engines in "
                                f"the background), or use --backend auto")
    if kind == "onnxruntime":
        if precision == "bf16":
            raise EngineUnavailable("onnxruntime has no bf16 CPU kernels")
        return onnxruntime_runner(graph, threads)
    if kind == "openvino":
        return openvino_runner(graph, precision, threads, artifacts / "openvino-cache")
    raise EngineUnavailable(f"unknown engine {name!r}")


# --- the choice --------------------------------------------------------------------------------

@dataclass(frozen=True)
class EngineTiming:
    """One engine measured on this machine: median ms per frame at batch 1, and its largest
    pixel difference from torch fp32 in 8-bit levels (None: it could not run, see ``why``)."""

    name: str
    ms: float | None
    max_levels: float | None
    why: str = ""


@dataclass(frozen=True)
class EngineChoice:
    """What ``measure`` found: the winner and every engine's figures, stored as JSON."""

    winner: str
    timings: tuple[EngineTiming, ...]
    cpu: str
    versions: dict[str, str | None]
    threads: int

    def to_json(self) -> str:
        d = asdict(self)
        return json.dumps(d, indent=1)

    @classmethod
    def from_json(cls, text: str) -> EngineChoice:
        d = json.loads(text)
        return cls(winner=d["winner"], timings=tuple(EngineTiming(**t) for t in d["timings"]),
                   cpu=d["cpu"], versions=d["versions"], threads=int(d["threads"]))


def median_ms(run: Runner, z: np.ndarray, repeats: int, warmup: int = 3) -> float:
    """Median wall-clock ms of ``run(z)`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        run(z)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        run(z)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3


def _levels(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255.0), 0, 255)


def measure(net: DecoderNet, artifacts: Path | None, test_z: np.ndarray,
            names: Iterable[str] = ENGINES, threads: int = 1, repeats: int = 30,
            rounds: int = 3) -> EngineChoice:
    """Time every engine at batch 1 on ``threads`` threads and pick the fastest that holds
    quality (fp32 and bf16 always do; int8 only within ``INT8_MAX_LEVELS`` of torch fp32 on
    ``test_z``, (N, latent)). Engines are timed in interleaved ``rounds`` so a burst of load
    elsewhere on the machine does not favour one of them."""
    net = net.float().eval()
    ref = _levels(torch_runner(net, "fp32", torch.device("cpu"))(test_z))
    runners: dict[str, Runner] = {}
    notes: dict[str, str] = {}
    errors: dict[str, float] = {}
    for name in names:
        try:
            run = runner(name, net, artifacts, threads, torch.device("cpu"))
            errors[name] = float(np.abs(_levels(run(test_z)) - ref).max())
            runners[name] = run
        except EngineUnavailable as e:
            notes[name] = str(e)
        except Exception as e:  # an engine that fails on this machine is not chosen
            notes[name] = f"{type(e).__name__}: {e}".splitlines()[0]
    z1 = test_z[:1].astype(np.float32)
    samples: dict[str, list[float]] = {n: [] for n in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            samples[name].append(median_ms(run, z1, repeats))
    timings = [EngineTiming(n, float(np.median(samples[n])), errors[n]) for n in runners]
    timings += [EngineTiming(n, None, None, why) for n, why in notes.items()]
    fit = [t for t in timings if t.ms is not None and (
        not t.name.endswith("int8") or (t.max_levels or 0) <= INT8_MAX_LEVELS)]
    winner = min(fit, key=lambda t: t.ms or 0.0).name if fit else "torch-fp32"
    return EngineChoice(winner, tuple(timings), cpu_key(), versions(), threads)


def calibration_latents(space: LatentSpace, n: int, seed: int = 0) -> np.ndarray:
    """(n, latent) float32 latents where the model is played: up to n/2 of its keyframes, then
    draws from its data region (per-dimension mean/std of the encoded training set)."""
    rng = np.random.default_rng(seed)
    keys = [space.to_z(k) for k in space.keyframes[: n // 2]]
    draws = [space.to_z(rng.normal(0, 1, space.dim)) for _ in range(n - len(keys))]
    return np.asarray(keys + draws, np.float32)
