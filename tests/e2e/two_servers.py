"""Two simulated Asterisk servers joined by a PJSIP trunk, and acd following both.

``ServerLink`` is the SIP between them: a Dial through the trunk on one server
(PJSIP/<endpoint>@<trunk>) becomes a call into the other's [acd-from-server] context
(asterisk/extensions.conf), and that side's ringing, answer and hang-up come back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from acd.clock import Clock
from acd.config import settings_from_dict
from acd.pbx import Timing
from acd.serve import Acd, AmiTarget
from acd.sim import Answer, ManagerUser, Simulator
from acd.sim.channels import RING, UP, Channel

from .stack import REPO, SECRET, SPEED

RELAY_S = 0.002  # the far side's 180 comes back within milliseconds


class ServerLink:
    """The far end of one server's trunk to another server."""

    def __init__(self, near: Simulator, far: Simulator, far_trunk: str) -> None:
        self.near, self.far = near, far
        self.far_endpoint = far.add_trunk(far_trunk)
        self.dialled: list[str] = []  # endpoints rung through the trunk, in order
        self._far_of: dict[str, Channel] = {}  # near leg's name -> the call it made on the far server
        self._near_of: dict[str, Channel] = {}

    # ---- the near server's leg (a Phone's hooks)
    def invite(self, pbx: Any, chan: Channel, number: str | None) -> None:
        exten = number or ""
        self.dialled.append(exten)
        ep = self.far_endpoint
        far = self.far.pbx.new_channel(ep, state=RING, context=ep.context, exten=exten,
                                       caller_num=chan.caller_num, caller_name=chan.caller_name)
        far.dnid = exten
        far.owner = _FarSide(self)
        self._far_of[chan.name], self._near_of[far.name] = far, chan
        self.far.pbx.start_pbx(far)
        pbx.clock.call_later(RELAY_S, self._relay_ringing, chan, far)

    def _relay_ringing(self, near: Channel, far: Channel) -> None:
        if not near.hungup and not far.hungup:
            self.near.pbx.far_ringing(near)

    def answered_call(self, chan: Channel) -> None:
        pass

    def state_changed(self, chan: Channel) -> None:
        pass

    def talking(self, chan: Channel, peer: Channel) -> None:
        pass

    def channel_gone(self, chan: Channel) -> None:
        far = self._far_of.pop(chan.name, None)
        if far is not None and not far.hungup:
            self.far.pbx.far_hangup(far, source="trunk")

    # ---- the far server's incoming call
    def far_state(self, far: Channel) -> None:
        near = self._near_of.get(far.name)
        if near is not None and far.state == UP and near.state != UP:
            self.near.pbx.far_answer(near)

    def far_gone(self, far: Channel) -> None:
        near = self._near_of.pop(far.name, None)
        if near is None or near.hungup:
            return
        if near.state != UP and far.hangupcause == 17:
            self.near.pbx.far_busy(near)
        else:
            self.near.pbx.far_hangup(near, source="trunk")


class _FarSide:
    def __init__(self, link: ServerLink) -> None:
        self.link = link

    def state_changed(self, chan: Channel) -> None:
        self.link.far_state(chan)

    def channel_gone(self, chan: Channel) -> None:
        self.link.far_gone(chan)

    def talking(self, chan: Channel, peer: Channel) -> None:
        pass

    def answered_call(self, chan: Channel) -> None:
        pass


def same_uniqueids(sim: Simulator, epoch: int = 1_700_000_000) -> None:
    """Uniqueids as two servers started in the same second give: equal on both."""
    counter = iter(range(1_000_000))

    def uniqueid() -> tuple[str, int]:
        seq = next(counter)
        return f"{epoch}.{seq}", seq

    sim.pbx._uniqueid = uniqueid  # type: ignore[method-assign]


def simulator(clock: Clock, phones: dict[str, str]) -> Simulator:
    sim = Simulator(
        dialplan=REPO / "asterisk" / "extensions.conf", clock=clock,
        manager_users={"acd": ManagerUser(secret=SECRET, read=("system", "call", "user", "dtmf"),
                                          write=("system", "call", "originate"))},
        channelvars=("ACD_DID", "ACD_CALLBACK"), trunk="trunk",
    )
    for endpoint in phones.values():
        sim.add_phone(endpoint, Answer(after=1))
    return sim


class TwoServers:
    """Berlin (anna on 101) and Munich (max on 201), a trunk each way."""

    def __init__(self, tmp: Path, groups: list[dict[str, Any]], numbers: dict[str, str]) -> None:
        self.clock = Clock(SPEED)
        self.database = f"sqlite:///{tmp / 'acd.db'}"
        self.berlin = simulator(self.clock, {"anna": "101"})
        self.munich = simulator(self.clock, {"max": "201"})
        for sim in (self.berlin, self.munich):
            same_uniqueids(sim)
        # Berlin's endpoint "to-munich" leads to Munich's "from-berlin", and back
        self.to_munich = ServerLink(self.berlin, self.munich, "from-berlin")
        self.berlin.add_trunk("to-munich", device=self.to_munich)
        self.to_berlin = ServerLink(self.munich, self.berlin, "from-munich")
        self.munich.add_trunk("to-berlin", device=self.to_berlin)
        self.groups, self.numbers = groups, numbers
        self.acd: Acd | None = None
        self._task: asyncio.Task[None] | None = None
        self.stopped: list[Simulator] = []

    async def start(self) -> TwoServers:
        ports = {"berlin": await self.berlin.start("127.0.0.1", 0), "munich": await self.munich.start("127.0.0.1", 0)}
        config = settings_from_dict({
            "service": {"database": self.database},
            "asterisk": [{"name": "berlin", "port": ports["berlin"], "trunks": {"munich": "to-munich"}},
                         {"name": "munich", "port": ports["munich"], "trunks": {"berlin": "to-berlin"}}],
            "agents": [{"id": "anna", "endpoint": "PJSIP/101"},
                       {"id": "max", "endpoint": "PJSIP/201", "server": "munich"}],
            "groups": self.groups,
            "numbers": self.numbers,
        }, "<two servers>")
        targets = {name: AmiTarget("127.0.0.1", port, "acd", SECRET) for name, port in ports.items()}
        self.acd = Acd(config, clock=self.clock, ami=targets, timing=Timing(backoff_first_s=0.05, backoff_max_s=0.2))
        self._task = asyncio.create_task(self.acd.run(http=False))
        await self.until(lambda: all(pbx.connection.ready for pbx in self.servers), 10)
        return self

    @property
    def servers(self) -> list[Any]:
        assert self.acd is not None
        return list(self.acd.servers)

    async def stop(self) -> None:
        if self.acd is not None and self._task is not None:
            self.acd.stop()
            await asyncio.wait_for(self._task, 10)
            self._task = None
        for sim in (self.berlin, self.munich):
            if sim not in self.stopped:
                await self.lose(sim)

    async def lose(self, sim: Simulator) -> None:
        """The server goes away (its AMI port closes, its calls with it)."""
        self.stopped.append(sim)
        await sim.stop()

    async def until(self, condition: Callable[[], bool], sim_seconds: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + self.clock.real(sim_seconds) + 2
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not reached within {sim_seconds} simulated seconds")
            await asyncio.sleep(0.005)

    async def history(self, call_id: str) -> Any:
        assert self.acd is not None
        await self.acd.history.flush()
        return self.acd.store.call(call_id)


@contextlib.asynccontextmanager
async def two_servers(tmp: Path, groups: list[dict[str, Any]], numbers: dict[str, str]) -> AsyncIterator[TwoServers]:
    stack = TwoServers(tmp, groups, numbers)
    try:
        yield await stack.start()
    finally:
        await stack.stop()
