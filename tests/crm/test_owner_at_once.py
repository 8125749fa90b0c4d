"""A known caller rings their owner first, decided in the same step as the call's
arrival: the owner comes from the CRM's owner index in memory, without a task to
wait for (that wait, behind everything else the event loop had to do, delayed every
new call's first ring)."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from acd.config import settings_from_dict
from acd.core.commands import Ring
from acd.core.events import CallArrived, DeviceState, DeviceStateChanged
from acd.crm.clients import add_client
from acd.crm.identity import parse_phone
from acd.serve import Acd

OWNED = "+493012345678"


def service(tmp_path: Path) -> Acd:
    return Acd(settings_from_dict({
        "service": {"database": f"sqlite:///{tmp_path / 'acd.db'}"},
        "ami": {"host": "127.0.0.1", "port": 1, "secret": "unused", "simulate": "never"},
        "agents": [{"id": a, "endpoint": f"PJSIP/{101 + n}"} for n, a in enumerate(("anna", "boris"))],
        "groups": [{"id": "sales", "members": ["anna", "boris"]}],
        "numbers": {"5000": "sales"},
    }, "<test>"))


async def test_a_known_caller_rings_their_owner_in_the_step_the_call_arrives(tmp_path: Path) -> None:
    acd = service(tmp_path)
    rung: list[Ring] = []
    acd.distributor.listeners.append(lambda event, commands: rung.extend(c for c in commands if isinstance(c, Ring)))
    identity = parse_phone(OWNED, "DE")
    assert identity is not None
    await acd.crm_feed.apply(partial(add_client, identities=[identity], owner="boris", now=1.0))
    await acd.crm_feed.reload_owners()
    for agent in ("anna", "boris"):
        acd.feed(DeviceStateChanged(agent, DeviceState.NOT_INUSE))
    acd.feed(CallArrived("c1", "5000", OWNED))
    acd.feed(CallArrived("c2", "5000", "+493099999999"))  # new: nobody's client
    assert [(r.call_id, r.agent_ids) for r in rung] == [("c1", ("boris",)), ("c2", ("anna",))]
    acd.store.close()


async def test_before_the_owner_index_is_loaded_the_database_is_asked_and_the_call_waits_for_it(
        tmp_path: Path) -> None:
    acd = service(tmp_path)
    identity = parse_phone(OWNED, "DE")
    assert identity is not None
    await acd.crm_feed.apply(partial(add_client, identities=[identity], owner="boris", now=1.0))
    for agent in ("anna", "boris"):
        acd.feed(DeviceStateChanged(agent, DeviceState.NOT_INUSE))
    acd.feed(CallArrived("c1", "5000", OWNED))
    assert "c1" not in acd.router.calls  # held while the CRM is asked
    for _ in range(200):
        await asyncio.sleep(0.01)
        if "c1" in acd.router.calls:
            break
    assert acd.router.calls["c1"].owner == "boris"
    acd.store.close()
