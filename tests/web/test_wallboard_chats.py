"""The wallboard's chat queues over a real desk: conversations waiting, agents at their
limit, today's chats and average first-response time, also after a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from acd.wallboard import Wallboard
from acd.web.wallboard import install_wallboard
from tests.channels.support import MONDAY_10_UTC, FakeClock

from .test_workspace import Web, clock_in
from .workspace_support import build_with_desk


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    clock = FakeClock(MONDAY_10_UTC)
    service, desk = build_with_desk(tmp_path, clock)
    install_wallboard(service.app, desk)
    await desk.start()
    w = Web(service, desk, clock)
    w.user("anna", agent_id="anna")
    w.user("integration", "supervisor", {"open_channels"})
    yield w
    await w.http.aclose()
    await desk.close()
    service.store.close()


def queue(board: dict[str, Any], queue_id: str) -> dict[str, Any]:
    return next(q for q in board["chat_queues"] if q["id"] == queue_id)


async def test_chat_tiles_count_waiting_conversations_agents_at_their_limit_and_first_responses(web: Web) -> None:
    await clock_in(web, "anna")  # the only one at work; the queue's limit is 2 conversations
    first = await web.chat("telegram:1", "Hello")
    await web.chat("telegram:2", "Hi")
    await web.chat("telegram:3", "Anyone?")
    site = queue(await web.get("/api/wallboard", "integration"), "site")
    assert (site["waiting"], site["agents_at_limit"], site["members"], site["arrived"]) == (1, 1, 3, 3)
    assert site["first_response_s"] is None and site["level"] == "amber"

    web.clock.advance(30)
    await web.post(f"/conversations/{first}/accept", "anna")
    await web.post(f"/conversations/{first}/answer", "anna", {"text": "Hello, how can I help?"})
    site = queue(await web.get("/api/wallboard", "integration"), "site")
    assert site["first_response_s"] == 30.0
    assert [q["id"] for q in (await web.get("/api/wallboard", "integration"))["chat_queues"]] == ["site", "vip"]

    await web.desk.flush()
    restarted = Wallboard(lambda: web.service.distributor.router, lambda: web.service.settings, web.clock.now,
                          web.desk)
    restarted.rebuild(web.service.store.engine)
    again = queue(restarted.snapshot(), "site")
    assert (again["arrived"], again["first_response_s"]) == (3, 30.0)
