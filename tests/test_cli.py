"""The command line: a broken configuration stops the start with one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(REPO / "acd.example.toml")]) == 0
    assert "OK (4 agents" in capsys.readouterr().out


def test_a_broken_file_names_the_file_the_item_and_the_problem(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "acd.toml"
    text = (REPO / "acd.example.toml").read_text().replace('members = ["anna", "ben", "chloe"]',
                                                           'members = ["anna", "bob", "chloe"]', 1)
    assert text != (REPO / "acd.example.toml").read_text()
    broken.write_text(text)
    assert main(["serve", "--config", str(broken)]) == 2  # refused before anything starts
    error = capsys.readouterr().err
    assert str(broken) in error and '"bob"' in error and "members[1]" in error
    assert not (tmp_path / "acd.db").exists()


def test_a_toml_syntax_error_gives_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "acd.toml"
    broken.write_text("[service]\nport = \n")
    assert main(["check-config", str(broken)]) == 2
    assert "line 2" in capsys.readouterr().err
