"""A change of responsible person made in Bitrix24 reaches acd: Bitrix24's outgoing
events ``ONCRMCONTACTUPDATE``, ``ONCRMLEADUPDATE`` and ``ONCRMCOMPANYUPDATE``.

Bitrix24 POSTs each event form-encoded (api-reference/events: ``event=ONCRMCONTACTUPDATE``,
``data[FIELDS][ID]=82``, ``auth[application_token]=...``); the event carries only the
record's id, so acd reads the record (``crm.contact.get`` and the like) for its phones,
e-mails and ``ASSIGNED_BY_ID``. The ``application_token`` is how a handler knows the
request came from Bitrix24 (events/safe-event-handlers.md): acd compares it, in constant
time, with the token the portal gave the outgoing webhook or the application; anything
else is refused. A few events are handled at once and a bounded number wait; beyond that
the answer is 503 and nothing is changed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from .bitrix24_crm import Call
from .bitrix24_responsible import ResponsibleLookup, UserMap
from .decisions import take_crm_owner
from .identity import Identity, InvalidIdentity, parse_phone

if TYPE_CHECKING:
    from .feed import CrmFeed

log = logging.getLogger(__name__)

EVENTS = {"ONCRMCONTACTUPDATE": "CONTACT", "ONCRMLEADUPDATE": "LEAD", "ONCRMCOMPANYUPDATE": "COMPANY"}
MAX_IDENTITIES = 20  # of one record: a record with hundreds of numbers is not a caller


class EventRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class OwnerSync:
    def __init__(self, call: Call, users: UserMap, feed: CrmFeed, *, application_token: str, region: str = "DE",
                 lookup: ResponsibleLookup | None = None, at_once: int = 2, waiting: int = 50) -> None:
        if not application_token:
            raise ValueError("Bitrix24 events need the application token the portal gave the handler")
        self._call = call
        self.users = users
        self.feed = feed
        self.region = region
        self.lookup = lookup
        self._token = application_token
        self._slots = asyncio.Semaphore(at_once)
        self._room = at_once + waiting  # events in hand at most (handled or waiting)

    def authentic(self, form: Mapping[str, str]) -> bool:
        sent = form.get("auth[application_token]", "")
        return secrets.compare_digest(sent.encode(), self._token.encode())

    async def handle(self, form: Mapping[str, str]) -> str:
        """One event; what came of it. Raises :class:`EventRefused` (403 not Bitrix24,
        400 malformed, 503 too many at once)."""
        if not self.authentic(form):
            raise EventRefused(403, "not from the Bitrix24 portal: the application token does not match")
        event = form.get("event", "").upper()
        entity = EVENTS.get(event)
        if entity is None:
            return f"{event or 'no event'}: not handled"
        record_id = form.get("data[FIELDS][ID]", "")
        if not record_id.isdigit() or len(record_id) > 18:
            raise EventRefused(400, f"{event} without a record id")
        if self._room <= 0:
            raise EventRefused(503, "too many Bitrix24 events at once")
        self._room -= 1
        try:
            async with self._slots:
                return await self._apply(entity, record_id)
        finally:
            self._room += 1

    async def _apply(self, entity: str, record_id: str) -> str:
        try:
            record = await self._call(f"crm.{entity.lower()}.get", {"id": record_id})
        except Exception as error:
            if "not found" in f"{getattr(error, 'description', '')} {error}".lower():  # deleted since
                return f"{entity} {record_id}: not in Bitrix24 (any more)"
            raise
        if not isinstance(record, Mapping):
            return f"{entity} {record_id}: no record"
        identities = self._identities(record)
        if self.lookup is not None:
            self.lookup.forget(i.value for i in identities if i.kind == "phone")
        user = record.get("ASSIGNED_BY_ID")
        agent = self.users.agent_of(user)
        if agent is None or not identities:
            return f"{entity} {record_id}: Bitrix24 user {user} is no acd agent" if identities else \
                f"{entity} {record_id}: no phone or e-mail"
        client = await self.feed.apply(partial(take_crm_owner, identities=identities, owner=agent, crm="bitrix24",
                                               now=self.feed.now()))
        if client is None:
            return f"{entity} {record_id}: not a client of acd"
        log.info("crm.bitrix24_owner_synced", extra={"entity": entity, "id": record_id, "owner": agent})
        return f"{entity} {record_id}: owner {agent}"

    def _identities(self, record: Mapping[str, Any]) -> list[Identity]:
        found: list[Identity] = []
        for kind in ("PHONE", "EMAIL"):
            values = record.get(kind)
            for item in (values if isinstance(values, list) else [])[:MAX_IDENTITIES]:
                value = str(item.get("VALUE", "")) if isinstance(item, Mapping) else ""
                try:
                    identity = parse_phone(value, self.region) if kind == "PHONE" else Identity.email(value)
                except InvalidIdentity:
                    identity = None
                if identity is not None and identity not in found:
                    found.append(identity)
        return found
