"""Training on several processes (torchrun, gloo on CPU) and from a streamed folder.

One torchrun launch of two processes runs three trainings in one process group (whole;
Ctrl-C in rank 1 mid-run; --resume), a second launch is two "nodes" of one process each
meeting through a local c10d rendezvous and running the ``latentsketch train`` command, and one
run in this process is the single-process reference. Tiny model, 64 px, 6 steps, one thread.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from latentsketch.data.images import load_folder
from latentsketch.model import checkpoint
from latentsketch.train import STATE, TrainConfig, stream, train
from latentsketch.train.data import Batches, TrainingSet
from tests.conftest import write_pictures

STEPS = 6
# Loss of each step under DDP vs one process with the same global batch: they differ only by
# the order of float sums (the all-reduced MSE, averaged gradients), a 1e-7 relative
# difference at the first step that the training's own sensitivity grows to ~1e-4 by step 6.
# A sigma from each process's own MSE instead of the global one is ~100x further off.
TOLERANCE = 2e-3  # relative to the run's mean |loss|


def _base(tmp: Path) -> dict[str, object]:
    return dict(data=str(tmp / "pics"), size=64, latent=4, width=8, steps=STEPS, batch_size=8,
                lr=3e-3, warmup_steps=4, seed=3, precision="fp32", threads=1, ema=0.9,
                cache=str(tmp / "cache"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


def _torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", *args]


def _state(out: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(out / STATE), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The three launches, side by side (most of their time is importing torch)."""
    tmp = tmp_path_factory.mktemp("dist")
    write_pictures(tmp / "pics", 24, size=64)
    (tmp / "pics" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    stream.build(tmp / "pics", 64, tmp / "cache", workers=0)  # shared by all, built once
    base = _base(tmp)
    jobs = [{"cfg": {**base, "out": str(tmp / "whole")}},
            {"cfg": {**base, "out": str(tmp / "stopped")}, "stop": [1, STEPS // 2]},
            {"cfg": {**base, "out": str(tmp / "stopped"), "resume": True}}]
    launches = [_torchrun("--standalone", "--nproc-per-node", "2",
                          str(Path(__file__).with_name("dist_worker.py")), json.dumps(jobs))]
    port = _free_port()
    cmd = ["-m", "latentsketch", "train", str(tmp / "pics"), "--out", str(tmp / "nodes"),
           "--size", "64", "--latent", "4", "--width", "8", "--steps", str(STEPS),
           "--batch-size", "8", "--lr", "3e-3", "--warmup-steps", "4", "--seed", "3",
           "--precision", "fp32", "--threads", "1", "--ema", "0.9", "--cache",
           str(tmp / "cache")]
    launches += [_torchrun("--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
                           "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "test",
                           "--rdzv-conf", f"is_host={int(i == 0)}", *cmd) for i in range(2)]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env()) for c in launches]
    try:
        from latentsketch import measure

        quality = measure.quality
        measure.quality = lambda *a, **k: {}  # as the torchrun worker: figures not tested here
        try:
            train(TrainConfig(**{**base, "out": str(tmp / "one")}))  # type: ignore[arg-type]
        finally:
            measure.quality = quality
        errs = [p.communicate(timeout=300)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, err in zip(procs, errs, strict=True):
        assert p.returncode == 0, err[-3000:]
    return {"tmp": tmp, "two_err": errs[0], "nodes_err": "".join(errs[1:])}


def test_two_processes_write_one_checkpoint_and_train_like_one_with_the_global_batch(
        runs: dict[str, object]) -> None:
    tmp = runs["tmp"]
    assert isinstance(tmp, Path)
    names = sorted(p.name for p in (tmp / "whole").iterdir())
    assert names == ["loss.png", "metrics.json", "model.json", "model.safetensors",
                     "samples.png", STATE]
    assert checkpoint.load(tmp / "whole").config["training"]["steps"] == STEPS
    dist_loss = _state(tmp / "whole")["history.total"]
    one_loss = _state(tmp / "one")["history.total"]
    assert len(dist_loss) == len(one_loss) == STEPS
    scale = float(one_loss.abs().mean())
    assert float((dist_loss - one_loss).abs().max()) <= TOLERANCE * scale
    assert float((dist_loss[:1] - one_loss[:1]).abs().max()) <= 1e-5 * scale


def test_ctrl_c_in_one_process_stops_both_and_the_resume_is_exact(
        runs: dict[str, object]) -> None:
    tmp = runs["tmp"]
    assert isinstance(tmp, Path)
    whole, resumed = _state(tmp / "whole"), _state(tmp / "stopped")
    kept = [k for k in whole if k.split(".")[0] in ("model", "ema", "opt", "rng")]
    assert kept and whole.keys() == resumed.keys()
    assert [k for k in kept if not torch.equal(whole[k], resumed[k])] == []
    assert "by Ctrl-C" not in str(runs["two_err"])  # the worker prints nothing, rank 0 saves
    assert checkpoint.load(tmp / "stopped").config["training"]["finished"] is True


def test_two_nodes_through_a_c10d_rendezvous_train_like_two_processes(
        runs: dict[str, object]) -> None:
    tmp = runs["tmp"]
    assert isinstance(tmp, Path)
    whole, nodes = _state(tmp / "whole"), _state(tmp / "nodes")
    kept = [k for k in whole if k.split(".")[0] in ("model", "ema", "opt", "rng")]
    assert [k for k in kept if not torch.equal(whole[k], nodes[k])] == []
    err = str(runs["nodes_err"])
    # one progress report (rank 0) and the corrupt file counted once, not once per process
    assert err.count("training: folder ") == 1 and err.count(" skipped=1;") == 1
    assert checkpoint.load(tmp / "nodes").config["data"].endswith("n=24 skipped=1")


def test_a_streamed_folder_reads_as_the_folder_in_memory_and_skips_a_corrupt_file_once(
        tmp_path: Path) -> None:
    write_pictures(tmp_path / "pics", 5, size=80)
    (tmp_path / "pics" / "zz.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    npy, index = stream.build(tmp_path / "pics", 64, tmp_path / "cache", workers=1)
    cached = stream.open_cache(npy, index)
    memory = load_folder(tmp_path / "pics", 64)
    assert cached.shape == memory.images.shape == (5, 64, 64, 3)
    assert np.array_equal(cached[np.arange(5)], memory.images)
    assert np.array_equal(cached[[3, 1]], memory.images[[3, 1]])
    assert np.array_equal(cached[2], memory.images[2])
    assert cached.index.skipped == memory.skipped == (str(tmp_path / "pics" / "zz.png"),)
    assert np.load(npy, mmap_mode="r").shape == (6, 64, 64, 3)  # a standard .npy
    made = npy.stat().st_mtime_ns
    assert stream.build(tmp_path / "pics", 64, tmp_path / "cache") == (npy, index)  # reused
    assert npy.stat().st_mtime_ns == made
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([npy.name,
                                                                             index.name])


def test_each_rank_takes_its_share_so_every_image_is_seen_once_per_epoch(
        tmp_path: Path) -> None:
    n, bs, world = 48, 8, 2
    images = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1) * np.ones((1, 4, 4, 3), np.uint8)
    data = TrainingSet(images, "test", np.arange(0), np.arange(n))
    one = Batches(data, bs, seed=5, device=torch.device("cpu"))
    ranks = [Batches(data, bs, seed=5, device=torch.device("cpu"), rank=r, world=world)
             for r in range(world)]
    for _ in range(2):  # epochs
        seen: list[int] = []
        for _ in range(n // bs):
            x, ends = one.next()
            parts = [b.next() for b in ranks]
            assert all(e == ends for _, e in parts)
            assert torch.equal(torch.cat([p for p, _ in parts]), x)  # same images and flips
            mine = [b.last for b in ranks]
            assert len(set(mine[0]) & set(mine[1])) == 0
            seen += [int(i) for m in mine for i in m]
        assert ends and sorted(seen) == list(range(n))


def test_a_global_batch_that_does_not_split_is_refused_in_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from latentsketch.errors import UserError

    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(UserError, match="--batch-size 8 is the global batch and must split "
                                        "evenly over 3 processes"):
        train(TrainConfig(data="procedural", out=str(tmp_path / "m"), batch_size=8))


def test_readme_torchrun_commands_parse_as_train_commands() -> None:
    import re
    import shlex

    from latentsketch.cli import build_parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    lines = [ln for b in re.findall(r"```sh\n(.*?)\n```", readme, re.S)
             for ln in b.replace("\\\n", " ").splitlines() if ln.startswith("torchrun")]
    assert len(lines) >= 2 and any("--nnodes 2" in ln for ln in lines)
    for ln in lines:
        argv = shlex.split(ln.split("#", 1)[0])
        ns = build_parser().parse_args(argv[argv.index("latentsketch") + 1:])
        assert ns.command == "train" and ns.batch_size % 4 == 0
