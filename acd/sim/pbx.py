"""The PBX core: channels, bridges, device state, the dialplan loop and hang-ups.

Everything here runs on one asyncio loop. State changes happen in plain (synchronous)
methods that publish their AMI events in the order Asterisk does; coroutines only
wait (an application's duration, a ring time). That keeps the order of events a
property of this code, not of task scheduling, so it can follow the transcripts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acd.clock import Clock

from .channels import RING, UP, Bridge, Channel, cause_pairs
from .devices import DeviceStates
from .dialplan import Dialplan
from .execution import DETACH, HANGUP, JUMPED, NEXT, DialplanExecution
from .protocol import Pairs

log = logging.getLogger("acd.sim")

# what an application tells the dialplan loop
__all__ = ["DETACH", "HANGUP", "JUMPED", "NEXT", "Endpoint", "Features", "Mailbox", "Pbx"]

Listener = Callable[[str, str, Pairs], None]


@dataclass
class Endpoint:
    """A PJSIP endpoint as configured in pjsip.conf (here: in Python)."""

    name: str
    context: str
    callerid_num: str = ""
    callerid_name: str = ""
    trunk: bool = False
    qualify: bool = False  # qualify_frequency > 0
    reachable: bool = True  # last qualify result (only meaningful with qualify)
    callgroup: int = 0
    pickupgroup: int = 0
    contact: str = ""
    device: Any = None  # the scripted far end (phones.Phone / phones.Trunk); None: nobody listens

    @property
    def usable(self) -> bool:
        # 13: a qualified contact that is Unreachable makes Dial fail at once (CHANUNAVAIL)
        return not (self.qualify and not self.reachable)


@dataclass
class Mailbox:
    mailbox: str  # "101@default"
    fullname: str = ""
    new: int = 0
    old: int = 0


@dataclass
class Features:
    """features.conf and timings the transcripts show."""

    pickupexten: str | None = "*8"
    atxfer: str = "*2"
    # 17: Answer() with no inbound media costs 500 ms, with media ~15 ms
    answer_delay: float = 0.5
    answer_delay_media: float = 0.015
    playback_s: float = 1.0  # one sound file (beep: 0.25 s, 07)
    say_word_s: float = 0.3  # one word of SayNumber (16: digits/3 took 0.30 s)
    vm_greeting_s: float = 3.0  # VoiceMail prompts before the beep (assumed)
    vm_minsecs: float = 1.0
    vm_maxsecs: float = 120.0


@dataclass
class Pbx(DeviceStates, DialplanExecution):
    dialplan: Dialplan
    clock: Clock
    channelvars: tuple[str, ...] = ("ACD_DID",)
    features: Features = field(default_factory=Features)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    # 'None' accepts any mailbox VoiceMail() names; a dict limits them (voicemail.conf)
    strict_mailboxes: bool = False

    def __post_init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self._on_device: dict[str, list[Channel]] = {}  # device -> its live channels
        self.globals: dict[str, str] = dict(self.dialplan.globals)
        self.listeners: list[Listener] = []
        self.errors: list[str] = []
        self.started = self.clock.now()
        self._uid_seq = 0
        self._chan_seq = 0
        self._local_seq = 0
        self._dev_last: dict[str, str] = {}
        self._dev_pending: list[str] = []
        self._dev_scheduled = False
        self.tasks: set[asyncio.Task[Any]] = set()
        self.processed_calls = 0

    # ------------------------------------------------------------ events
    def emit(self, name: str, cls: str, pairs: Pairs) -> None:
        for listener in list(self.listeners):
            listener(name, cls, pairs)

    def chan_event(self, name: str, chan: Channel, extra: Pairs | None = None, cls: str = "call") -> None:
        self.emit(name, cls, chan.snapshot(self.channelvars) + (extra or []))

    def two_chan_event(
        self, name: str, first: Channel | None, second: Channel, extra: Pairs, prefix: str = "Dest",
    ) -> None:
        # 09: originated legs' Dial* events carry only the Dest block
        pairs = first.snapshot(self.channelvars) if first is not None else []
        self.emit(name, "call", pairs + second.snapshot(self.channelvars, prefix) + list(extra))

    def varset(self, chan: Channel, name: str, value: str) -> None:
        self.chan_event("VarSet", chan, [("Variable", name), ("Value", value)], cls="dialplan")

    def set_var(self, chan: Channel, name: str, value: str) -> None:
        chan.set_var(name, value)
        self.varset(chan, name, value)

    def fail(self, message: str) -> None:
        """A dialplan/simulator error: logged loudly and kept for tests to assert on."""
        log.error("acd.sim: %s", message)
        self.errors.append(message)

    # ------------------------------------------------------------ channels
    def _uniqueid(self) -> tuple[str, int]:
        seq = self._uid_seq
        self._uid_seq += 1
        return f"{int(self.clock.now())}.{seq}", seq

    def new_channel(
        self,
        endpoint: Endpoint,
        *,
        state: int,
        context: str,
        exten: str,
        caller_num: str,
        caller_name: str,
        linkedid: str | None = None,
    ) -> Channel:
        uid, seq = self._uniqueid()
        name = f"PJSIP/{endpoint.name}-{self._chan_seq:08x}"
        self._chan_seq += 1
        chan = Channel(
            name=name,
            uniqueid=uid,
            seq=seq,
            linkedid=linkedid or uid,
            endpoint=endpoint.name,
            state=state,
            caller_num=caller_num,
            caller_name=caller_name,
            context=context,
            exten=exten,
            created=self.clock.now(),
            callgroup=endpoint.callgroup,
            pickupgroup=endpoint.pickupgroup,
            wake=asyncio.Event(),
        )
        self.add_channel(chan)
        self.chan_event("Newchannel", chan)
        self.device_changed(chan.device)
        return chan

    def new_local_pair(self, exten: str, context: str, linkedid: str) -> tuple[Channel, Channel]:
        """Local/<exten>@<context>-<seq>;1 and ;2 (10: the Atxfer consultation call)."""
        self._local_seq += 1
        base = f"Local/{exten}@{context}-{self._local_seq:08x}"
        halves = []
        for half, state in ((1, 0), (2, RING)):
            uid, seq = self._uniqueid()
            chan = Channel(
                name=f"{base};{half}", uniqueid=uid, seq=seq, linkedid=linkedid, tech="Local", state=state,
                context=context, exten=exten, created=self.clock.now(), wake=asyncio.Event(),
            )
            self.add_channel(chan)
            self.chan_event("Newchannel", chan)
            halves.append(chan)
        one, two = halves
        one.local_peer, two.local_peer = two, one
        return one, two

    def add_channel(self, chan: Channel) -> None:
        self.channels[chan.name] = chan
        self._on_device.setdefault(chan.device, []).append(chan)

    def remove_channel(self, chan: Channel) -> None:
        self.channels.pop(chan.name, None)
        on_device = self._on_device.get(chan.device)
        if on_device is not None and chan in on_device:
            on_device.remove(chan)
            if not on_device:
                del self._on_device[chan.device]

    def find_channel(self, name: str) -> Channel | None:
        chan = self.channels.get(name)
        return chan if chan is not None and not chan.hungup else None

    def set_state(self, chan: Channel, state: int) -> None:
        if chan.state == state:
            return
        chan.state = state
        if state == UP and chan.answered_at is None:
            chan.answered_at = self.clock.now()
        self.chan_event("Newstate", chan)
        self.device_changed(chan.device)
        if chan.owner is not None and hasattr(chan.owner, "state_changed"):
            chan.owner.state_changed(chan)

    def set_connected(self, chan: Channel, num: str, name: str) -> None:
        if (chan.connected_num, chan.connected_name) == (num, name):
            return
        chan.connected_num, chan.connected_name = num, name
        self.chan_event("NewConnectedLine", chan)

    def set_callerid(self, chan: Channel, num: str, name: str) -> None:
        chan.caller_num, chan.caller_name = num, name
        self.chan_event("NewCallerid", chan, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])

    def interrupted(self, chan: Channel) -> bool:
        return chan.hungup or chan.hangup_requested or chan.pending_goto is not None or chan.pulled

    async def sleep(self, chan: Channel, seconds: float | None) -> bool:
        """Wait on the channel's behalf. True when the time ran out, False when interrupted."""
        if self.interrupted(chan):
            return False
        assert chan.wake is not None
        chan.wake.clear()
        timed_out = False

        def fire() -> None:
            nonlocal timed_out
            timed_out = True
            assert chan.wake is not None
            chan.wake.set()

        handle = self.clock.call_later(seconds, fire) if seconds is not None else None
        try:
            await chan.wake.wait()
        finally:
            if handle is not None:
                handle.cancel()
        return timed_out and not self.interrupted(chan)

    def poke(self, chan: Channel) -> None:
        if chan.wake is not None:
            chan.wake.set()

    # ------------------------------------------------------------ hang-ups
    def far_hangup(self, chan: Channel, source: str | None = None) -> None:
        """The far end hung up (SIP BYE): HangupRequest, then whoever runs the channel reacts."""
        if chan.hungup or chan.hangup_requested:
            return
        chan.hangup_requested = True
        chan.hangup_source = source
        extra: Pairs = []
        if chan.hangupcause:  # 03/06: no Cause header while the cause is still 0
            extra = cause_pairs(chan, with_text=False)
        self.chan_event("HangupRequest", chan, extra)
        if chan.pending_callerid is not None:
            num, name = chan.pending_callerid
            chan.pending_callerid = None
            self.set_callerid(chan, num, name)
        if chan.bridge is not None:
            if chan.hangupcause == 0:
                chan.hangupcause = 16  # 08/09: a bridged channel's BYE ends with Cause 16
            self.leave_bridge(chan, hanging_up=True)
        if not chan.hungup and chan.pbx_task is None and chan.dial is None:
            if chan.dialled_by is not None:
                chan.dialled_by.leg_gone(chan)
            if not chan.hungup:
                self.destroy(chan)
        self.poke(chan)

    def soft_hangup(self, chan: Channel, cause: int | None = None, source: str | None = None) -> None:
        """An internal or AMI hang-up request (Hangup action): the dialplan unwinds first."""
        if chan.hungup:
            return
        if cause is not None:
            chan.hangupcause = cause
        if chan.hangup_source is None:
            chan.hangup_source = source
        chan.hangup_requested = True
        if chan.pbx_task is not None or chan.dial is not None:
            self.poke(chan)
            return
        # 10 (Hangup action on a bridged leg): BridgeLeave, ... then Hangup, no SoftHangupRequest
        if chan.bridge is not None:
            self.leave_bridge(chan, hanging_up=True)
        if chan.dialled_by is not None:
            chan.dialled_by.leg_gone(chan)
        if not chan.hungup:
            self.destroy(chan)

    def emit_soft_hangup(self, chan: Channel) -> None:
        if chan.soft_emitted:
            return
        chan.soft_emitted = True
        extra: Pairs = [("Cause", "16")]  # 01-13: always 16 here, plus the sticky TechCause
        if chan.techcause is not None:
            extra.append(("TechCause", str(chan.techcause)))
        self.chan_event("SoftHangupRequest", chan, extra)

    def destroy(self, chan: Channel) -> None:
        """The channel is gone: Hangup event, device state, the far end is told."""
        if chan.hungup:
            return
        if chan.bridge is not None:
            self.leave_bridge(chan, hanging_up=True)
        chan.hungup = True
        self.chan_event("Hangup", chan, cause_pairs(chan, with_text=True))
        self.remove_channel(chan)
        self.processed_calls += 1
        self.device_changed(chan.device)
        for callback in list(chan.on_hangup):
            try:
                callback(chan)
            except Exception:  # a test hook must not break the PBX
                log.exception("on_hangup callback failed")
        if chan.owner is not None:
            chan.owner.channel_gone(chan)
        if chan.tech == "Local":
            from .transfers import local_hangup

            local_hangup(self, chan)
        self.poke(chan)

    # ------------------------------------------------------------ far-end signals (phones)
    def far_ringing(self, chan: Channel) -> None:
        """180 Ringing from the phone."""
        if not chan.hungup and chan.dialled_by is not None:
            chan.dialled_by.leg_ringing(chan)

    def far_answer(self, chan: Channel) -> None:
        """200 OK from the phone."""
        if not chan.hungup and chan.dialled_by is not None:
            chan.dialled_by.leg_answered(chan)

    def far_busy(self, chan: Channel) -> None:
        """486 Busy Here (or a decline) from the phone."""
        if not chan.hungup and chan.dialled_by is not None:
            chan.dialled_by.leg_busy(chan)

    # ------------------------------------------------------------ bridges
    def create_bridge(self, owner: Any = None) -> Bridge:
        bridge = Bridge(owner=owner)
        self.emit("BridgeCreate", "call", bridge.headers())
        return bridge

    def enter_bridge(self, bridge: Bridge, chan: Channel) -> None:
        bridge.channels.append(chan)
        chan.bridge = bridge
        # 03 (README): the older Linkedid wins; 08: the entering channel shows it already
        oldest = min(bridge.channels, key=lambda c: _linked_seq(c.linkedid))
        chan.linkedid = oldest.linkedid
        self.emit("BridgeEnter", "call", bridge.headers() + chan.snapshot(self.channelvars))
        for member in bridge.channels:
            member.linkedid = oldest.linkedid
        self.talk_changed(bridge)

    def leave_bridge(self, chan: Channel, hanging_up: bool = False) -> None:
        bridge = chan.bridge
        if bridge is None:
            return
        bridge.channels.remove(chan)
        chan.bridge = None
        self.emit("BridgeLeave", "call", bridge.headers() + chan.snapshot(self.channelvars))
        if hanging_up and bridge.owner is not None:
            bridge.owner.member_left(bridge, chan)
        elif hanging_up:
            self.dissolve(bridge)

    def dissolve(self, bridge: Bridge, hangup_others: bool = True) -> None:
        """Basic bridge, dissolve on hang-up (08): the others leave; channels pulled
        from their dialplan go back to it, the others are hung up."""
        others = list(bridge.channels)
        for other in others:
            bridge.channels.remove(other)
            other.bridge = None
            self.emit("BridgeLeave", "call", bridge.headers() + other.snapshot(self.channelvars))
        self.emit("BridgeDestroy", "call", bridge.headers())
        if hangup_others:
            for other in others:
                if other.pulled and not other.hungup and not other.hangup_requested:
                    # 08: a channel the Bridge action took from its dialplan goes on at
                    # the next priority (there: Hangup(), so Newexten + SoftHangupRequest)
                    other.pulled = False
                    self.start_pbx(other, other.context, other.exten, other.priority)
                    continue
                if not other.hungup:
                    if other.hangupcause == 0:
                        other.hangupcause = 16
                    self.emit_soft_hangup(other)
                    other.hangup_requested = True
                    if other.pbx_task is None:
                        self.destroy(other)
                    else:
                        self.poke(other)

    def destroy_bridge(self, bridge: Bridge) -> None:
        self.emit("BridgeDestroy", "call", bridge.headers())

    def talk_changed(self, bridge: Bridge) -> None:
        """Tell callers' handles who they now talk to (following Local channel pairs)."""
        for chan in bridge.channels:
            if chan.owner is not None and hasattr(chan.owner, "talking"):
                for peer in self.peers(chan):
                    chan.owner.talking(chan, peer)

    def peers(self, chan: Channel, _seen: frozenset[str] = frozenset()) -> list[Channel]:
        """PJSIP channels chan talks to, through bridges and Local pairs (README 12)."""
        out: list[Channel] = []
        if chan.bridge is None:
            return out
        for other in chan.bridge.others(chan):
            if other.name in _seen:
                continue
            if other.tech == "Local" and other.local_peer is not None:
                out += self.peers(other.local_peer, _seen | {chan.name, other.name})
            else:
                out.append(other)
        return out

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.fail(f"task {task.get_name()} crashed: {task.exception()!r}")
            log.error("acd.sim task crashed", exc_info=task.exception())


def _linked_seq(linkedid: str) -> int:
    try:
        return int(linkedid.rsplit(".", 1)[1])
    except (IndexError, ValueError):
        return 1 << 62
