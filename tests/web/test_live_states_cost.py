"""Since when each agent is in their state is noted on every event (acd.live.StateSince):
it looks at the agents the event touched, not at every agent, so a service with a
thousand agents does not spend milliseconds per event on it before the next ring."""

from __future__ import annotations

import pytest

import acd.live
from acd.core.events import CallArrived, DeviceState, DeviceStateChanged, MemberAnswered, MemberRinging
from acd.core.model import Agent, Mode, QueueGroup, RoutingConfig
from acd.core.router import Router
from acd.live import StateSince, agents_now

AGENTS = [f"a{n}" for n in range(300)]


def router() -> Router:
    return Router(RoutingConfig(
        agents={a: Agent(a, a, f"PJSIP/{a}", a[1:]) for a in AGENTS},
        groups={"g": QueueGroup("g", "G", ("a1", "a2", "a3"), Mode.STRICT)},
        default_group="g",
    ))


def test_an_event_costs_the_agents_it_touched_not_every_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    r, since = router(), StateSince()
    r.handle(DeviceStateChanged("a7", DeviceState.NOT_INUSE), 100.0)
    since.observe(r, 100.0)
    looked_at: list[str] = []
    state = acd.live.agent_state
    monkeypatch.setattr(acd.live, "agent_state", lambda rt, agent_id, now: (looked_at.append(agent_id),
                                                                            state(rt, agent_id, now))[1])
    r.handle(DeviceStateChanged("a7", DeviceState.INUSE), 110.0)
    since.observe(r, 110.0)
    assert "a7" in looked_at and len(looked_at) < 10


def test_each_state_counts_from_the_event_that_began_it_though_nobody_looked() -> None:
    r, since = router(), StateSince()
    events = ((100.0, CallArrived("c1", "5000", "+4917000001")), (101.0, MemberRinging("c1", 1, "a1")),
              (105.0, MemberAnswered("c1", 1, "a1")), (120.0, DeviceStateChanged("a9", DeviceState.UNAVAILABLE)))
    for t, event in events:
        r.handle(event, t)
        since.observe(r, t)
    shown = {a["id"]: (a["state"], a["state_since"]) for a in agents_now(r, 200.0, since)}
    assert shown["a1"] == ("on a call", 105.0)
    assert shown["a9"] == ("offline", 120.0)
    assert shown["a2"][0] == "available"
