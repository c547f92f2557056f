"""The first hour at the command line: one-line usage errors, true ranges, --version, --help,
render's defaults and output folders, and --out-dir checked at start."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from latentsketch.cli import build_parser, main

ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "latentsketch", *args], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=timeout)


@pytest.mark.parametrize("args,line", [
    (["render", "--fps", "x"], "latentsketch render: error: argument --fps: invalid float value: "
                               "'x' (see latentsketch render --help)"),
    (["--fps", "x"], "latentsketch play: error: argument --fps: invalid float value: 'x' "
                     "(see latentsketch play --help)"),
    (["play", "--size", "12"], "latentsketch play: error: argument --size: '12' is not "
                               "WIDTHxHEIGHT (e.g. 1280x720) (see latentsketch play --help)"),
    (["train", "procedural", "--size", "65"], "latentsketch train: error: argument --size: "
                                              "invalid choice: 65"),
    (["info", "--dims", "many"], "latentsketch info: error: argument --dims: invalid int value"),
    (["train"], "latentsketch train: error: the following arguments are required: data "
                "(see latentsketch train --help)"),
    (["render", "--walk", "drift", "--bogus"], "latentsketch render: error: unrecognized "
                                               "arguments: --bogus (see latentsketch render "
                                               "--help)"),
    (["--bogus"], "latentsketch play: error: unrecognized arguments: --bogus"),
    (["render", "--seconds", "5"], "latentsketch render: error: unrecognized arguments: "
                                   "--seconds 5"),   # not a prefix of --seconds-per-segment
    (["paly"], "latentsketch: error: argument command: invalid choice: 'paly'"),
])
def test_a_bad_option_is_one_line_and_a_help_hint(capsys: pytest.CaptureFixture, args: list[str],
                                                  line: str) -> None:
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), captured.err
    assert lines[0].endswith("--help)") and "usage:" not in captured.err


def test_version_is_the_installed_version() -> None:
    r = run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"latentsketch {metadata.version('latentsketch')}"


def test_version_falls_back_to_the_package_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    import latentsketch
    from latentsketch import cli

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert latentsketch.__version__ == project["project"]["version"]   # kept in step

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert cli.version() == latentsketch.__version__


def test_top_level_help_lists_the_play_options() -> None:
    r = run("--help")
    assert r.returncode == 0, r.stderr
    for option in ("--version", "render", "--preset", "--fullscreen", "--out-dir", "--osc-port",
                   "--midi", "--record-size", "--start-from"):
        assert option in r.stdout, option


# --- ranges in messages are the ranges accepted ------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["render", "--fps", "0"], "--fps 0 must be more than 0 and at most 240"),
    (["render", "--fps", "240.5"], "fps 240.5 must be more than 0 and at most 240"),
    (["render", "--fps", "nan"], "fps nan must be more than 0 and at most 240"),
    (["render", "--duration", "inf"], "duration inf must be a finite number more than 0"),
    (["render", "--hold", "inf", "--preset", "gallery"], "hold inf must be a finite number"),
    (["render", "--threads", "0"], "--threads 0 must be at least 1"),
    (["play", "--fps", "-1"], "--fps -1 is out of range 0..1000 (0: unthrottled)"),
    (["play", "--fps", "1000.5"], "--fps 1000.5 is out of range 0..1000"),
    (["play", "--fps", "inf"], "--fps inf is out of range 0..1000"),
    (["play", "--osc-port", "65536"], "--osc-port 65536 is out of range 1..65535"),
    (["play", "--osc-out", "localhost"], "--osc-out 'localhost': expected HOST:PORT"),
    (["play", "--osc-out", "127.0.0.1:99999"], "--osc-out '127.0.0.1:99999': port must be"),
    (["info", "--dims", "0"], "--dims 0 must be at least 1"),
])
def test_range_errors_state_the_accepted_range(tmp_path: Path, tiny_model: Path,
                                               capsys: pytest.CaptureFixture, args: list[str],
                                               message: str) -> None:
    extra = ["--model", str(tiny_model)] if args[0] in ("render", "play") else [str(tiny_model)]
    assert main([*args, *extra, "--out" if args[0] == "info" else "--out-dir",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize("fps,ok", [(240.0, True), (0.01, True), (0.0, False), (240.01, False)])
def test_render_fps_bounds_are_what_the_message_says(tiny_model: Path, tmp_path: Path,
                                                     fps: float, ok: bool) -> None:
    from latentsketch.model import checkpoint
    from latentsketch.output.export import ExportError
    from latentsketch.render import RenderRequest, plan

    loaded = checkpoint.load(tiny_model)
    req = RenderRequest(model=tiny_model, walk="drift", fps=fps, duration=0.1)
    if ok:
        assert plan(req, loaded.model_id, loaded.space).count >= 1
    else:
        with pytest.raises(ExportError, match="more than 0 and at most 240"):
            plan(req, loaded.model_id, loaded.space)


# --- render: no source, and missing folders ---------------------------------------------------

def test_render_with_no_source_plays_the_default_preset_for_10_s(tmp_path: Path) -> None:
    """The bundled model and the default preset, as ``latentsketch`` itself starts."""
    from latentsketch import engine
    from latentsketch import preset as presets
    from latentsketch.model import checkpoint
    from latentsketch.render import RenderRequest, plan

    loaded = checkpoint.load(None)
    clip = plan(RenderRequest(fps=10), loaded.model_id, loaded.space)
    assert clip.count == 100                                       # 10 s at 10 fps
    frames = list(clip.frames)
    default = presets.load("default")
    state = engine.State.initial(loaded.space, default.seed or 0, default.values(), {}, None)
    assert frames[0].params["walk.mode"] == default.values()["walk.mode"]
    assert dict(frames[0].params) == dict(state.params)            # its look and walk
    for _ in range(5):
        state = engine.step(state, (), 0.1, loaded.space)
    assert (frames[5].z == engine.output_z(state, loaded.space)).all()  # its walk, as played


def test_render_cli_with_no_source_writes_ten_seconds(tmp_path: Path) -> None:
    r = run("render", "--fps", "3", "--size", "32x32", "--out", "clip", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "clip").glob("*.png"))) == 30
    assert "wrote clip: 30 frames" in r.stdout


def test_render_out_creates_missing_folders(tmp_path: Path, tiny_model: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "missing" / "dir" / "x.mp4"
    assert main(["render", "--model", str(tiny_model), "--walk", "drift", "--duration", "0.2",
                 "--size", "32x32", "--out", str(out)]) == 0
    assert out.is_file() and out.stat().st_size > 0
    assert not list(out.parent.glob(".*"))                   # no partial file left behind
    assert f"wrote {out}" in capsys.readouterr().out


def test_render_out_under_a_file_names_the_folder_not_the_partial_file(
        tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "notes").write_text("a file where a folder should be")
    out = tmp_path / "notes" / "dir" / "x.mp4"
    assert main(["render", "--model", str(tiny_model), "--walk", "drift", "--duration", "0.2",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "partial" not in err and "\n" not in err
    assert f"cannot create output folder {out.parent}: {tmp_path / 'notes'} is a file" in err


def test_export_names_a_missing_folder_not_the_partial_file(tmp_path: Path,
                                                            tiny_model: Path) -> None:
    """The library under ``render`` (a Python user calling it) says the same."""
    from latentsketch.model import checkpoint
    from latentsketch.model.inference import Decoder
    from latentsketch.output.export import export
    from latentsketch.output.paths import OutputError
    from latentsketch.render import RenderRequest, plan

    loaded = checkpoint.load(tiny_model)
    clip = plan(RenderRequest(walk="drift", duration=0.1), loaded.model_id, loaded.space)
    out = tmp_path / "gone" / "x.mp4"
    with pytest.raises(OutputError) as e:
        export(clip, Decoder(loaded.vae, threads=1), out)
    assert str(e.value) == f"cannot write {out}: folder {out.parent} does not exist"


def test_render_checks_out_dir_before_any_work(tmp_path: Path, tiny_model: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "f").write_text("x")
    assert main(["render", "--model", str(tmp_path / "no-such-model"), "--walk", "drift",
                 "--out-dir", str(tmp_path / "f" / "out")]) == 2
    err = capsys.readouterr().err.strip()
    # the folder is reported, not the model (which would fail only after it)
    assert err == (f"latentsketch: error: cannot create output folder {tmp_path / 'f' / 'out'}: "
                   f"{tmp_path / 'f'} is a file")


def test_output_dir_check_creates_nothing(tmp_path: Path) -> None:
    from latentsketch.output.paths import OutputDir, OutputError

    OutputDir(tmp_path / "a" / "b").check()
    assert not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        OutputDir(tmp_path / "file").check()
    with pytest.raises(OutputError, match=f"{tmp_path / 'file'} is a file"):
        OutputDir(tmp_path / "file" / "sub").check()


def test_output_dir_check_really_tries_and_leaves_nothing(tmp_path: Path,
                                                          full_dir: Path) -> None:
    """Permissions say nothing to root: /proc refuses a new folder, a full disk a new file;
    the check finds both at start, and a good folder is left as it was (a newcomer's case)."""
    from latentsketch.output.paths import OutputDir, OutputError

    if Path("/proc").is_dir():
        with pytest.raises(OutputError, match="cannot create folder /proc/nope"):
            OutputDir(Path("/proc/nope")).check()
    with pytest.raises(OutputError, match="No space left"):
        OutputDir(full_dir / "shots").check()
    assert sorted(p.name for p in full_dir.iterdir()) == ["filler"]
    OutputDir(tmp_path / "a" / "b").check()
    assert sorted(tmp_path.iterdir()) == [] or not (tmp_path / "a").exists()


def _ro_mount(path: Path) -> None:
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a read-only tmpfs here: {r.stderr.strip()}")


def test_output_dir_check_sees_a_read_only_folder(tmp_path: Path) -> None:
    from latentsketch.output.paths import OutputDir, OutputError

    ro = tmp_path / "ro"
    _ro_mount(ro)
    try:
        with pytest.raises(OutputError, match=f"output folder {ro} is not writable"):
            OutputDir(ro).check()
        with pytest.raises(OutputError, match=f"cannot create output folder {ro / 'x'}: "
                                              f"{ro} is not writable"):
            OutputDir(ro / "x").check()
    finally:
        subprocess.run(["umount", str(ro)], check=False)


def test_play_reports_a_bad_out_dir_at_start_and_plays_on(tiny_model: Path, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    from latentsketch import commands as C
    from latentsketch.app import App, AppOptions

    (tmp_path / "f").write_text("x")
    bad = tmp_path / "f" / "out"
    app = App(AppOptions(model=str(tiny_model), fps=0, size=(64, 64), osc=False, midi=False,
                         out_dir=str(bad), log_control=True))
    try:
        said = [r.getMessage() for r in caplog.records if r.name == "latentsketch"]
        assert any(m.startswith(f"cannot create output folder {bad}: {tmp_path / 'f'} is a file")
                   and "the control log will fail" in m for m in said), said
        assert sum("control log" in m for m in said) == 1, said    # said once, not twice
        assert not app.out_ok      # so `play` does not go on to name it as the output folder
        app.run(max_frames=5, dt=1 / 30, script=lambda i, a: [C.Snapshot()] if i == 2 else [])
        assert app.frames == 5
    finally:
        app.close()


@pytest.mark.parametrize("args, names", [
    (["--walk", "drift", "--duration", "1e9"], "--duration"),
    (["--walk", "tour", "--duration", "1e9"], "--duration"),
    (["--walk", "tour", "--hold", "1", "--seconds-per-segment", "1e8"],
     "--hold and --seconds-per-segment"),
])
def test_render_refuses_a_video_longer_than_a_day_at_once(args: list[str], names: str,
                                                          tmp_path: Path, tiny_model: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    """A typo such as --duration 1e9 is one line naming it, before any frame: not days of
    rendering, nor a plan of more frames than fit in memory (a newcomer's case)."""
    out = tmp_path / "x.mp4"
    assert main(["render", "--model", str(tiny_model), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"latentsketch: error: {names}: a video of ") and "\n" not in err
    assert "at most 24 hours" in err and not out.exists()


def _model_commands() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand whose parser takes a model (a ``model`` positional or option)."""
    parser = build_parser()
    return {name: p for name, p in parser.commands.items()
            if any(a.dest in ("model", "model_option") or "--model" in a.option_strings
                   for a in p._actions)}


def test_every_command_that_takes_a_model_accepts_dash_dash_model() -> None:
    commands = _model_commands()
    assert {"play", "render", "info", "directions", "encode", "palette"} <= set(commands)
    for name, p in commands.items():
        assert any("--model" in a.option_strings for a in p._actions), name
        required = [a for a in p._actions if not a.option_strings and a.nargs in (None, "+")
                    and a.dest != "command"]
        argv = [name, *(["x.png"] * len(required)), "--model", "emoji"]
        assert build_parser().parse_args(argv).model == "emoji", name


@pytest.mark.parametrize("name", ["info", "palette", "directions"])
def test_model_positional_still_works_and_a_conflict_is_one_line(
        name: str, capsys: pytest.CaptureFixture) -> None:
    assert build_parser().parse_args([name, "shapes"]).model == "shapes"
    assert build_parser().parse_args([name, "emoji", "--model", "emoji"]).model == "emoji"
    assert build_parser().parse_args([name]).model is None
    with pytest.raises(SystemExit) as e:
        main([name, "shapes", "--model", "emoji"])
    assert e.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "given twice" in lines[0] and "--model 'emoji'" in lines[0]
