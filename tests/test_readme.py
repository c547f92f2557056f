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
