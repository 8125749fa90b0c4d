"""An Asterisk stand-in that speaks real AMI over TCP, for tests and the demo.

It executes an ``extensions.conf`` (the subset of applications the project uses),
models channels, bridges and PJSIP endpoints with scripted phones and callers, and
publishes the AMI events the recordings in ``tests/fixtures/ami`` show, in their
order and shape. All waiting goes through an ``acd.clock.Clock``, so a test can run
ten seconds of ringing in half a second with ``Clock(speed=20)``.

Usage::

    sim = Simulator(
        dialplan="asterisk/extensions.conf",
        clock=Clock(20),
        manager_users={"acd": ManagerUser(secret="s", read=("system", "call", "user"),
                                          write=("system", "call", "originate"))},
        channelvars=("ACD_DID",),
        agents_context="acd-agents",
        trunk_context="acd-inbound",
    )
    sim.add_phone("101", Answer(after=2))        # PJSIP/101; also NeverAnswer(), Busy(),
                                                 # Unreachable(), Absent()
    await sim.start(host="127.0.0.1", port=0)    # then connect to sim.port
    call = await sim.call(did="5000", caller="15550001")
    await call.answered.wait(); call.answered_by  # "101"
    sim.phone("101").rings                       # [RingPeriod(started, ended, outcome...)]
    await sim.phone("102").dial("*11")           # a phone dials like a real one
    await sim.phone("101").transfer_blind("102")  # SIP REFER
    await sim.phone("101").transfer_attended("103"); await sim.phone("101").hangup()
    await sim.drop_clients()                     # close every AMI connection
    await sim.stop()

Public names: ``Simulator``, ``ManagerUser``, ``Features``, the behaviours ``Answer``,
``NeverAnswer``, ``Busy``, ``Unreachable``, ``Absent``, and ``Phone``, ``Call``,
``RingPeriod`` for inspecting outcomes. ``sim.errors`` lists every dialplan problem
(an unknown application or function is logged and the channel hung up, never skipped).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from acd.clock import Clock

from .channels import RING, Channel
from .dialplan import Dialplan
from .pbx import Endpoint, Features, Mailbox, Pbx
from .phones import Absent, Answer, Behaviour, Busy, Call, NeverAnswer, Phone, RingPeriod, Trunk, Unreachable
from .server import AmiServer, ManagerUser

__all__ = [
    "Absent", "Answer", "Busy", "Call", "Features", "ManagerUser", "NeverAnswer", "Phone", "RingPeriod",
    "Simulator", "Unreachable",
]


class Simulator:
    def __init__(
        self,
        dialplan: str | Path = "asterisk/extensions.conf",
        clock: Clock | None = None,
        manager_users: Mapping[str, ManagerUser] | None = None,
        channelvars: tuple[str, ...] = ("ACD_DID",),
        agents_context: str = "acd-agents",
        trunk_context: str = "acd-inbound",
        trunk: str = "carrier",
        features: Features | None = None,
        mailboxes: Mapping[str, str] | None = None,
        call_group: int = 1,
    ) -> None:
        """``mailboxes`` maps "101@default" to a full name (voicemail.conf); when None,
        VoiceMail() accepts any mailbox and creates it on first use."""
        self.clock = clock or Clock()
        self.agents_context = agents_context
        self.call_group = call_group
        plan = Dialplan.load(dialplan)
        self.pbx = Pbx(plan, self.clock, channelvars=tuple(channelvars), features=features or Features())
        if mailboxes is not None:
            self.pbx.strict_mailboxes = True
            for box, fullname in mailboxes.items():
                self.pbx.mailboxes[box] = Mailbox(box, fullname)
        users = dict(manager_users or {"acd": ManagerUser(secret="acd")})
        self.server = AmiServer(self.pbx, users)
        self.port: int | None = None
        self._phones: dict[str, Phone] = {}
        trunk_ep = Endpoint(trunk, trunk_context, trunk=True, contact=f"sip:{trunk}@127.0.0.1:5070")
        self.pbx.endpoints[trunk] = trunk_ep
        self.trunk = Trunk(self.pbx, trunk_ep)
        trunk_ep.device = self.trunk

    # ---- configuration
    def add_phone(
        self,
        name: str,
        behaviour: Behaviour | None = None,
        *,
        callerid: tuple[str, str] | None = None,
        context: str | None = None,
        qualify: bool = False,
        call_group: int | None = None,
        pickup_group: int | None = None,
    ) -> Phone:
        """An endpoint PJSIP/<name> with a scripted phone. ``callerid`` is (number, name)."""
        num, cid_name = callerid or (name, name)
        group = self.call_group if call_group is None else call_group
        ep = Endpoint(
            name, context or self.agents_context, callerid_num=num, callerid_name=cid_name, qualify=qualify,
            callgroup=group, pickupgroup=self.call_group if pickup_group is None else pickup_group,
            contact=f"sip:{name}@127.0.0.1:{5000 + len(self._phones) + 101}",
        )
        self.pbx.endpoints[name] = ep
        phone = Phone(self.pbx, ep, behaviour or Answer())
        ep.device = phone  # Absent(): the contact exists but the phone ignores INVITEs
        self._phones[name] = phone
        return phone

    def add_trunk(self, name: str, context: str = "acd-from-server", device: Any = None) -> Endpoint:
        """Another PJSIP trunk, e.g. to another Asterisk server: calls Dial()ed through
        it (PJSIP/<exten>@<name>) reach ``device`` (a far end with a Phone's methods);
        calls coming in through it enter ``context``."""
        ep = Endpoint(name, context, trunk=True, contact=f"sip:{name}@127.0.0.1:5071", device=device)
        self.pbx.endpoints[name] = ep
        return ep

    def phone(self, name: str) -> Phone:
        return self._phones[name]

    @property
    def phones(self) -> dict[str, Phone]:
        return dict(self._phones)

    @property
    def errors(self) -> list[str]:
        return self.pbx.errors

    def channels(self) -> list[Channel]:
        return sorted(self.pbx.channels.values(), key=lambda c: c.seq)

    # ---- running
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.port = await self.server.start(host, port)
        return self.port

    async def call(
        self,
        did: str,
        caller: str = "15550000001",
        caller_name: str | None = None,
        hangup_after: float | None = None,
        media: bool = False,
    ) -> Call:
        """A caller dials ``did`` through the trunk. ``hangup_after`` counts from the
        moment the call is answered (as sipp does); ``media`` means the caller sends RTP
        (Answer() then takes 15 ms instead of 500 ms, README 17)."""
        ep = self.pbx.endpoints[self.trunk.phone.endpoint.name]
        handle = Call(self.pbx, hangup_after=hangup_after)
        chan = self.pbx.new_channel(
            ep, state=RING, context=ep.context, exten=did, caller_num=caller,
            caller_name=caller_name if caller_name is not None else f"Caller {caller}",
        )
        chan.dnid = did
        chan.media = media
        handle.attach(chan)
        self.pbx.varset(chan, "SIPDOMAIN", "127.0.0.1")
        self.pbx.start_pbx(chan)
        await asyncio.sleep(0)
        return handle

    async def drop_clients(self) -> None:
        await self.server.drop_clients()

    async def stop(self) -> None:
        await self.server.stop()
        for task in list(self.pbx.tasks):
            task.cancel()
        if self.pbx.tasks:
            await asyncio.gather(*self.pbx.tasks, return_exceptions=True)

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
