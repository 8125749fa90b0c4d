"""The live picture supervisors watch: callers waiting and ringing, agents' states.

Read from the router's state (never changed here), as plain JSON-able dicts.
"""

from __future__ import annotations

from typing import Any

from .core.call import Phase
from .core.router import Router
from .wallboard.board import AGENT_STATES
from .wallboard.board import agent_state as wallboard_state

__all__ = ["AGENT_STATES", "StateSince", "agent_state", "agents_now", "call_progress", "calls_now"]

# a call in progress as supervisors say it (history shows this until the call ends)
PROGRESS = {
    Phase.RINGING: "ringing",
    Phase.WAITING: "waiting",
    Phase.CONNECTED: "talking",
    Phase.FORWARDING: "being forwarded",
    Phase.VOICEMAIL: "leaving a voicemail",
    Phase.HANGING_UP: "ending",
    Phase.ELSEWHERE: "in progress",
}


def call_progress(router: Router, call_id: str) -> str:
    """Where a live call is now; "in progress" for one the router does not follow."""
    call = router.calls.get(call_id)
    return PROGRESS[call.phase] if call is not None else "in progress"


def _name(router: Router, agent_id: str) -> str:
    agent = router.config.agents.get(agent_id)
    return agent.name if agent is not None and agent.name else agent_id


def calls_now(router: Router, now: float) -> list[dict[str, Any]]:
    return [
        {
            "call_id": call.id,
            "caller_number": call.caller_number,
            "caller_name": call.caller_name,
            "did": call.did,
            "group": call.group_id,
            "group_name": call.group.name if call.group else "",
            "allow_pickup": bool(call.group and call.group.allow_pickup),
            "phase": call.phase.value,
            "progress": PROGRESS[call.phase],  # the phase in words, for pages
            "ringing": sorted(call.ringing),
            "dialling": sorted(call.pending - call.ringing),
            "agent": call.agent,
            # the same people by name, for pages
            "ringing_names": [_name(router, a) for a in sorted(call.ringing)],
            "dialling_names": [_name(router, a) for a in sorted(call.pending - call.ringing)],
            "agent_name": _name(router, call.agent) if call.agent else None,
            "waited_s": round((call.answered_at or now) - call.arrived_at, 1),
            "arrived_at": call.arrived_at,
        }
        for call in router.live_calls()
    ]


def agent_state(router: Router, agent_id: str, now: float) -> tuple[str, str]:
    """(state, why) for one agent: the wallboard's state (one of AGENT_STATES, never
    Asterisk's device state) and, where it helps, the reason in words ("not clocked
    in", "phone not connected", "a call not from a queue")."""
    status = router.agents.status(agent_id)
    state = wallboard_state(status, now)
    why = ""
    if state == "on a break":  # "on a break", "on a scheduled break", "on a break: lunch"
        why = status.work_reason.removeprefix("on a break").removeprefix("on a ").strip(" :()")
    elif state == "offline":
        why = (status.work_reason or "not working") if not status.working else "phone not connected"
    elif state == "on a call" and not status.calls:
        why = "a call not from a queue"  # the phone is in use for a direct call
    return state, why


class StateSince:
    """Since when each agent has been in their state: noted as the router's picture
    changes (a Distributor listener) and whenever the live view is read. A wrap-up's end
    is known exactly; after a restart, states count from the first look."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, float]] = {}

    def note(self, router: Router, agent_id: str, state: str, now: float) -> float:
        """Since when the agent is in ``state`` (now, if it just changed)."""
        seen = self._seen.get(agent_id)
        if seen is not None and seen[0] == state:
            return seen[1]
        began = _began(router, agent_id, state, seen)
        since = began if began is not None and began <= now else now
        self._seen[agent_id] = (state, since)
        return since

    def observe(self, router: Router, now: float) -> None:
        """After an event: the agents whose state it may have changed are those the router
        looked at (every change goes through ``AgentBook.status``). Looking at every agent
        instead cost 2 ms per event with 1,000 agents (bench/first_ring.py). The rest keep
        their state; a wrap-up running out is dated from its end when next looked at."""
        agents = router.config.agents
        for agent_id in router.agents.take_looked_at():
            if agent_id in agents:
                self.note(router, agent_id, agent_state(router, agent_id, now)[0], now)
        router.agents.take_looked_at()  # our own look changed nothing


def _began(router: Router, agent_id: str, state: str, seen: tuple[str, float] | None) -> float | None:
    """When the state began, where the router knows it: a call's answer, a wrap-up's end."""
    status = router.agents.status(agent_id)
    if state == "on a call":
        answered = [c.answered_at for cid in status.calls if (c := router.calls.get(cid)) and c.answered_at]
        return min(answered) if answered else None
    if state == "available" and seen is not None and seen[0] == "wrap-up" and status.wrapup_until:
        return status.wrapup_until  # the wrap-up ran out (its timer may fire a little later)
    return None


def agents_now(router: Router, now: float, since: StateSince | None = None) -> list[dict[str, Any]]:
    since = since or StateSince()
    out = []
    for agent in router.config.agents.values():
        status = router.agents.status(agent.id)
        state, why = agent_state(router, agent.id, now)
        began = since.note(router, agent.id, state, now)
        out.append({
            "id": agent.id,
            "name": agent.name,
            "endpoint": agent.endpoint,
            "extension": agent.extension,
            "state": state,  # one of AGENT_STATES
            "state_why": why,
            "state_since": began,
            "in_state_s": round(now - began, 1),
            "device": status.device.value,  # Asterisk's word, for integrations; pages do not show it
            "working": status.working,
            # a pause (a break by hand) may be ended from the live page
            "on_break": not status.working and status.work_reason.startswith("on a break"),
            "wrapup_left_s": max(0.0, round(status.wrapup_until - now, 1)),
            "calls": sorted(status.calls),
        })
    return out
