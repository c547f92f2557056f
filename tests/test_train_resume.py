"""Exact resume: a run stopped and continued ends bit for bit where an unbroken run ends.

CPU, fp32, one thread, a tiny model and a dozen steps: the schedule runs by step, and the run
folder holds fp32 weights, their EMA, Adam's moments, the data order and every RNG state.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from latentsketch.errors import UserError
from latentsketch.model import checkpoint
from latentsketch.train import STATE, TrainConfig, TrainEvent, train

N = 6  # steps per half; 29 training images in batches of 8 = 3 steps per epoch


def _cfg(out: Path, **kw: object) -> TrainConfig:
    base = dict(data="procedural", out=str(out), size=64, latent=4, width=8, steps=2 * N,
                batch_size=8, lr=3e-3, n_images=30, warmup_steps=4, seed=3, precision="fp32",
                threads=1, ema=0.9)
    return TrainConfig(**{**base, **kw})


def _state(out: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(out / STATE), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()
                if k.split(".")[0] in ("model", "ema", "opt", "rng")}


def _stop_at(step: int, exc: type[BaseException]):
    def cb(e: TrainEvent) -> None:
        if e.kind == "step" and e.step == step:
            raise exc("stop")
    return cb


def test_n_plus_n_steps_with_a_resume_equal_2n_in_one_go(tmp_path: Path) -> None:
    train(_cfg(tmp_path / "whole"))
    whole = _state(tmp_path / "whole")
    assert {k.split(".")[0] for k in whole} == {"model", "ema", "opt", "rng"}

    # Ctrl-C after step N (mid-epoch): saved, then continued
    _, m = train(_cfg(tmp_path / "ctrl_c"), _stop_at(N, KeyboardInterrupt))
    half = checkpoint.load(tmp_path / "ctrl_c").config["training"]
    assert half["steps"] == N and half["interrupted"] is True
    events: list[TrainEvent] = []
    train(_cfg(tmp_path / "ctrl_c", resume=True, steps=None), events.append)  # its own schedule
    assert [e.step for e in events if e.kind == "step"] == list(range(N + 1, 2 * N + 1))
    notes = [e.message for e in events if e.kind == "note"]
    assert notes[0].startswith(f"{N} steps to go: less than a minute here (")  # the ETA,
    assert notes[1].startswith(f"{2 * N} steps is far too short") and len(notes) == 2  # no more

    # killed (no final save) after step N + 2: the periodic save of step N + 1 continues it
    with pytest.raises(RuntimeError):
        train(_cfg(tmp_path / "killed", save_minutes=0.0), _stop_at(N + 2, RuntimeError))
    train(_cfg(tmp_path / "killed", resume=True))

    for name in ("ctrl_c", "killed"):
        other = _state(tmp_path / name)
        assert other.keys() == whole.keys()
        differ = [k for k in whole if not torch.equal(whole[k], other[k])]
        assert differ == [], f"{name}: {differ[:5]}"
    # and the raw weights moved: a resume that silently restarted could not match this
    first = checkpoint.load(tmp_path / "ctrl_c")
    assert first.config["training"]["steps"] == 2 * N


def test_half_ships_float16_but_the_run_keeps_fp32_and_the_better_of_raw_and_ema(
        tmp_path: Path) -> None:
    out = tmp_path / "m"
    _, metrics = train(_cfg(out, half=True, ema=0.5))
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    state = _state(out)
    assert {v.dtype for k, v in state.items() if k.startswith(("model.", "ema."))} == {
        torch.float32}
    kind = metrics["weights"]
    assert kind in ("raw", "ema")
    scores = (metrics["heldout_psnr_db_raw"], metrics["heldout_psnr_db_ema"])
    assert metrics[f"heldout_psnr_db_{kind}"] == max(scores)
    loaded = checkpoint.load(out)
    assert loaded.config["training"]["weights"] == kind
    prefix = "ema." if kind == "ema" else "model."
    for k, v in loaded.vae.state_dict().items():
        assert torch.equal(v, state[prefix + k].half().float()), k
    assert not torch.equal(state["ema.decoder.fc.weight"], state["model.decoder.fc.weight"])


def test_resume_without_a_run_state_warm_starts_from_the_shipped_weights(tmp_path: Path) -> None:
    out = tmp_path / "m"
    train(_cfg(out, ema=0.0))
    shipped = checkpoint.load(out).vae.state_dict()
    (out / STATE).unlink()  # a new machine: only the shipped model came along
    events: list[TrainEvent] = []
    trainer_cfg = _cfg(out, resume=True, steps=2 * N + 3, ema=0.0)
    from latentsketch.train import Trainer

    t = Trainer(trainer_cfg, events.append)
    assert all(torch.equal(v, t.vae.state_dict()[k]) for k, v in shipped.items())
    t.run()
    t.finalise()
    notes = [e.message for e in events if e.kind == "note"]
    assert len(notes) == 3 and "no training state: warm start from its model.safetensors at " \
        f"step {2 * N}" in notes[0]
    assert [e.step for e in events if e.kind == "step"] == [2 * N + 1, 2 * N + 2, 2 * N + 3]
    with pytest.raises(UserError, match=f"at step {2 * N + 3}, the end of its {2 * N + 3}-step "
                                        f"schedule; pass --steps"):
        train(trainer_cfg)


def test_minutes_only_stop_the_run_and_the_schedule_runs_by_step(tmp_path: Path) -> None:
    from latentsketch.train import Trainer

    events: list[TrainEvent] = []
    t = Trainer(_cfg(tmp_path / "m", steps=1000, minutes=0.03), events.append)
    mid = t.lr_at(500)
    t.run()
    assert 1 <= t.step < 1000 and t.schedule == 1000
    assert t.lr_at(500) == mid and t.lr_at(1000) == pytest.approx(0.05 * 3e-3)
    assert t.opt.param_groups[0]["lr"] == t.lr_at(t.step - 1)  # the last step's, by step
    path, _ = t.finalise()
    assert checkpoint.load(path).config["training"]["stopped_by"] == "minutes"
    said = [e.message for e in events if e.kind == "note"][-1]   # said, not silent
    assert said.startswith(f"stopped at step {t.step} of 1000: the --minutes budget ran out")


def test_a_real_ctrl_c_ends_the_run_after_the_step_in_progress(tmp_path: Path) -> None:
    import os
    import signal

    events: list[TrainEvent] = []
    before = signal.getsignal(signal.SIGINT)   # SIG_IGN when the suite runs in the background

    def cb(e: TrainEvent) -> None:
        events.append(e)
        if e.kind == "step" and e.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as the terminal sends it

    path, _ = train(_cfg(tmp_path / "m"), cb)
    assert [e.step for e in events if e.kind == "step"] == [1, 2, 3]
    training = checkpoint.load(path).config["training"]
    assert training["steps"] == 3 and training["interrupted"] is True
    assert training["finished"] is False and training["stopped_by"] == "interrupted"
    assert "by Ctrl-C" in [e.message for e in events if e.kind == "note"][-1]
    assert signal.getsignal(signal.SIGINT) is before  # handed back as it was


def test_resume_from_an_older_run_state_keeps_its_adam_moments(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from latentsketch.train import Trainer

    out = tmp_path / "m"
    t = Trainer(_cfg(out, ema=0.0))
    t.run()
    t.finalise()
    # the version-1 layout: Adam moments keyed group.param.name, step and extra in the header
    old = {f"0.{i}.{k}": t.opt.state[p][k].reshape(-1).contiguous() if k == "step"
           else t.opt.state[p][k].contiguous()
           for i, p in enumerate(t.vae.parameters()) for k in ("step", "exp_avg", "exp_avg_sq")}
    save_file(old, str(out / STATE), metadata={"step": str(t.step), "extra": "{}"})
    events: list[TrainEvent] = []
    again = Trainer(_cfg(out, ema=0.0, resume=True, steps=3 * N), events.append)
    p0 = next(again.vae.parameters())
    assert torch.equal(again.opt.state[p0]["exp_avg"], t.opt.state[next(t.vae.parameters())][
        "exp_avg"])
    assert again.step == 2 * N
    again.run()
    notes = [e.message for e in events if e.kind == "note"]
    assert "older version" in notes[0] and again.step == 3 * N


def test_the_budget_is_said_up_front_and_minutes_alone_size_the_schedule(tmp_path: Path) -> None:
    from latentsketch.train import DEFAULT_MINUTES, Trainer

    t = Trainer(_cfg(tmp_path / "a", steps=None))  # neither steps nor epochs: default budget
    assert t.step_seconds and t.schedule == int(60 * DEFAULT_MINUTES / t.step_seconds)
    t = Trainer(_cfg(tmp_path / "b", steps=None, minutes=0.05))
    per_step = t.step_seconds
    assert per_step and t.schedule == max(1, int(3.0 / per_step))  # what 3 s allow here
    note = t.budget_note(per_step / 10)
    assert note.startswith(f"{t.schedule:,} steps to go: less than a minute here")
    assert "results improve up to ~10,000 steps" in note
    slow = t.budget_note(per_step * 10)  # the budget, not the schedule, ends such a run
    assert re.match(rf"about \d+ of the {t.schedule:,} steps to go fit in the 0.05 minutes", slow)
    assert Trainer(_cfg(tmp_path / "c", steps=None, epochs=4)).schedule == 12


def test_a_short_schedule_still_ends_its_kl_warm_up(tmp_path: Path) -> None:
    events: list[TrainEvent] = []
    train(_cfg(tmp_path / "m", steps=10, warmup_steps=1000, beta=1.0), events.append)
    weights = [(t["total"] - t["recon"] - 0.5 * t["edge"]) / t["kl"]
               for t in (e.terms for e in events if e.kind == "step")]
    assert weights[0] == pytest.approx(0.0, abs=1e-4)  # warm-up starts at 0 ...
    assert weights[-1] == pytest.approx(1.0, rel=1e-3)  # ... and ends by a fifth of 10 steps
