"""The live view says agents' states as people do, with how long they have been in it;
never Asterisk's device states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.core.events import (
    AgentWorkChanged,
    CallArrived,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    MemberAnswered,
    MemberRinging,
)
from acd.live import AGENT_STATES

from .conftest import StillClock, build, login

DEVICE_STATES = {s.value for s in DeviceState}


class SetClock(StillClock):
    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at


def states(client: Any) -> dict[str, tuple[str, str, float]]:
    return {a["id"]: (a["state"], a["state_why"], a["in_state_s"]) for a in client.get("/api/live").json()["agents"]}


def test_agents_states_are_people_words_with_how_long(tmp_path: Path) -> None:
    clock = SetClock(1_000_000.0)
    service = build(tmp_path, clock=clock)
    service.user("sup", permissions={"telephony"})
    sup = login(service.app, "sup")
    feed = service.distributor.feed
    assert {s for s, _, _ in states(sup).values()} == {"available"}
    feed(CallArrived("c1", "+4930111111", "+4917000001"))  # sales: anna first
    feed(MemberRinging("c1", 1, "anna"))
    clock.at += 5
    feed(MemberAnswered("c1", 1, "anna"))
    feed(DeviceStateChanged("anna", DeviceState.INUSE))
    feed(DeviceStateChanged("ben", DeviceState.UNAVAILABLE))
    feed(AgentWorkChanged("chloe", False, "on a break"))
    clock.at += 65
    now = states(sup)
    assert now["anna"] == ("on a call", "", 65.0)  # since the answer, not since the first look
    assert now["ben"][:2] == ("offline", "phone not connected")
    assert now["chloe"][:2] == ("on a break", "")
    feed(CallerHungUp("c1"))
    feed(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    clock.at += 10
    assert states(sup)["anna"] == ("available", "", 10.0)
    data = sup.get("/api/live").json()
    assert all(a["state"] in AGENT_STATES for a in data["agents"])


def test_a_phone_ringing_for_a_direct_call_or_in_use_is_never_shown_as_asterisk_says_it(tmp_path: Path) -> None:
    service = build(tmp_path)
    service.user("sup", permissions={"telephony"})
    sup = login(service.app, "sup")
    service.distributor.feed(DeviceStateChanged("anna", DeviceState.RINGINUSE))
    service.distributor.feed(DeviceStateChanged("ben", DeviceState.INUSE))
    now = states(sup)
    assert now["anna"][0] == "on a call" and now["ben"] == ("on a call", "a call not from a queue", 0.0)
    for agent in sup.get("/api/live").json()["agents"]:
        shown = {k: v for k, v in agent.items() if k != "device"}  # "device" is for integrations
        assert not DEVICE_STATES & {str(v) for v in shown.values()}
