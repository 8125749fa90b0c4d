"""One Bitrix24 portal, as every part of acd talks to it.

Bitrix24 counts the requests of one portal from one address in one leaky bucket (2/s
with a burst of 50; 5/s and 250 on Enterprise), answers ``503 QUERY_LIMIT_EXCEEDED``
beyond it, and asks clients not to run parallel series of requests (the REST docs,
settings/performance/limits.md). So every request acd makes to a portal (outbox jobs,
the live call card, look-ups before routing) goes through its one
:class:`Bitrix24Portal`: one request at a time, the live card's first; paced by one
bucket; and one ``QUERY_LIMIT_EXCEEDED`` pauses them all.

What else it does for its callers:

- Auth: an inbound webhook (``https://<portal>/rest/<user>/<token>/``) or a local
  application with OAuth 2.0 (:class:`AppAuth`): the install event's tokens stored
  encrypted (:class:`TokenCipher`) and refreshed before they expire.
- A refusal that is only the rate limit is waited out here (up to ``max_wait_s``), so
  the caller never sees it; beyond that it raises with ``rate_limited`` set.
- ``OPERATION_TIME_LIMIT`` (429): that method waits until ``operating_reset_at`` of its
  last answer. ``OVERLOAD_LIMIT`` (a manual block by Bitrix24's support) and
  ``PORTAL_DELETED`` close the portal for ``overload_pause_s`` (every call in between
  fails at once without a request); ``PORTAL_DELETED`` is not retryable.
- 301/302/307/308 after a portal rename: the same POST goes to the new address, which
  is remembered (in the database when a ``store`` is given).
- Auth problems (``WRONG_AUTH_TYPE``, ``insufficient_scope``, ``INVALID_CREDENTIALS``...)
  are logged once with the fix and shown in :meth:`Bitrix24Portal.status`.

Secrets (the webhook's token, access and refresh tokens, the client secret) never reach
a log, an error or the status: :meth:`Bitrix24Portal.mask`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .connectors import MASK, excerpt, guard_secrets, mask_text
from .models import Bitrix24PortalState

log = logging.getLogger(__name__)

OAUTH_SERVER = "https://oauth.bitrix.info/oauth/token/"
REDIRECTS = (301, 302, 307, 308)
MIN_PAUSE_S, MAX_PAUSE_S = 0.25, 10.0  # after QUERY_LIMIT_EXCEEDED
TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # per phase

# what to do about each auth refusal, in the words of the portal's settings
AUTH_ADVICE = {
    "WRONG_AUTH_TYPE": "this method works only for an application: connect acd as a local application "
                       "(auth = \"app\") instead of an inbound webhook",
    "insufficient_scope": "the webhook or application lacks a permission: give it the scopes crm, telephony and user",
    "INVALID_CREDENTIALS": "the Bitrix24 user behind the webhook or application lacks the rights for this method: "
                           "use an administrator's webhook, or grant that user telephony and CRM rights",
    "NO_AUTH_FOUND": "the portal does not accept the webhook's token or the access token: create the webhook "
                     "again, or reinstall the application",
    "invalid_token": "the portal does not accept the access token: reinstall the application",
    "user_access_error": "the application is limited to some users: give the webhook's or application's user access",
    "ACCESS_DENIED": "the portal's plan has no REST API: REST is available on commercial plans only",
    "invalid_grant": "the refresh token was refused: reinstall the application on the portal",
    "invalid_client": "the client id or secret was refused: check the application's client id and secret",
    "NOT_INSTALLED": "the local application is not installed yet: install it on the portal (its install "
                     "handler is acd's /api/bitrix24/install)",
}
# the portal itself is closed to acd: repeating the request cannot help
PORTAL_ADVICE = {
    "OVERLOAD_LIMIT": "Bitrix24 blocked the portal's REST API for overload: ask Bitrix24's support to lift it",
    "PORTAL_DELETED": "the portal is deleted or its public part closed (on-premise: Settings > Main module > "
                      "Temporary closure of the public part of the site)",
}
RATE_LIMITS = {"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "OVERLOAD_LIMIT", "THROTTLED"}
# answers that say nothing was done or may go better later
TRANSIENT = {"INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER", "TRANSPORT", "UNEXPECTED_ANSWER", "expired_token"}


class Bitrix24Error(Exception):
    """Bitrix24 refused a request, or no answer came (``code`` ``TRANSPORT``: the request
    may or may not have been performed: a lost answer). ``retry_at`` (epoch seconds):
    not before then."""

    def __init__(self, code: str, description: str, status: int | None = None, *,
                 retry_at: float | None = None) -> None:
        super().__init__(f"{code}: {description}" + (f" (HTTP {status})" if status else ""))
        self.code = code
        self.description = description
        self.status = status
        self.retry_at = retry_at

    @property
    def rate_limited(self) -> bool:
        """Only the rate or load limit: nothing was done, and it is no fault of the request."""
        return self.code in RATE_LIMITS

    @property
    def auth_problem(self) -> bool:
        return self.code in AUTH_ADVICE

    @property
    def retryable(self) -> bool:
        if self.rate_limited or self.code in TRANSIENT:
            return True
        if self.auth_problem or self.code in PORTAL_ADVICE:
            return False
        return self.status is not None and (self.status in (408, 429) or self.status >= 500)

    @property
    def advice(self) -> str:
        return AUTH_ADVICE.get(self.code) or PORTAL_ADVICE.get(self.code, "")


@dataclass(frozen=True, slots=True)
class WebhookAuth:
    """An inbound webhook: ``https://<portal>/rest/<user_id>/<token>/``."""

    url: str

    def __repr__(self) -> str:
        return "WebhookAuth(****)"


@dataclass(frozen=True, slots=True)
class AppAuth:
    """A local application (OAuth 2.0). ``portal_url``: ``https://<portal>`` (its REST
    endpoint is ``/rest/``); the tokens come with the install event."""

    portal_url: str
    client_id: str
    client_secret: str
    oauth_url: str = OAUTH_SERVER
    member_id: str = ""  # if set, an install event must come from this portal

    def __repr__(self) -> str:
        return f"AppAuth(portal_url={self.portal_url!r}, client_id=****)"


@dataclass(frozen=True, slots=True)
class Tokens:
    access: str
    refresh: str
    expires_at: float  # epoch seconds
    member_id: str = ""


class TokenCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) with a key from the environment, for the
    tokens at rest: a copy of the database alone does not open the portal."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise ValueError("the token key must be a Fernet key (32 url-safe base64 bytes; "
                             "make one with: python -c 'from cryptography.fernet import Fernet; "
                             "print(Fernet.generate_key().decode())')") from None

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("a stored Bitrix24 token does not open with this key (was the key changed?)") from None


class PortalStore:
    """The portal's row in ``crm_bitrix24_portals`` (synchronous: call it in a thread)."""

    def __init__(self, engine: Engine, name: str, cipher: TokenCipher | None = None) -> None:
        self.engine = engine
        self.name = name
        self.cipher = cipher

    def load(self) -> tuple[str | None, Tokens | None]:
        with Session(self.engine) as session:
            row = session.get(Bitrix24PortalState, self.name)
            if row is None:
                return None, None
            tokens = None
            if self.cipher is not None and row.access_token and row.refresh_token:
                tokens = Tokens(self.cipher.open(row.access_token), self.cipher.open(row.refresh_token),
                                row.expires_at or 0.0, row.member_id or "")
            return row.origin, tokens

    def save_origin(self, origin: str) -> None:
        self._update(origin=origin)

    def save_tokens(self, tokens: Tokens) -> None:
        if self.cipher is None:
            raise ValueError("no token key: tokens are never stored unencrypted")
        self._update(access_token=self.cipher.seal(tokens.access), refresh_token=self.cipher.seal(tokens.refresh),
                     expires_at=tokens.expires_at, member_id=tokens.member_id or None)

    def _update(self, **fields: Any) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(Bitrix24PortalState, self.name)
            if row is None:
                row = Bitrix24PortalState(name=self.name, updated_at=time.time())
                session.add(row)
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = time.time()


def flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """PHP-style form fields: {"fields": {"PHONE": [{"VALUE": 1}]}} -> fields[PHONE][0][VALUE]=1."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            pairs += flatten(value, name)
        elif isinstance(value, list | tuple):
            pairs += flatten({str(i): v for i, v in enumerate(value)}, name)
        elif value is not None:
            pairs.append((name, "Y" if value is True else "N" if value is False else str(value)))
    return pairs


class LeakyBucket:
    """The portal's own bucket, kept on our side: ``level`` rises by one per request and
    drains at ``rate`` per second; a request waits while it would pass ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        # a tenth of the burst kept in hand: the portal's clock starts when a request
        # arrives, ours when it leaves, and the first requests' latency differs
        self.rate, self.burst, self.clock = rate, max(1, burst - math.ceil(burst / 10)), clock
        self.level = 0.0
        self._at = clock()

    def wait_s(self) -> float:
        """How long until one more request fits."""
        self._drain()
        return max(0.0, (self.level + 1 - self.burst) / self.rate)

    def take(self) -> None:
        self._drain()
        self.level += 1

    def fill(self) -> None:
        """The portal said its bucket is full: ours is too."""
        self._drain()
        self.level = max(self.level, float(self.burst))

    def _drain(self) -> None:
        now = self.clock()
        self.level = max(0.0, self.level - (now - self._at) * self.rate)
        self._at = now


class _Turns:
    """One request in flight at a time; waiting requests go by priority (0 first), then
    in arrival order."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int) -> None:
        if not self._busy and not self._waiting:
            self._busy = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # it was our turn: pass it on
                self.release()
            raise

    def release(self) -> None:
        self._next()

    def _next(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
                return
        self._busy = False


LIVE = 0  # the call card: an agent's screen waits for it
BACKGROUND = 1  # outbox jobs, look-ups


class Bitrix24Portal:
    def __init__(
        self,
        name: str,
        auth: WebhookAuth | AppAuth,
        *,
        rate: float = 2.0,
        burst: int = 50,
        store: PortalStore | None = None,
        max_wait_s: float = 20.0,
        overload_pause_s: float = 900.0,
        refresh_margin_s: float = 300.0,
        timeout: httpx.Timeout = TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.auth = auth
        self.store = store
        self.max_wait_s = max_wait_s
        self.overload_pause_s = overload_pause_s
        self.refresh_margin_s = refresh_margin_s
        self.timeout = timeout
        self.clock, self.now, self.sleep = clock, now, sleep
        self.bucket = LeakyBucket(rate, burst, clock)
        self.requests = 0  # HTTP requests sent (for tests and the status)
        self._turns = _Turns()
        self._refusals = 0  # QUERY_LIMIT_EXCEEDED in a row
        self._closed: tuple[Bitrix24Error, float] | None = None  # OVERLOAD_LIMIT, PORTAL_DELETED: until clock()
        self._paused_until = 0.0  # clock(): everyone waits (QUERY_LIMIT_EXCEEDED, OVERLOAD_LIMIT)
        self._method_blocked: dict[str, float] = {}  # method -> clock() (OPERATION_TIME_LIMIT)
        self._reset_at: dict[str, float] = {}  # method -> operating_reset_at of its last answer
        self._problems: dict[str, Bitrix24Error] = {}  # method -> the auth/portal refusal it got last
        self._tokens: Tokens | None = None
        self._loaded = store is None
        self._refreshing: asyncio.Lock | None = None
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None
        self._secrets: dict[str, str] = {}
        if isinstance(auth, WebhookAuth):
            parts = urlsplit(auth.url.strip())
            path = [p for p in parts.path.split("/") if p]
            if parts.scheme not in ("http", "https") or len(path) != 3 or path[0] != "rest" or not path[1].isdigit():
                raise ValueError(f"Bitrix24 {name!r}: the webhook URL must look like "
                                 "https://<portal>/rest/<user_id>/<token>/")
            self._origin = f"{parts.scheme}://{parts.netloc}"
            self._path = f"/rest/{path[1]}/{path[2]}/"
            self._masked_path = f"/rest/{path[1]}/{MASK}/"
            self._secret(path[2])
        else:
            parts = urlsplit(auth.portal_url.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"Bitrix24 {name!r}: the portal URL must look like https://<portal>")
            if not auth.client_id or not auth.client_secret:
                raise ValueError(f"Bitrix24 {name!r}: the application needs its client id and secret")
            self._origin = f"{parts.scheme}://{parts.netloc}"
            self._path = self._masked_path = "/rest/"
            self._secret(auth.client_secret)
            self._secret(auth.client_id)

    # -- the interface ------------------------------------------------------------------

    async def call(self, method: str, params: Mapping[str, Any] | None = None, *, live: bool = False) -> Any:
        """One method; its ``result``. ``live``: an agent waits for it (the call card),
        so it goes before the background's requests."""
        body = await self._request(method, params or {}, LIVE if live else BACKGROUND)
        return body["result"]

    async def batch(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], *, halt: bool = False,
                    live: bool = False) -> dict[str, Any]:
        """Up to 50 methods in one request (one step of the rate limit). A command may use an
        earlier one's result: ``{"CALL_ID": "$result[register][CALL_ID]"}``. Returns each
        command's result, or its :class:`Bitrix24Error` (an instance, not raised); a
        command not run (after ``halt``) is missing."""
        if not 0 < len(commands) <= 50:
            raise ValueError("a batch holds 1 to 50 commands")
        cmd = {key: f"{method}?{urlencode(flatten(params))}" for key, (method, params) in commands.items()}
        body = await self._request("batch", {"halt": 1 if halt else 0, "cmd": cmd}, LIVE if live else BACKGROUND)
        outer = body["result"] if isinstance(body.get("result"), Mapping) else {}
        results = outer.get("result") or {}
        errors = outer.get("result_error") or {}
        answer: dict[str, Any] = {}
        for key, (method, _) in commands.items():
            if isinstance(errors, Mapping) and key in errors:
                error = errors[key] if isinstance(errors[key], Mapping) else {}
                failure = Bitrix24Error(str(error.get("error", "ERROR")), str(error.get("error_description", "")))
                self._note_problem(method, failure)
                answer[key] = failure
            elif isinstance(results, Mapping) and key in results:
                self._problems.pop(method, None)
                answer[key] = results[key]
        return answer

    def status(self) -> dict[str, Any]:
        """For the pages and the API: where the portal is, how acd signs in, and what is
        wrong with it, with the fix (never a secret)."""
        problems = [{"method": method, "code": error.code, "description": self.mask(error.description),
                     "fix": error.advice} for method, error in sorted(self._problems.items())]
        return {"name": self.name, "portal": self.mask(self._origin + self._path),
                "auth": "webhook" if isinstance(self.auth, WebhookAuth) else "app",
                "installed": None if isinstance(self.auth, WebhookAuth) else self._tokens is not None,
                "state": "problem" if problems else "ok", "problems": problems, "requests": self.requests}

    def mask(self, text: str) -> str:
        return mask_text(text, self._secrets)

    def __repr__(self) -> str:
        return f"Bitrix24Portal(name={self.name!r}, portal={self.mask(self._origin + self._path)!r})"

    __str__ = __repr__

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- the local application --------------------------------------------------------

    async def install(self, event: Mapping[str, str]) -> None:
        """The ONAPPINSTALL event (form fields ``auth[access_token]``...): tried on the
        configured portal (never the address the event names), then stored encrypted."""
        if not isinstance(self.auth, AppAuth):
            raise ValueError("this portal is connected by webhook, not as an application")
        access, refresh = event.get("auth[access_token]", ""), event.get("auth[refresh_token]", "")
        member = event.get("auth[member_id]", "")
        if not access or not refresh:
            raise ValueError("the install event carries no tokens")
        if self.auth.member_id and member != self.auth.member_id:
            raise ValueError("the install event comes from another portal (member_id)")
        try:
            expires_in = float(event.get("auth[expires_in]") or 3600)
        except ValueError:
            expires_in = 3600.0
        candidate = Tokens(access, refresh, self.now() + expires_in, member)
        self._secret(access)
        self._secret(refresh)
        await self._ensure_loaded()
        previous, self._tokens = self._tokens, candidate
        try:
            await self.call("app.info")
        except Bitrix24Error:
            self._tokens = previous
            raise
        await self._save_tokens(self._tokens)  # the candidate, or what it was refreshed into
        log.info("bitrix24.installed", extra={"portal": self.name})

    async def _access_token(self) -> str:
        await self._ensure_loaded()
        if self._tokens is None:
            raise Bitrix24Error("NOT_INSTALLED", "no access token yet")
        if self._tokens.expires_at - self.now() < self.refresh_margin_s:
            await self._refresh(self._tokens)
        assert self._tokens is not None
        return self._tokens.access

    async def _refresh(self, stale: Tokens) -> None:
        """New tokens from the OAuth server, once however many requests noticed."""
        assert isinstance(self.auth, AppAuth)
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:
            if self._tokens is not stale:  # another request refreshed meanwhile
                return
            try:
                response = await self._client().get(self.auth.oauth_url, params={
                    "grant_type": "refresh_token", "client_id": self.auth.client_id,
                    "client_secret": self.auth.client_secret, "refresh_token": stale.refresh})
            except httpx.TransportError as exc:
                raise Bitrix24Error("TRANSPORT", f"token refresh: {type(exc).__name__}") from None
            body = _json(response)
            if response.status_code != 200 or not body.get("access_token") or not body.get("refresh_token"):
                error = Bitrix24Error(str(body.get("error") or f"HTTP_{response.status_code}"),
                                      str(body.get("error_description") or "token refresh refused"),
                                      response.status_code)
                self._note_problem("oauth.token", error)
                raise error
            tokens = Tokens(str(body["access_token"]), str(body["refresh_token"]),
                            self.now() + float(body.get("expires_in") or 3600), str(body.get("member_id") or ""))
            self._secret(tokens.access)
            self._secret(tokens.refresh)
            await self._save_tokens(tokens)
            self._tokens = tokens
            self._problems.pop("oauth.token", None)
            log.info("bitrix24.token_refreshed", extra={"portal": self.name})

    async def _save_tokens(self, tokens: Tokens) -> None:
        if self.store is not None:
            await asyncio.to_thread(self.store.save_tokens, tokens)

    async def _ensure_loaded(self) -> None:
        if self._loaded or self.store is None:
            return
        origin, tokens = await asyncio.to_thread(self.store.load)
        self._loaded = True
        if origin:
            self._origin = origin
        if tokens is not None and self._tokens is None:
            self._tokens = tokens
            self._secret(tokens.access)
            self._secret(tokens.refresh)

    # -- one request -------------------------------------------------------------------

    async def _request(self, method: str, params: Mapping[str, Any], priority: int) -> dict[str, Any]:
        await self._ensure_loaded()
        give_up = self.clock() + self.max_wait_s
        refreshed = False
        while True:
            try:
                return await self._attempt(method, params, priority, give_up)
            except Bitrix24Error as error:
                if error.code == "QUERY_LIMIT_EXCEEDED" and self.clock() < give_up:
                    continue  # the shared pause is set; nothing was done: go again
                if error.code in ("expired_token", "invalid_token") and not refreshed and self._tokens is not None:
                    refreshed = True
                    await self._refresh(self._tokens)
                    continue
                self._note_problem(method, error)
                raise

    async def _attempt(self, method: str, params: Mapping[str, Any], priority: int, give_up: float) -> dict[str, Any]:
        if self._closed is not None and self.clock() < self._closed[1]:
            closed = self._closed[0]
            raise Bitrix24Error(closed.code, closed.description, closed.status, retry_at=closed.retry_at)
        try:
            async with asyncio.timeout(max(give_up - self.clock(), 0.0)):
                await self._turns.acquire(priority)
        except TimeoutError:
            raise Bitrix24Error("THROTTLED", f"{method}: no turn within the portal's rate limit "
                                f"within {self.max_wait_s:g}s", retry_at=self.now() + 1.0) from None
        try:  # a request once sent is never cut short by the wait's deadline (its answer would be lost)
            await self._wait_for_room(method, give_up)
            body = await self._send(method, params)
        finally:
            self._turns.release()
        self._problems.pop(method, None)
        self._refusals = 0
        return body

    async def _wait_for_room(self, method: str, give_up: float) -> None:
        while True:
            now = self.clock()
            blocked = self._method_blocked.get(method, 0.0)
            wait = max(self._paused_until - now, blocked - now, self.bucket.wait_s())
            if wait <= 0:
                self.bucket.take()
                return
            if now + wait > give_up:
                retry_at = self.now() + wait
                raise Bitrix24Error("OPERATION_TIME_LIMIT" if blocked > now else "THROTTLED",
                                    f"{method}: the portal's limit lets it go in {wait:.1f}s", retry_at=retry_at)
            await self.sleep(wait)

    async def _send(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        fields = flatten(params)
        if isinstance(self.auth, AppAuth):
            fields.append(("auth", await self._access_token()))
        content = urlencode(fields).encode()
        suffix = f"{method}.json"
        url = self._origin + self._path + suffix
        for _ in range(4):
            self.requests += 1
            try:
                response = await self._client().post(url, content=content, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "acd"})
            except httpx.TransportError as exc:
                raise Bitrix24Error("TRANSPORT", f"{method}: {type(exc).__name__}: {self.mask(str(exc))}") from None
            location = response.headers.get("location", "")
            if response.status_code in REDIRECTS and location:
                url = await self._moved(url, location, suffix)
                continue
            return self._answer(method, response)
        raise Bitrix24Error("TOO_MANY_REDIRECTS", f"{method}: the portal redirected four times", 310)

    async def _moved(self, url: str, location: str, suffix: str) -> str:
        """The portal was renamed: the new origin (scheme://host) stands from now on."""
        target = httpx.URL(url).join(location)
        if target.scheme not in ("http", "https") or not target.host:
            raise Bitrix24Error("BAD_REDIRECT", "the portal redirected to something that is not http(s)", 310)
        origin = f"{target.scheme}://{target.netloc.decode()}"
        if origin != self._origin:
            log.warning("bitrix24.portal_moved", extra={"portal": self.name, "from": self._origin, "to": origin})
            self._origin = origin
            if self.store is not None:
                await asyncio.to_thread(self.store.save_origin, origin)
        if str(target).endswith(suffix) and self._path in target.path:
            return str(target)
        return self._origin + self._path + suffix

    def _answer(self, method: str, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        body = _json(response)
        timing = body.get("time")
        if isinstance(timing, Mapping) and isinstance(timing.get("operating_reset_at"), int | float):
            self._reset_at[method] = float(timing["operating_reset_at"])
        if 200 <= status < 300 and "result" in body and "error" not in body:
            return body
        code = str(body.get("error") or ("UNEXPECTED_ANSWER" if 200 <= status < 300 else f"HTTP_{status}"))
        description = self.mask(str(body.get("error_description") or excerpt(response)))
        error = Bitrix24Error(code, description, status)
        now = self.clock()
        if code == "QUERY_LIMIT_EXCEEDED":
            # one pause for everyone, longer with each refusal in a row (another application on
            # the same address spends the bucket too, so our own count cannot be trusted)
            self._refusals += 1
            pause = min(MAX_PAUSE_S, max(1.0 / self.bucket.rate, MIN_PAUSE_S) * 2 ** (self._refusals - 1))
            self.bucket.fill()
            self._paused_until = max(self._paused_until, now + pause)
            log.info("bitrix24.query_limit", extra={"portal": self.name, "method": method})
        elif code == "OPERATION_TIME_LIMIT":
            reset = self._reset_at.get(method, 0.0)
            wait = reset - self.now() if reset > self.now() else 60.0
            self._method_blocked[method] = now + wait
            error.retry_at = self.now() + wait
            log.warning("bitrix24.operation_time_limit", extra={"portal": self.name, "method": method,
                                                                "wait_s": round(wait, 1)})
        elif code in PORTAL_ADVICE:  # closed to everyone: ask again only after a long pause
            self._closed = (error, now + self.overload_pause_s)
            error.retry_at = self.now() + self.overload_pause_s
        raise error

    def _note_problem(self, method: str, error: Bitrix24Error) -> None:
        if not (error.auth_problem or error.code in PORTAL_ADVICE):
            return
        known = self._problems.get(method)
        self._problems[method] = error
        if known is None or known.code != error.code:  # once, not per request
            log.error("bitrix24.refused", extra={"portal": self.name, "method": method, "code": error.code,
                                                 "reason": self.mask(error.description), "fix": error.advice})

    def _secret(self, value: str) -> None:
        if value:
            self._secrets[value] = MASK
            guard_secrets({value: MASK})

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:  # a client's connections belong to one loop
            self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
            self._http_loop = loop
        return self._http


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}
