"""Bitrix24's side of the outbox: what each outbox event becomes on the portal. Every
request goes through the portal's :class:`~acd.crm.bitrix24_portal.Bitrix24Portal`
(auth, the rate limit, redirects), form-encoded the way Bitrix24's own examples are
(``fields[ASSIGNED_BY_ID]=7``).

- ``owner.changed``: ``crm.lead.update`` / ``crm.contact.update`` with
  ``fields[ASSIGNED_BY_ID]``. The record is the one learnt earlier, else found with
  ``crm.duplicate.findbycomm`` by phone, then e-mail (a contact before a lead).
- ``lead.created``: ``crm.lead.add``, unless ``crm.duplicate.findbycomm`` finds the
  client already (a repeat after a lost answer must not make a second lead).
- ``call.finished``: the call in the client's timeline (``acd.crm.bitrix24_telephony``:
  register and finish in one batch, or finish the live card's call).

Errors: the rate limit is waited out and never counts as a failed attempt; a lost
answer, 429 and 5xx are retried; an auth problem or another refusal goes dead at once
with Bitrix24's error text and the fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from .bitrix24_portal import Bitrix24Error, Bitrix24Portal, WebhookAuth, flatten
from .bitrix24_telephony import CallCards, deliver_call
from .connectors import reveal
from .outbox import CALL_FINISHED, LEAD_CREATED, OWNER_CHANGED, Envelope, Outcome

# Bitrix24's IM field types for the messengers we know; anything else is OTHER
_IM_TYPES = {"telegram": "TELEGRAM", "facebook": "FACEBOOK", "vk": "VK", "skype": "SKYPE", "viber": "VIBER",
             "instagram": "INSTAGRAM", "imol": "IMOL"}
__all__ = ["Bitrix24Connector", "flatten"]


class _Failed(Exception):
    """A step failed; carries the outcome (with the progress made so far)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.note)
        self.outcome = outcome


class Bitrix24Connector:
    def __init__(
        self,
        name: str,
        portal: Bitrix24Portal | str | SecretStr,
        users: Mapping[str, int | str],
        *,
        fallback_user: int | str | None = None,
        responsibles: Mapping[str, str] | None = None,
        cards: CallCards | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        """``portal``: the portal (or an inbound webhook's URL for one). ``users`` maps acd
        agent ids to Bitrix24 user ids; ``fallback_user`` (if set) takes calls and leads
        of an agent missing from the map, else such a job goes dead with a note saying
        which agent to map. ``responsibles``: each queue group's responsible person (who
        a missed call is finished for). ``cards``: the live call card, whose CALL_ID the
        end of the call finishes."""
        self.name = name
        self.portal = portal if isinstance(portal, Bitrix24Portal) else Bitrix24Portal(
            name, WebhookAuth(reveal(portal)), now=now)
        self.users = {str(agent): str(user) for agent, user in users.items()}
        self.fallback_user = None if fallback_user is None else str(fallback_user)
        self.responsibles = dict(responsibles or {})
        self.cards = cards
        self._now = now

    def masked(self) -> str:
        return str(self.portal.status()["portal"])

    def __repr__(self) -> str:
        return f"Bitrix24Connector(name={self.name!r}, portal={self.masked()!r})"

    __str__ = __repr__

    def mask(self, text: str) -> str:
        return self.portal.mask(text)

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
        ref = envelope.ref or await self._find(http, envelope, envelope.payload["client"])
        if ref is None:
            return Outcome.dead("client not found in Bitrix24 by phone or e-mail")
        entity, record_id = ref
        await self._call(http, envelope, f"crm.{entity.lower()}.update",
                         {"id": record_id, "fields": {"ASSIGNED_BY_ID": user}, "params": {"REGISTER_SONET_EVENT": "Y"}})
        return Outcome.delivered(200, ref=ref)

    async def _lead_created(self, http: httpx.AsyncClient, envelope: Envelope) -> Outcome:
        client = envelope.payload["client"]
        user = self._user(client["owner"])
        found = envelope.ref or await self._find(http, envelope, client)
        if found is not None:
            return Outcome.delivered(200, ref=found, note=f"already in Bitrix24 as {found[0]} {found[1]}")
        fields: dict[str, Any] = {
            "TITLE": client["name"] or f"{envelope.payload.get('channel', 'contact')}: {_first_identity(client)}",
            "NAME": client["name"],
            "ASSIGNED_BY_ID": user,
            "SOURCE_ID": "CALL" if envelope.payload.get("channel") == "phone" else "OTHER",
            "PHONE": [{"VALUE": p, "VALUE_TYPE": "WORK"} for p in client["phones"]],
            "EMAIL": [{"VALUE": e, "VALUE_TYPE": "WORK"} for e in client["emails"]],
            "IM": [{"VALUE": m["user_id"], "VALUE_TYPE": _IM_TYPES.get(m["channel"], "OTHER")}
                   for m in client["messengers"]],
        }
        result = await self._call(http, envelope, "crm.lead.add",
                                  {"fields": {k: v for k, v in fields.items() if v not in ("", [])},
                                   "params": {"REGISTER_SONET_EVENT": "Y"}})
        return Outcome.delivered(200, ref=("LEAD", str(result)))

    async def _call_finished(self, http: httpx.AsyncClient, envelope: Envelope, progress: dict[str, Any]) -> Outcome:
        call = envelope.payload["call"]
        if not call.get("number"):
            return Outcome.delivered(note="no caller number: nothing to register")
        # the agent who answered; for a missed call the group's responsible person (never nobody)
        agent = call.get("agent") or call.get("responsible") or self.responsibles.get(call.get("queue") or "")
        user = self._user(agent)
        try:
            return await deliver_call(self.portal, call, user, ref=envelope.ref, progress=progress,
                                      attempts=envelope.attempts, cards=self.cards)
        except Bitrix24Error as error:
            raise _Failed(_outcome(error, "telephony.externalcall")) from None

    def _user(self, agent: str | None) -> str:
        user = self.users.get(agent or "", self.fallback_user)
        if user is None:
            raise _Failed(Outcome.dead(f"agent {agent!r} has no Bitrix24 user in the mapping"))
        return user

    async def _find(self, http: httpx.AsyncClient, envelope: Envelope,
                    client: Mapping[str, Any]) -> tuple[str, str] | None:
        for kind, values in (("PHONE", client["phones"]), ("EMAIL", client["emails"])):
            if not values:
                continue
            result = await self._call(http, envelope, "crm.duplicate.findbycomm",
                                      {"type": kind, "values": list(values)[:20]})
            if isinstance(result, Mapping):  # an empty result comes as []
                for entity in ("CONTACT", "LEAD"):
                    if result.get(entity):
                        return entity, str(result[entity][0])
        return None

    async def _call(self, http: httpx.AsyncClient, envelope: Envelope, method: str, params: Mapping[str, Any]) -> Any:
        """One REST call: its ``result``, or _Failed with the outcome."""
        try:
            return await self.portal.call(method, params)
        except Bitrix24Error as error:
            raise _Failed(_outcome(error, method)) from None


def _outcome(error: Bitrix24Error, method: str) -> Outcome:
    """A refusal as the outbox sees it: the rate limit is waited out without counting as an
    attempt; a lost answer or an outage is tried again; anything else will not get better
    by repeating it (an auth problem names its fix)."""
    note = f"{method}: {error}" + (f" ({error.advice})" if error.advice else "")
    retry_after = None if error.retry_at is None else max(error.retry_at - time.time(), 0.0)
    if error.rate_limited:
        return Outcome.again(note, error.status, retry_after, counted=False)
    if error.retryable:
        return Outcome.again(note, error.status, retry_after)
    return Outcome.dead(note, error.status)


def _first_identity(client: Mapping[str, Any]) -> str:
    for value in (*client["phones"], *client["emails"]):
        return str(value)
    for messenger in client["messengers"]:
        return f"{messenger['channel']} {messenger['user_id']}"
    return "unknown"
