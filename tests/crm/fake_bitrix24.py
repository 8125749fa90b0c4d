"""A stateful fake Bitrix24 portal: a real HTTP server on 127.0.0.1 the tests start,
enforcing what Bitrix24's REST documentation (bitrix24/b24restdocs) says:

- auth: an inbound webhook (``/rest/<user>/<token>/<method>``) or an application's
  access token (``/rest/<method>`` with ``auth=``), each with its scopes;
  ``insufficient_scope`` (403), ``NO_AUTH_FOUND`` (401), ``expired_token`` (401);
  with ``telephony_app_only`` the telephony.externalCall.* methods answer a webhook
  ``WRONG_AUTH_TYPE`` (the current docs: "works only in the context of an application").
  The OAuth server's ``/oauth/token/`` (``grant_type=refresh_token``) is served too.
- the leaky bucket (settings/performance/limits.md): each HTTP request (a batch is one)
  adds one, ``rate`` drain per second, beyond ``burst`` -> ``503 QUERY_LIMIT_EXCEEDED``.
- telephony.externalCall.register / finish / show / hide / attachRecord with their
  required parameters and value ranges; ``finish`` deletes the call (a second finish:
  ``ERROR_CORE`` "Call is not found"); a register repeating an unfinished call's
  PHONE_NUMBER, TYPE, USER_ID, LINE_NUMBER and EXTERNAL_CALL_ID returns its CALL_ID
  only within 30 minutes of that call's CALL_START_DATE, else registers a second call.
  voximplant.statistic.get finds finished calls by EXTERNAL_CALL_ID.
- ``batch`` (up to 50 commands, ``$result[key][FIELD]`` references, ``halt``).
- a portal rename: requests to the old address get ``301`` to the new one.
- unknown methods: ``404 ERROR_METHOD_NOT_FOUND``.
- ``lose_answer(method)``: perform the request, then drop the connection unanswered.

CRM methods go to ``crm`` (``methods() -> {name: handler(params, auth)}``, the CRM
helper's ``FakeCrm`` in tests/crm/fake_bitrix24_crm.py); until that exists, a minimal
stand-in with the same hook. A handler refuses by raising an exception with ``status``,
``error`` and ``description`` (``ApiError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .crm_server import free_port

WINDOW_S = 30 * 60  # the re-registration window
SCOPES = ("crm", "telephony", "user")
_TELEPHONY = {"telephony.externalcall.register", "telephony.externalcall.finish", "telephony.externalcall.show",
              "telephony.externalcall.hide", "telephony.externalcall.attachrecord"}


class ApiError(Exception):
    """Bitrix24's error answer: HTTP ``status`` with ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status, self.error, self.description = status, error, description


@dataclass(frozen=True)
class Auth:
    kind: str  # "webhook" | "app"
    user_id: int
    scopes: frozenset[str]


@dataclass
class AppToken:
    user_id: int
    scopes: frozenset[str]
    expires_at: float


@dataclass
class FakeCall:
    call_id: str
    user_id: int
    phone: str
    type: int
    line: str
    external_id: str
    start: float  # CALL_START_DATE, epoch seconds
    registered_at: float
    crm: tuple[str, int] | None = None


@dataclass
class Finished:
    call: FakeCall
    user_id: int
    duration: int
    status_code: str
    record: str = ""


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style form fields back to nested values: a[b][0]=1 -> {"a": {"b": [1]}}."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        head, *rest = re.findall(r"^[^\[]+|(?<=\[)[^\]]*(?=\])", name)
        node, keys = root, [head, *rest]
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[keys[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


class MinimalCrm:
    """A stand-in for the CRM helper's FakeCrm: the few methods the telephony tests need."""

    def __init__(self) -> None:
        self.users = {1, 11, 12, 13, 14}
        self.leads: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(501)

    def methods(self) -> dict[str, Callable[[dict[str, Any], Any], Any]]:
        return {"crm.duplicate.findbycomm": lambda params, auth: [],
                "crm.lead.add": self._lead_add,
                "user.get": lambda params, auth: [{"ID": str(u), "ACTIVE": True} for u in sorted(self.users)]}

    def _lead_add(self, params: dict[str, Any], auth: Any) -> int:
        lead_id = next(self._ids)
        self.leads[lead_id] = dict(params.get("fields") or {})
        return lead_id


def _default_crm() -> Any:
    try:
        from .fake_bitrix24_crm import FakeCrm  # the CRM helper's, once merged
    except ImportError:
        return MinimalCrm()
    return FakeCrm()


class FakeBitrix24:
    def __init__(self, *, rate: float = 2.0, burst: int = 50, crm: Any = None,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], float] = time.time,
                 telephony_app_only: bool = False) -> None:
        self.port = free_port()
        self.rate, self.burst, self.clock, self.now = rate, burst, clock, now
        self.telephony_app_only = telephony_app_only
        self.crm = crm if crm is not None else _default_crm()
        self.users: set[int] = {1, 11, 12, 13, 14}
        self.webhooks: dict[str, tuple[int, frozenset[str]]] = {}
        self.tokens: dict[str, AppToken] = {}
        self.refresh_tokens: dict[str, tuple[int, frozenset[str]]] = {}
        self.client_id, self.client_secret = "local.abc123", "app-SECRET-9"
        self.token_ttl_s = 3600.0
        self.calls: dict[str, FakeCall] = {}  # registered, not finished
        self.registered: list[FakeCall] = []  # every register that made a new call
        self.finished: list[Finished] = []
        self.cards: dict[str, set[int]] = {}  # CALL_ID -> users seeing its card now
        self.card_log: list[tuple[str, str, tuple[int, ...]]] = []  # (show|hide, CALL_ID, users)
        self.log: list[tuple[str, int]] = []  # (method, HTTP status) of every request
        self.refused = 0  # 503 QUERY_LIMIT_EXCEEDED answers
        self.activity_error = False  # finish answers 200 with ERRORS.ACTIVITY_CREATION
        self.operation_limit: dict[str, float] = {}  # method -> now() until which it answers 429
        self.answer_error: dict[str, tuple[int, str]] = {}  # method -> (status, code) it answers instead
        self._lose: dict[str, int] = {}
        self._level = 0.0
        self._at = clock()
        self._ids = itertools.count(1)
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()

    # -- set-up ---------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def webhook(self, token: str = "wh00kTOKEN42", user_id: int = 1, scopes: tuple[str, ...] = SCOPES) -> str:
        self.webhooks[token] = (user_id, frozenset(scopes))
        return f"{self.origin}/rest/{user_id}/{token}/"

    def app_tokens(self, user_id: int = 1, scopes: tuple[str, ...] = SCOPES, expires_in: float | None = None
                   ) -> tuple[str, str]:
        """A fresh access/refresh pair, as the install event brings it."""
        n = next(self._ids)
        access, refresh = f"acc{n}ACCESS{n * 7919}", f"ref{n}REFRESH{n * 104729}"
        self.tokens[access] = AppToken(user_id, frozenset(scopes), self.now() + (expires_in or self.token_ttl_s))
        self.refresh_tokens[refresh] = (user_id, frozenset(scopes))
        return access, refresh

    async def rename(self) -> None:
        """The portal gets a new address (here: a new port); the old one answers 301 to it."""
        self.port = free_port()
        self._servers.append(await asyncio.start_server(self._serve, "127.0.0.1", self.port))

    def lose_answer(self, method: str, times: int = 1) -> None:
        self._lose[method.lower()] = self._lose.get(method.lower(), 0) + times

    def requests(self, method: str | None = None) -> int:
        return sum(1 for m, _ in self.log if method is None or m == method.lower())

    async def start(self) -> FakeBitrix24:
        self._servers.append(await asyncio.start_server(self._serve, "127.0.0.1", self.port))
        return self

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []

    async def __aenter__(self) -> FakeBitrix24:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- HTTP -----------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                _, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                port = writer.get_extra_info("sockname")[1]
                status, answer, extra, lost = self._handle(port, target, headers, body)
                if lost:
                    return  # performed, never answered
                raw = json.dumps(answer).encode()
                head_out = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(raw)}"
                             f"\r\n{head_out}\r\n".encode() + raw)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def _handle(self, port: int, target: str, headers: dict[str, str], body: bytes
                ) -> tuple[int, Any, dict[str, str], bool]:
        parts = urlsplit(target)
        if port != self.port:  # the old name, after a rename
            self.log.append(("redirect", 301))
            return 301, {}, {"Location": f"{self.origin}{target}"}, False
        if parts.path.rstrip("/") == "/oauth/token":
            return (*self._oauth(dict(parse_qsl(parts.query))), {}, False)
        if headers.get("content-type", "").startswith("application/json"):
            params = json.loads(body or b"{}")
        else:
            params = unflatten(parse_qsl(body.decode(), keep_blank_values=True))
        path = [p for p in parts.path.split("/") if p]
        method = ""
        try:
            if len(path) == 4 and path[0] == "rest":
                method = _method(path[3])
                hook = self.webhooks.get(path[2])
                if hook is None or str(hook[0]) != path[1]:
                    raise ApiError(401, "NO_AUTH_FOUND", "Wrong authorization data")
                auth = Auth("webhook", hook[0], hook[1])
            elif len(path) == 2 and path[0] == "rest":
                method = _method(path[1])
                auth = self._app_auth(str(params.pop("auth", "")))
            else:
                raise ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
            if not self._room():
                self.refused += 1
                raise ApiError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
            if method in self.answer_error:
                raise ApiError(*self.answer_error[method], "as the test asked")
            if self.operation_limit.get(method, 0.0) > self.now():
                raise ApiError(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")
            if method == "batch":
                result = self._batch(params, auth)
            else:
                result = self._run(method, params, auth)
            reset = self.operation_limit.get(method, self.now() + 600)
            status, answer = 200, {"result": result, "time": {"start": self.now(), "operating_reset_at": reset}}
        except ApiError as error:
            status, answer = error.status, {"error": error.error, "error_description": error.description}
        self.log.append((method, status))
        lost = False
        for name in {method, *self._batched_methods(method, params)}:
            if self._lose.get(name):
                self._lose[name] -= 1
                lost = True
        return status, answer, {}, lost

    def _app_auth(self, token: str) -> Auth:
        app = self.tokens.get(token)
        if app is None:
            raise ApiError(401, "NO_AUTH_FOUND", "Wrong authorization data")
        if app.expires_at <= self.now():
            raise ApiError(401, "expired_token", "The access token provided has expired.")
        return Auth("app", app.user_id, app.scopes)

    def _oauth(self, query: dict[str, str]) -> tuple[int, Any]:
        if query.get("client_id") != self.client_id or query.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}
        grant = self.refresh_tokens.pop(query.get("refresh_token", ""), None)
        if query.get("grant_type") != "refresh_token" or grant is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
        access, refresh = self.app_tokens(*grant)
        return 200, {"access_token": access, "refresh_token": refresh, "expires_in": int(self.token_ttl_s),
                     "client_endpoint": f"{self.origin}/rest/", "member_id": "fake-member"}

    def _room(self) -> bool:
        now = self.clock()
        self._level = max(0.0, self._level - (now - self._at) * self.rate)
        self._at = now
        if self._level + 1 > self.burst:
            return False
        self._level += 1
        return True

    def _batched_methods(self, method: str, params: dict[str, Any]) -> list[str]:
        if method != "batch" or not isinstance(params.get("cmd"), dict):
            return []
        return [_method(str(c).split("?", 1)[0]) for c in params["cmd"].values()]

    def _batch(self, params: dict[str, Any], auth: Auth) -> dict[str, Any]:
        commands = params.get("cmd")
        if not isinstance(commands, dict) or not commands:
            raise ApiError(400, "INVALID_REQUEST", "cmd is required")
        halt = str(params.get("halt", "0")) in ("1", "true", "Y")
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for n, (key, command) in enumerate(commands.items()):
            if n >= 50:
                errors[key] = {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}
                continue
            name, _, query = str(command).partition("?")
            method = _method(name)
            sub = unflatten([(k, _refer(v, results)) for k, v in parse_qsl(query, keep_blank_values=True)])
            try:
                if method == "batch":
                    raise ApiError(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
                results[key] = self._run(method, sub, auth)
            except ApiError as error:
                errors[key] = {"error": error.error, "error_description": error.description}
                if halt:
                    break
        return {"result": results or [], "result_error": errors or [], "result_total": [], "result_next": [],
                "result_time": []}

    def _run(self, method: str, params: dict[str, Any], auth: Auth) -> Any:
        if method == "app.info":
            if auth.kind != "app":
                raise ApiError(401, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method")
            return {"ID": 7, "CODE": self.client_id, "INSTALLED": True}
        scope = _scope(method)
        if scope and scope not in auth.scopes:
            raise ApiError(403, "insufficient_scope",
                           "The request requires higher privileges than provided by the webhook token")
        if method in _TELEPHONY and self.telephony_app_only and auth.kind == "webhook":
            raise ApiError(401, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method")
        own = getattr(self, "_m_" + method.replace(".", "_"), None)
        if own is not None:
            return own(params)
        handlers = {name.lower(): handler for name, handler in self.crm.methods().items()}
        handler = handlers.get(method)
        if handler is None:
            raise ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        try:
            return handler(params, auth)
        except ApiError:
            raise
        except Exception as error:
            if all(hasattr(error, a) for a in ("status", "error", "description")):
                raise ApiError(error.status, error.error, error.description) from None  # type: ignore[attr-defined]
            raise

    # -- telephony ------------------------------------------------------------------------

    def _user(self, params: dict[str, Any]) -> int:
        raw = params.get("USER_ID")
        if raw in (None, "") and not params.get("USER_PHONE_INNER"):
            raise ApiError(400, "ERROR_CORE", "USER_ID or USER_PHONE_INNER should be set")
        try:
            user = int(str(raw))
        except ValueError:
            raise ApiError(400, "ERROR_CORE", "User is not found or is not active") from None
        if user not in self.users:
            raise ApiError(400, "ERROR_CORE", "User is not found or is not active")
        return user

    def _m_telephony_externalcall_register(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params)
        phone = str(params.get("PHONE_NUMBER") or "")
        if not re.fullmatch(r"\+?[0-9]{3,20}", phone):
            raise ApiError(400, "ERROR_CORE", "Unsupported phone number format")
        if str(params.get("TYPE")) not in ("1", "2", "3", "4", "5"):
            raise ApiError(400, "ERROR_CORE", "Unknown TYPE")
        start = self.now()
        if params.get("CALL_START_DATE"):
            try:
                when = datetime.fromisoformat(str(params["CALL_START_DATE"]))
            except ValueError:
                when = None
            if when is None or when.tzinfo is None:
                raise ApiError(400, "ERROR_CORE", "CALL_START_DATE should be in the ISO-8601 format")
            start = when.timestamp()
        for flag in ("SHOW", "CRM_CREATE", "ADD_TO_CHAT"):
            if str(params.get(flag, "0")) not in ("0", "1"):
                raise ApiError(400, "ERROR_CORE", f"{flag} must be 0 or 1")
        crm = None
        if params.get("CRM_ENTITY_TYPE"):
            if params["CRM_ENTITY_TYPE"] not in ("CONTACT", "COMPANY", "LEAD"):
                raise ApiError(400, "ERROR_CORE", "Unknown CRM_ENTITY_TYPE")
            crm = (str(params["CRM_ENTITY_TYPE"]), int(params.get("CRM_ENTITY_ID") or 0))
        line, external = str(params.get("LINE_NUMBER") or ""), str(params.get("EXTERNAL_CALL_ID") or "")
        for call in self.calls.values():  # re-registration within the window
            if ((call.user_id, call.phone, call.type, call.line, call.external_id)
                    == (user, phone, int(params["TYPE"]), line, external) and self.now() - call.start < WINDOW_S):
                return self._registered(call)
        call = FakeCall(f"externalCall.{next(self._ids):08x}.{int(self.now())}", user, phone, int(params["TYPE"]),
                        line, external, start, self.now(), crm)
        self.calls[call.call_id] = call
        self.registered.append(call)
        if str(params.get("SHOW", "1")) == "1":
            self._show(call.call_id, [user])
        return self._registered(call)

    @staticmethod
    def _registered(call: FakeCall) -> dict[str, Any]:
        return {"CALL_ID": call.call_id, "CRM_CREATED_LEAD": None, "CRM_CREATED_ENTITIES": [],
                "CRM_ENTITY_TYPE": call.crm[0] if call.crm else "", "CRM_ENTITY_ID": call.crm[1] if call.crm else 0}

    def _m_telephony_externalcall_finish(self, params: dict[str, Any]) -> dict[str, Any]:
        call_id = params.get("CALL_ID")
        if not isinstance(call_id, str) or not call_id:
            raise ApiError(400, "INVALID_ARGUMENT", "CALL_ID must be a string")
        user = self._user(params)
        try:
            duration = int(str(params.get("DURATION", "0")))
        except ValueError:
            raise ApiError(400, "ERROR_CORE", "DURATION must be an integer") from None
        call = self.calls.pop(call_id, None)
        if call is None:
            raise ApiError(400, "ERROR_CORE", "Call is not found (call should be registered prior to finishing)")
        status = str(params.get("STATUS_CODE") or ("200" if duration > 0 else "304"))
        self.finished.append(Finished(call, user, duration, status))
        self.cards.pop(call_id, None)  # the card closes with the call
        result = {"CALL_ID": call_id, "EXTERNAL_CALL_ID": call.external_id or None, "PORTAL_USER_ID": user,
                  "CALL_DURATION": duration, "CALL_FAILED_CODE": status, "CRM_ACTIVITY_ID": len(self.finished),
                  "ID": len(self.finished)}
        if self.activity_error:
            result["CRM_ACTIVITY_ID"] = None
            result["ERRORS"] = {"ACTIVITY_CREATION": "Activity could not be created"}
        return result

    def _m_telephony_externalcall_show(self, params: dict[str, Any]) -> bool:
        return self._card(params, self._show)

    def _m_telephony_externalcall_hide(self, params: dict[str, Any]) -> bool:
        return self._card(params, self._hide)

    def _card(self, params: dict[str, Any], action: Callable[[str, list[int]], None]) -> bool:
        call_id = str(params.get("CALL_ID") or "")
        if not call_id:
            raise ApiError(400, "INVALID_ARGUMENT", "CALL_ID must be a string")
        call = self.calls.get(call_id)
        if call is None:
            return False  # "false: call not found"
        raw = params.get("USER_ID", call.user_id)
        users = [int(u) for u in (raw if isinstance(raw, list) else [raw])]
        action(call_id, users)
        return True

    def _show(self, call_id: str, users: list[int]) -> None:
        self.cards.setdefault(call_id, set()).update(users)
        self.card_log.append(("show", call_id, tuple(users)))

    def _hide(self, call_id: str, users: list[int]) -> None:
        self.cards.setdefault(call_id, set()).difference_update(users)
        self.card_log.append(("hide", call_id, tuple(users)))

    def _m_telephony_externalcall_attachrecord(self, params: dict[str, Any]) -> dict[str, Any]:
        call_id = str(params.get("CALL_ID") or "")
        done = next((f for f in self.finished if f.call.call_id == call_id), None)
        if done is None:
            raise ApiError(400, "ERROR_CORE", "Call is not found")
        if not params.get("RECORD_URL") and not params.get("FILE_CONTENT"):
            raise ApiError(400, "ERROR_CORE", "RECORD_URL or FILE_CONTENT is required")
        done.record = str(params.get("RECORD_URL") or params.get("FILENAME"))
        return {"FILE_ID": len(self.finished)}

    def _m_voximplant_statistic_get(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = params.get("FILTER") or {}
        external = str(wanted.get("EXTERNAL_CALL_ID", "")) if isinstance(wanted, dict) else ""
        return [{"ID": n + 1, "CALL_ID": f.call.call_id, "EXTERNAL_CALL_ID": f.call.external_id,
                 "PORTAL_USER_ID": f.user_id, "CALL_DURATION": f.duration}
                for n, f in enumerate(self.finished) if not external or f.call.external_id == external]

    # -- what the tests look at ------------------------------------------------------------

    def finished_calls(self, external_id: str) -> list[Finished]:
        return [f for f in self.finished if f.call.external_id == external_id]


def _method(name: str) -> str:
    return name.removesuffix(".json").lower()


def _scope(method: str) -> str | None:
    if method.startswith("crm."):
        return "crm"
    if method.startswith(("telephony.", "voximplant.")):
        return "telephony"
    if method.startswith("user."):
        return "user"
    return None


def _refer(value: str, results: Mapping[str, Any]) -> str:
    """``$result[key][FIELD]`` in a batch command: an earlier command's result."""
    def one(match: re.Match[str]) -> str:
        found: Any = results.get(match.group(1))
        for key in re.findall(r"\[([^\]]*)\]", match.group(2)):
            found = found.get(key) if isinstance(found, Mapping) else None
        return "" if found is None else str(found)
    return re.sub(r"\$result\[([^\]]+)\]((?:\[[^\]]*\])*)", one, value)

