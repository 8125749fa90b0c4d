"""The stuck-state watchdog: acd's picture of an agent against their phone's device state.

acd follows calls by their events; a lost event (a Hangup dropped with a connection, a
bug) would leave an agent "on a call" or "ringing" for ever and out of distribution.
Asterisk's device state is a second, independent witness (``DeviceStateChange``,
transcripts README 14): a phone that is NOT_INUSE neither talks nor rings. When the two
disagree for longer than ``RoutingConfig.stuck_after_s`` the router believes the phone
and logs the correction. Short disagreements are normal: the device state and the call
events travel separately (README "Out-of-order events").
"""

from __future__ import annotations

from .agents import AgentStatus
from .events import DeviceState


def disagreement(status: AgentStatus, rings: bool) -> str | None:
    """What acd believes that the phone denies, or None. ``rings``: acd saw the agent's
    phone ring (MemberRinging) for a call it still follows."""
    if status.device is not DeviceState.NOT_INUSE:
        return None  # only an idle phone is a clear denial (UNKNOWN: a static contact may say it)
    if status.calls:
        return "on a call"
    if rings:
        return "ringing"
    return None
