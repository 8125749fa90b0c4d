"""The live picture shared with the other nodes is written at most once a second while
things change (``acd.ha.shared_live``): it holds every open conversation, and at the
pages' pace (five a second) it cost as much CPU as the chats themselves. The pages'
own streams keep the feed's pace."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from acd.ha import shared_live
from acd.ha.shared_live import SharedLive
from acd.web import live_feed
from acd.web.live_feed import LiveFeed


async def test_a_reader_may_set_its_own_pace_and_pages_keep_the_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(live_feed.asyncio, "sleep", sleep)
    feed = LiveFeed(min_interval_s=0.2)
    for pace in (None, 1.0):
        readings = feed.changes_or_every(60.0, pace)
        await anext(readings)  # at once
        feed()
        await anext(readings)  # after the change, once the pace allows
    assert slept == [0.2, 1.0]


async def test_the_shared_picture_is_written_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    paces: list[float | None] = []
    written: list[dict[str, Any]] = []

    async def changes_or_every(period_s: float, min_interval_s: float | None = None) -> Any:
        paces.append(min_interval_s)
        yield 1

    feed = LiveFeed(min_interval_s=0.2)
    monkeypatch.setattr(feed, "changes_or_every", changes_or_every)
    monkeypatch.setattr(shared_live, "write", lambda engine, picture, now: written.append(picture) or 1)
    await SharedLive(None, lambda: {"live": {}}, feed, lambda: True).run()  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert paces == [1.0] and written == [{"live": {}}]
