"""The whole telephony path in one process, over real TCP: simulated callers and phones
-> the Asterisk stand-in (running asterisk/extensions.conf) -> AMI -> acd -> AMI ->
the phones. Time runs SPEED times faster on one shared clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from acd.clock import Clock
from acd.config import settings_from_dict
from acd.core.commands import ReportManualTransfer
from acd.pbx import Timing
from acd.serve import Acd, AmiTarget
from acd.sim import Answer, ManagerUser, Simulator
from acd.sim.phones import Behaviour

REPO = Path(__file__).resolve().parents[2]
SPEED = 20.0
SECRET = "e2e-secret"
AGENTS = {"anna": "101", "boris": "102", "clara": "103", "dmitri": "104"}


def settings(database: str, port: int, groups: list[dict[str, Any]], **extra: Any) -> Any:
    data: dict[str, Any] = {
        "service": {"database": database},
        "ami": {"port": port, "username": "acd", "secret": SECRET, "simulate": "never"},
        "agents": [{"id": a, "name": a.title(), "endpoint": f"PJSIP/{ext}", "mobile": f"+49151000{ext}"}
                   for a, ext in AGENTS.items()],
        "groups": groups,
        "numbers": {g.get("number", "5000"): g["id"] for g in groups if "number" in g} or {"5000": groups[0]["id"]},
    }
    for g in data["groups"]:
        g.pop("number", None)
    for agent in data["agents"]:  # work time ([agents.work]) for some agents
        if agent["id"] in extra.get("work", {}):
            agent["work"] = extra["work"][agent["id"]]
    extra = {k: v for k, v in extra.items() if k != "work"}
    data.update(extra)
    return settings_from_dict(data, "<e2e>")


class Stack:
    def __init__(self, tmp: Path, groups: list[dict[str, Any]], phones: dict[str, Behaviour] | None = None,
                 **extra: Any) -> None:
        self.clock = Clock(SPEED)
        self.database = f"sqlite:///{tmp / 'acd.db'}"
        self.groups = groups
        self.extra = extra
        self.sim = Simulator(
            dialplan=REPO / "asterisk" / "extensions.conf", clock=self.clock,
            manager_users={"acd": ManagerUser(secret=SECRET, read=("system", "call", "user", "dtmf"),
                                              write=("system", "call", "originate"))},
            channelvars=("ACD_DID", "ACD_CALLBACK"),  # as asterisk/manager.conf
            trunk="trunk",
        )
        for agent, ext in AGENTS.items():
            self.sim.add_phone(ext, (phones or {}).get(agent, Answer(after=1)))
        self.acd: Acd | None = None
        self.transfers: list[ReportManualTransfer] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Stack:
        await self.sim.start("127.0.0.1", 0)
        await self.start_acd()
        return self

    async def start_acd(self) -> Acd:
        assert self.sim.port is not None
        config = settings(self.database, self.sim.port, [dict(g) for g in self.groups], **self.extra)
        fast = Timing(backoff_first_s=0.05, backoff_max_s=0.2)
        self.acd = Acd(config, clock=self.clock, ami=AmiTarget("127.0.0.1", self.sim.port, "acd", SECRET),
                       timing=fast)
        self.acd.distributor.transfer_listeners.append(self.transfers.append)
        self._task = asyncio.create_task(self.acd.run(http=False))
        await self.until(lambda: self.acd is not None and self.acd.pbx.connection.ready, 10)
        return self.acd

    async def stop_acd(self) -> None:
        assert self.acd is not None and self._task is not None
        self.acd.stop()
        await asyncio.wait_for(self._task, 10)
        self._task = None

    async def stop(self) -> None:
        if self._task is not None:
            await self.stop_acd()
        await self.sim.stop()

    async def until(self, condition: Callable[[], bool], sim_seconds: float = 30) -> None:
        """Wait until ``condition`` holds, at most ``sim_seconds`` of simulated time."""
        deadline = asyncio.get_running_loop().time() + self.clock.real(sim_seconds) + 2
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not reached within {sim_seconds} simulated seconds")
            await asyncio.sleep(0.005)

    async def history(self, call_id: str) -> Any:
        assert self.acd is not None
        await self.acd.history.flush()
        return self.acd.store.call(call_id)

    def watch_applications(self) -> list[tuple[str, str, str]]:
        """(Uniqueid, Application, AppData) of every dialplan step from now on: what
        a manager user with read=dialplan would see as Newexten."""
        seen: list[tuple[str, str, str]] = []
        emit = self.sim.pbx.emit

        def watching(name: str, cls: str, pairs: Any) -> None:
            if name == "Newexten":
                fields = dict(pairs)
                seen.append((fields.get("Uniqueid", ""), fields.get("Application", ""), fields.get("AppData", "")))
            emit(name, cls, pairs)

        self.sim.pbx.emit = watching  # type: ignore[method-assign]
        return seen

    def phone(self, agent: str) -> Any:
        return self.sim.phone(AGENTS[agent])

    def rings(self, agent: str) -> list[Any]:
        return list(self.phone(agent).rings)


@contextlib.asynccontextmanager
async def running(tmp: Path, groups: list[dict[str, Any]], phones: dict[str, Behaviour] | None = None,
                  **extra: Any) -> AsyncIterator[Stack]:
    stack = Stack(tmp, groups, phones, **extra)
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()
