"""Server-rendered pages: the templates, what every page gets, and errors as pages.

Every page is rendered with ``user``, ``csrf`` (put into each form by the ``csrf_field``
macro), ``nav`` (the links this user may follow) and ``page`` (the current one).
Other routers add their own links with ``add_nav(app, ...)``: the open channels,
mailboxes and forms pages do so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .openapi import problems_of
from .security import User
from .words import (
    CHAT_PHASES,
    MISSED_ACTIONS,
    MODES,
    OUTCOMES,
    PERMISSIONS,
    caller,
    clock,
    duration,
    name_list,
    when,
    zone_named,
)

__all__ = ["WEBUI", "NavLink", "Pages", "SecurityHeaders", "add_nav", "duration"]

WEBUI = Path(__file__).resolve().parents[2] / "webui"


@dataclass(frozen=True)
class NavLink:
    key: str  # the ``page`` value that marks it current
    label: str
    href: str
    permission: str | None = None  # None: every signed-in user
    any_of: tuple[str, ...] = ()  # or: any one of these
    staff_only: bool = False  # not for role "agent", whatever their permissions

    def shown_to(self, user: User) -> bool:
        if self.staff_only and user.role == "agent":
            return False
        if self.any_of:
            return any(user.can(p) for p in self.any_of)
        return self.permission is None or user.can(self.permission)


DEFAULT_NAV = [
    NavLink("live", "Live", "/"),
    NavLink("history", "History", "/history"),
    NavLink("missed", "Missed calls", "/missed"),
    NavLink("groups", "Queue groups", "/groups", "telephony"),
    NavLink("numbers", "Numbers", "/numbers", "telephony"),
    NavLink("agents", "Agents", "/agents", "agents"),
    # the open channels, mailboxes and forms pages add their links here (add_nav)
    NavLink("clients", "Clients", "/clients", "crm"),
    NavLink("outbox", "CRM outbox", "/outbox", "crm"),
    NavLink("users", "Users", "/users", "users"),
    NavLink("audit", "Audit log", "/audit", "users"),
]


def add_nav(app: FastAPI, key: str, label: str, href: str, permission: str | None = None,
            *, before: str = "outbox", staff_only: bool = False) -> None:
    """A link in the main navigation, shown to users with ``permission`` (and, when
    ``staff_only``, not to agents)."""
    nav: list[NavLink] = app.state.nav
    at = next((i for i, link in enumerate(nav) if link.key == before), len(nav))
    nav.insert(at, NavLink(key, label, href, permission, staff_only=staff_only))


class Pages:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.templates = Jinja2Templates(directory=str(WEBUI / "templates"))
        env = self.templates.env
        env.filters["when"] = when  # in the reader's zone (``zone`` below)
        env.filters["clock"] = clock
        env.filters["duration"] = duration
        env.globals.update(caller=caller, name_list=name_list, words={
            "modes": MODES, "missed_actions": MISSED_ACTIONS, "outcomes": OUTCOMES, "chat_phases": CHAT_PHASES,
            "permissions": PERMISSIONS})
        app.state.nav = list(DEFAULT_NAV)

    def render(self, request: Request, name: str, context: dict[str, Any] | None = None,
               status_code: int = 200) -> HTMLResponse:
        user: User | None = getattr(request.state, "user", None)
        nav: list[NavLink] = self.app.state.nav
        zone = self.zone_for(user)
        base = {
            "user": user,
            "csrf": getattr(request.state, "csrf", ""),
            "nav": [link for link in nav if user is not None and link.shown_to(user)],
            "page": "",
            "zone": zone, "zone_name": zone.key,
            # e.g. the demo's "sign in as admin / demo"
            "login_hint": getattr(getattr(self.app.state, "ctx", None), "extra", {}).get("login_hint", ""),
        }
        return self.templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status_code)

    def site_zone(self) -> ZoneInfo:
        """``[service] time_zone``: the zone pages show times in."""
        settings = getattr(getattr(self.app.state, "ctx", None), "settings", None)
        name = settings().service.time_zone if settings is not None else "UTC"
        return zone_named(name) or ZoneInfo("UTC")

    def zone_for(self, user: User | None) -> ZoneInfo:
        """The user's own zone when they chose one, else the site's."""
        own = zone_named(getattr(user, "time_zone", None))
        return own or self.site_zone()

    def _methods_at(self, scope: Scope) -> list[str]:
        """Every method some route answers at this path (a 405's ``Allow``)."""
        methods: set[str] = set()
        for route in self.app.router.routes:
            match, _ = route.matches({**scope, "method": "GET"})
            if match is not Match.NONE:
                methods |= getattr(route, "methods", None) or set()
        return sorted(methods)

    def install_error_pages(self) -> None:
        """Pages get a sign-in redirect (401) or an error page; /api keeps JSON errors."""

        @self.app.exception_handler(RequestValidationError)
        async def invalid(request: Request, exc: RequestValidationError) -> Response:
            """422 in the configuration's shape, ``[{"item", "problem"}]``; the input is
            never echoed (it may be a password)."""
            problems = problems_of(exc.errors())
            if request.url.path.startswith("/api"):
                return JSONResponse({"detail": problems}, status_code=422)
            detail = "; ".join(f"{p['item']}: {p['problem']}" for p in problems)
            return self.render(request, "error.html", {"status": 422, "detail": detail}, status_code=422)

        @self.app.exception_handler(StarletteHTTPException)
        async def errors(request: Request, exc: StarletteHTTPException) -> Response:
            if exc.status_code == 405:  # Starlette names only the methods of the one route it matched
                exc.headers = {**(exc.headers or {}), "Allow": ", ".join(self._methods_at(request.scope))}
            if request.url.path.startswith("/api") or request.url.path.startswith("/static"):
                return await http_exception_handler(request, exc)
            if exc.status_code == 401:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            detail = exc.detail if isinstance(exc, HTTPException | StarletteHTTPException) else ""
            return self.render(request, "error.html", {"status": exc.status_code, "detail": detail},
                               status_code=exc.status_code)


class SecurityHeaders:
    """Pages are never framed (clickjacking), never type-sniffed, and links do not leak
    their address to other sites. Pure ASGI: streams (SSE) pass through untouched."""

    HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
    # as ASGI carries them, once: every answer gets them (MutableHeaders.setdefault per
    # header per answer was a few percent of the busiest request's cost, issue 16)
    RAW = tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in HEADERS.items())

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":  # each one unless the answer set it itself
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [header for header in self.RAW if header[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)
