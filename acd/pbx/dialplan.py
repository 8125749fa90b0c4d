"""The names the adapter shares with the dialplan (asterisk/extensions.conf).

One small frozen value so that a different dialplan (the recording set-up of
tests/fixtures/ami, a customer's own contexts) is configured, not forked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..core.model import Agent, RoutingConfig


@dataclass(frozen=True, slots=True)
class Dialplan:
    # UserEvents the dialplan raises, and their body keys (ACD-prefixed: a standard
    # header name would be repeated in the frame, transcripts README "Repeated keys")
    call_waiting: str = "ACDCallWaiting"
    did_key: str = "ACDDID"
    dial_result: str = "ACDDialResult"
    attempt_key: str = "ACDAttempt"
    status_key: str = "DialStatus"
    transfer_failed: str = "ACDTransferFailed"
    pickup_request: str = "ACDPickupRequest"
    pickup_target_key: str = "ACDTarget"
    pause_request: str = "ACDPauseRequest"  # the pause (*12) and resume (*13) codes
    pause_key: str = "ACDPause"  # "on" or "off"
    pause_reason_key: str = "ACDReason"  # the digits after the pause code: a reason's number
    # channel variable set on inbound calls (manager.conf channelvars)
    did_variable: str = "ACD_DID"
    # callbacks: the UserEvents of [acd-callback] and the variable marking its channels
    callback_agent_up: str = "ACDCallbackAgentUp"
    callback_result: str = "ACDCallbackResult"
    callback_failed: str = "ACDCallbackFailed"
    callback_key: str = "ACDCallback"
    callback_reason_key: str = "ACDReason"
    callback_variable: str = "ACD_CALLBACK"
    callback_context: str = "acd-callback"
    callback_offer_context: str = "acd-callback-offer"
    # the caller types the number to be called back on, and confirms it
    callback_number_context: str = "acd-callback-number"
    callback_number: str = "ACDCallbackNumber"
    number_key: str = "ACDNumber"
    confirm_key: str = "ACDConfirm"
    # contexts
    inbound_context: str = "acd-inbound"
    hold_context: str = "acd-hold"
    announce_context: str = "acd-announce"  # prompts to a waiting caller, then back to hold (16)
    dial_context: str = "acd-dial"
    voicemail_context: str = "acd-voicemail"
    hangup_context: str = "acd-hangup"
    pickup_context: str = "acd-pickup"
    pickup_take: str = "take"
    pickup_denied: str = "denied"
    # the PJSIP endpoint of the carrier trunk, for Forward: PJSIP/<number>@<trunk>
    trunk: str = "trunk"
    # several Asterisk servers: the one this dialplan runs on ("": the only one), and
    # another server's name -> the PJSIP endpoint here leading to it (asterisk/trunks.conf.example)
    server: str = ""
    trunks: Mapping[str, str] = field(default_factory=dict)

    def dial_target(self, agent: Agent) -> str | None:
        """What Dial() or Originate rings to reach ``agent`` from this server: their own
        endpoint here, PJSIP/<their endpoint's name>@<trunk> on another server, None
        when no trunk leads there."""
        if not self.server or not agent.server or agent.server == self.server:
            return agent.endpoint
        trunk = self.trunks.get(agent.server)
        return f"PJSIP/{agent.endpoint.partition('/')[2]}@{trunk}" if trunk else None

    def remote_agent(self, dial_string: str, config: RoutingConfig) -> Agent | None:
        """The agent a Dial through an inter-server trunk rings: DialBegin's DialString
        is what followed "PJSIP/" (README 13), here <endpoint's name>@<trunk>."""
        name, at, trunk = dial_string.rpartition("@")
        server = next((s for s, t in self.trunks.items() if t == trunk), None) if at else None
        agent = config.agent_by_endpoint(f"PJSIP/{name}") if server else None
        return agent if agent is not None and agent.server == server else None
