"""Bitrix24 through an inbound REST webhook (``https://<portal>/rest/<user_id>/<token>/``).

Requests are form-encoded the way Bitrix24's own examples are (``fields[ASSIGNED_BY_ID]=7``)
and POSTed to ``<webhook>/<method>.json``. What each outbox event becomes:

- ``owner.changed`` (a manual transfer): the new responsible person on what the queue
  group's ``transfer_updates`` names: the contact, company or lead Bitrix24 finds first
  (``client``), every lead, contact or company with the number, or their open deals
  (``crm.item.update``, see :mod:`acd.crm.bitrix24_crm`).
- ``lead.created``: a lead, or in the simple CRM a contact with a deal, unless
  ``crm.duplicate.findbycomm`` finds the client already as a contact, company or lead
  (a repeat after a lost answer must not make a second one).
- ``call.finished``: ``telephony.externalcall.register`` then
  ``telephony.externalcall.finish`` (the call's activity in the client's timeline).
  Register's CALL_ID is kept in the job's progress, so a repeat only finishes.

Bitrix24 has no idempotency key of its own; the key travels as a header for proxies
and logs. Errors: ``QUERY_LIMIT_EXCEEDED`` (HTTP 503), 429 and 5xx are retried; 401
(bad token) and other 4xx go dead at once with Bitrix24's error text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import SecretStr

from .bitrix24_crm import Bitrix24Crm, Call, find, first, transfer_updates
from .connectors import MASK, excerpt, guard_secrets, mask_text, retry_after, reveal
from .outbox import CALL_FINISHED, LEAD_CREATED, OWNER_CHANGED, Envelope, Outcome
from .webhook import KEY_HEADER

_RETRYABLE_ERRORS = {"QUERY_LIMIT_EXCEEDED", "INTERNAL_SERVER_ERROR", "OPERATION_TIME_LIMIT"}


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


class _Failed(Exception):
    """A step failed; carries the outcome (with the progress made so far)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.note)
        self.outcome = outcome


class Bitrix24Connector:
    def __init__(
        self,
        name: str,
        webhook_url: str | SecretStr,
        users: Mapping[str, int | str],
        *,
        fallback_user: int | str | None = None,
        now: Callable[[], float] = time.time,
        region: str = "DE",
    ) -> None:
        """``users`` maps acd agent ids to Bitrix24 user ids; ``fallback_user`` (if
        set) takes calls and leads of an agent missing from the map, else such a job
        goes dead with a note saying which agent to map."""
        self.name = name
        url = reveal(webhook_url).strip()
        parts = urlsplit(url)
        path = [p for p in parts.path.split("/") if p]
        if parts.scheme not in ("http", "https") or len(path) != 3 or path[0] != "rest" or not path[1].isdigit():
            raise ValueError(f"Bitrix24 {name!r}: the webhook URL must look like https://<portal>/rest/<user_id>/<token>/")
        self._base = f"{parts.scheme}://{parts.netloc}/rest/{path[1]}/{path[2]}/"
        self._token = path[2]
        self._masked = f"{parts.scheme}://{parts.netloc}/rest/{path[1]}/{MASK}/"
        self.users = {str(agent): str(user) for agent, user in users.items()}
        self.fallback_user = None if fallback_user is None else str(fallback_user)
        self._now = now
        self.crm = Bitrix24Crm(region)  # what this portal supports: its CRM mode, crm.item.*
        self._replacements = {self._base: self._masked, self._token: MASK}
        guard_secrets(self._replacements)

    def masked(self) -> str:
        return self._masked

    def __repr__(self) -> str:
        return f"Bitrix24Connector(name={self.name!r}, webhook={self._masked!r})"

    __str__ = __repr__

    def mask(self, text: str) -> str:
        return mask_text(text, self._replacements)

    def url(self, method: str) -> str:
        return f"{self._base}{method}.json"

    async def deliver(self, http: httpx.AsyncClient, envelope: Envelope) -> Outcome:
        progress = dict(envelope.progress)
        try:
            if envelope.event == OWNER_CHANGED:
                return await self._owner_changed(http, envelope)
            if envelope.event == LEAD_CREATED:
                return await self._lead_created(http, envelope)
            if envelope.event == CALL_FINISHED:
                return await self._call_finished(http, envelope, progress)
        except _Failed as failed:
            return failed.outcome.with_progress(progress)
        return Outcome.delivered(note=f"nothing to do in Bitrix24 for {envelope.event}")

    async def _owner_changed(self, http: httpx.AsyncClient, envelope: Envelope) -> Outcome:
        user = self._user(envelope.payload["owner"])
        updates = transfer_updates(envelope.payload.get("transfer_updates"))
        changed = await self.crm.transfer(self._caller(http, envelope), envelope.payload["client"], envelope.ref,
                                          user, updates)
        if not changed:
            return Outcome.delivered(200, note=f"nothing in Bitrix24 to update ({updates}) for this client")
        ref = next((r for r in changed if r[0] != "DEAL"), envelope.ref)
        return Outcome.delivered(200, ref=ref, note="updated " + ", ".join(f"{e} {i}" for e, i in changed))

    async def _lead_created(self, http: httpx.AsyncClient, envelope: Envelope) -> Outcome:
        client = envelope.payload["client"]
        user = self._user(client["owner"])
        call = self._caller(http, envelope)
        found = envelope.ref or first(await find(call, client["phones"], client["emails"], region=self.crm.region))
        if found is not None:
            return Outcome.delivered(200, ref=found, note=f"already in Bitrix24 as {found[0]} {found[1]}")
        ref = await self.crm.create(call, client, user, channel=str(envelope.payload.get("channel", "")))
        return Outcome.delivered(200, ref=ref)

    async def _call_finished(self, http: httpx.AsyncClient, envelope: Envelope, progress: dict[str, Any]) -> Outcome:
        call = envelope.payload["call"]
        number = call.get("number")
        if not number:
            return Outcome.delivered(note="no caller number: nothing to register")
        user = self._user(call.get("agent") or call.get("responsible"))
        if "bitrix_call_id" not in progress:
            params: dict[str, Any] = {
                "USER_ID": user,
                "PHONE_NUMBER": number,
                "TYPE": 2,  # incoming
                "CALL_START_DATE": datetime.fromtimestamp(call["started_at"], UTC).isoformat(),
                "CRM_CREATE": 0,  # leads are acd's decision (lead.created), not Bitrix24's
                "SHOW": 0,
            }
            if envelope.ref is not None:
                params |= {"CRM_ENTITY_TYPE": envelope.ref[0], "CRM_ENTITY_ID": envelope.ref[1]}
            if call.get("line"):
                params["LINE_NUMBER"] = call["line"]
            result = await self._call(http, envelope, "telephony.externalcall.register", params)
            if not isinstance(result, Mapping) or not result.get("CALL_ID"):
                raise _Failed(Outcome.dead(f"register gave no CALL_ID: {str(result)[:200]}", 200))
            progress["bitrix_call_id"] = str(result["CALL_ID"])
        await self._call(http, envelope, "telephony.externalcall.finish", {
            "CALL_ID": progress["bitrix_call_id"],
            "USER_ID": user,
            "DURATION": int(call.get("duration_s") or 0),
            "STATUS_CODE": "200" if call.get("answered") else "304",  # 304: missed
            "ADD_TO_CHAT": 0,
        })
        return Outcome.delivered(200)

    def _user(self, agent: str | None) -> str:
        user = self.users.get(agent or "", self.fallback_user)
        if user is None:
            raise _Failed(Outcome.dead(f"agent {agent!r} has no Bitrix24 user in the mapping"))
        return user

    def _caller(self, http: httpx.AsyncClient, envelope: Envelope) -> Call:
        async def call(method: str, params: Mapping[str, Any]) -> Any:
            return await self._call(http, envelope, method, params)
        return call

    async def _call(self, http: httpx.AsyncClient, envelope: Envelope, method: str, params: Mapping[str, Any]) -> Any:
        """One REST call: its ``result``, or _Failed with the outcome."""
        try:
            response = await http.post(
                self.url(method), content=urlencode(flatten(params)).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded", KEY_HEADER: envelope.key,
                         "User-Agent": "acd-crm-outbox"},
            )
        except httpx.TransportError as exc:
            raise _Failed(Outcome.again(f"{method}: {type(exc).__name__}: {exc}")) from None
        status = response.status_code
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if 200 <= status < 300 and isinstance(body, dict) and "result" in body and "error" not in body:
            return body["result"]
        error = body.get("error", "") if isinstance(body, dict) else ""
        detail = (f"{error}: {body.get('error_description', '')}" if error else excerpt(response)).strip(": ")
        note = f"{method}: HTTP {status} {detail}".strip()
        if status in (408, 429) or status >= 500 or error in _RETRYABLE_ERRORS or 200 <= status < 300:
            # a 2xx without a result is a proxy or an outage page, not Bitrix24's verdict
            raise _Failed(Outcome.again(note, status, retry_after(response, self._now())))
        raise _Failed(Outcome.dead(note, status))

