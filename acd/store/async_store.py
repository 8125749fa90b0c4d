"""The store for asyncio code: each call runs the blocking ``Store`` method in a worker
thread, so the event loop (and every live call) never waits on the database."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..core.commands import Record
from .database import Store, Time
from .history import Offer
from .views import CallDetail, CallSummary


class AsyncStore:
    def __init__(self, store: Store) -> None:
        self.sync = store

    @classmethod
    def open(cls, url: str) -> AsyncStore:
        return cls(Store(url))

    async def create_all(self) -> None:
        await asyncio.to_thread(self.sync.create_all)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)

    async def apply_records(self, records: Sequence[Record], offers: Sequence[Offer] = ()) -> None:
        await asyncio.to_thread(self.sync.apply_records, records, offers)

    async def save_offer(self, group_id: str, agent_id: str, at: float) -> None:
        await asyncio.to_thread(self.sync.save_offer, group_id, agent_id, at)

    async def load_offers(self) -> dict[tuple[str, str], float]:
        return await asyncio.to_thread(self.sync.load_offers)

    async def open_calls(self) -> list[CallSummary]:
        return await asyncio.to_thread(self.sync.open_calls)

    async def call(self, call_id: str) -> CallDetail | None:
        return await asyncio.to_thread(self.sync.call, call_id)

    async def calls(
        self,
        *,
        since: Time | None = None,
        until: Time | None = None,
        group: str | None = None,
        outcome: str | Sequence[str] | None = None,
        agent: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CallSummary]:
        return await asyncio.to_thread(
            lambda: self.sync.calls(since=since, until=until, group=group, outcome=outcome, agent=agent,
                                    limit=limit, offset=offset)
        )

    async def missed_calls(
        self,
        *,
        since: Time | None = None,
        until: Time | None = None,
        group: str | None = None,
        called_back: bool | None = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CallSummary]:
        return await asyncio.to_thread(
            lambda: self.sync.missed_calls(since=since, until=until, group=group, called_back=called_back,
                                           limit=limit, offset=offset)
        )

    async def mark_called_back(self, call_id: str, *, by: str | None = None, at: Time | None = None,
                               called_back: bool = True) -> bool:
        return await asyncio.to_thread(
            lambda: self.sync.mark_called_back(call_id, by=by, at=at, called_back=called_back)
        )
