"""A queue group's announcements to waiting callers: the [groups.announce] settings."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from acd.config import ConfigError, settings_from_dict
from acd.core.announcements import AnnouncePolicy, Spoken

AGENTS = """
[[agents]]
id = "anna"
endpoint = "PJSIP/101"
"""


def settings(announce: dict[str, Any], action: str = "keep_waiting") -> Any:
    data = tomllib.loads(AGENTS)
    data["groups"] = [{"id": "g", "members": ["anna"], "missed": {"action": action}, "announce": announce}]
    return settings_from_dict(data, source="api")


def test_the_options_reach_the_routing_model() -> None:
    s = settings({"say": "position_and_wait", "every_seconds": 45, "message": "custom/sales-busy",
                  "message_every_seconds": 90})
    assert s.routing().groups["g"].announce == AnnouncePolicy(Spoken.POSITION_AND_WAIT, 45, "custom/sales-busy", 90)


def test_off_by_default() -> None:
    assert settings({}, action="voicemail").routing().groups["g"].announce == AnnouncePolicy()


@pytest.mark.parametrize(
    ("announce", "action", "expected"),
    [
        ({"say": "loudly"}, "keep_waiting", 'groups[0] "g".announce.say: What a waiting caller hears: choose one of'),
        ({"every_seconds": 5}, "keep_waiting",
         'groups[0] "g".announce.every_seconds: Announce every (seconds): enter a number from 15 to 3600'),
        ({"every_seconds": 7200}, "keep_waiting", "announce.every_seconds: Announce every (seconds): enter a number"),
        ({"message_every_seconds": 0}, "keep_waiting",
         "announce.message_every_seconds: Play the message every (seconds): enter a number from 15 to 3600"),
        ({"message": "../../etc/passwd"}, "keep_waiting", 'groups[0] "g".announce.message: not a sound name'),
        ({"message": "hold,1"}, "keep_waiting", "announce.message: not a sound name"),
        ({"message": "a&b"}, "keep_waiting", "announce.message: not a sound name"),
        ({"message": "x" * 101}, "keep_waiting", "announce.message: Message played while waiting: use at most 100"),
        ({"say": "position"}, "voicemail", 'groups[0] "g".announce.say: callers hear announcements only while'),
        ({"message": "custom/wait"}, "hangup", 'groups[0] "g".announce.message: callers hear the message only'),
    ],
)
def test_each_bad_option_is_named(announce: dict[str, Any], action: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(announce, action)
    assert expected in str(info.value)
