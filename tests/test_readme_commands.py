"""README.md's commands are real: each parses with the real parser, and the first-hour steps
(clone, venv, TouchDesigner, MIDI on Linux, portrait renders) are there and true."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from latentsketch.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```sh\n(.*?)\n```", README, re.S)


def _commands() -> list[list[str]]:
    """Every ``latentsketch ...`` command in README's shell blocks, as argv lists."""
    out = []
    for block in BLOCKS:
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                if part.strip().startswith("latentsketch"):
                    out.append(shlex.split(part.split("#", 1)[0])[1:])
    return out


@pytest.mark.parametrize("argv", _commands(), ids=lambda a: " ".join(a)[:60])
def test_every_readme_command_parses(argv: list[str]) -> None:
    args = argv if argv and not argv[0].startswith("-") else ["play", *argv]
    ns = build_parser().parse_args(args)
    if ns.command == "render" and ns.size is not None and ns.size[1] > ns.size[0]:
        assert ns.fit == "fill", f"a portrait render letterboxes without --fit fill: {argv}"


def test_readme_commands_include_the_render_examples() -> None:
    renders = [a for a in _commands() if a[:1] == ["render"]]
    assert len(renders) >= 4
    assert any("story.mp4" in a for a in renders)


def test_install_starts_with_clone_cd_and_a_venv() -> None:
    first_pip = next(i for i, b in enumerate(BLOCKS) if "pip install" in b)
    before = "\n".join(BLOCKS[:first_pip])
    assert "git clone" in before and "cd latentsketch" in before
    assert "python3 -m venv" in before and "activate" in before


def test_touchdesigner_and_midi_notes_point_at_real_things() -> None:
    assert "--preset touchdesigner" in README
    td = ROOT / "presets" / "touchdesigner.toml"
    assert "presets/touchdesigner.toml" in README and td.is_file()
    assert "OSC Out CHOP" in td.read_text().split("name =")[0]     # its own instructions
    from latentsketch.control import midi

    assert "/dev/snd/seq" in README and "snd-seq" in README
    assert "/dev/snd/seq" in Path(midi.__file__).read_text()       # the path the code checks
