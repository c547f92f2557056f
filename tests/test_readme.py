"""README.md is part of the interface: its key table and commands must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from latentsketch.control.keyboard import Keyboard
from latentsketch.control.mouse import HELP_ROWS
from latentsketch.control.osc_addresses import markdown_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_key_table_matches_the_binding_table() -> None:
    table = re.search(r"<!-- keys:.*?-->\n(.*?)<!-- /keys -->", README, re.S)
    assert table, "README lost its generated key table"
    assert table.group(1).strip() == Keyboard().help_markdown(HELP_ROWS).strip()


def test_osc_table_matches_the_declarations() -> None:
    table = re.search(r"<!-- osc:.*?-->\n(.*?)<!-- /osc -->", README, re.S)
    assert table, "README lost its generated OSC table"
    assert table.group(1).strip() == markdown_table().strip()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci, (test_cmd, ci)


def test_every_shipped_preset_is_documented() -> None:
    for p in (ROOT / "presets").glob("*.toml"):
        assert f"`{p.stem}`" in README, p.stem


def test_the_layout_block_lists_every_module_once() -> None:
    """README's Layout names each module of the package once, under its own folder (a merge
    once left a second, stale copy of half the block)."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```")[1]
    sections: dict[str, str] = {}
    key = ""
    for line in block.splitlines():
        m = re.match(r"(latentsketch/|  [a-z_]+/)\s", line)
        if m:
            key = m.group(1).strip()
            line = line[m.end():]
        elif not line.startswith(" "):
            key = ""
        sections[key] = sections.get(key, "") + " " + line
    pkg = ROOT / "latentsketch"
    for path in sorted(pkg.rglob("*.py")):
        if path.stem in ("__init__", "__main__"):
            continue
        sub = path.parent.relative_to(pkg).as_posix()
        where = "latentsketch/" if sub == "." else f"{sub}/"
        name = path.name if sub == "." else path.stem
        words = re.findall(r"[A-Za-z_.]+", sections.get(where, ""))
        assert words.count(name) == 1, (where, name, words.count(name))
