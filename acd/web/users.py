"""Signing in and out, users and their permissions, API tokens, the audit log.

Pages: /login, /logout, /users (``users`` permission), /tokens (everyone's own),
/audit (``users``). API: /api/me, /api/users, /api/tokens, /api/audit.

Only an administrator makes or changes administrators; a user with the ``users``
permission can hand out only the permissions they hold themselves, so nobody can
give themselves more than they have. The last active administrator stays one.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import AfterValidator, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .accounts import (
    AGENT_ID_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    TOKEN_NAME_MAX,
    USERNAME_MAX,
    AccountError,
    Accounts,
    TokenInfo,
    normalise_username,
)
from .audit import AuditLog
from .limits import Limit, Offset, RowId, read_form, row_id
from .openapi import errors
from .pages import Pages
from .security import PERMISSIONS, ROLES, SESSION_COOKIE, SignedIn, User, require
from .words import zone_choices, zone_named

ManageUsers = Annotated[User, Depends(require("users"))]
Changing = Annotated[User, Depends(require(None))]


Role = Literal[ROLES]  # type: ignore[valid-type]
# checked against PERMISSIONS (and against what the granting user holds: 403) when applied
Permissions = Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=len(PERMISSIONS))]
Password = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
AgentId = Annotated[str, Field(max_length=AGENT_ID_MAX)]


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=USERNAME_MAX)
    password: Password
    role: Role = "agent"
    permissions: Permissions = []
    agent_id: AgentId | None = None


class UserChange(BaseModel):
    role: Role
    permissions: Permissions = []
    agent_id: AgentId | None = None
    active: bool = True
    password: Password | None = None  # a new password, if given
    time_zone: TimeZone | None = None  # the pages' zone for this user; "" = the site's; None: unchanged


def _known_zone(name: str) -> str:
    if name and zone_named(name) is None:
        raise ValueError('Time zone: unknown; use a name like "Europe/Berlin", or leave it empty for the site\'s')
    return name


# an IANA zone name; empty: the site's ([service] time_zone)
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]


class TimeZoneChange(BaseModel):
    time_zone: TimeZone = ""


class PasswordChange(BaseModel):
    current: str = Field(max_length=PASSWORD_MAX)
    new: Password


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=TOKEN_NAME_MAX)


def user_json(user: User, active: bool = True) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role,
            "permissions": sorted(user.permissions), "agent_id": user.agent_id, "active": active,
            "time_zone": user.time_zone}


def token_json(t: TokenInfo) -> dict[str, Any]:
    return {"id": t.id, "user_id": t.user_id, "name": t.name, "hint": t.hint + "…",
            "created_at": t.created_at, "last_used_at": t.last_used_at}


def _safe_next(target: str | None) -> str:
    """Only a path on this site: no "//evil.example" or absolute URLs."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


class LoginThrottle:
    """Slows password guessing: after ``limit`` failed sign-ins for one username (or
    ``limit`` x 3 from one address) within ``window_s``, sign-ins there answer 429 until
    the oldest failure ages out. In memory: a restart forgets, several nodes count apart.

    Its memory is bounded: a name is keyed as login reads it (``normalise_username``,
    case-blind), a name longer than any username is not keyed at all (the address
    still counts), failures older than the window are swept, and past ``max_entries``
    keys the one whose last failure is oldest goes first."""

    def __init__(self, limit: int = 10, window_s: float = 900.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window_s, self.max_entries, self._now = limit, window_s, max_entries, clock
        # key -> failure times, oldest first; the keys ordered by their last failure
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        keys = [(f"addr:{address}", self.limit * 3)]
        name = normalise_username(username).lower()
        if len(name) <= USERNAME_MAX:
            keys.append((f"user:{name}", self.limit))
        return keys

    def wait_s(self, username: str, address: str) -> float:
        """Seconds until a sign-in may be tried again; 0: now."""
        now, waits = self._now(), [0.0]
        for key, limit in self._keys(username, address):
            seen = self._failures.get(key)
            recent = [t for t in seen if t >= now - self.window_s] if seen else []
            if len(recent) >= limit:
                waits.append(recent[0] + self.window_s - now)
        return max(waits)

    def failed(self, username: str, address: str) -> None:
        now = self._now()
        for key, limit in self._keys(username, address):
            seen = self._failures.setdefault(key, deque(maxlen=limit))
            seen.append(now)
            self._failures.move_to_end(key)
        self._sweep(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"user:{normalise_username(username).lower()}", None)

    def _sweep(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._failures:
            key, seen = next(iter(self._failures.items()))
            if seen[-1] >= cutoff and len(self._failures) <= self.max_entries:
                break
            del self._failures[key]

    def entries(self) -> int:
        return len(self._failures)

    def keys(self) -> list[str]:
        return list(self._failures)


def _field_error(e: AccountError) -> HTTPException:
    return HTTPException(422, [{"item": e.field, "problem": e.problem}])


def router(accounts: Accounts, audit: AuditLog, pages: Pages, throttle: LoginThrottle | None = None) -> APIRouter:
    r = APIRouter()
    throttle = throttle or LoginThrottle()

    def check_grant(by: User, role: str, permissions: list[str], target: User | None = None) -> None:
        """Nobody hands out more than they hold; only admins touch admins."""
        if by.is_admin:
            return
        if role == "admin" or (target is not None and target.is_admin):
            raise HTTPException(403, "only an administrator can make or change administrators")
        beyond = sorted(set(permissions) - by.permissions)
        if beyond:
            raise HTTPException(403, f"you cannot grant permissions you do not have: {', '.join(beyond)}")
        if target is not None and target.permissions - by.permissions:
            raise HTTPException(403, "this user has permissions you do not have: only an administrator can change them")

    def keep_an_admin(target: User, role: str, active: bool) -> None:
        if target.is_admin and (role != "admin" or not active) and accounts.count_admins() <= 1:
            raise HTTPException(409, "this is the last administrator: make another one first")

    def create(by: User, body: NewUser) -> User:
        check_grant(by, body.role, body.permissions)
        try:
            user = accounts.create_user(body.username, body.password, role=body.role,
                                        permissions=body.permissions, agent_id=body.agent_id or None)
        except AccountError as e:
            raise _field_error(e) from None
        audit.write(by, "user created", f"user:{user.username}",
                    [{"item": "user", "before": None, "after": user_json(user)}])
        return user

    def change(by: User, user_id: int, body: UserChange) -> User:
        target = accounts.user_any(user_id)
        if target is None:
            raise HTTPException(404, "no such user")
        before, was_active = target
        check_grant(by, body.role, body.permissions, before)
        keep_an_admin(before, body.role, body.active)
        try:
            after = accounts.update_user(user_id, role=body.role, permissions=body.permissions,
                                         agent_id=body.agent_id or None, active=body.active, password=body.password)
            if body.time_zone is not None:
                after = accounts.set_time_zone(user_id, body.time_zone or None)
        except AccountError as e:
            raise _field_error(e) from None
        changes = [{"item": k, "before": v, "after": user_json(after, body.active)[k]}
                   for k, v in user_json(before, was_active).items() if user_json(after, body.active)[k] != v]
        if body.password is not None:
            changes.append({"item": "password", "before": "***", "after": "*** (changed)"})
        audit.write(by, "user changed", f"user:{after.username}", changes)
        return after

    def remove(by: User, user_id: int) -> None:
        found = accounts.user_any(user_id)
        if found is None:
            raise HTTPException(404, "no such user")
        target, _ = found
        check_grant(by, target.role, [], target)
        keep_an_admin(target, "", False)
        accounts.delete_user(user_id)
        audit.write(by, "user deleted", f"user:{target.username}",
                    [{"item": "user", "before": user_json(target), "after": None}])

    # ---------------------------------------------------------------- sign in / out
    @r.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request, next: str = "/") -> HTMLResponse:
        empty = not await run_in_threadpool(accounts.has_users)
        return pages.render(request, "login.html", {"page": "login", "next": _safe_next(next), "error": "",
                                                    "no_users": empty})

    @r.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await read_form(request)
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "/")))
        address = request.client.host if request.client else ""
        wait = throttle.wait_s(username, address)
        if wait > 0:
            minutes = math.ceil(wait / 60)
            return pages.render(request, "login.html", {
                "page": "login", "next": target, "username": username,
                "error": f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes > 1 else ''}."},
                status_code=429)
        user = await run_in_threadpool(accounts.authenticate, username, password)
        if user is None:
            throttle.failed(username, address)
            return pages.render(request, "login.html", {"page": "login", "next": target, "username": username,
                                                        "error": "Wrong username or password."}, status_code=401)
        throttle.succeeded(username)
        if target == "/" and user.role == "agent" and user.can("open_channels"):
            target = getattr(request.app.state, "agent_home", "/")  # the workspace, where there is one
        session = await run_in_threadpool(accounts.start_session, user)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, session.key, httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https", max_age=12 * 3600)
        return response

    @r.post("/logout", include_in_schema=False)
    async def logout(request: Request, user: Changing) -> Response:
        key = request.cookies.get(SESSION_COOKIE)
        if key:
            await run_in_threadpool(accounts.end_session, key)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @r.get("/api/me", responses=errors(401), tags=["accounts"], summary="The signed-in user")
    async def me(user: SignedIn) -> dict[str, Any]:
        return user_json(user)

    # ---------------------------------------------------------------- users: API
    @r.get("/api/users", responses=errors(401, 403), tags=["accounts"], summary="Every user")
    def list_users(by: ManageUsers) -> list[dict[str, Any]]:
        return [user_json(u, active) for u, active in accounts.users()]

    @r.post("/api/users", responses=errors(400, 401, 403, 413, 422),
            status_code=201, tags=["accounts"], summary="Create a user")
    def create_user(body: NewUser, by: ManageUsers) -> dict[str, Any]:
        return user_json(create(by, body))

    @r.put("/api/users/{user_id}", responses=errors(400, 401, 403, 404, 409, 413, 422),
           tags=["accounts"], summary="Change a user's role, permissions, agent, password")
    def change_user(user_id: RowId, body: UserChange, by: ManageUsers) -> dict[str, Any]:
        return user_json(change(by, user_id, body), body.active)

    @r.delete("/api/users/{user_id}", responses=errors(401, 403, 404, 409, 422),
              status_code=204, tags=["accounts"], summary="Delete a user")
    def delete_user(user_id: RowId, by: ManageUsers) -> Response:
        remove(by, user_id)
        return Response(status_code=204)

    # ---------------------------------------------------------------- users: pages
    def users_context(by: User, **extra: Any) -> dict[str, Any]:
        return {"page": "users", "users": accounts.users(), "roles": ROLES, "permissions": PERMISSIONS,
                "errors": {}, "form": {}, **extra}

    @r.get("/users", response_class=HTMLResponse, include_in_schema=False)
    def users_page(request: Request, by: ManageUsers) -> HTMLResponse:
        return pages.render(request, "users.html", users_context(by))

    @r.post("/users", include_in_schema=False)
    async def users_form(request: Request, by: ManageUsers) -> Response:
        form = await read_form(request)
        action = str(form.get("action", "create"))
        user_id = 0
        username, role = str(form.get("username", "")).strip(), str(form.get("role", "agent"))
        permissions = [str(p) for p in form.getlist("permissions")]
        agent_id = str(form.get("agent_id", "")).strip() or None
        password = str(form.get("password", ""))
        fields = {"username": username, "role": role, "permissions": permissions, "agent_id": agent_id}
        try:
            if action in ("delete", "update"):
                user_id = row_id(form.get("user_id"), "user_id")
            if action == "delete":
                await run_in_threadpool(remove, by, user_id)
            elif action == "update":
                if password and len(password) < 8:
                    raise HTTPException(422, [{"item": "password", "problem": "at least 8 characters"}])
                body = UserChange(role=role, permissions=permissions, agent_id=agent_id,
                                  active=form.get("active") == "on", password=password or None)
                await run_in_threadpool(change, by, user_id, body)
            else:
                if not username or len(username) > 64:
                    raise HTTPException(422, [{"item": "username", "problem": "required, at most 64 characters"}])
                if len(password) < 8:
                    raise HTTPException(422, [{"item": "password", "problem": "at least 8 characters"}])
                body_new = NewUser(username=username, password=password, role=role, permissions=permissions,
                                   agent_id=agent_id)
                await run_in_threadpool(create, by, body_new)
        except HTTPException as e:
            if e.status_code == 401:
                raise
            errors = ({p["item"]: p["problem"] for p in e.detail} if isinstance(e.detail, list)
                      else {"": str(e.detail)})
            ctx = users_context(by, errors=errors, form={**fields, "user_id": user_id, "action": action})
            return pages.render(request, "users.html", ctx, status_code=e.status_code)
        return RedirectResponse("/users", status_code=303)

    # ---------------------------------------------------------------- tokens
    def visible_tokens(user: User) -> list[TokenInfo]:
        return accounts.tokens(None if user.is_admin else user.id)

    @r.get("/api/tokens", responses=errors(401),
           tags=["accounts"], summary="Your API tokens (an administrator sees all)")
    def list_tokens(user: SignedIn) -> list[dict[str, Any]]:
        return [token_json(t) for t in visible_tokens(user)]

    @r.post("/api/tokens", responses=errors(400, 401, 403, 413, 422), status_code=201, tags=["accounts"],
            summary="A new API token for yourself: its text is shown only in this answer")
    def create_token(body: NewToken, user: Changing) -> dict[str, Any]:
        try:
            token = accounts.create_token(user.id, body.name)
        except AccountError as e:
            raise _field_error(e) from None
        audit.write(user, "token created", f"user:{user.username}", [{"item": "token", "before": None,
                                                                      "after": body.name}])
        info = accounts.tokens(user.id)[-1]
        return {**token_json(info), "token": token}

    @r.delete("/api/tokens/{token_id}", responses=errors(401, 403, 404, 422),
              status_code=204, tags=["accounts"], summary="Revoke an API token")
    def revoke_token(token_id: RowId, user: Changing) -> Response:
        if not accounts.revoke_token(token_id, None if user.is_admin else user.id):
            raise HTTPException(404, "no such token")
        audit.write(user, "token revoked", f"token:{token_id}")
        return Response(status_code=204)

    def account_page(request: Request, user: User, *, new_token: Any = None, errors: dict[str, str] | None = None,
                     status_code: int = 200) -> HTMLResponse:
        """The user's own page: password, time zone, API tokens."""
        return pages.render(request, "tokens.html", {
            "page": "tokens", "tokens": visible_tokens(user), "new_token": new_token, "errors": errors or {},
            "zones": zone_choices(), "site_zone": pages.site_zone().key}, status_code=status_code)

    @r.get("/tokens", response_class=HTMLResponse, include_in_schema=False)
    def tokens_page(request: Request, user: SignedIn) -> HTMLResponse:
        return account_page(request, user)

    @r.post("/tokens", include_in_schema=False)
    async def tokens_form(request: Request, user: Changing) -> Response:
        form = await read_form(request)
        if form.get("action") == "revoke":
            await run_in_threadpool(revoke_token, row_id(form.get("token_id"), "token_id"), user)
            return RedirectResponse("/tokens", status_code=303)
        name = str(form.get("name", "")).strip()[:100]
        made, error = None, "a name is required" if not name else ""
        if name:
            made = await run_in_threadpool(create_token, NewToken(name=name), user)
        status = 201 if made else 422
        return account_page(request, user, new_token=made, errors={"name": error} if error else {},
                            status_code=status)

    # ---------------------------------------------------------------- your own password
    def change_password(user: User, current: str, new: str) -> None:
        if len(new) < 8:
            raise HTTPException(422, [{"item": "new", "problem": "at least 8 characters"}])
        if accounts.authenticate(user.username, current) is None:
            raise HTTPException(422, [{"item": "current", "problem": "not your current password"}])
        found = accounts.user_any(user.id)
        if found is None:
            raise HTTPException(404, "no such user")
        me, active = found
        accounts.update_user(user.id, role=me.role, permissions=me.permissions, agent_id=me.agent_id, active=active,
                             password=new)  # ends every session of this user, this one too
        audit.write(user, "password changed", f"user:{user.username}")

    @r.put("/api/me/password", responses=errors(400, 401, 403, 404, 413, 422), status_code=204, tags=["accounts"],
           summary="Change your own password (every session of yours ends)")
    def change_password_api(body: PasswordChange, user: Changing) -> Response:
        change_password(user, body.current, body.new)
        return Response(status_code=204)

    # ---------------------------------------------------------------- your own time zone
    def change_time_zone(user: User, zone: str) -> User:
        changed = accounts.set_time_zone(user.id, zone or None)
        audit.write(user, "time zone changed", f"user:{user.username}",
                    [{"item": "time_zone", "before": user.time_zone or "", "after": zone}])
        return changed

    @r.put("/api/me/time-zone", responses=errors(400, 401, 403, 413, 422), tags=["accounts"],
           summary="Your own time zone for the pages (an IANA name; empty: the site's)")
    def change_time_zone_api(body: TimeZoneChange, user: Changing) -> dict[str, Any]:
        return user_json(change_time_zone(user, body.time_zone))

    @r.post("/account/time-zone", include_in_schema=False)
    async def change_time_zone_form(request: Request, user: Changing) -> Response:
        form = await read_form(request)
        zone = str(form.get("time_zone", "")).strip()
        if zone and zone_named(zone) is None:
            return account_page(request, user, status_code=422, errors={
                "time_zone": 'Time zone: unknown; choose one from the list, e.g. "Europe/Berlin"'})
        await run_in_threadpool(change_time_zone, user, zone)
        return RedirectResponse("/tokens?saved=1", status_code=303)

    @r.post("/account/password", include_in_schema=False)
    async def change_password_form(request: Request, user: Changing) -> Response:
        form = await read_form(request)
        try:
            await run_in_threadpool(change_password, user, str(form.get("current", "")), str(form.get("new", "")))
        except HTTPException as e:
            if not isinstance(e.detail, list):
                raise
            errors = {f"password.{p['item']}": p["problem"] for p in e.detail}
            return account_page(request, user, errors=errors, status_code=422)
        response = RedirectResponse("/login?next=/tokens", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ---------------------------------------------------------------- audit
    @r.get("/api/audit", responses=errors(401, 403, 422),
           tags=["accounts"], summary="Configuration and account changes, newest first")
    def audit_api(by: ManageUsers, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
        return [vars(e) for e in audit.entries(limit=limit, offset=offset)]

    @r.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(request: Request, by: ManageUsers, offset: Offset = 0) -> HTMLResponse:
        return pages.render(request, "audit.html", {"page": "audit", "entries": audit.entries(offset=offset),
                                                    "offset": offset})

    return r
