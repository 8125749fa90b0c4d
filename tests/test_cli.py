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


@pytest.fixture(autouse=True)
def ami_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_AMI_SECRET", "test-only")


def config_on(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "acd.toml"
    text = (REPO / "acd.example.toml").read_text()
    text = text.replace('database = "sqlite:///acd.db"', f'database = "{database}"', 1)
    text = text.replace('simulate = "auto"', 'simulate = "never"', 1)  # the check comes before any PBX
    assert database in text and 'simulate = "never"' in text
    path.write_text(text)
    return path


def test_serve_refuses_an_older_database_in_one_line_and_db_upgrade_brings_it_to_head(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from acd.store import make_engine, schema
    from tests.store import first_schema

    database = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(database)
    first_schema.create(engine)
    first_schema.fill(engine)
    config = config_on(tmp_path, database)

    assert main(["serve", "--config", str(config)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "older" in error and "acd db upgrade" in error, error

    assert main(["db", "current", "--config", str(config)]) == 0
    assert "made before schema migrations" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert f"upgraded to {schema.head()}" in capsys.readouterr().out
    assert main(["db", "current", "--database", database]) == 0
    assert f"{schema.head()} (current)" in capsys.readouterr().out
    assert schema.state(engine).up_to_date
    engine.dispose()


def test_db_upgrade_refuses_a_newer_database_and_changes_nothing(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import text

    from acd.store import make_engine, schema

    database = f"sqlite:///{tmp_path / 'new.db'}"
    assert main(["db", "upgrade", "--database", database]) == 0  # an empty database is created at head
    engine = make_engine(database)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    assert main(["db", "upgrade", "--database", database]) == 2
    assert "0099_from_the_future" in capsys.readouterr().err
    assert main(["serve", "--config", str(config_on(tmp_path, database))]) == 2
    assert "does not know" in capsys.readouterr().err
    assert schema.state(engine).current == ("0099_from_the_future",)
    engine.dispose()
