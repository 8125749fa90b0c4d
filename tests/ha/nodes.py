"""Two acd nodes in this process on one PostgreSQL database, without Asterisk (their
AMI links knock at a closed port): enough for what they share through the database.
The second node is the standby (``is_active`` False)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from acd.config import settings_from_dict
from acd.serve import Acd

AGENTS = ("anna", "boris", "clara")
PASSWORD = "correct-horse-battery"


def settings(database: str) -> Any:
    return settings_from_dict({
        "service": {"database": database},
        "ami": {"host": "127.0.0.1", "port": 1, "secret": "unused", "simulate": "never"},
        "agents": [{"id": a, "name": a.title(), "endpoint": f"PJSIP/{101 + n}"} for n, a in enumerate(AGENTS)],
        "groups": [{"id": "sales", "name": "Sales", "members": ["anna", "boris"]}],
        "numbers": {"+4930111111": "sales"},
    }, "<ha test>")


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {seconds} s")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def two_nodes(database: str) -> AsyncIterator[tuple[Acd, Acd]]:
    active, standby = Acd(settings(database)), Acd(settings(database))
    standby.is_active = lambda: False
    tasks = [asyncio.create_task(node.run(http=False)) for node in (active, standby)]
    try:
        for node in (active, standby):
            assert node.shared is not None
            await until(node.shared.notifications.listening.is_set)
        yield active, standby
    finally:
        for node in (active, standby):
            node.stop()
        _, running = await asyncio.wait(tasks, timeout=15)
        if running:  # name what did not stop instead of waiting for ever
            stuck = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in running:
                task.cancel()
            raise AssertionError("a node did not stop: " + "; ".join(
                f"{t.get_name()} at {t.get_stack(limit=3)}" for t in stuck))


def api(node: Acd, username: str = "admin") -> httpx.AsyncClient:
    """An API client of ``node`` signed in with a token of a new administrator."""
    accounts = node.web_context.accounts
    assert accounts is not None
    user = accounts.create_user(username, PASSWORD, role="admin")
    token = accounts.create_token(user.id)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=node.web), base_url="http://node",
                             headers={"Authorization": f"Bearer {token}"})
