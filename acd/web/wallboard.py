"""The wallboard page (``/wallboard``) and its twins ``GET /api/wallboard`` and
``GET /api/wallboard/stream`` (server-sent events: again on every change, and every
second so that waiting times count up).

For supervisors (``channels_api.supervises``: admins, supervisors, agents given
"agents"). Putting an agent on a break or ending it goes through the channels API
(``/api/channels/agents/{id}/break/start`` and ``/break/end``), which needs
"open_channels" too: ``can_pause`` tells the page whether to offer the buttons.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse

from ..wallboard import Wallboard
from .app import WebContext
from .channels_api import BREAK_REASON_MAX, OPEN_CHANNELS, supervises
from .live_feed import LiveFeed
from .openapi import errors, json_errors
from .pages import NavLink, Pages
from .security import SignedIn, User

TICK_S = 1.0  # the stream's beat without changes: waiting times count up on the wall


def _supervisor(user: SignedIn) -> User:
    if not supervises(user):
        raise HTTPException(403, "the wallboard is for supervisors")
    return user


Supervisor = Annotated[User, Depends(_supervisor)]


def install_wallboard(app: FastAPI, desk: Any = None) -> Wallboard:
    """Add the wallboard to ``create_app``'s app; ``desk`` (acd.channels.Desk) adds the
    chat queues. Returns the wallboard: ``rebuild`` it from the history at start."""
    ctx: WebContext = app.state.ctx
    if ctx.settings is None:
        raise ValueError("the wallboard needs the settings (WebContext.settings)")
    wallboard = Wallboard(lambda: ctx.distributor.router, ctx.settings, ctx.clock.now, desk)
    feed = LiveFeed()
    ctx.distributor.listeners.append(wallboard.call_records)
    ctx.distributor.listeners.append(feed)
    if desk is not None:
        desk.listeners.append(wallboard.chat_records)
        desk.listeners.append(feed)
    app.state.wallboard = wallboard
    app.include_router(wallboard_router(wallboard, feed, app.state.pages))
    nav: list[NavLink] = app.state.nav
    at = next((i + 1 for i, link in enumerate(nav) if link.key == "live"), 0)
    nav.insert(at, NavLink("wallboard", "Wallboard", "/wallboard", staff_only=True))
    return wallboard


def board_for(wallboard: Wallboard, user: User) -> dict[str, Any]:
    data = wallboard.snapshot()
    data["can_pause"] = user.can(OPEN_CHANNELS)  # the break endpoints' rule (with supervises)
    return data


def wallboard_router(wallboard: Wallboard, feed: LiveFeed, pages: Pages) -> APIRouter:
    r = APIRouter()

    @r.get("/wallboard", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request, user: Supervisor) -> HTMLResponse:
        return pages.render(request, "wallboard.html", {"page": "wallboard", "board": board_for(wallboard, user),
                                                        "reason_max": BREAK_REASON_MAX})

    @r.get("/api/wallboard", responses=errors(401, 403), tags=["live"],
           summary="Each queue group's and chat queue's figures now and today (service level, waits, agents)")
    def board(user: Supervisor) -> dict[str, Any]:
        return board_for(wallboard, user)

    @r.get("/api/wallboard/stream", responses=json_errors(401, 403), tags=["live"],
           response_class=EventSourceResponse,
           summary="The wallboard, sent again on every change and every second (server-sent events)")
    async def stream(user: Supervisor):  # type: ignore[no-untyped-def]
        async for _ in feed.changes_or_every(TICK_S):
            yield board_for(wallboard, user)

    return r
