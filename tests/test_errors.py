"""Every failure ends in one line: a person's mistake or the machine's state (read-only, full,
missing) exits 2 naming the file and what to do; a bug exits 1 with the path of a crash report.
Real read-only and full folders (tmpfs mounts, see conftest)."""

from __future__ import annotations

import errno
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import latentsketch
from latentsketch import cli
from latentsketch.errors import UserError, os_error_line, write_crash_log
from tests.conftest import listing

# Exceptions that never leave their module (caught where they are raised); private ones
# (``_KeyError``, ``_Reject``) are internal by their name.
# not errors a person made: a parse failure handled inside, and a stop signal (a
# KeyboardInterrupt, which cli.main catches on its own)
INTERNAL = {"latentsketch.control.osc.MalformedOsc", "latentsketch.stopping.Interrupted"}


def run(*args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    return subprocess.run([sys.executable, "-m", "latentsketch", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def error_line(r: subprocess.CompletedProcess) -> str:
    """The one error line: the last line of stderr, after any progress output."""
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.replace("\r", "\n").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("latentsketch:")]
    assert len(errors) == 1 and lines[-1] == errors[0], r.stderr
    return errors[0]


def test_every_error_class_of_the_project_is_a_user_error() -> None:
    """cli.main catches the whole kind with one clause: a new error class that forgets
    UserError would print a crash report for a person's mistake."""
    found = []
    for mod in pkgutil.walk_packages(latentsketch.__path__, "latentsketch."):
        if mod.name.endswith("__main__"):
            continue
        module = importlib.import_module(mod.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, BaseException) and cls.__module__ == module.__name__
                    and not cls.__name__.startswith("_")
                    and f"{cls.__module__}.{cls.__qualname__}" not in INTERNAL):
                found.append(cls)
    names = {c.__name__ for c in found}
    assert {"CheckpointError", "PresetError", "OutputError", "ExportError", "SnapshotError",
            "ControlLogError", "DataError", "MappingError"} <= names
    assert [c.__qualname__ for c in found if not issubclass(c, UserError)] == []


def test_info_into_a_read_only_folder_is_one_line(tiny_model: Path, readonly_dir: Path) -> None:
    r = run("info", str(tiny_model), "--out", str(readonly_dir), "--dims", "2")
    assert r.returncode == 2
    line = error_line(r)
    assert str(readonly_dir) in line and "Read-only file system" in line
    assert "choose a writable folder" in line
    assert listing(readonly_dir) == []


def test_info_into_a_full_folder_leaves_no_partial_atlas(tiny_model: Path,
                                                         full_dir: Path) -> None:
    r = run("info", str(tiny_model), "--out", str(full_dir), "--dims", "2")
    assert r.returncode == 2
    line = error_line(r)
    assert f"{full_dir}/latentsketch-atlas-" in line and "No space left on device" in line
    assert listing(full_dir) == []  # neither a 0-byte atlas nor its hidden temporary file


@pytest.mark.parametrize("folder", ["readonly_dir", "full_dir"])
def test_train_into_an_unwritable_folder_is_one_line(folder: str,
                                                     request: pytest.FixtureRequest) -> None:
    where: Path = request.getfixturevalue(folder)
    r = run("train", "procedural", "--out", str(where / "m"), "--n-images", "16",
            "--epochs", "1", "--latent", "8", "--width", "8", "--batch-size", "8",
            "--threads", "1", "--precision", "fp32")
    assert r.returncode == 2
    line = error_line(r)
    assert str(where) in line
    # the reason, however train words it (it checks the folder before a whole epoch)
    words = ("read-only", "not writable") if folder == "readonly_dir" else ("no space", "full")
    assert any(w in line.lower() for w in words), line


def test_os_errors_name_the_path_and_what_to_do(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (OSError(errno.EACCES, "Permission denied", "/srv/show/a.png"),
         "cannot open /srv/show/a.png: Permission denied; check its permissions"),
        (OSError(errno.ENOENT, "No such file or directory", "/srv/nope"),
         "cannot open /srv/nope: No such file or directory; check the path"),
        # write() on a full disk names no file: the command's output folder is named instead
        (OSError(errno.ENOSPC, "No space left on device"),
         "cannot write /srv/out: No space left on device; free some disk space"),
        (OSError(errno.EFBIG, "File too large"), "cannot write /srv/out: File too large"),
    ]
    for err, needle in cases:
        def boom(a: object, err: OSError = err) -> int:
            raise err

        monkeypatch.setitem(cli.COMMANDS, "info", boom)
        assert cli.main(["info", "--out", "/srv/out"]) == 2
        out = capsys.readouterr().err
        assert out.count("\n") == 1 and needle in out, out


def test_a_bug_prints_one_line_and_writes_a_crash_report(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    def bug(a: object) -> int:
        return {}["no such key"]

    monkeypatch.setitem(cli.COMMANDS, "info", bug)
    assert cli.main(["info", "--dims", "3"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" in err and "KeyError" in err
    reports = list((tmp_path / "xdg-state" / "latentsketch").glob("crash-*.log"))
    assert len(reports) == 1 and str(reports[0]) in err
    text = reports[0].read_text()
    assert "Traceback" in text and "in bug" in text and "latentsketch info --dims 3" in text
    # an OSError that names no file and says nothing about the machine is a bug too
    monkeypatch.setitem(cli.COMMANDS, "info", lambda a: (_ for _ in ()).throw(
        OSError(errno.EBADF, "Bad file descriptor")))
    assert cli.main(["info"]) == 1 and "internal error" in capsys.readouterr().err


def test_crash_report_falls_back_to_the_temp_folder(monkeypatch: pytest.MonkeyPatch,
                                                    readonly_dir: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(readonly_dir))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = write_crash_log(ZeroDivisionError("x"), ["play"])
    assert path is not None and path.parent == tmp_path / "tmp" / "latentsketch"
    assert "ZeroDivisionError" in path.read_text()
    assert listing(readonly_dir) == []


def test_os_error_line_is_one_line_with_advice() -> None:
    line = os_error_line(OSError(errno.EROFS, "Read-only file system\n(really)", "/a"))
    assert line == "cannot write /a: Read-only file system (really); choose a writable folder"
    assert os_error_line(OSError("odd"), "/b", "read") == "cannot read /b: odd"


@pytest.mark.parametrize("args,needle", [
    (("info", "{model}", "--dims", "0"), "--dims 0"),
    (("info", "{tmp}/no-model"), "no-model: no such file or folder"),
    (("render", "--model", "{model}", "--walk", "drift", "--duration", "-1"), "duration -1"),
    (("render", "--model", "{model}", "--keyframes", "{tmp}/nope.png"), "nope.png"),
    (("render", "--model", "{model}", "--replay", "{tmp}/nope.log.jsonl"), "nope.log.jsonl"),
    (("render", "--model", "{model}", "--walk", "drift", "--out", "{tmp}/x.avi"), ".avi"),
    (("render", "--model", "{model}", "--preset", "../etc/passwd"), "nor a plain name"),
    (("play", "--model", "{model}", "--preset", "no-such-preset"), "not found"),
    (("render", "--model", "{tmp}/garbage.safetensors", "--walk", "drift"), "garbage"),
])
def test_a_table_of_mistakes_each_ends_in_one_line(
        args: tuple[str, ...], needle: str, tiny_model: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00garbage")
    argv = [a.format(model=tiny_model, tmp=tmp_path) for a in args]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("latentsketch: error: ") and err.count("\n") == 1, err
    assert needle in err
    assert not list((tmp_path / "xdg-state").rglob("crash-*"))


def test_a_closed_pipe_ends_quietly(tiny_model: Path) -> None:
    """``latentsketch info | head -1``: the reader is gone before the output is written."""
    r_fd, w_fd = os.pipe()
    os.close(r_fd)
    try:
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
        p = subprocess.run([sys.executable, "-m", "latentsketch", "info", str(tiny_model),
                            "--dims", "1", "--out", str(tiny_model.parent / "atlas")],
                           stdout=w_fd, stderr=subprocess.PIPE, text=True, env=env,
                           timeout=180)
    finally:
        os.close(w_fd)
    assert p.returncode == 141 and p.stderr == ""
