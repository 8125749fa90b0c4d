"""Running the dialplan: one task per channel walks its priorities (the PBX thread).

Applications are looked up in apps.APPLICATIONS; an unknown application or function
is a loud error (logged, kept in Pbx.errors) and the channel is hung up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .channels import Channel
from .dialplan import DialplanError, function_if, substitute

if TYPE_CHECKING:
    from .pbx import Pbx

NEXT, JUMPED, HANGUP, DETACH = "next", "jumped", "hangup", "detach"


class DialplanExecution:
    def start_pbx(
        self: Pbx, chan: Channel, context: str | None = None, exten: str | None = None, priority: int = 1,
    ) -> None:
        if context is not None:
            chan.context = context
        if exten is not None:
            chan.exten = exten
        chan.priority = priority
        task = asyncio.get_running_loop().create_task(self._pbx_loop(chan), name=f"pbx {chan.name}")
        chan.pbx_task = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def resolve(self: Pbx, chan: Channel) -> tuple[Callable[[str], str], Callable[[str, str], str]]:
        """Variable and function lookups for substitute() on this channel."""

        def var(name: str) -> str:
            builtin = {
                "CHANNEL": chan.name,
                "EXTEN": chan.exten,
                "CONTEXT": chan.context,
                "PRIORITY": str(chan.priority),
                "UNIQUEID": chan.uniqueid,
                "HANGUPCAUSE": str(chan.hangupcause),
                "EPOCH": str(int(self.clock.now())),
            }
            value = chan.get_var(name)
            if value is not None:
                return value
            if name in builtin:
                return builtin[name]
            return self.globals.get(name, "")

        def func(name: str, args: str) -> str:
            if name == "IF":
                return function_if(args)
            if name == "CALLERID":
                what = args.strip().lower()
                if what == "num":
                    return chan.caller_num
                if what == "name":
                    return chan.caller_name
                if what == "all":
                    return f'"{chan.caller_name}" <{chan.caller_num}>'
                raise DialplanError(f"CALLERID({args}) is not simulated")
            if name == "CHANNEL":
                what = args.strip().lower()
                if what == "state":
                    return chan.state_desc
                if what == "name":
                    return chan.name
                raise DialplanError(f"CHANNEL({args}) is not simulated")
            if name == "LEN":
                return str(len(args))
            raise DialplanError(f"function {name}() is not simulated")

        return var, func

    def expand(self: Pbx, chan: Channel, text: str) -> str:
        var, func = self.resolve(chan)
        return substitute(text, var, func)

    def publish_newexten(self: Pbx, chan: Channel) -> None:
        location = (chan.context, chan.exten, chan.priority)
        # Newexten fires when the location changes (10: after a transfer's goto the
        # first priority's own Newexten is swallowed)
        if chan.published_location == location:
            return
        chan.published_location = location
        self.chan_event(
            "Newexten", chan, [("Extension", chan.exten), ("Application", chan.app), ("AppData", chan.appdata)],
            cls="dialplan",
        )

    async def _pbx_loop(self: Pbx, chan: Channel) -> None:
        from .apps import APPLICATIONS  # apps import this module

        detached = False
        try:
            while not chan.hungup:
                if chan.pending_goto is not None:
                    chan.context, chan.exten, chan.priority = chan.pending_goto
                    chan.pending_goto = None
                if chan.hangup_requested:
                    break
                ext = self.dialplan.find(chan.context, chan.exten)
                step = ext.steps.get(chan.priority) if ext is not None else None
                if step is None:
                    if ext is None:
                        self.fail(f"{chan.name}: no extension {chan.exten!r} in [{chan.context}]")
                    break  # off the end of the dialplan: hang up (assumed: no SoftHangupRequest)
                app = APPLICATIONS.get(step.app.lower())
                try:
                    data = self.expand(chan, step.data)
                    if app is None:
                        raise DialplanError(f"application {step.app}() is not simulated")
                except DialplanError as exc:
                    self.fail(f"{chan.name} at {chan.context},{chan.exten},{chan.priority}: {exc}")
                    break
                chan.app, chan.appdata = step.app, data
                self.publish_newexten(chan)
                chan.in_app = True
                try:
                    result = await app(self, chan, data)
                except DialplanError as exc:
                    self.fail(f"{chan.name} in {step.app}({data}): {exc}")
                    break
                finally:
                    chan.in_app = False
                if result == DETACH or chan.pulled:
                    detached = True
                    return
                if chan.pending_goto is not None:
                    continue
                if result == HANGUP or chan.hangup_requested:
                    break
                if result == NEXT:
                    chan.priority += 1
        finally:
            chan.pbx_task = None
            if not detached and not chan.hungup:
                if chan.hangup_requested:
                    self.emit_soft_hangup(chan)
                self.destroy(chan)

    def redirect(self: Pbx, chan: Channel, context: str, exten: str, priority: int) -> None:
        """AMI Redirect: an async goto (README 8: the reply comes before the channel moves)."""
        chan.pending_goto = (context, exten, priority)
        if chan.bridge is not None and chan.dial is None:
            bridge = chan.bridge
            self.leave_bridge(chan)
            if bridge.owner is not None:
                bridge.owner.member_left(bridge, chan)
            else:
                self.dissolve(bridge)
        if chan.pbx_task is None and chan.dial is None:
            if chan.dialled_by is not None:
                chan.dialled_by.leg_gone(chan)
                chan.dialled_by = None
            target = chan.pending_goto
            chan.pending_goto = None
            chan.pulled = False
            self.start_pbx(chan, *target)
        else:
            self.poke(chan)
