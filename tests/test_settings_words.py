"""Validation problems in sentences that name the field and the range it takes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from acd.config import ConfigError, settings_from_dict

AGENTS = """
[[agents]]
id = "anna"
endpoint = "PJSIP/101"
"""


def problems(group: dict) -> dict[str, str]:
    data = tomllib.loads(AGENTS)
    data["groups"] = [{"id": "g", "members": ["anna"], **group}]
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data)
    return dict(info.value.problems)


@pytest.mark.parametrize(("group", "item", "said"), [
    ({"rings": 99}, 'groups[0] "g".rings', "Rings before the next member: enter a whole number from 2 to 7"),
    ({"rings": "many"}, 'groups[0] "g".rings', "Rings before the next member: enter a whole number from 2 to 7"),
    ({"ring_seconds": 0}, 'groups[0] "g".ring_seconds',
     "Length of one ring (seconds): enter a number above 0, up to 60"),
    ({"wrapup_seconds": -1}, 'groups[0] "g".wrapup_seconds',
     "Wrap-up time after a call (seconds): enter a number from 0 to 3600"),
    ({"mode": "random"}, 'groups[0] "g".mode', "Distribute calls: choose one of 'strict', 'evenly' or 'all'"),
    ({"members": []}, 'groups[0] "g".members', "Members: choose at least one"),
    ({"name": "x" * 300}, 'groups[0] "g".name', "Name: use at most 100 characters"),
])
def test_a_bad_value_is_a_sentence_naming_the_field_and_its_range(group: dict, item: str, said: str) -> None:
    found = problems(group)
    assert found[item] == said
    assert not any("Input should" in p or "(got" in p for p in found.values())


def test_the_apis_own_validation_errors_are_sentences_too(tmp_path: Path) -> None:
    from tests.web.conftest import build, login

    service = build(tmp_path)
    service.user("sup", permissions={"telephony"})
    client = login(service.app, "sup")
    response = client.get("/api/calls?limit=100000")
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem == {"item": "query.limit", "problem": "Limit: enter a number up to 1000"}
