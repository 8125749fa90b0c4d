"""Since when each agent is in their state (``acd.live.StateSince``): noted on each
change for the agents that change concerns, with the same result as looking at every
agent each time, and at a cost that does not grow with the number of agents."""

from __future__ import annotations

import random

from acd.core.commands import Command, Ring
from acd.core.events import (
    AgentWorkChanged,
    CallArrived,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    Event,
    MemberAnswered,
    MemberRinging,
)
from acd.core.model import Mode
from acd.live import StateSince
from tests.core.harness import Harness, config, group

AGENTS = tuple(f"a{n}" for n in range(12))


class Watched(Harness):
    """The router with two notes of states: every agent each step, and ``changed``."""

    def __init__(self, *args: object, **kw: object) -> None:
        self.everyone, self.targeted = StateSince(), StateSince()
        self.targeted.SWEEP_S = float("inf")  # no sweep hides what a step left out
        super().__init__(*args, **kw)  # type: ignore[arg-type]

    def send(self, event: Event) -> list[Command]:
        out = super().send(event)
        self.everyone.observe(self.router, self.now)
        self.targeted.changed(self.router, event, out, self.now)
        return out


def test_noting_the_agents_a_step_concerns_gives_what_looking_at_everyone_gives() -> None:
    for seed, mode in enumerate((Mode.STRICT, Mode.EVENLY, Mode.ALL) * 2):
        rng = random.Random(seed)
        cfg = config(group(mode, members=AGENTS[:6], wrapup_s=5.0),
                     group(Mode.STRICT, id="support", members=AGENTS[4:], wrapup_s=0.0),
                     agent_ids=AGENTS, **{"5000": "sales", "5001": "support"})
        h = Watched(cfg)
        for n in range(300):
            ringing = [c for c in h.log if isinstance(c, Ring)]
            roll = rng.random()
            if roll < 0.2:
                h.send(CallArrived(f"c{n}", rng.choice(("5000", "5001")), f"+49301{n:06d}"))
            elif roll < 0.5 and ringing:
                ring = rng.choice(ringing[-6:])
                agent = rng.choice(ring.agent_ids)
                h.send(MemberRinging(ring.call_id, ring.attempt, agent))
                if rng.random() < 0.6:
                    h.send(MemberAnswered(ring.call_id, ring.attempt, agent))
                    h.send(DeviceStateChanged(agent, DeviceState.INUSE))
            elif roll < 0.7 and h.router.calls:
                call_id = rng.choice(sorted(h.router.calls))
                agent = h.router.calls[call_id].agent
                h.send(CallerHungUp(call_id))
                if agent:
                    h.send(DeviceStateChanged(agent, DeviceState.NOT_INUSE))
            elif roll < 0.8:
                h.send(AgentWorkChanged(rng.choice(AGENTS), rng.random() < 0.6, "on a break"))
            elif roll < 0.85:
                h.send(DeviceStateChanged(rng.choice(AGENTS), rng.choice(list(DeviceState))))
            h.advance(rng.choice((0.2, 1.0, 3.0, 6.0)))  # ring timeouts, wrap-ups running out
            assert h.targeted._seen == h.everyone._seen, (seed, n)


def test_a_call_looks_at_its_own_agents_not_at_every_agent() -> None:
    many = tuple(f"a{n}" for n in range(500))
    h = Harness(config(group(Mode.STRICT, members=many[:10]), agent_ids=many))
    since = StateSince()
    since.observe(h.router, h.now)
    looked: list[str] = []
    note = since.note
    since.note = lambda router, agent_id, state, now: looked.append(agent_id) or note(  # type: ignore[method-assign]
        router, agent_id, state, now)
    for event in (CallArrived("c1", "5000", "+4930111"), MemberRinging("c1", 1, "a0"), MemberAnswered("c1", 1, "a0"),
                  CallerHungUp("c1")):
        since.changed(h.router, event, h.send(event), h.now)
    assert 0 < len(looked) <= 20
    assert since._seen["a0"][0] == "available"
