"""Core commands -> AMI actions, following asterisk/extensions.conf.

Every move of a caller is ``Setvar`` of the parameters, then ``Redirect`` into the
context that uses them: a reliable pattern (transcripts 02, 03; README 8). The
actions of one command are sent in order on one AMI session, which Asterisk
processes in order. Channel names come from the tracker; a command about a call
or channel that is gone yields no action.
"""

from __future__ import annotations

import logging
import math
import re

from ..core.commands import (
    Announce,
    AskCallbackNumber,
    CallBack,
    Command,
    Forward,
    HangUp,
    Hold,
    OfferCallback,
    PickUp,
    RefusePickup,
    Ring,
    SendToVoicemail,
)
from ..core.model import RoutingConfig
from .dialplan import Dialplan
from .tracker import Tracker

log = logging.getLogger(__name__)

Action = dict[str, str]

# characters that may reach a dial string from a phone number; "&" or "," would
# change what Dial() does
_NUMBER_JUNK = re.compile(r"[^0-9+*#]")


def setvar(channel: str, variable: str, value: str) -> Action:
    return {"Action": "Setvar", "Channel": channel, "Variable": variable, "Value": value}


def redirect(channel: str, context: str, exten: str, priority: int = 1) -> Action:
    return {"Action": "Redirect", "Channel": channel, "Context": context, "Exten": exten, "Priority": str(priority)}


def translate(
    command: Command, tracker: Tracker, config: RoutingConfig, dialplan: Dialplan | None = None
) -> list[Action]:
    """The AMI actions that carry out ``command``; [] for commands that are not the
    PBX's (timers, records) and for calls that no longer exist."""
    d = dialplan or tracker.dialplan
    if isinstance(command, Ring):
        endpoints = []
        for agent_id in command.agent_ids:
            agent = config.agents.get(agent_id)
            target = d.dial_target(agent) if agent is not None and agent.endpoint else None
            if target is None:
                # no endpoint, or on a server no trunk leads to: the dial result reports them unavailable
                log.warning("ring: agent has no endpoint reachable from here",
                            extra={"acd_call": command.call_id, "acd_agent": agent_id})
            else:
                endpoints.append(target)
        if not endpoints:
            return []
        return _dial(command.call_id, command.attempt, "&".join(endpoints), command.ceiling_s, tracker, d)
    if isinstance(command, Forward):
        number = _NUMBER_JUNK.sub("", command.number)
        if not number:
            log.warning("forward: not a phone number", extra={"acd_call": command.call_id})
            return []
        return _dial(command.call_id, command.attempt, f"PJSIP/{number}@{d.trunk}", command.ceiling_s, tracker, d)
    if isinstance(command, Hold):
        caller = _caller(command.call_id, tracker, "hold")
        return [redirect(caller, d.hold_context, "s")] if caller else []
    if isinstance(command, Announce):
        caller = _caller(command.call_id, tracker, "announce")
        if not caller:
            return []
        # every variable set, even empty: a part of an earlier announcement must not play again
        return [
            setvar(caller, "ACD_POSITION", "" if command.position is None else str(command.position)),
            setvar(caller, "ACD_WAIT_MINUTES", "" if command.wait_minutes is None else str(command.wait_minutes)),
            setvar(caller, "ACD_ANNOUNCEMENT", command.message),
            redirect(caller, d.announce_context, "s"),
        ]
    if isinstance(command, SendToVoicemail):
        caller = _caller(command.call_id, tracker, "voicemail")
        if not caller:
            return []
        return [setvar(caller, "ACD_MAILBOX", command.mailbox), redirect(caller, d.voicemail_context, "s")]
    if isinstance(command, HangUp):
        caller = _caller(command.call_id, tracker, "hangup")
        if not caller:
            return []
        # always set, even empty: a message from an earlier step must not play
        return [setvar(caller, "ACD_MESSAGE", command.message), redirect(caller, d.hangup_context, "s")]
    if isinstance(command, OfferCallback):
        caller = _caller(command.call_id, tracker, "callback offer")
        if not caller:
            return []
        return [setvar(caller, "ACD_CALLBACK_PROMPT", command.sound), redirect(caller, d.callback_offer_context, "s")]
    if isinstance(command, AskCallbackNumber):
        caller = _caller(command.call_id, tracker, "callback number")
        if not caller:
            return []
        return [setvar(caller, "ACD_NUMBER_MAX", str(command.max_digits)),
                redirect(caller, d.callback_number_context, "s")]
    if isinstance(command, CallBack):
        return _call_back(command, config, d)
    if isinstance(command, PickUp) and command.via == "web":
        return _intercept(command, tracker, config, d)
    if isinstance(command, PickUp):
        picker = tracker.channel_name(command.request_id)
        if picker is None:
            log.info("pickup: the colleague hung up", extra={"acd_call": command.call_id})
            return []
        target = tracker.ringing_leg(command.call_id, command.from_agent)
        if target is None:
            # it stopped ringing meanwhile: fail the colleague's call cleanly now
            log.info("pickup: nothing rings there any more",
                     extra={"acd_call": command.call_id, "acd_agent": command.from_agent})
            return [redirect(picker, d.pickup_context, d.pickup_denied)]
        return [setvar(picker, "ACD_PICKUP_TARGET", target), redirect(picker, d.pickup_context, d.pickup_take)]
    if isinstance(command, RefusePickup):
        picker = tracker.channel_name(command.request_id)
        return [redirect(picker, d.pickup_context, d.pickup_denied)] if picker else []
    return []


def _intercept(command: PickUp, tracker: Tracker, config: RoutingConfig, d: Dialplan) -> list[Action]:
    """The Intercept button: ring the colleague's own phone; answering it runs
    PickupChan on the ringing leg (Originate into acd-pickup,take, transcripts 07/09)."""
    agent = config.agents.get(command.by_agent)
    target = tracker.ringing_leg(command.call_id, command.from_agent)
    channel = d.dial_target(agent) if agent is not None else None
    if channel is None or target is None:
        log.info("intercept: nothing to take", extra={"acd_call": command.call_id, "acd_agent": command.from_agent})
        return []
    return [{
        "Action": "Originate",
        "Channel": channel,
        "Context": d.pickup_context,
        "Exten": d.pickup_take,
        "Priority": "1",
        "Variable": f"ACD_PICKUP_TARGET={target}",
        "CallerID": f'"Intercept" <{command.call_id}>',
        "Timeout": "30000",
        "Async": "true",
    }]


def _call_back(command: CallBack, config: RoutingConfig, d: Dialplan) -> list[Action]:
    """Ring the member; [acd-callback] then dials the customer (transcripts 15). The
    request and attempt travel as Variables, which also reach the ``failed`` extension."""
    agent = config.agents.get(command.agent_id)
    number = _NUMBER_JUNK.sub("", command.number)
    channel = d.dial_target(agent) if agent is not None and agent.endpoint else None
    if channel is None or not number:
        log.warning("callback: no member endpoint or no number", extra={"acd_call": command.request_id})
        return []
    variables = [
        f"__{d.callback_variable}={command.request_id}",  # inherited by the customer's leg
        f"ACD_CALLBACK_TRY={command.attempt}",
        f"ACD_DIALSTRING=PJSIP/{number}@{d.trunk}",
        f"ACD_TIMEOUT={max(1, math.ceil(command.customer_ring_s))}",
    ]
    return [{
        "Action": "Originate",
        "Channel": channel,
        "Context": d.callback_context,
        "Exten": number,
        "Priority": "1",
        "Timeout": str(max(1000, math.ceil(command.agent_ring_s * 1000))),
        # the member's phone shows whom they are about to call; the customer is shown the
        # number they called (15: the customer's leg presents the Originate's CallerID)
        "CallerID": f'"Callback {number}" <{_NUMBER_JUNK.sub("", command.presented)}>',
        "Variable": ",".join(variables),
        "Async": "true",
    }]


def _dial(call_id: str, attempt: int, dialstring: str, ceiling_s: float, tracker: Tracker, d: Dialplan) -> list[Action]:
    caller = _caller(call_id, tracker, "ring")
    if not caller:
        return []
    timeout = max(1, math.ceil(ceiling_s))
    # the attempt travels in the extension (acd-dial,<attempt>,1), never in a variable:
    # a Setvar for the next attempt could land while the old Dial returns
    return [
        setvar(caller, "ACD_DIALSTRING", dialstring),
        setvar(caller, "ACD_TIMEOUT", str(timeout)),
        redirect(caller, d.dial_context, str(attempt)),
    ]


def _caller(call_id: str, tracker: Tracker, what: str) -> str | None:
    name = tracker.channel_name(call_id) if tracker.has_call(call_id) else None
    if name is None:
        log.info("command for a call that is gone", extra={"acd_call": call_id, "acd_command": what})
    return name
