"""The distributor carries out every command of an event, even when one of them fails."""

from __future__ import annotations

import asyncio
import logging

import pytest

from acd.clock import Clock
from acd.core.commands import Command, Record, Ring
from acd.core.events import CallArrived
from acd.core.model import Agent, QueueGroup, RoutingConfig
from acd.core.router import Router
from acd.distributor import Distributor

CONFIG = RoutingConfig(agents={"anna": Agent("anna", "Anna", "PJSIP/101", "101")},
                       groups={"sales": QueueGroup("sales", "Sales", ("anna",))}, numbers={"5000": "sales"})


class BrokenPbx:
    def __init__(self) -> None:
        self.tried: list[Command] = []

    def execute(self, command: Command) -> None:
        self.tried.append(command)
        raise ValueError("a channel name the adapter cannot use")


class History:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def add(self, records: list[Record]) -> None:
        self.records.extend(records)

    def offered(self, group_id: str, agent_ids: tuple[str, ...], at: float) -> None:
        pass


async def test_a_pbx_command_that_fails_is_logged_and_the_rest_of_the_event_is_still_done(
        caplog: pytest.LogCaptureFixture) -> None:
    pbx, history = BrokenPbx(), History()
    distributor = Distributor(Router(CONFIG), Clock(), pbx, history)
    with caplog.at_level(logging.ERROR):
        commands = distributor.feed(CallArrived("1.1", "5000", "15550001"))
    assert [type(c) for c in pbx.tried] == [Ring]
    assert [r.kind for r in history.records] == ["arrived", "considered"]  # the history still written
    assert distributor.timers.pending() == ["noring|1.1|1"]  # and the ring timer still runs
    assert any(isinstance(c, Ring) for c in commands)
    assert "pbx command failed" in caplog.text
    distributor.timers.cancel_all()
    await asyncio.sleep(0)


class Noting:
    """A PBX, a history and a live view that note, in one list, what reached them when."""

    def __init__(self) -> None:
        self.order: list[tuple[str, object]] = []

    def execute(self, command: Command) -> None:
        self.order.append(("pbx", type(command).__name__))

    def add(self, records: list[Record]) -> None:
        self.order.append(("history", tuple(r.kind for r in records)))

    def offered(self, group_id: str, agent_ids: tuple[str, ...], at: float) -> None:
        self.order.append(("offered", agent_ids))

    def view(self, event: object, commands: list[Command]) -> None:
        self.order.append(("view", type(event).__name__))


async def test_a_ring_leaves_before_the_history_and_the_live_views_hear_of_it_and_they_all_still_do() -> None:
    noting = Noting()
    distributor = Distributor(Router(CONFIG), Clock(), noting, noting)
    distributor.listeners.append(noting.view)
    distributor.feed(CallArrived("1.1", "5000", "15550001"))
    assert noting.order == [("pbx", "Ring"), ("offered", ("anna",)), ("history", ("arrived", "considered")),
                            ("view", "CallArrived")]
    distributor.timers.cancel_all()
    await asyncio.sleep(0)
