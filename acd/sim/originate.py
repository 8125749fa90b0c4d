"""The Originate action: call an endpoint, then run dialplan or one application.

07: originated legs produce DialBegin/DialState/DialEnd with only the Dest block; the
result comes as OriginateResponse (Reason 4 answered, 3 rang out, 0 busy or no such
endpoint) before the failed channel's Hangup; the failed Channel header is the dial
string, not a channel name, and Uniqueid is <unknown>.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .channels import DOWN, RINGING, UNKNOWN, UP, Channel
from .dial import parse_target
from .dialplan import DialplanError
from .pbx import Pbx
from .protocol import Pairs


class Originate:
    def __init__(
        self,
        pbx: Pbx,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        application: str | None = None,
        data: str = "",
        timeout: float = 30.0,
        callerid: tuple[str, str] | None = None,
        variables: list[tuple[str, str]] | None = None,
        action_id: str | None = None,
        notify: bool = True,
    ) -> None:
        self.pbx = pbx
        self.target = channel
        self.context, self.exten, self.priority = context, exten, priority
        self.application, self.data = application, data
        self.timeout = timeout
        self.callerid = callerid
        self.variables = variables or []
        self.action_id = action_id
        self.notify = notify  # async Originate: send OriginateResponse
        self.chan: Channel | None = None
        self.rang = False
        self.done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.on_result: Callable[[bool], None] | None = None

    async def run(self) -> bool:
        pbx = self.pbx
        try:
            leg = parse_target(pbx, self.target)
        except DialplanError:
            leg = None
        if leg is None or leg.endpoint is None or not leg.endpoint.usable:
            self._respond(False, reason=0)  # 07: agent199 -> Reason 0 and no channel at all
            return False
        ep = leg.endpoint
        chan = pbx.new_channel(
            ep, state=DOWN, context=ep.context, exten="s", caller_num=ep.callerid_num, caller_name=ep.callerid_name,
        )
        self.chan = chan
        # 07: an originated leg shows AppDial2 until it answers
        chan.app, chan.appdata = "AppDial2", "(Outgoing Line)"
        pbx.publish_newexten(chan)
        chan.dialled_by = self
        chan.owner = ep.device
        for name, value in self.variables:
            pbx.set_var(chan, name, value)
        if self.callerid is not None:
            num, name = self.callerid
            pbx.set_callerid(chan, num, name)
            pbx.set_connected(chan, num, name)
        pbx.two_chan_event("DialBegin", None, chan, [("DialString", leg.dialstring)])
        if ep.device is not None:
            ep.device.invite(pbx, chan, leg.number)
        handle = pbx.clock.call_later(self.timeout, self._on_timeout)
        try:
            return await self.done
        finally:
            handle.cancel()

    def _respond(self, success: bool, reason: int) -> None:
        if not self.done.done():
            self.done.set_result(success)
        if not success:
            self._run_failed_extension(reason)
        if not self.notify:
            return
        chan = self.chan
        pairs: Pairs = []
        if self.action_id is not None:
            pairs.append(("ActionID", self.action_id))
        pairs += [
            ("Response", "Success" if success else "Failure"),
            ("Channel", chan.name if success and chan is not None else self.target),
        ]
        if self.application:
            pairs += [("Application", self.application), ("Data", self.data)]
        else:
            pairs += [("Context", self.context or ""), ("Exten", self.exten or "")]
        num, name = self.callerid or ("", "")
        pairs += [
            ("Reason", str(reason)),
            ("Uniqueid", chan.uniqueid if success and chan is not None else UNKNOWN),
            ("CallerIDNum", num or UNKNOWN),
            ("CallerIDName", name or UNKNOWN),
        ]
        if success and chan is not None:
            # 07: the odd key spelling is what Asterisk sends
            for var in self.pbx.channelvars:
                pairs.append((f"ChanVariable({chan.name})", f"{var}={chan.get_var(var) or ''}"))
        self.pbx.emit("OriginateResponse", "call", pairs)

    def _run_failed_extension(self, reason: int) -> None:
        """15 (README 24): a failed Originate into a context with an extension ``failed``
        runs it on a stand-in channel named ``OutgoingSpoolFailed`` (Down, its own
        Uniqueid as Linkedid, the Originate's CallerID and Variables, REASON = the
        OriginateResponse's Reason); its Newchannel comes before the OriginateResponse."""
        pbx = self.pbx
        if self.application or not self.context or not pbx.dialplan.exists(self.context, "failed"):
            return
        uid, seq = pbx._uniqueid()
        num, name = self.callerid or ("", "")
        chan = Channel(name="OutgoingSpoolFailed", uniqueid=uid, seq=seq, linkedid=uid, endpoint=None,
                       state=DOWN, caller_num=num, caller_name=name, context=self.context, exten="failed",
                       created=pbx.clock.now(), wake=asyncio.Event())
        chan.tech = ""
        pbx.add_channel(chan)
        pbx.chan_event("Newchannel", chan)
        pbx.set_var(chan, "REASON", str(reason))
        for var, value in self.variables:
            pbx.set_var(chan, var, value)
        pbx.start_pbx(chan, self.context, "failed", 1)

    # ------------------------------------------------------------ far-end signals
    def leg_ringing(self, chan: Channel) -> None:
        if self.done.done() or chan.state != DOWN:
            return
        self.rang = True
        self.pbx.set_state(chan, RINGING)
        self.pbx.two_chan_event("DialState", None, chan, [("DialStatus", "RINGING")])

    def leg_answered(self, chan: Channel, picked_by: Channel | None = None) -> None:
        if self.done.done() or chan.hungup:
            return
        pbx = self.pbx
        self._respond(True, reason=4)
        pbx.set_state(chan, UP)
        pbx.two_chan_event("DialEnd", None, chan, [("DialStatus", "ANSWER")])
        chan.dialled_by = None
        if chan.owner is not None and hasattr(chan.owner, "answered_call"):
            chan.owner.answered_call(chan)
        if self.application:
            pbx.spawn(self._run_application(chan), f"originate app {chan.name}")
        else:
            pbx.start_pbx(chan, self.context, self.exten, self.priority)

    async def _run_application(self, chan: Channel) -> None:
        from .apps import APPLICATIONS

        app = APPLICATIONS.get((self.application or "").lower())
        if app is None:
            self.pbx.fail(f"Originate Application={self.application} is not simulated")
        else:
            chan.app, chan.appdata = self.application or "", self.data
            chan.pbx_task = asyncio.current_task()
            try:
                await app(self.pbx, chan, self.data)
            finally:
                chan.pbx_task = None
        # 07: after the application the channel hangs up, Cause 0, no SoftHangupRequest
        if not chan.hungup and chan.bridge is None:
            self.pbx.destroy(chan)

    def leg_busy(self, chan: Channel) -> None:
        if self.done.done() or chan.hungup:
            return
        pbx = self.pbx
        chan.hangupcause, chan.techcause = 17, 486
        pbx.chan_event("HangupRequest", chan, [("Cause", "17"), ("TechCause", "486")])
        pbx.two_chan_event("DialEnd", None, chan, [("DialStatus", "BUSY")])
        self._respond(False, reason=0)  # README 9: busy gives Reason 0, not 5
        pbx.destroy(chan)

    def leg_gone(self, chan: Channel) -> None:
        if self.done.done():
            return
        self._respond(False, reason=1)  # assumed: hung up before answer -> AST_CONTROL_HANGUP
        if not chan.hungup:
            self.pbx.destroy(chan)

    def _on_timeout(self) -> None:
        chan = self.chan
        if self.done.done() or chan is None or chan.hungup:
            return
        # 07: Failure Reason 3 (it rang), then Hangup 19 "User alerting, no answer" / 480
        self._respond(False, reason=3 if self.rang else 0)
        chan.hangupcause, chan.techcause = 19, 480
        self.pbx.destroy(chan)
