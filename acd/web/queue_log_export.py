"""``GET /api/queue-log``: the call history as an Asterisk queue_log file
(``acd.store.queue_log``), for a date range; the history page links to it.

Supervisors only (the whole history: ``telephony`` or ``agents``). The file is
streamed, so a long range costs bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from ..config import Settings
from ..store.queue_log import history_calls, queue_log
from .calls import parse_time, sees_all_calls
from .openapi import errors
from .security import SignedIn


def router(store: object, settings: Callable[[], Settings] | None) -> APIRouter:
    r = APIRouter()

    @r.get("/api/queue-log", responses={**errors(401, 403, 422, 503), 200: {"content": {"text/plain": {}}}},
           response_class=StreamingResponse, tags=["calls"],
           summary="The call history as an Asterisk queue_log file (calls that arrived in [since, until])")
    def export(user: SignedIn, since: str | None = None, until: str | None = None) -> StreamingResponse:
        if not sees_all_calls(user):
            raise HTTPException(403, "the queue_log export holds every call: for supervisors")
        if store is None:
            raise HTTPException(503, "no call history in this process")
        start, end = parse_time(since, "since"), parse_time(until, "until", end=True)
        members, extensions = {}, {}
        if settings is not None:
            for a in settings().agents:
                members[a.id], extensions[a.id] = a.endpoint, a.extension

        def lines() -> Iterator[str]:
            for text in queue_log(history_calls(store, start, end), members, extensions):  # type: ignore[arg-type]
                yield text + "\n"

        name = "_".join(["queue_log", *(d for d in (since, until) if d)]).replace(":", "-")
        return StreamingResponse(lines(), media_type="text/plain; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.txt"'})

    return r
