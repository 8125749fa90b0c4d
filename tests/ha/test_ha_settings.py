"""[ha]: bounded, and only with a PostgreSQL database the nodes share."""

from __future__ import annotations

from typing import Any

import pytest

from acd.config import ConfigError, settings_from_dict

PG = "postgresql+psycopg://acd:pw@db.example/acd"


def settings(**data: Any) -> Any:
    return settings_from_dict({"service": {"database": PG}, **data}, "<test>")


def test_without_ha_the_node_is_alone() -> None:
    assert settings().ha is None
    assert "ha" not in settings().to_dict()


def test_ha_names_the_node_and_the_lease() -> None:
    ha = settings(ha={"node_name": "acd-1", "lease_seconds": 2}).ha
    assert (ha.node_name, ha.lease_seconds) == ("acd-1", 2.0)
    assert settings(ha={}).ha.node_name  # the host's name by default


def test_ha_on_sqlite_is_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigError, match="PostgreSQL"):
        settings_from_dict({"service": {"database": "sqlite:///acd.db"}, "ha": {"node_name": "a"}}, "<test>")


@pytest.mark.parametrize("ha", [{"lease_seconds": 0.5}, {"lease_seconds": 31}, {"node_name": "a b"},
                                {"node_name": "x" * 65}, {"lease_secs": 2}])
def test_bad_ha_settings_are_refused(ha: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        settings(ha=ha)
