"""app_dial: ring one or more endpoints, bridge the first that answers.

The event order follows the transcripts: 02 (answer), 03 (NOANSWER), 04 (several legs,
losers CANCEL + cause 26), 05 (BUSY), 06 (caller abandons), 13 (absent and unreachable
phones). A Redirect of the caller while legs ring cancels the Dial: every leg gets
DialEnd CANCEL and is hung up, and the caller continues at the Redirect target (the
async goto the ACD relies on to move from one member to the next).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .channels import DOWN, RINGING, UP, Bridge, Channel
from .dialplan import DialplanError, split_args
from .pbx import Endpoint, Pbx


@dataclass(eq=False)
class Leg:
    target: str  # "PJSIP/agent101"
    dialstring: str  # "agent101" (DialBegin's DialString, README 13)
    endpoint: Endpoint | None
    number: str | None = None  # PJSIP/<number>@<trunk>
    chan: Channel | None = None
    status: str = ""


def parse_target(pbx: Pbx, target: str) -> Leg:
    tech, sep, resource = target.partition("/")
    if not sep or tech.upper() != "PJSIP":
        raise DialplanError(f"Dial to {target!r}: only PJSIP/<endpoint> and PJSIP/<number>@<trunk> are simulated")
    number = None
    name = resource
    if "@" in resource:
        number, name = resource.split("@", 1)
    return Leg(target=target, dialstring=resource, endpoint=pbx.endpoints.get(name), number=number)


class Dial:
    def __init__(self, pbx: Pbx, caller: Channel, targets: list[str], timeout: float | None, options: str) -> None:
        self.pbx = pbx
        self.caller = caller
        self.legs = [parse_target(pbx, t) for t in targets]
        self.timeout = timeout
        self.options = options
        self.result: str | None = None
        self.answered: Leg | None = None
        self.bridge: Bridge | None = None
        self.replaced: Callable[[], None] | None = None  # a picked-up leg, hung up at bridge time

    @classmethod
    def from_app(cls, pbx: Pbx, chan: Channel, data: str) -> Dial:
        args = split_args(data)
        targets = [t.strip() for t in args[0].split("&") if t.strip()]
        if not targets:
            raise DialplanError("Dial requires an argument (empty dial string)")
        timeout = float(args[1]) if len(args) > 1 and args[1].strip() else None
        options = args[2] if len(args) > 2 else ""
        return cls(pbx, chan, targets, timeout or None, options)

    # ------------------------------------------------------------ the application
    async def run(self) -> str:
        pbx, caller = self.pbx, self.caller
        caller.dial = self
        try:
            return await self._run()
        finally:
            caller.dial = None
            for leg in self.legs:
                chan = leg.chan
                if chan is not None and chan.dialled_by is self and not chan.hungup and leg is not self.answered:
                    leg.chan.hangupcause = leg.chan.hangupcause or 16
                    pbx.destroy(leg.chan)

    async def _run(self) -> str:
        pbx, caller = self.pbx, self.caller
        live: list[Leg] = []
        for leg in self.legs:
            if leg.endpoint is None or not leg.endpoint.usable:
                # 13: no channel at all, no DialBegin/DialEnd; the caller keeps cause 3 / 404
                leg.status = "CHANUNAVAIL"
                continue
            leg.chan = self._create_leg(leg)
            live.append(leg)
        if not live:
            caller.hangupcause, caller.techcause = 3, 404
            return self._finish("CHANUNAVAIL")
        for leg in live:
            assert leg.chan is not None
            pbx.two_chan_event("DialBegin", caller, leg.chan, [("DialString", leg.dialstring)])
        if len(live) == 1:
            # 02: one leg -> the caller's connected line is the agent at once; 04: not with several
            self._connect(live[0])
        for leg in live:
            assert leg.chan is not None and leg.endpoint is not None
            if leg.endpoint.device is not None:
                leg.endpoint.device.invite(pbx, leg.chan, leg.number)
        handle = pbx.clock.call_later(self.timeout, self._on_timeout) if self.timeout else None
        try:
            while self.result is None:
                await pbx.sleep(caller, None)
                if self.result is None and (caller.hangup_requested or caller.hungup or caller.pending_goto):
                    # 06: the caller hung up -> DialEnd CANCEL; a Redirect does the same
                    self._cancel_all(cause=16)
                    return self._finish("CANCEL")
        finally:
            if handle is not None:
                handle.cancel()
        if self.result != "ANSWER":
            return self.result
        # talking: wait until the bridge ends or the caller is moved away
        while caller.bridge is not None and caller.bridge is self.bridge:
            if caller.pending_goto is not None and not caller.hangup_requested:
                self._caller_moved()
                break
            if caller.hangup_requested or caller.hungup:
                # a soft hang-up (AMI Hangup) of the talking caller: the caller leaves the
                # bridge, which dissolves and hangs up the agent (10); sleep() would return
                # at once here, so looping on it would never yield
                pbx.leave_bridge(caller, hanging_up=True)
                break
            await pbx.sleep(caller, None)
            if caller.pending_goto is not None and caller.bridge is self.bridge:
                self._caller_moved()
                break
        return "ANSWER"

    def _create_leg(self, leg: Leg) -> Channel:
        pbx, caller = self.pbx, self.caller
        ep = leg.endpoint
        assert ep is not None
        num = ep.callerid_num or caller.caller_num
        name = ep.callerid_name or caller.caller_name
        chan = pbx.new_channel(
            ep, state=DOWN, context=ep.context, exten="s", caller_num=num, caller_name=name, linkedid=caller.linkedid,
        )
        chan.dialled_by = self
        chan.owner = ep.device
        pbx.varset(chan, "DIALEDPEERNUMBER", leg.dialstring)
        for var, value in caller.inheritable():
            chan.set_var(var, value)
            pbx.varset(chan, var, value)
        # 02: the leg shows the caller's extension and AppDial until it answers
        chan.connected_num, chan.connected_name = caller.caller_num, caller.caller_name
        chan.exten = caller.exten
        chan.app, chan.appdata = "AppDial", "(Outgoing Line)"
        pbx.publish_newexten(chan)
        pbx.chan_event("NewConnectedLine", chan)
        return chan

    def _connect(self, leg: Leg) -> None:
        assert leg.chan is not None
        self.pbx.set_connected(self.caller, leg.chan.caller_num, leg.chan.caller_name)
        local = self.caller.local_peer
        if local is not None and local.bridge is not None:
            # 10: a Local ;2 half's connected line reaches the channel bridged with ;1
            for peer in local.bridge.others(local):
                self.pbx.set_connected(peer, leg.chan.caller_num, leg.chan.caller_name)

    def _live(self) -> list[Leg]:
        return [
            leg for leg in self.legs
            if leg.chan is not None and not leg.chan.hungup and leg.status in ("", "RINGING")
        ]

    def _dial_end(self, leg: Leg, status: str) -> None:
        assert leg.chan is not None
        leg.status = status
        self.pbx.two_chan_event("DialEnd", self.caller, leg.chan, [("DialStatus", status)])

    def _finish(self, status: str) -> str:
        self.result = status
        self.pbx.set_var(self.caller, "DIALSTATUS", status)
        return status

    def _cancel_all(self, cause: int) -> None:
        for leg in self._live():
            self._dial_end(leg, "CANCEL")
        for leg in self.legs:
            if leg.chan is not None and not leg.chan.hungup and leg.status == "CANCEL":
                leg.chan.hangupcause = cause
                self.pbx.destroy(leg.chan)

    # ------------------------------------------------------------ far-end signals
    def _leg(self, chan: Channel) -> Leg | None:
        for leg in self.legs:
            if leg.chan is chan:
                return leg
        return None

    def leg_ringing(self, chan: Channel) -> None:
        leg = self._leg(chan)
        if leg is None or self.result is not None or leg.status != "":
            return
        leg.status = "RINGING"
        self.pbx.set_state(chan, RINGING)
        self.pbx.two_chan_event("DialState", self.caller, chan, [("DialStatus", "RINGING")])
        local = self.caller.local_peer
        if local is not None:
            from .transfers import local_ringing

            local_ringing(self.pbx, self.caller, chan)

    def leg_busy(self, chan: Channel) -> None:
        leg = self._leg(chan)
        if leg is None or self.result is not None or chan.hungup:
            return
        chan.hangupcause, chan.techcause = 17, 486
        # 05: HangupRequest Cause=17 TechCause=486 comes before DialEnd BUSY
        self.pbx.chan_event("HangupRequest", chan, [("Cause", "17"), ("TechCause", "486")])
        self._dial_end(leg, "BUSY")
        self.caller.hangupcause, self.caller.techcause = 17, 486  # README 7: sticky
        self.pbx.destroy(chan)
        self._check_all_failed()

    def leg_gone(self, chan: Channel) -> None:
        """The leg was hung up from outside (AMI Hangup, the phone rejected it)."""
        leg = self._leg(chan)
        if leg is None or self.result is not None or leg.status not in ("", "RINGING"):
            return
        # assumed from app_dial's hangup-cause mapping: a plain hang-up reads NOANSWER
        status = {17: "BUSY", 34: "CONGESTION", 3: "CHANUNAVAIL", 20: "CHANUNAVAIL"}.get(chan.hangupcause, "NOANSWER")
        self._dial_end(leg, status)
        if not chan.hungup:
            self.pbx.destroy(chan)
        self._check_all_failed()

    def _check_all_failed(self) -> None:
        if self._live() or self.result is not None:
            return
        statuses = {leg.status for leg in self.legs}
        for status in ("BUSY", "CONGESTION", "CHANUNAVAIL"):
            if status in statuses:
                self._finish(status)
                break
        else:
            self._finish("NOANSWER")
        self.pbx.poke(self.caller)

    def _on_timeout(self) -> None:
        if self.result is not None:
            return
        live = self._live()
        for leg in live:
            self._dial_end(leg, "NOANSWER")
        for leg in live:
            assert leg.chan is not None
            self.pbx.destroy(leg.chan)  # 03: the leg's Hangup has Cause 0
        self._finish("NOANSWER")
        self.pbx.poke(self.caller)

    def leg_answered(self, chan: Channel, picked_by: Channel | None = None) -> None:
        leg = self._leg(chan)
        if leg is None or self.result is not None or chan.hungup:
            return
        pbx, caller = self.pbx, self.caller
        self.result = "ANSWER"
        self.answered = leg
        leg.status = "ANSWER"
        if picked_by is None:
            pbx.set_state(chan, UP)
        others = [other for other in self._live() if other is not leg]
        if len([lg for lg in self.legs if lg.chan is not None]) > 1:
            self._connect(leg)  # 04: NewConnectedLine for the caller before the DialEnds
        for other in others:
            self._dial_end(other, "CANCEL")
        chan.exten = ""  # 02: DialEnd ANSWER shows the leg at '<context>,,1'
        self._dial_end(leg, "ANSWER")
        leg.status = "ANSWER"
        if caller.local_peer is not None:
            from .transfers import local_answered

            local_answered(pbx, caller)
        if caller.state != UP:
            pbx.set_state(caller, UP)
        caller.hangupcause = 16  # 02: the caller's HangupRequest later shows Cause 16
        if picked_by is None:  # 15 (README 23): so does the dialled leg's BYE; 09: not a picker's
            chan.hangupcause = chan.hangupcause or 16
        pbx.set_var(caller, "DIALSTATUS", "ANSWER")
        pbx.set_var(caller, "DIALEDPEERNAME", chan.name)
        self.bridge = pbx.create_bridge(owner=self)
        chan.app, chan.appdata = "AppDial", "(Outgoing Line)"
        pbx.publish_newexten(chan)
        pbx.enter_bridge(self.bridge, chan)
        if self.replaced is not None:
            self.replaced()
        for other in others:
            assert other.chan is not None
            other.chan.hangupcause = 26  # 04: losers: Cause 26 "Answered elsewhere"
            pbx.destroy(other.chan)
        pbx.enter_bridge(self.bridge, caller)
        if chan.owner is not None and hasattr(chan.owner, "answered_call"):
            chan.owner.answered_call(chan)
        pbx.poke(caller)

    # ------------------------------------------------------------ the bridge
    def member_left(self, bridge: Bridge, chan: Channel) -> None:
        pbx = self.pbx
        if chan is self.caller:
            # 02: caller BYE: BridgeLeave caller, SoftHangupRequest caller, BridgeLeave agent,
            # BridgeDestroy, then the agent's Hangup
            if chan.hangup_requested:
                pbx.emit_soft_hangup(chan)
            self._dissolve(bridge, hangup=True)
        else:
            # 09: the agent hung up: the caller leaves too and, without Dial option g, hangs up
            self._dissolve(bridge, hangup=False)
            if not chan.hungup:
                if chan.hangupcause == 0:
                    chan.hangupcause = 16  # 09: the picker's BYE in a bridge reads Cause 16
                pbx.destroy(chan)
            caller = self.caller
            if "g" in self.options:
                # option g: the caller goes on at the next priority (15: the callback's
                # member leg reports the result, then runs Hangup())
                pbx.poke(caller)
                return
            if not caller.hungup and caller.pending_goto is None:
                caller.hangup_requested = True
                if caller.hangup_source is None:
                    caller.hangup_source = chan.endpoint or chan.name
                pbx.emit_soft_hangup(caller)
            pbx.poke(caller)

    def _dissolve(self, bridge: Bridge, hangup: bool) -> None:
        pbx = self.pbx
        rest = list(bridge.channels)
        for other in rest:
            bridge.channels.remove(other)
            other.bridge = None
            pbx.emit("BridgeLeave", "call", bridge.headers() + other.snapshot(pbx.channelvars))
        pbx.destroy_bridge(bridge)
        if hangup:
            for other in rest:
                if other is not self.caller and not other.hungup:
                    if other.hangupcause == 0:
                        other.hangupcause = 16
                    pbx.destroy(other)
        pbx.poke(self.caller)

    def _caller_moved(self) -> None:
        """Redirect of a talking caller: it leaves and the agent is hung up (assumed)."""
        bridge = self.bridge
        if bridge is None or self.caller.bridge is not bridge:
            return
        pbx = self.pbx
        bridge.channels.remove(self.caller)
        self.caller.bridge = None
        pbx.emit("BridgeLeave", "call", bridge.headers() + self.caller.snapshot(pbx.channelvars))
        self._dissolve(bridge, hangup=True)
