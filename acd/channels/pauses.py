"""Telephony's pause decisions carried out on the desk, which keeps agents' work time.

The telephony core asks for a pause (the agent's pause code, auto-pause after offers
that rang out) or its end (the resume code, auto-resume); a pause is the agent's
break, so every channel obeys it and its reason is in the agent's timeline. Alerts
(an agent auto-paused) join the channels' supervisor alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..core.commands import AlertSupervisors, PauseAgent, ResumeAgent
from .desk import Desk

log = logging.getLogger(__name__)


def pauses_on(desk: Desk) -> Callable[[PauseAgent | ResumeAgent | AlertSupervisors], None]:
    def carry_out(command: PauseAgent | ResumeAgent | AlertSupervisors) -> None:
        if isinstance(command, AlertSupervisors):
            desk.alert(command.group_id, command.kind, command.at, **command.detail)
            return
        if command.agent_id not in desk.config.agents:
            return
        # the timeline says who: the agent from their phone, or acd itself
        by = command.agent_id if command.by == "phone" else "acd"
        if isinstance(command, PauseAgent):
            log.info("agent paused", extra={"agent": command.agent_id, "reason": command.reason, "by": by})
            desk.start_break(command.agent_id, by=by, reason=command.reason)
        else:
            log.info("agent resumed", extra={"agent": command.agent_id, "by": by})
            desk.end_break(command.agent_id, by=by)

    return carry_out
