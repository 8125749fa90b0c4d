"""The FastAPI application: pages from webui/, the REST API, live server-sent events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..clock import Clock
from ..distributor import Distributor
from ..live import agents_now, calls_now
from .live_feed import LiveFeed

WEBUI = Path(__file__).resolve().parents[2] / "webui"


@dataclass
class WebContext:
    distributor: Distributor
    clock: Clock
    feed: LiveFeed
    store: Any = None  # acd.store history, when there is one
    extra: dict[str, Any] = field(default_factory=dict)

    def live(self) -> dict[str, Any]:
        now = self.clock.now()
        router = self.distributor.router
        return {"calls": calls_now(router, now), "agents": agents_now(router, now)}


def create_app(ctx: WebContext, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The application; ``routers`` are the other channels' and integrations' APIs."""
    app = FastAPI(title="acd", version="0.1.0", summary="Automatic Call Distributor for Asterisk")
    app.state.ctx = ctx
    templates = Jinja2Templates(directory=str(WEBUI / "templates"))
    app.mount("/static", StaticFiles(directory=str(WEBUI / "static")), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def live_page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "live.html", {"page": "live"})

    @app.get("/api/live", tags=["live"], summary="Calls and agents right now")
    async def live() -> dict[str, Any]:
        return ctx.live()

    @app.get("/api/live/stream", tags=["live"], response_class=EventSourceResponse,
             summary="The live picture, sent again on every change (server-sent events)")
    async def live_stream():  # type: ignore[no-untyped-def]
        async for _ in ctx.feed.changes():
            yield ctx.live()

    for router in routers:
        app.include_router(router)
    return app
