"""Who is asking, and may they: the contract every router of the web app relies on.

    from acd.web.security import User, current_user, require

    @router.get("/api/things")
    async def things(user: Annotated[User, Depends(current_user)]) -> ...   # any signed-in user, else 401

    @router.post("/api/things")
    async def change(user: Annotated[User, Depends(require("open_channels"))]) -> ...  # 403 without it

A request is signed in by the session cookie a browser gets at ``/login`` or by
``Authorization: Bearer <token>`` (API tokens, made on the Users page or with
``Accounts.create_token``). Roles follow Bitrix24: an ``admin`` can do everything; a
``supervisor`` has the per-area permissions given to them; an ``agent`` sees only
their own calls and conversations (``user.agent_id``) unless given permissions too.

CSRF: a cookie-signed-in request with an unsafe method (POST, PUT, PATCH, DELETE)
passing through ``require`` must carry the session's token, in the ``X-CSRF-Token``
header or a ``csrf_token`` form field (pages put it in every form, and in
``<meta name="csrf-token">`` for scripts). Bearer requests need none: a browser never
adds that header by itself.

The accounts live on ``app.state.accounts`` (an ``acd.web.accounts.Accounts``);
``create_app`` puts them there, a bare test app calls ``use_accounts(app, accounts)``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .limits import read_form

if TYPE_CHECKING:
    from ..config import ServiceSettings
    from .accounts import Accounts

PERMISSIONS: tuple[str, ...] = ("telephony", "agents", "open_channels", "email", "crm_forms", "crm", "users")
ROLES: tuple[str, ...] = ("admin", "supervisor", "agent")

SESSION_COOKIE = "acd_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str  # "admin" | "supervisor" | "agent"
    permissions: frozenset[str]
    agent_id: str | None  # the agent this user is on the phones, if any
    time_zone: str | None = None  # pages show times in it; None: the site's ([service] time_zone)

    def can(self, permission: str) -> bool:
        """An admin can everything; anyone else what they were given."""
        return self.role == "admin" or permission in self.permissions

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def use_accounts(app: FastAPI, accounts: Accounts) -> None:
    """Where ``current_user`` looks users up (create_app does this)."""
    app.state.accounts = accounts


def accounts_of(request: Request) -> Accounts:
    accounts: Accounts | None = getattr(request.app.state, "accounts", None)
    if accounts is None:
        raise RuntimeError("no accounts on app.state: call acd.web.security.use_accounts(app, accounts)")
    return accounts


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


# declares the Bearer scheme in the OpenAPI document (/docs gets an "Authorize" button);
# the header itself is read below, where a session cookie is the other way in
_bearer_scheme = HTTPBearer(auto_error=False, description="An API token from the API tokens page")


async def current_user(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer_scheme)] = None,
) -> User:
    """FastAPI dependency: the signed-in user (session cookie or Bearer token); 401 otherwise.

    Also sets ``request.state.user``, ``request.state.auth`` ("cookie" | "token") and, for
    cookie sessions, ``request.state.csrf`` (the token forms must send back)."""
    cached: User | None = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    accounts = accounts_of(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("use 'Authorization: Bearer <token>'")
        user = accounts.cached_token_user(token.strip()) or await accounts.check_token(token.strip())
        if user is None:
            raise _unauthorized("unknown or revoked token")
        request.state.user, request.state.auth = user, "token"
        return user
    key = request.cookies.get(SESSION_COOKIE)
    found = await run_in_threadpool(accounts.session_user, key) if key else None
    if found is None:
        raise _unauthorized("not signed in")
    user, csrf = found
    request.state.user, request.state.auth, request.state.csrf = user, "cookie", csrf
    return user


async def check_csrf(request: Request) -> None:
    """403 unless a cookie-signed-in unsafe request carries its session's CSRF token."""
    if request.method in _SAFE_METHODS or getattr(request.state, "auth", None) != "cookie":
        return
    expected: str = request.state.csrf
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await read_form(request)).get(CSRF_FIELD)  # Starlette keeps the parsed form for the endpoint
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def require(permission: str | None) -> Callable[..., Awaitable[User]]:
    """Dependency factory: the signed-in user if they have ``permission`` (None: any
    signed-in user), 403 otherwise; CSRF checked for cookie-authenticated unsafe methods."""

    async def dependency(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
        if permission is not None and not user.can(permission):
            raise HTTPException(403, f"needs the {permission!r} permission")
        await check_csrf(request)
        return user

    dependency.__name__ = f"require_{permission or 'user'}"
    return dependency


def forwarded_headers(service: ServiceSettings) -> dict[str, Any]:
    """uvicorn's options for ``X-Forwarded-For``/``-Proto``: believed only from the
    configured proxies. uvicorn's own default trusts them from loopback, so anyone on
    the machine (or a local proxy passing them through) could pick their address."""
    if not service.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(service.trusted_proxies)}


# ``user: SignedIn`` in an endpoint's signature: any signed-in user (reads, no CSRF check)
SignedIn = Annotated[User, Depends(current_user)]
