from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from acd.clock import Clock
from acd.sim import Answer, ManagerUser, Simulator

from .amiclient import AmiClient

DIALPLAN = Path(__file__).resolve().parents[2] / "asterisk" / "extensions.conf"
SPEED = 20.0


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        dialplan=DIALPLAN,
        clock=Clock(SPEED),
        manager_users={
            "acd": ManagerUser(secret="s", read=("system", "call", "user"), write=("system", "call", "originate")),
            "all": ManagerUser(secret="t"),
        },
    )
    for n in ("101", "102", "103"):
        simulator.add_phone(n, Answer(after=2), callerid=(n, f"Agent {n}"))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ami(sim: Simulator) -> AsyncIterator[AmiClient]:
    assert sim.port is not None
    client = await AmiClient.connect(sim.port)
    response = await client.login()
    assert response.get("Response") == "Success"
    yield client
    await client.close()


@pytest.fixture
async def ami_all(sim: Simulator) -> AsyncIterator[AmiClient]:
    """A session with read=all (dialplan, security... events included)."""
    assert sim.port is not None
    client = await AmiClient.connect(sim.port)
    await client.login("all", "t")
    yield client
    await client.close()
