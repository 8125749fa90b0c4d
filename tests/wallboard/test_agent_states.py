"""An agent's state on the wallboard and the live page, from their telephony status."""

from __future__ import annotations

import pytest

from acd.core.agents import AgentStatus
from acd.core.events import DeviceState
from acd.wallboard.board import agent_state


@pytest.mark.parametrize("reason", ["on a break", "on a break: lunch", "on a break: missed 3 calls",
                                    "on a scheduled break"])
def test_every_kind_of_break_reads_on_a_break(reason: str) -> None:
    # a pause with a reason ("on a break: lunch", acd.core.work_time) is a break, not "offline"
    status = AgentStatus(device=DeviceState.NOT_INUSE, working=False, work_reason=reason)
    assert agent_state(status, now=0.0) == "on a break"


def test_outside_working_hours_reads_offline() -> None:
    status = AgentStatus(device=DeviceState.NOT_INUSE, working=False, work_reason="not clocked in")
    assert agent_state(status, now=0.0) == "offline"
