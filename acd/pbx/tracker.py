"""AMI messages in, core events out: follows Asterisk's channels and reports calls.

Pure and synchronous (no asyncio, no sockets): ``handle(message)`` returns the core
events one AMI message causes, ``resync(channels, devices)`` rebuilds the picture
after a (re)connect. Only channels that are calls are reported; agents' own legs
are legs of a call. No routing policy lives here.

Every fact about Asterisk's behaviour is from tests/fixtures/ami (Asterisk
22.10.1); the comments name the file or README point.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.callback_numbers import CONFIRM_KEY
from ..core.events import (
    AgentLegHungUp,
    AttemptEnded,
    CallArrived,
    CallbackAgentAnswered,
    CallbackAgentFailed,
    CallbackEnded,
    CallbackNumberEntered,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    DigitPressed,
    Event,
    FailReason,
    LiveCall,
    MemberAnswered,
    MemberFailed,
    MemberRinging,
    PauseRequested,
    PickupRequested,
    Resynced,
    TransferFailed,
    TransferredByHand,
)
from ..core.model import Agent, RoutingConfig
from .channels import UNKNOWN, Channel, Picture, count, hms_seconds, is_local, text
from .dialplan import Dialplan

log = logging.getLogger(__name__)



@dataclass(slots=True)
class _Call:
    call_id: str
    attempt: int = 0  # the last ring attempt the runtime started (note_attempt)
    attempt_agents: tuple[str, ...] = ()
    dialled: set[str] = field(default_factory=set)  # agents with a DialBegin in ``attempt``
    agent: str | None = None  # who the caller talks to
    agent_leg: str | None = None  # that agent's channel
    transfer: str | None = None  # "blind" | "attended": waiting to see the new agent
    # the call's legs still followed, in the order dialled (the keys; a dict as an ordered
    # set): its hang-up forgets them without a walk over every call's legs
    legs: dict[str, None] = field(default_factory=dict)


@dataclass(slots=True)
class _Leg:
    uid: str
    call_id: str
    attempt: int
    agent_id: str | None  # None: an outside number (Forward through the trunk)
    ringing: bool = False
    ended: bool = False


class Tracker:
    def __init__(self, config: RoutingConfig, dialplan: Dialplan | None = None) -> None:
        self.config = config
        self.dialplan = dialplan or Dialplan()
        self.picture = Picture()
        self._calls: dict[str, _Call] = {}
        self._legs: dict[str, _Leg] = {}
        self._pickups: dict[str, str] = {}  # picker channel uid -> the ringing leg it took
        self._agent_legs: dict[str, str] = {}  # connected agent's channel uid -> call id
        self._transferring: set[str] = set()  # calls waiting to see their new agent
        self._devices: dict[str, DeviceState] = {}  # last state reported per agent
        # event name -> its handler, looked up once rather than by name for every event
        self._handlers = {name: getattr(self, "_on_" + name) for name in self.handled_events()}

    # ------------------------------------------------------------------ queries (actions.py)
    def has_call(self, call_id: str) -> bool:
        return call_id in self._calls and call_id in self.picture.channels

    def channel_name(self, uid: str) -> str | None:
        ch = self.picture.get(uid)
        return ch.name if ch is not None else None

    def ringing_leg(self, call_id: str, agent_id: str) -> str | None:
        """The channel name of the live leg ringing at ``agent_id`` for the call."""
        call = self._calls.get(call_id)
        for uid in reversed(call.legs if call is not None else ()):
            leg = self._legs.get(uid)
            if leg is not None and leg.call_id == call_id and leg.agent_id == agent_id and not leg.ended:
                return self.channel_name(leg.uid)
        return None

    def talking_to(self, uid: str) -> tuple[str, str] | None:
        """(agent id, the agent's channel uid) the channel talks to now, following
        bridges and Local pairs; None when it talks to no configured agent."""
        peer = self.picture.reachable(uid, lambda ch: self._agent_of(ch) is not None)
        if peer is None:
            return None
        agent = self._agent_of(peer)
        return (agent.id, peer.uid) if agent else None

    # ------------------------------------------------------------------ what the runtime tells us
    def note_attempt(self, call_id: str, attempt: int, agent_ids: Iterable[str] = ()) -> None:
        """The runtime is starting ring attempt ``attempt`` (a Ring or Forward command).
        The attempt also travels in the Redirect's extension; this is the fallback for
        a dialplan whose extension does not carry it, and tells which agents were meant
        to ring, so an agent whose phone never got a leg is reported unavailable."""
        call = self._calls.get(call_id)
        if call is None:
            return
        call.attempt, call.attempt_agents, call.dialled = attempt, tuple(agent_ids), set()

    @classmethod
    def handled_events(cls) -> frozenset[str]:
        """The AMI events the tracker acts on; the link need not parse any other."""
        return frozenset(name[4:] for name in dir(cls) if name.startswith("_on_"))

    # ------------------------------------------------------------------ live events
    def handle_then(self, emit: Callable[[list[Event]], None], msg: Mapping[str, Any]) -> None:
        """``handle``, and its core events to ``emit`` when there are any (most AMI events
        only refresh the picture). The AMI link calls it for every event through a
        functools.partial (AsteriskPbx): no interpreted step between the link and here."""
        events = self.handle(msg)
        if events:
            emit(events)

    def handle(self, msg: Mapping[str, Any]) -> list[Event]:
        """The core events one AMI event causes. Never raises: bad input is logged."""
        name = msg.get("Event")
        handler = self._handlers.get(name if name.__class__ is str else text(msg, "Event"))
        if handler is None:
            return []
        out: list[Event] = []
        try:
            handler(msg, out)
        except Exception:  # malformed or unexpected input must not stop the link
            log.exception("ami event not understood",
                          extra={"ami_event": text(msg, "Event")[:64], "ami_uniqueid": text(msg, "Uniqueid")[:64]})
        return out

    def _on_Newchannel(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        self.picture.observe(msg)

    def _on_Newstate(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        ch = self.picture.observe(msg)
        if ch is not None and _is_ringing(ch.state, text(msg, "ChannelState")):
            self._ringing(ch.uid, out)  # the leg's own Newstate Ringing (README 5)

    def _on_Rename(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        self.picture.rename(text(msg, "Uniqueid"), text(msg, "Newname"))

    def _on_HangupRequest(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        ch = self.picture.observe(msg)
        if ch is not None:
            ch.far_end_hung_up = ch.hanging_up = True  # README 7: the far end hung up

    def _on_SoftHangupRequest(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        ch = self.picture.observe(msg)
        if ch is not None:
            ch.hanging_up = True  # internal or AMI hang-up, or the bridged party left

    def _on_Hangup(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        uid = text(msg, "Uniqueid")
        ch = self.picture.get(uid)
        if ch is None:
            return
        call = self._calls.pop(uid, None)
        if call is not None:
            # README 7: never infer who hung up from Cause (it is sticky on the caller)
            out.append(CallerHungUp(uid, by_caller=ch.far_end_hung_up))
            self._connect(call, None, None)
            self._transferring.discard(uid)
            for leg_uid in call.legs:
                leg = self._legs.get(leg_uid)
                if leg is not None and leg.call_id == uid:
                    del self._legs[leg_uid]
        else:
            self._leg_gone(uid, out)
        self.picture.remove(uid)
        if self._pickups:
            self._pickups = {k: v for k, v in self._pickups.items() if k != uid and v != uid}

    def _leg_gone(self, uid: str, out: list[Event]) -> None:
        leg = self._legs.pop(uid, None)
        if leg is not None:
            of_call = self._calls.get(leg.call_id)
            if of_call is not None:
                of_call.legs.pop(uid, None)
            if not leg.ended and leg.agent_id and uid not in self._pickups.values():
                # README 6: DialEnd always precedes the leg's Hangup; this is a safety net
                out.append(MemberFailed(leg.call_id, leg.attempt, leg.agent_id, FailReason.CANCELLED))
        call = self._calls.get(self._agent_legs.get(uid, ""))
        if call is None or call.agent_leg != uid:
            return
        caller = self.picture.get(call.call_id)
        agent = call.agent
        self._connect(call, None, None)
        # 02/04/08: when the caller hung up, its HangupRequest comes before the
        # agent's Hangup; only an agent leaving a live caller is reported
        if agent and caller is not None and not caller.hanging_up:
            out.append(AgentLegHungUp(call.call_id, agent))

    # ------------------------------------------------------------------ dialling
    def _on_DialBegin(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        caller = self.picture.observe(msg)
        dest = self.picture.observe(msg, "Dest")
        if caller is None or dest is None:
            return  # README 9: an originated leg has no Channel* fields
        call = self._calls.get(caller.uid)
        if call is None or caller.context != self.dialplan.dial_context:
            return  # not a ring attempt (a transfer's Dial, app_queue, a Local half)
        if dest.uid in self._legs:
            return
        # a member on another server rings through the trunk to it: the leg is the trunk's
        agent = self._agent_of(dest) or self.dialplan.remote_agent(text(msg, "DialString"), self.config)
        leg = _Leg(dest.uid, call.call_id, self._attempt(caller, call), agent.id if agent else None)
        self._legs[dest.uid] = leg
        call.legs[dest.uid] = None
        if agent is not None and leg.attempt == call.attempt:
            call.dialled.add(agent.id)
        if _is_ringing(text(msg, "DestChannelStateDesc"), "") or _is_ringing(dest.state, ""):
            self._ringing(dest.uid, out)

    def _on_DialState(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        self.picture.observe(msg)
        dest = self.picture.observe(msg, "Dest")
        # 09: DialState RINGING may come before the leg's Newstate Ringing, still
        # saying "Down"; either one proves the phone rings, and counts once
        if dest is not None and text(msg, "DialStatus").upper() == "RINGING":
            self._ringing(dest.uid, out)

    def _ringing(self, leg_uid: str, out: list[Event]) -> None:
        leg = self._legs.get(leg_uid)
        if leg is None or leg.ringing or leg.ended or leg.agent_id is None:
            return
        leg.ringing = True
        out.append(MemberRinging(leg.call_id, leg.attempt, leg.agent_id))

    def _on_DialEnd(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        caller = self.picture.observe(msg)
        dest = self.picture.observe(msg, "Dest")
        if dest is None:
            return
        status = text(msg, "DialStatus").upper()
        leg = self._legs.get(dest.uid)
        if leg is not None:
            if leg.ended:
                return  # 11a/11b: DialEnd repeats (CANCEL twice, NOANSWER then CANCEL)
            leg.ended = True
            call = self._calls.get(leg.call_id)
            if status == "ANSWER":
                if call is not None:
                    self._connect(call, leg.agent_id, leg.uid)
                out.append(MemberAnswered(leg.call_id, leg.attempt, leg.agent_id or ""))
            elif leg.agent_id is not None:
                out.append(MemberFailed(leg.call_id, leg.attempt, leg.agent_id, FailReason.from_dial_status(status)))
            return
        if status != "ANSWER" or caller is None or caller.uid not in self._calls:
            return
        if dest.uid in self._pickups or caller.context == self.dialplan.dial_context:
            # not a transfer's Dial (10: the transferred caller dials from the agents' context)
            self._answered_by_pickup(self._calls[caller.uid], dest, out)

    def _answered_by_pickup(self, call: _Call, picker: Channel, out: list[Event]) -> None:
        """09: after a pickup, DialEnd ANSWER names the picker's channel, not the leg we
        dialled; the Pickup event before it named the ringing leg that was taken."""
        if call.agent_leg == picker.uid:
            return  # a repeated DialEnd
        target = self._legs.get(self._pickups.get(picker.uid, ""))
        agent = self._agent_of(picker)
        if agent is None:
            log.info("call answered by an unknown channel",
                     extra={"ami_call": call.call_id, "ami_channel": picker.name})
            return
        if target is not None:
            target.ended = True
        attempt = target.attempt if target is not None else call.attempt
        self._connect(call, agent.id, picker.uid)
        out.append(MemberAnswered(call.call_id, attempt or None, agent.id,
                                  picked_up_from=target.agent_id if target is not None else None))

    def _on_Pickup(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        picker = self.picture.observe(msg)
        target = self.picture.observe(msg, "Target")
        if picker is not None and target is not None:
            self._pickups[picker.uid] = target.uid  # 09: Channel = picker, Target = ringing leg

    # ------------------------------------------------------------------ bridges and transfers
    def _on_BridgeEnter(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        ch = self.picture.observe(msg)
        if ch is not None:
            self.picture.enter(ch.uid, text(msg, "BridgeUniqueid"))
            self._follow_transfers(out)

    def _on_BridgeLeave(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        ch = self.picture.observe(msg)
        if ch is not None:
            self.picture.leave(ch.uid, text(msg, "BridgeUniqueid"))

    def _on_BridgeDestroy(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        self.picture.destroy(text(msg, "BridgeUniqueid"))

    def _on_BridgeMerge(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        self.picture.merge(text(msg, "FromBridgeUniqueid"), text(msg, "ToBridgeUniqueid"))
        self._follow_transfers(out)

    def _on_BlindTransfer(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        # 10: a SIP REFER and the AMI BlindTransfer action give the same event
        self._transfer_started(msg, "blind", out)

    def _on_AttendedTransfer(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        self._transfer_started(msg, "attended", out)

    def _transfer_started(self, msg: Mapping[str, Any], kind: str, out: list[Event]) -> None:
        if text(msg, "Result").lower() not in ("success", ""):
            return
        transferee = self.picture.observe(msg, "Transferee")
        candidates = {transferee.uid} if transferee is not None else set()
        for key in ("BridgeUniqueid", "OrigBridgeUniqueid", "SecondBridgeUniqueid", "DestBridgeUniqueid"):
            candidates |= self.picture.bridges.get(text(msg, key), set())
        for uid in candidates:
            call = self._calls.get(uid)
            if call is not None:
                call.transfer = kind
                self._transferring.add(uid)
        self._follow_transfers(out)

    def _follow_transfers(self, out: list[Event]) -> None:
        """A transferred caller talks to a new agent: report it once (12: after an
        attended transfer the new agent is behind a Local pair)."""
        for call_id in sorted(self._transferring):
            call = self._calls.get(call_id)
            if call is None or call.transfer is None:
                self._transferring.discard(call_id)
                continue
            now = self.talking_to(call.call_id)
            if now is None or now[1] == call.agent_leg:
                continue
            agent_id, leg_uid = now
            kind, call.transfer = call.transfer, None
            self._transferring.discard(call_id)
            self._connect(call, agent_id, leg_uid)
            out.append(TransferredByHand(call.call_id, agent_id, kind))

    # ------------------------------------------------------------------ our UserEvents
    def _on_UserEvent(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        kind = text(msg, "UserEvent")
        d = self.dialplan
        ch = self.picture.observe(msg)
        if ch is None:
            return
        if kind == d.call_waiting:
            self._call_waiting(ch, msg, out)
        elif kind == d.dial_result:
            self._dial_result(ch, msg, out)
        elif kind == d.transfer_failed:
            call = self._calls.get(ch.uid)
            if call is not None:
                call.transfer = None
                self._connect(call, None, None)
                out.append(TransferFailed(ch.uid))
        elif kind == d.pickup_request:
            self._pickup_request(ch, msg, out)
        elif kind == d.pause_request:
            self._pause_request(ch, msg, out)
        elif kind == d.callback_number:
            if ch.uid in self._calls:
                out.append(CallbackNumberEntered(ch.uid, _body(msg, d.number_key),
                                                 _body(msg, d.confirm_key) == CONFIRM_KEY))
        elif kind in (d.callback_agent_up, d.callback_result, d.callback_failed):
            self._callback_event(kind, msg, out)

    def _callback_event(self, kind: str, msg: Mapping[str, Any], out: list[Event]) -> None:
        d = self.dialplan
        request_id = _body(msg, d.callback_key)
        attempt = count(_body(msg, self.dialplan.attempt_key))
        if not request_id or attempt is None:
            _not_understood(d.callback_key, f"{request_id}/{_body(msg, d.attempt_key)}", text(msg, "Uniqueid"))
            return
        if kind == d.callback_agent_up:
            out.append(CallbackAgentAnswered(request_id, attempt))
        elif kind == d.callback_result:
            out.append(CallbackEnded(request_id, attempt, _body(msg, d.status_key).upper()))
        else:
            reason = _body(msg, d.callback_reason_key)
            out.append(CallbackAgentFailed(request_id, attempt, _ORIGINATE_REASONS.get(reason, f"reason {reason}")))

    # ------------------------------------------------------------------ keys pressed
    def _on_DTMFEnd(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        # 14 (README 19): one DTMFBegin/DTMFEnd pair per key and no digit string;
        # "Received" is a key the caller pressed (not one Asterisk sent)
        ch = self.picture.observe(msg)
        digit = text(msg, "Digit").strip()
        if ch is not None and ch.uid in self._calls and len(digit) == 1 \
                and text(msg, "Direction").lower() == "received" \
                and ch.context != self.dialplan.callback_number_context:  # digits of a number Read() takes
            out.append(DigitPressed(ch.uid, digit))

    def _call_waiting(self, ch: Channel, msg: Mapping[str, Any], out: list[Event]) -> None:
        if ch.uid in self._calls:
            return
        did = _body(msg, self.dialplan.did_key) or ch.variable(self.dialplan.did_variable)
        self._calls[ch.uid] = _Call(ch.uid)
        out.append(CallArrived(ch.uid, did, ch.caller_number, ch.caller_name, server=self.dialplan.server))

    def _dial_result(self, ch: Channel, msg: Mapping[str, Any], out: list[Event]) -> None:
        call = self._calls.get(ch.uid)
        if call is None:
            return
        status = text(msg, self.dialplan.status_key).upper()
        raw = _body(msg, self.dialplan.attempt_key)
        attempt = count(raw)
        if attempt is None:
            if raw:
                _not_understood(self.dialplan.attempt_key, raw, ch.uid)
            attempt = call.attempt
        if status == "ANSWER":
            return  # the call is connected, not back in hold
        if attempt == call.attempt:
            # 13: an endpoint without a usable contact fails with CHANUNAVAIL at once:
            # no Newchannel, no DialBegin, no DialEnd; only this result tells
            for agent_id in call.attempt_agents:
                if agent_id not in call.dialled:
                    out.append(MemberFailed(call.call_id, attempt, agent_id, FailReason.UNAVAILABLE))
            call.dialled = set(call.attempt_agents)
        out.append(AttemptEnded(call.call_id, attempt, status))

    def _pickup_request(self, ch: Channel, msg: Mapping[str, Any], out: list[Event]) -> None:
        picker = self._agent_of(ch)
        if picker is None:
            log.info("pickup request from a phone that is no agent", extra={"ami_channel": ch.name})
            return
        target = _body(msg, self.dialplan.pickup_target_key).strip()
        target_agent: str | None = None
        if target:
            found = self.config.agent_by_extension(target)
            # an unknown extension must not widen into "any call": the core finds
            # nothing ringing at this id and refuses the pickup
            target_agent = found.id if found is not None else target
        out.append(PickupRequested(ch.uid, picker.id, target_agent))

    def _pause_request(self, ch: Channel, msg: Mapping[str, Any], out: list[Event]) -> None:
        """The pause or resume code dialled from an agent's phone (extensions.conf *12, *13)."""
        agent = self._agent_of(ch)
        if agent is None:
            log.info("pause request from a phone that is no agent", extra={"ami_channel": ch.name})
            return
        paused = _body(msg, self.dialplan.pause_key).strip().lower() != "off"
        out.append(PauseRequested(agent.id, paused, _body(msg, self.dialplan.pause_reason_key).strip()))

    # ------------------------------------------------------------------ device states
    def _on_DeviceStateChange(self, msg: Mapping[str, Any], out: list[Event]) -> None:
        agent_id = self._device_agent(msg)
        if agent_id is None:
            return
        state = DeviceState.parse(text(msg, "State"))
        if self._devices.get(agent_id) != state:  # a state told again changes nothing
            self._devices[agent_id] = state
            out.append(DeviceStateChanged(agent_id, state))

    def _device_agent(self, msg: Mapping[str, Any]) -> str | None:
        """The agent of this server whose phone the device-state message is about."""
        device = text(msg, "Device")
        # README 14: Queue:…, MWI:…, the trunk also report device states
        agent = self.config.agent_by_endpoint(device) if device.startswith("PJSIP/") else None
        return agent.id if agent is not None and self._here(agent) else None

    def _device_state(self, msg: Mapping[str, Any]) -> DeviceStateChanged | None:
        agent_id = self._device_agent(msg)
        return None if agent_id is None else DeviceStateChanged(agent_id, DeviceState.parse(text(msg, "State")))

    # ------------------------------------------------------------------ resync
    def resync(self, channels: Iterable[Mapping[str, Any]], devices: Iterable[Mapping[str, Any]] = (),
               listed_at: float | None = None) -> list[Event]:
        """Rebuild the picture from a fresh connection's CoreShowChannel items (01) and
        DeviceStateList items, and say what the core must know: the agents' device
        states first (facts the routing of adopted calls depends on), then Resynced
        with every live caller. What the runtime told us about live calls is kept."""
        self.picture.clear()
        for item in channels:
            try:
                ch = self.picture.observe(item)
                if ch is None:
                    continue
                ch.application = text(item, "Application")
                duration = text(item, "Duration")
                ch.age_s = hms_seconds(duration)
                if ch.age_s is None and duration:
                    _not_understood("Duration", duration, ch.uid)
                bridge = text(item, "BridgeId")
                if bridge:
                    self.picture.enter(ch.uid, bridge)
            except Exception:
                log.exception("channel list item not understood", extra={"ami_uniqueid": text(item, "Uniqueid")[:64]})
        old_calls, old_legs = self._calls, self._legs
        self._calls, self._legs, self._agent_legs = {}, {}, {}
        self._pickups = {k: v for k, v in self._pickups.items()
                         if k in self.picture.channels and v in self.picture.channels}
        callers = [ch for ch in self.picture.channels.values() if self._is_caller(ch)]
        for ch in callers:
            self._calls[ch.uid] = call = old_calls.get(ch.uid) or _Call(ch.uid)
            call.legs = {}  # the legs the list shows are adopted again
        # README 3: a dialled leg carries its caller's Uniqueid as Linkedid
        dialled: dict[str, list[Channel]] = {}
        for ch in self.picture.channels.values():
            if ch.linkedid and ch.linkedid != ch.uid and not ch.bridge:
                dialled.setdefault(ch.linkedid, []).append(ch)
        live: list[LiveCall] = []
        for ch in sorted(callers, key=lambda c: c.uid):
            try:
                found = self._adopt(ch, dialled.get(ch.uid, []), old_legs)
            except Exception:  # one channel we cannot make sense of must not cost the others
                log.exception("channel not adopted", extra={"ami_uniqueid": ch.uid[:64]})
                self._calls.pop(ch.uid, None)
                continue
            if found is not None:
                live.append(found)
        self._transferring = {uid for uid, call in self._calls.items() if call.transfer}
        out: list[Event] = []
        self._devices = {}
        for item in devices:
            try:
                event = self._device_state(item)
            except Exception:
                log.exception("device list item not understood", extra={"ami_device": text(item, "Device")[:64]})
                continue
            if event is not None:
                self._devices[event.agent_id] = event.state
        out.extend(DeviceStateChanged(agent_id, state) for agent_id, state in self._devices.items())
        # a callback's legs carry ACD_CALLBACK (manager.conf channelvars): still under way
        callbacks = sorted({v for ch in self.picture.channels.values()
                            if (v := ch.variable(self.dialplan.callback_variable))})
        out.append(Resynced(tuple(live), listed_at, tuple(callbacks)))
        return out

    def _is_caller(self, ch: Channel) -> bool:
        d = self.dialplan
        if is_local(ch.name) or self._agent_of(ch) is not None or ch.application == "AppDial":
            return False  # Local halves, agents' own channels, dialled legs (trunk forwards)
        return bool(ch.variable(d.did_variable)) or ch.context in (d.hold_context, d.announce_context, d.dial_context)

    def _adopt(self, ch: Channel, legs: list[Channel], old_legs: Mapping[str, _Leg]) -> LiveCall | None:
        d = self.dialplan
        call = self._calls[ch.uid]
        attempt = self._attempt(ch, call)
        did, number, name = ch.variable(d.did_variable), ch.caller_number, ch.caller_name
        if ch.bridge:
            now = self.talking_to(ch.uid)
            self._connect(call, *(now or (None, None)))
            return LiveCall(ch.uid, did, number, "connected", (now[0],) if now else (), name, attempt)
        self._connect(call, None, None)
        if ch.context in (d.hold_context, d.announce_context):  # an announcement ends back in hold (16)
            return LiveCall(ch.uid, did, number, "waiting", (), name, attempt)
        if ch.context == d.dial_context:
            ringing_at: list[str] = []
            ages: list[int] = []
            for leg_ch in legs:
                agent = self._agent_of(leg_ch)
                old = old_legs.get(leg_ch.uid)
                # a trunk leg to another server's member: the list does not name them, the leg we knew did
                agent_id = agent.id if agent is not None else old.agent_id if old is not None else None
                if agent_id is None:
                    continue
                ringing = _is_ringing(leg_ch.state, "") or (old is not None and old.ringing)
                self._legs[leg_ch.uid] = _Leg(leg_ch.uid, ch.uid, attempt, agent_id, ringing=ringing)
                call.legs[leg_ch.uid] = None
                ringing_at.append(agent_id)
                if leg_ch.age_s is not None:
                    ages.append(leg_ch.age_s)
            call.attempt = attempt
            # one Dial makes the legs together and a phone rings 1-3 ms after its leg is
            # made (02, 03, 04, 06): the oldest leg's age (whole seconds, cut) is the ring so far
            return LiveCall(ch.uid, did, number, "ringing", tuple(ringing_at), name, attempt,
                            ringing_s=float(max(ages, default=0)))
        if ch.context == d.inbound_context:
            del self._calls[ch.uid]  # not announced yet: its ACDCallWaiting follows
            return None
        return LiveCall(ch.uid, did, number, "elsewhere", (), name, attempt)

    # ------------------------------------------------------------------ helpers
    def _connect(self, call: _Call, agent_id: str | None, leg_uid: str | None) -> None:
        """The caller now talks to ``agent_id`` on channel ``leg_uid`` (or to nobody)."""
        if call.agent_leg is not None:
            self._agent_legs.pop(call.agent_leg, None)
        call.agent, call.agent_leg = agent_id, leg_uid
        if leg_uid is not None:
            self._agent_legs[leg_uid] = call.call_id

    def _agent_of(self, ch: Channel) -> Agent | None:
        if is_local(ch.name):
            return None
        agent = self.config.agent_by_endpoint(ch.endpoint)
        return agent if agent is not None and self._here(agent) else None

    def _here(self, agent: Agent) -> bool:
        """The agent's endpoint is on this server: another server's phone of the same
        name is somebody else's (each server reports its own agents)."""
        server = self.dialplan.server
        return not server or not agent.server or agent.server == server

    def _attempt(self, caller: Channel, call: _Call) -> int:
        """Our dialplan carries the attempt in the extension: acd-dial,<attempt>,1. Another
        dialplan's extension (a name) tells nothing; a number we cannot read is logged."""
        if caller.context == self.dialplan.dial_context:
            attempt = count(caller.exten)
            if attempt is not None:
                return attempt
            if caller.exten.isdigit():  # "²", or more digits than any attempt has
                _not_understood("Exten", caller.exten, caller.uid)
        return call.attempt


# OriginateResponse Reason / the failed extension's REASON (Asterisk's control frame
# numbers): 15 and 07 show 0 for a busy phone and for an unknown endpoint, 3 for one that rang out
_ORIGINATE_REASONS = {"0": "busy or not reachable", "1": "hung up", "3": "no answer", "5": "busy",
                      "8": "congestion"}


def _not_understood(key: str, value: str, uid: str) -> None:
    """One value from the PBX we cannot use: one structured line, and the value cut short
    (it may be 4,300 digits); never the whole frame (channel variables may hold anything)."""
    log.warning("ami value not understood", extra={"ami_field": key, "ami_value": value[:32],
                                                   "ami_length": len(value), "ami_uniqueid": uid[:64]})


def _is_ringing(state_desc: str, state_code: str) -> bool:
    return state_desc.strip().lower() == "ringing" or state_code.strip() == "5"


def _body(msg: Mapping[str, Any], key: str) -> str:
    """A UserEvent body key; "<unknown>" and surrounding blanks mean nothing."""
    value = text(msg, key).strip()
    return "" if value == UNKNOWN else value
