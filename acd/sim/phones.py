"""Scripted far ends: agents' phones, the carrier trunk, and callers' call handles.

A phone answers an INVITE the way its behaviour says (like the sipp scripts of the
recordings): ``Answer(after=2)`` sends 180 at once and 200 two seconds later,
``NeverAnswer`` only rings, ``Busy`` replies 486, ``Absent`` has a static contact
nobody listens on (Asterisk gets no reply at all), ``Unreachable`` is a qualified
contact that failed its OPTIONS (Dial fails at once with CHANUNAVAIL, 13).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypeVar

from .channels import RING, UP, Channel
from .pbx import Endpoint, Pbx


# ---------------------------------------------------------------- behaviours
@dataclass(frozen=True)
class Answer:
    after: float = 0.0  # seconds from the INVITE to 200 OK (180 is sent at once)
    hangup_after: float | None = None  # the agent hangs up this long after answering


@dataclass(frozen=True)
class NeverAnswer:
    pass


@dataclass(frozen=True)
class Busy:
    pass


@dataclass(frozen=True)
class Absent:
    pass


@dataclass(frozen=True)
class Unreachable:
    pass


Behaviour = Answer | NeverAnswer | Busy | Absent | Unreachable

# 02: 180 follows the INVITE within a millisecond or two; 486 likewise (05)
REPLY_DELAY = 0.001
# 14: DTMFBegin to DTMFEnd took 201-202 ms for sipp's 200 ms tone (DurationMs: 200)
DTMF_TONE_S = 0.2


@dataclass
class RingPeriod:
    """One time a phone rang: from its 180 until it stopped, and how it stopped."""

    channel: str
    caller: str  # the number the phone displays (the leg's connected line)
    started: float
    ended: float | None = None
    # "answered", "cancelled" (Dial gave up, caller left, Redirect), "answered_elsewhere"
    # (cause 26: another phone answered or PickupChan), "picked_up" (the features code)
    outcome: str | None = None
    cause: int | None = None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


T = TypeVar("T")
PHONE_HISTORY = 1000  # at least this many ring periods, answers and calls a phone remembers


def remember(history: list[T], item: T) -> None:
    """Append, and forget the older half once there are twice PHONE_HISTORY."""
    history.append(item)
    if len(history) >= 2 * PHONE_HISTORY:
        del history[:PHONE_HISTORY]


class Phone:
    """An agent's phone on one PJSIP endpoint."""

    def __init__(self, pbx: Pbx, endpoint: Endpoint, behaviour: Behaviour) -> None:
        self.pbx = pbx
        self.endpoint = endpoint
        # what the phone did, newest last; bounded (see remember), as acd demo runs for days
        self.rings: list[RingPeriod] = []
        self.answered: list[str] = []  # channel names of calls this phone answered
        self.calls: list[Call] = []  # calls placed from this phone
        self.talked_with: list[str] = []  # endpoints this phone was bridged with, in order
        self._active: dict[str, Channel] = {}
        self._ringing: dict[str, RingPeriod] = {}
        self._timers: dict[str, list[asyncio.TimerHandle]] = {}
        self._behaviour: Behaviour = NeverAnswer()
        self.behaviour = behaviour

    @property
    def name(self) -> str:
        return self.endpoint.name

    @property
    def behaviour(self) -> Behaviour:
        return self._behaviour

    @behaviour.setter
    def behaviour(self, value: Behaviour) -> None:
        self._behaviour = value
        if isinstance(value, Unreachable):
            self.endpoint.qualify = True
            self._set_reachable(False)
        elif self.endpoint.qualify:
            self._set_reachable(True)

    def _set_reachable(self, reachable: bool) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # configured before the loop runs: no events yet
            self.endpoint.reachable = reachable
            return
        self.pbx.set_reachable(self.endpoint, reachable)

    def set_reachable(self, reachable: bool) -> None:
        """A qualify result for this phone (ContactStatus/PeerStatus/DeviceStateChange)."""
        self.endpoint.qualify = True
        self._set_reachable(reachable)

    # ---- what the phone shows
    @property
    def current_call(self) -> str | None:
        """The channel of the call this phone is talking on, if any."""
        for chan in self._active.values():
            if chan.state == UP and not chan.hungup:
                return chan.name
        return None

    @property
    def ringing(self) -> bool:
        return bool(self._ringing)

    def _channel(self) -> Channel | None:
        for chan in self._active.values():
            if chan.state == UP and not chan.hungup:
                return chan
        return None

    # ---- SIP from Asterisk
    def invite(self, pbx: Pbx, chan: Channel, number: str | None) -> None:
        behaviour = self._behaviour
        self._active[chan.name] = chan
        timers = self._timers.setdefault(chan.name, [])
        if isinstance(behaviour, (Absent, Unreachable)):
            return
        if isinstance(behaviour, Busy):
            timers.append(pbx.clock.call_later(REPLY_DELAY, pbx.far_busy, chan))
            return
        timers.append(pbx.clock.call_later(REPLY_DELAY, self._ring, chan))
        if isinstance(behaviour, Answer):
            timers.append(pbx.clock.call_later(max(behaviour.after, REPLY_DELAY * 2), pbx.far_answer, chan))

    def _ring(self, chan: Channel) -> None:
        if chan.hungup:
            return
        self._ringing[chan.name] = RingPeriod(chan.name, chan.connected_num, self.pbx.clock.now())
        remember(self.rings, self._ringing[chan.name])
        self.pbx.far_ringing(chan)

    def _stop_ring(self, chan: Channel, outcome: str, cause: int | None = None) -> None:
        period = self._ringing.pop(chan.name, None)
        if period is not None:
            period.ended = self.pbx.clock.now()
            period.outcome = outcome
            period.cause = cause

    def answered_call(self, chan: Channel) -> None:
        self._stop_ring(chan, "answered")
        remember(self.answered, chan.name)
        behaviour = self._behaviour
        if isinstance(behaviour, Answer) and behaviour.hangup_after is not None:
            self._timers.setdefault(chan.name, []).append(
                self.pbx.clock.call_later(behaviour.hangup_after, self._bye, chan))

    def state_changed(self, chan: Channel) -> None:
        pass

    def talking(self, chan: Channel, peer: Channel) -> None:
        if peer.endpoint is not None and (not self.talked_with or self.talked_with[-1] != peer.endpoint):
            self.talked_with.append(peer.endpoint)

    def _bye(self, chan: Channel) -> None:
        if not chan.hungup:
            self.pbx.far_hangup(chan, source=self.name)

    def channel_gone(self, chan: Channel) -> None:
        if chan.name in self._ringing:
            cause = chan.hangupcause
            outcome = "answered_elsewhere" if cause == 26 else "cancelled"
            if chan.state == UP:
                outcome = "answered"
            self._stop_ring(chan, outcome, cause)
        self._active.pop(chan.name, None)
        for handle in self._timers.pop(chan.name, []):
            handle.cancel()

    # ---- what the user does on the phone
    async def hangup(self) -> bool:
        """Hang up the current call (BYE). False when there is none."""
        chan = self._channel()
        if chan is None:
            return False
        self.pbx.far_hangup(chan, source=self.name)
        await asyncio.sleep(0)
        return True

    async def dial(self, exten: str, hangup_after: float | None = None) -> Call:
        """Dial an extension from this phone: the call enters the endpoint's context
        like a real phone's INVITE (e.g. ``*11``, ``*11102``, ``pickup101``, ``*8``)."""
        ep = self.endpoint
        call = Call(self.pbx, hangup_after=hangup_after, party=self.name, phone=self)
        chan = self.pbx.new_channel(
            ep, state=RING, context=ep.context, exten=exten, caller_num=ep.callerid_num, caller_name=ep.callerid_name,
        )
        chan.dnid = exten
        call.attach(chan)
        self._active[chan.name] = chan
        remember(self.calls, call)
        self.pbx.varset(chan, "SIPDOMAIN", "127.0.0.1")
        if self.pbx.features.pickupexten and exten == self.pbx.features.pickupexten:
            # 09: chan_pjsip handles the pickup code itself: no dialplan, Exten stays *8
            self.pbx.spawn(self._feature_pickup(chan), f"pickup {chan.name}")
        else:
            self.pbx.start_pbx(chan)
        return call

    async def _feature_pickup(self, chan: Channel) -> None:
        from .transfers import pickup

        ok = await pickup(self.pbx, chan, targets=[], by_group=True, feature_code=True)
        if not ok and not chan.hungup:
            self.pbx.destroy(chan)  # assumed: nothing to pick up -> the call just ends

    async def transfer_blind(self, exten: str) -> bool:
        """Blind transfer of the current call by SIP REFER to ``exten`` in this endpoint's context."""
        from .transfers import blind_transfer

        chan = self._channel()
        if chan is None:
            return False
        return blind_transfer(self.pbx, chan, exten, self.endpoint.context)

    async def transfer_attended(self, exten: str) -> bool:
        """Attended transfer with the features code (``*2`` + digits, needs Dial option t):
        the caller hears music while this phone consults ``exten``; ``hangup()`` completes it."""
        from .transfers import AttendedTransfer

        chan = self._channel()
        if chan is None:
            return False
        return await AttendedTransfer(self.pbx, chan, exten, self.endpoint.context).run()

    def __repr__(self) -> str:
        return f"<Phone {self.name} {type(self._behaviour).__name__}>"


class Trunk:
    """The carrier's far end for calls the dialplan sends out (PJSIP/<number>@<trunk>)."""

    def __init__(self, pbx: Pbx, endpoint: Endpoint, behaviour: Behaviour | None = None) -> None:
        self.phone = Phone(pbx, endpoint, behaviour or Answer(after=1.0))
        self.dialled: list[str] = []  # numbers called out through the trunk
        self._customers: dict[str, Phone] = {}

    def customer(self, number: str, behaviour: Behaviour) -> Phone:
        """The phone behind one outside number (a customer called back): its own
        behaviour, rings and answers; other numbers get the trunk's behaviour."""
        phone = Phone(self.phone.pbx, self.phone.endpoint, behaviour)
        self._customers[number] = phone
        return phone

    def invite(self, pbx: Pbx, chan: Channel, number: str | None) -> None:
        self.dialled.append(number or "")
        phone = self._customers.get(number or "", self.phone)
        chan.owner = phone
        phone.invite(pbx, chan, number)

    def __getattr__(self, name: str) -> object:
        return getattr(self.phone, name)


class Call:
    """A call placed by a caller (through the trunk) or from a phone, as a test sees it."""

    def __init__(
        self, pbx: Pbx, hangup_after: float | None = None, party: str = "caller", phone: Phone | None = None,
    ) -> None:
        self.pbx = pbx
        self.phone = phone  # set for calls placed from an agent's phone
        self.hangup_after = hangup_after
        self.party = party
        self.channel: Channel | None = None
        self.answered_by: str | None = None  # first agent endpoint it talked to
        self.talked_to: list[str] = []  # every agent endpoint, in order (transfers)
        self.hung_up_by: str | None = None  # "caller", an endpoint name, "dialplan", "ami"...
        self.voicemail: str | None = None  # mailbox a message was left in
        self.answered = asyncio.Event()  # talking to an agent
        self.ended = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None

    def attach(self, chan: Channel) -> None:
        self.channel = chan
        chan.owner = self

    @property
    def uniqueid(self) -> str:
        assert self.channel is not None
        return self.channel.uniqueid

    @property
    def channel_name(self) -> str:
        assert self.channel is not None
        return self.channel.name

    async def press(self, digit: str) -> None:
        """The caller presses a key (RFC 4733): DTMFBegin now, DTMFEnd 200 ms later, and
        nothing else: music on hold goes on (transcripts 14, README 19-20). A Read() that
        runs takes the key (``digits``)."""
        chan = self.channel
        if chan is None or chan.hungup:
            return
        self.pbx.chan_event("DTMFBegin", chan, [("Digit", digit), ("Direction", "Received")], cls="dtmf")
        await self.pbx.clock.sleep(DTMF_TONE_S)
        if not chan.hungup:
            self.pbx.chan_event("DTMFEnd", chan, [("Digit", digit), ("DurationMs", str(round(DTMF_TONE_S * 1000))),
                                                  ("Direction", "Received")], cls="dtmf")
            if chan.keys is not None:  # a Read() takes the key (the application gets it at its end)
                chan.keys.append(digit)
                self.pbx.poke(chan)

    async def hangup(self) -> None:
        """The caller hangs up (BYE)."""
        chan = self.channel
        if chan is not None and not chan.hungup:
            self.pbx.far_hangup(chan, source=self.party)
        await asyncio.sleep(0)

    # ---- hooks the PBX calls
    def state_changed(self, chan: Channel) -> None:
        # sipp: "hangs up after N ms" counts from the 200 OK it received
        if chan.state == UP and self.hangup_after is not None and self._timer is None:
            self._timer = self.pbx.clock.call_later(self.hangup_after, self._bye)

    def _bye(self) -> None:
        chan = self.channel
        if chan is not None and not chan.hungup:
            self.pbx.far_hangup(chan, source=self.party)

    def talking(self, chan: Channel, peer: Channel) -> None:
        if peer.endpoint is None or peer.owner is self:
            return
        if self.answered_by is None:
            self.answered_by = peer.endpoint
        if not self.talked_to or self.talked_to[-1] != peer.endpoint:
            self.talked_to.append(peer.endpoint)
        self.answered.set()

    def voicemail_left(self, mailbox: str) -> None:
        self.voicemail = mailbox

    def channel_gone(self, chan: Channel) -> None:
        self.hung_up_by = chan.hangup_source or ("pbx" if not chan.hangup_requested else self.party)
        if self._timer is not None:
            self._timer.cancel()
        if self.phone is not None:
            self.phone.channel_gone(chan)
        self.ended.set()

    def __repr__(self) -> str:
        name = self.channel.name if self.channel else "?"
        return f"<Call {name} answered_by={self.answered_by} hung_up_by={self.hung_up_by}>"
