"""The live picture supervisors watch: callers waiting and ringing, agents' states.

Read from the router's state (never changed here), as plain JSON-able dicts.
"""

from __future__ import annotations

from typing import Any

from .core.call import Phase
from .core.router import Router

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
            "ringing": sorted(call.ringing),
            "dialling": sorted(call.pending - call.ringing),
            "agent": call.agent,
            "waited_s": round((call.answered_at or now) - call.arrived_at, 1),
            "arrived_at": call.arrived_at,
        }
        for call in router.live_calls()
    ]


def agents_now(router: Router, now: float) -> list[dict[str, Any]]:
    out = []
    for agent in router.config.agents.values():
        status = router.agents.status(agent.id)
        reason = router.agents.unavailable_because(agent.id, now)
        if status.ringing:
            state = "ringing"
        elif status.calls:
            state = "talking"
        else:
            state = "available" if reason is None else reason
        out.append({
            "id": agent.id,
            "name": agent.name,
            "endpoint": agent.endpoint,
            "extension": agent.extension,
            "state": state,
            "device": status.device.value,
            "working": status.working,
            # a pause (a break by hand) may be ended from the live page
            "on_break": not status.working and status.work_reason.startswith("on a break"),
            "wrapup_left_s": max(0.0, round(status.wrapup_until - now, 1)),
            "calls": sorted(status.calls),
        })
    return out
