"""Callback requests: the live line (place, attempts, next try) and their history, and a
supervisor's cancel and move. A 2xx means the change is committed (the history writer
is flushed before the answer)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..core.callbacks import CallbackState
from ..core.events import CallbackCancelled, CallbackMoved
from ..core.router import Router
from ..store.callback_requests import requests
from .limits import Limit, Offset
from .openapi import errors
from .security import SignedIn, User, require

if TYPE_CHECKING:
    from .app import WebContext

Telephony = Annotated[User, Depends(require("telephony"))]
Position = Annotated[int, Body(ge=1, le=100_000, embed=True, description="1 = first in the group's line")]

# the state as supervisors say it
STATE_WORDS = {
    CallbackState.WAITING: "waiting for a free member",
    CallbackState.CALLING: "ringing the member",
    CallbackState.CONNECTING: "calling the customer",
    CallbackState.UNCERTAIN: "under way (seen again after a restart)",
}


def callbacks_now(router: Router, now: float) -> list[dict[str, Any]]:
    """The open requests in their groups' lines, for the live view."""
    out = []
    for req in router.open_callbacks():
        group = router.config.groups.get(req.group_id)
        out.append({
            "request_id": req.id,
            "number": req.number,
            "group": req.group_id,
            "group_name": group.name if group is not None else req.group_id,
            "position": router.callback_position(req),
            "state": req.state.value,
            "state_words": STATE_WORDS.get(req.state, req.state.value),
            "attempts": req.attempts,
            "max_attempts": group.callback.attempts if group is not None and group.callback else None,
            "outcomes": list(req.outcomes),
            "agent": req.agent,
            "next_try_in_s": round(req.not_before - now, 1) if req.not_before > now else 0.0,
            "waiting_s": round(now - req.place, 1),
        })
    return out


def router(ctx: WebContext) -> APIRouter:
    r = APIRouter()

    def waiting(request_id: str) -> None:
        req = ctx.distributor.router.callbacks.get(request_id)
        if req is None:
            raise HTTPException(404, "no open callback request with this id")
        if req.state is not CallbackState.WAITING:
            raise HTTPException(409, f"this callback is under way ({STATE_WORDS.get(req.state, req.state.value)}); "
                                     "it can be changed once the attempt has ended")

    async def committed() -> None:
        flush = getattr(ctx.distributor.history, "flush", None)
        if flush is not None:
            try:
                await flush(5.0)
            except TimeoutError:
                raise HTTPException(503, "the change is made but not yet written; it will be") from None

    @r.get("/api/callbacks", responses=errors(401, 422, 503), tags=["calls"],
           summary="Callback requests, newest first: open ones (live: place in line, attempts) or all")
    async def list_callbacks(user: SignedIn, show: Literal["open", "all"] = "open",
                             limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
        if ctx.store is None:
            raise HTTPException(503, "no call history in this process")
        live = {c["request_id"]: c for c in callbacks_now(ctx.distributor.router, ctx.clock.now())}
        rows = await run_in_threadpool(requests, ctx.store, limit=limit, offset=offset, open_only=show == "open")
        mine = None if user.can("telephony") or user.can("agents") else set(ctx.groups_of(user.agent_id or ""))
        out = []
        for row in rows:
            if mine is not None and row.group_id not in mine:
                continue
            item = asdict(row)
            item["outcomes"] = list(row.outcomes)
            item["live"] = live.get(row.request_id)
            out.append(item)
        return out

    @r.post("/api/callbacks/{request_id}/cancel", status_code=204, responses=errors(401, 403, 404, 409, 422, 503),
            tags=["calls"], summary="Cancel a waiting callback request (not one under way)")
    async def cancel(request_id: str, user: Telephony) -> Response:
        waiting(request_id)
        ctx.distributor.feed(CallbackCancelled(request_id, by=user.username))
        await committed()
        return Response(status_code=204)

    @r.post("/api/callbacks/{request_id}/move", status_code=204, responses=errors(401, 403, 404, 409, 422, 503),
            tags=["calls"], summary="Move a waiting callback request to a place in its group's line (1 = first)")
    async def move(request_id: str, user: Telephony, position: Position) -> Response:
        waiting(request_id)
        ctx.distributor.feed(CallbackMoved(request_id, position, by=user.username))
        await committed()
        return Response(status_code=204)

    return r
