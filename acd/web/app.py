"""The FastAPI application: pages from webui/, the REST API, live server-sent events.

Every page has its REST twin under /api (documented at /docs). Who may see and change
what is decided by ``security.py``; the areas live in their own modules:
``users.py`` (sign-in, users, tokens, audit), ``telephony.py`` (queue groups,
numbers), ``agents.py``, ``calls.py`` (history, missed calls), ``outbox.py`` (CRM), ``clients.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.sse import EventSourceResponse
from fastapi.staticfiles import StaticFiles

from ..clock import Clock
from ..config import Settings
from ..distributor import Distributor
from ..live import StateSince, agents_now, call_progress, calls_now
from . import (
    agents,
    bitrix24,
    callbacks,
    calls,
    channel_queues,
    clients,
    outbox,
    pauses,
    queue_log_export,
    reports,
    telephony,
    users,
)
from .accounts import Accounts
from .audit import AuditLog
from .limits import BodyLimit
from .live_feed import LiveFeed
from .openapi import errors, json_errors
from .pages import WEBUI, Pages, SecurityHeaders
from .security import SignedIn, User, require, use_accounts
from .settings_changes import SettingsChanges
from .words import CHAT_PHASES

__all__ = ["WEBUI", "WebContext", "create_app"]


def _not_available(call_id: str, agent_id: str) -> str | None:
    return "not available"


@dataclass
class WebContext:
    distributor: Distributor
    clock: Clock
    feed: LiveFeed
    store: Any = None  # acd.store history, when there is one
    extra: dict[str, Any] = field(default_factory=dict)
    # the configuration: read, apply live, and (when set) the TOML file to write back
    settings: Callable[[], Settings] | None = None
    apply_settings: Callable[[Settings], None] | None = None
    config_path: Path | None = None
    # several nodes on one database: a saved change goes to the others too (acd.ha.shared_settings)
    share_settings: Callable[[Mapping[str, Any]], None] | None = None
    # a standby shows the active node's live picture (acd.ha.shared_live); None: its own
    shared_live: Callable[[], dict[str, Any] | None] | None = None
    # take a call ringing in a pickup group to this agent's phone: None = accepted, else why not
    intercept: Callable[[str, str], str | None] = _not_available
    # users, sessions and tokens: by default in the store's database (in memory without one)
    accounts: Accounts | None = None
    crm: Any = None  # acd.crm.CrmFeed (or the CRM's engine), for the outbox page
    # open chats right now (acd.channels.Desk.live_conversations), for the live view
    conversations: Callable[[], list[dict[str, Any]]] | None = None
    # since when each agent is in their state ("on a call for 3 min 10 s")
    states: StateSince = field(default_factory=StateSince)

    def __post_init__(self) -> None:
        # noted on every change, so a state's start is right even when nobody is watching
        self.distributor.listeners.append(lambda event, commands: self.states.observe(
            self.distributor.router, self.clock.now()))

    def live(self) -> dict[str, Any]:
        if self.shared_live is not None and (picture := self.shared_live()) is not None:
            return copy.deepcopy(picture)  # live_for marks it up per user
        now = self.clock.now()
        router = self.distributor.router
        conversations = self.conversations() if self.conversations is not None else []
        names = self.agent_names()
        for c in conversations:  # the chat's people by name and its state in words, for pages
            c["offered_names"] = [names.get(a, a) for a in c["offered"]]
            c["agent_name"] = names.get(c["agent"], c["agent"]) if c["agent"] else None
            c["progress"] = CHAT_PHASES.get(c["phase"], c["phase"])
        return {"calls": calls_now(router, now), "agents": agents_now(router, now, self.states),
                "conversations": conversations, "callbacks": callbacks.callbacks_now(router, now),
                "pause_reasons": list(router.config.pause_reasons)}

    def call_progress(self, call_id: str) -> str:
        return call_progress(self.distributor.router, call_id)

    def groups_of(self, agent_id: str) -> list[str]:
        """The queue groups that list this agent (as the router has them now)."""
        groups = self.distributor.router.config.groups
        return [g.id for g in groups.values() if agent_id in g.members]

    def group_names(self) -> list[tuple[str, str]]:
        return [(g.id, g.name) for g in self.distributor.router.config.groups.values()]

    def agent_names(self) -> dict[str, str]:
        """Agent id -> name, for pages that list agents (the decision log, the history)."""
        return {a.id: a.name or a.id for a in self.distributor.router.config.agents.values()}

    def live_for(self, user: User) -> dict[str, Any]:
        """The live picture this user may see, with what they may do about each call."""
        data = self.live()
        mine = set(self.groups_of(user.agent_id)) if user.agent_id else set()
        if not (user.can("telephony") or user.can("agents")):
            data["calls"] = [c for c in data["calls"] if c["group"] in mine or user.agent_id == c["agent"]]
            data["agents"] = [a for a in data["agents"] if a["id"] == user.agent_id]
            data["callbacks"] = [c for c in data["callbacks"] if c["group"] in mine]
        if not user.can("open_channels"):  # an agent sees the chats offered to or held by them
            data["conversations"] = [c for c in data["conversations"]
                                     if user.agent_id and user.agent_id in (c["agent"], *c["offered"])]
        on_a_call = any(c["agent"] == user.agent_id and c["phase"] == "connected" for c in data["calls"])
        for c in data["calls"]:
            # the Intercept button rings the agent's own phone: not offered while they talk
            c["can_intercept"] = bool(
                user.agent_id and c["allow_pickup"] and c["ringing"] and c["agent"] is None
                and c["group"] in mine and user.agent_id not in c["ringing"] and not on_a_call
            )
        data["me"] = {"username": user.username, "agent_id": user.agent_id,
                      "manages_callbacks": user.can("telephony")}
        return data


def create_app(ctx: WebContext, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The application; ``routers`` are the other channels' and integrations' APIs."""
    # no OpenTelemetry: acd configures none, and FastAPI would look for its providers on every request
    app = FastAPI(title="acd", version="0.1.0", summary="Automatic Call Distributor for Asterisk",
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.ctx = ctx
    if ctx.accounts is None:
        engine = getattr(ctx.store, "engine", None)
        ctx.accounts = Accounts(engine) if engine is not None else Accounts.in_memory()
    use_accounts(app, ctx.accounts)
    audit = AuditLog(ctx.accounts.engine)
    app.state.audit = audit
    changes = SettingsChanges(ctx.settings, ctx.apply_settings, ctx.config_path, audit, ctx.share_settings)
    app.state.settings_changes = changes
    pages = Pages(app)
    app.state.pages = pages
    pages.install_error_pages()
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, larger=clients.UPLOADS)  # a CSV import is larger than a form
    app.mount("/static", StaticFiles(directory=str(WEBUI / "static")), name="static")
    # the channels' inbound API takes integrations' traffic: first in line, since routes
    # are matched one after the other
    for router in routers:
        app.include_router(router)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        """Browsers and bookmarks ask here whatever the page says: acd's own icon (SVG)."""
        return FileResponse(WEBUI / "static" / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def live_page(request: Request, user: SignedIn) -> HTMLResponse:
        return pages.render(request, "live.html", {"page": "live"})

    @app.get("/api/live", responses=errors(401),
             tags=["live"], summary="Calls and agents right now (an agent: their own groups' calls)")
    async def live(user: SignedIn) -> dict[str, Any]:
        return ctx.live_for(user)

    @app.get("/api/live/stream", responses=json_errors(401), tags=["live"], response_class=EventSourceResponse,
             summary="The live picture, sent again on every change (server-sent events)")
    async def live_stream(user: SignedIn):  # type: ignore[no-untyped-def]
        async for _ in ctx.feed.changes():
            yield ctx.live_for(user)

    @app.post("/api/live/calls/{call_id}/intercept", responses=errors(401, 403, 404, 409, 422), tags=["live"],
              summary="Take a call ringing in a pickup group to your own phone; 409 with the reason if refused")
    async def intercept(call_id: str, user: Annotated[User, Depends(require(None))]) -> dict[str, Any]:
        if not user.agent_id:
            raise HTTPException(403, "your account is not linked to an agent's phone")
        call = next((c for c in ctx.live()["calls"] if c["call_id"] == call_id), None)
        if call is None:
            raise HTTPException(404, "no such call ringing now")
        if call["group"] not in ctx.groups_of(user.agent_id):
            raise HTTPException(403, "you are not a member of this call's queue group")
        if not call["allow_pickup"]:
            raise HTTPException(409, "this queue group does not allow pickup")
        refusal = ctx.intercept(call_id, user.agent_id)
        if refusal is not None:
            raise HTTPException(409, refusal)
        return {"call_id": call_id, "agent_id": user.agent_id, "accepted": True}

    app.include_router(users.router(ctx.accounts, audit, pages))
    app.include_router(telephony.router(changes, pages))
    app.include_router(agents.router(changes, pages))
    app.include_router(pauses.router(changes))
    channel_queues.install(app, changes, pages)  # open channels, mailboxes, CRM forms
    reports.install(app, ctx.store, ctx.settings, pages)
    app.include_router(calls.router(calls.Calls(ctx.store, ctx.groups_of, ctx.call_progress), pages,
                                    ctx.group_names, ctx.agent_names))
    app.include_router(callbacks.router(ctx))
    app.include_router(queue_log_export.router(ctx.store, ctx.settings))
    app.include_router(outbox.router(ctx.crm, pages, audit))
    app.include_router(bitrix24.router(ctx.crm))
    app.include_router(clients.router(ctx.crm, ctx.store, changes, pages, audit))
    return app
