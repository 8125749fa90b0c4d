"""Agents' pauses the telephony core decides: auto-pause after offers that rang out,
and the reason a pause code names.

A pause is the agent's break (``work_time``): every channel obeys it. The core asks
for one with ``PauseAgent`` and treats the agent as paused at once, so the very next
routing step skips them with the pause's reason; the desk (which keeps work time)
confirms with ``AgentWorkChanged``. Resuming waits for that confirmation: the desk
knows whether the agent is still off for another reason (hours, clock-out).

Auto-pause (app_queue's ``autopause``, mod_callcenter's ``max-no-answer``): every offer
that rings out unanswered at a member whose phone really rang counts one; an answer or
any change of the member's work state starts the count again. When it reaches the
group's ``pause_after_missed``, the member is paused with the reason "missed N calls".
"""

from __future__ import annotations

from collections.abc import Sequence

from .model import QueueGroup


def reason_for_code(reasons: Sequence[str], code: str) -> str:
    """The pause reason the digits after the pause code name (1 = the first); none
    when the digits name nothing (the pause is taken all the same)."""
    code = code.strip()
    if code.isdigit() and 1 <= int(code) <= len(reasons):
        return reasons[int(code) - 1]
    return ""


class MissedInARow:
    """Offers that rang out, per agent, since their last answer or work-state change."""

    def __init__(self) -> None:
        self._count: dict[str, int] = {}

    def rang_out(self, agent_id: str, group: QueueGroup) -> str | None:
        """Count one offer of ``group`` that rang out at the agent; the pause reason
        when that makes the group's limit, else None."""
        count = self._count.get(agent_id, 0) + 1
        limit = group.pause_after_missed
        if limit and count >= limit:
            self._count.pop(agent_id, None)
            return f"missed {count} call{'' if count == 1 else 's'}"
        self._count[agent_id] = count
        return None

    def reset(self, agent_id: str) -> None:
        self._count.pop(agent_id, None)

    def count(self, agent_id: str) -> int:
        return self._count.get(agent_id, 0)
