"""Bitrix24's CRM as acd uses it: finding a client (contact, company or lead), creating
one the way the portal's CRM mode wants, and changing the responsible person.

Everything here talks through ``call(method, params) -> result`` (the portal's
``Bitrix24Portal.call``, or the outbox connector's own request), so the same logic serves
the outbox and the live look-ups. What Bitrix24's REST documentation says and acd does:

- ``crm.duplicate.findbycomm`` without ``entity_type`` searches leads, contacts *and*
  companies; up to 20 values a request. Bitrix24 compares numbers in its own normal
  form, so acd sends each number as E.164 and in the national form ("+49 30 1234567"
  and "030 1234567"). A client found several ways is taken as Bitrix24's call card
  takes it: a contact first, then a company, then a lead.
- ``crm.settings.mode.get``: 2 is the simple CRM (no leads): a new client becomes a
  contact with a deal instead of a lead.
- ``crm.lead.add`` / ``crm.lead.update`` are deprecated for ``crm.item.add`` /
  ``crm.item.update`` (``entityTypeId`` 1 lead, 2 deal, 3 contact, 4 company). acd uses
  the item methods and falls back to the old per-entity ones on a portal that answers
  ``ERROR_METHOD_NOT_FOUND`` for them (older on-premise editions), remembered per portal.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, cast, get_args

import phonenumbers

log = logging.getLogger(__name__)

Call = Callable[[str, Mapping[str, Any]], Awaitable[Any]]

LEAD, DEAL, CONTACT, COMPANY = "LEAD", "DEAL", "CONTACT", "COMPANY"
ENTITY_TYPE_IDS = {LEAD: 1, DEAL: 2, CONTACT: 3, COMPANY: 4}
CARD_ORDER = (CONTACT, COMPANY, LEAD)  # the entity Bitrix24's call card shows for a number
SIMPLE_CRM = 2  # crm.settings.mode.get: 1 classic (with leads), 2 simple (no leads)
MAX_VALUES = 20  # crm.duplicate.findbycomm's limit
MAX_UPDATED = 10  # records of one kind a transfer updates at most (a number shared by many)
# what a manual transfer updates (a queue group's ``transfer_updates``): "client" is the
# contact, company or lead Bitrix24 finds first (the one its call card shows)
TransferUpdates = Literal["client", "lead", "contact", "company", "deal"]
_IM_TYPES = {"telegram": "TELEGRAM", "facebook": "FACEBOOK", "vk": "VK", "skype": "SKYPE", "viber": "VIBER",
             "instagram": "INSTAGRAM", "imol": "IMOL"}

Ref = tuple[str, str]  # (entity type, id)


def transfer_updates(value: object) -> TransferUpdates:
    """A job's ``transfer_updates`` (made before the setting existed: the client)."""
    for known in get_args(TransferUpdates):
        if value == known:
            return cast(TransferUpdates, known)
    return "client"


def phone_forms(number: str, region: str = "DE") -> list[str]:
    """``number`` as E.164 and in its national form, the forms people type into Bitrix24."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return [number] if number else []
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    national = "".join(ch for ch in phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
                       if ch.isdigit())
    return list(dict.fromkeys(f for f in (e164, national, number) if f))


def method_missing(error: BaseException) -> bool:
    """The portal has no such method (``ERROR_METHOD_NOT_FOUND``, HTTP 404)."""
    return "ERROR_METHOD_NOT_FOUND" in f"{getattr(error, 'code', '')} {error}"


async def find(call: Call, phones: Sequence[str], emails: Sequence[str] = (), *,
               region: str = "DE") -> dict[str, list[str]]:
    """Every lead, contact and company holding one of the phones or e-mails: type -> ids.
    Phones are asked first (each in both forms); e-mails only when no phone matched."""
    for kind, values in (("PHONE", [f for p in phones for f in phone_forms(p, region)]), ("EMAIL", list(emails))):
        values = list(dict.fromkeys(values))
        found: dict[str, list[str]] = {}
        for start in range(0, len(values), MAX_VALUES):
            result = await call("crm.duplicate.findbycomm", {"type": kind, "values": values[start:start + MAX_VALUES]})
            if isinstance(result, Mapping):  # nothing found comes as []
                for entity in CARD_ORDER:
                    for record_id in result.get(entity) or []:
                        found.setdefault(entity, [])
                        if str(record_id) not in found[entity]:
                            found[entity].append(str(record_id))
        if found:
            return found
    return {}


def first(found: Mapping[str, Sequence[str]]) -> Ref | None:
    """The record Bitrix24's call card would show: a contact, else a company, else a lead."""
    return next(((entity, found[entity][0]) for entity in CARD_ORDER if found.get(entity)), None)


class Bitrix24Crm:
    """What one portal supports (its CRM mode, the item methods), learnt once."""

    def __init__(self, region: str = "DE") -> None:
        self.region = region
        self._mode: int | None = None
        self._items: bool | None = None  # crm.item.* answered; None: not tried yet

    async def simple_mode(self, call: Call) -> bool:
        if self._mode is None:
            self._mode = int(await call("crm.settings.mode.get", {}))
        return self._mode == SIMPLE_CRM

    async def add(self, call: Call, entity: str, fields: Mapping[str, Any]) -> str:
        """A new record from upper-case fields (``ASSIGNED_BY_ID``, ``PHONE``...); its id."""
        items, result = await self._either(
            call, ("crm.item.add", {"entityTypeId": ENTITY_TYPE_IDS[entity], "fields": _item_fields(fields)}),
            (f"crm.{entity.lower()}.add", {"fields": dict(fields), "params": {"REGISTER_SONET_EVENT": "Y"}}))
        return str(result["item"]["id"] if items else result)

    async def set_responsible(self, call: Call, ref: Ref, user: str) -> None:
        entity, record_id = ref
        await self._either(
            call, ("crm.item.update", {"entityTypeId": ENTITY_TYPE_IDS[entity], "id": record_id,
                                       "fields": {"assignedById": user}}),
            (f"crm.{entity.lower()}.update", {"id": record_id, "fields": {"ASSIGNED_BY_ID": user},
                                              "params": {"REGISTER_SONET_EVENT": "Y"}}))

    async def open_deals(self, call: Call, found: Mapping[str, Sequence[str]]) -> list[str]:
        """The open deals (in progress) of the contacts and companies found."""
        deals: list[str] = []
        for entity, key in ((CONTACT, "contactId"), (COMPANY, "companyId")):
            for record_id in list(found.get(entity, []))[:MAX_UPDATED]:
                items, result = await self._either(
                    call, ("crm.item.list", {"entityTypeId": ENTITY_TYPE_IDS[DEAL], "select": ["id"],
                                             "filter": {f"={key}": record_id, "=stageSemanticId": "P"}}),
                    ("crm.deal.list", {"filter": {f"={entity}_ID": record_id, "CLOSED": "N"}, "select": ["ID"]}))
                ids = [str(d["id"]) for d in (result or {}).get("items", [])] if items else \
                    [str(d["ID"]) for d in result or []]
                deals += [d for d in ids if d not in deals]
        return deals[:MAX_UPDATED]

    async def _either(self, call: Call, item: tuple[str, Mapping[str, Any]],
                      legacy: tuple[str, Mapping[str, Any]]) -> tuple[bool, Any]:
        """``item`` (crm.item.*) on a portal that has it, else ``legacy``; (which, result)."""
        if self._items is not False:
            try:
                result = await call(*item)
                self._items = True
                return True, result
            except Exception as error:
                if not method_missing(error):
                    raise
                if self._items is None:
                    log.warning("crm.bitrix24_item_methods_missing: using crm.lead/contact/company/deal.* instead")
                self._items = False
        return False, await call(*legacy)

    async def create(self, call: Call, client: Mapping[str, Any], user: str, *, channel: str) -> Ref:
        """A new client in Bitrix24: a lead, or in the simple CRM a contact with an open
        deal. The simple CRM's steps repeat safely: a contact found by its number is
        reused, and a deal is added only if it has none open."""
        fields = _client_fields(client, user, channel)
        if not await self.simple_mode(call):
            return LEAD, await self.add(call, LEAD, fields)
        found = await find(call, client["phones"], client["emails"], region=self.region)
        contact = next(iter(found.get(CONTACT, [])), None)
        if contact is None:
            contact = await self.add(call, CONTACT, {k: v for k, v in fields.items() if k != "TITLE"})
        if not await self.open_deals(call, {CONTACT: [contact]}):
            await self.add(call, DEAL, {"TITLE": fields["TITLE"], "ASSIGNED_BY_ID": user,
                                        "SOURCE_ID": fields["SOURCE_ID"], "CONTACT_IDS": [contact]})
        return CONTACT, contact

    async def transfer(self, call: Call, client: Mapping[str, Any], ref: Ref | None, user: str,
                       updates: TransferUpdates = "client") -> list[Ref]:
        """A manual transfer: ``user`` becomes responsible for what ``updates`` names.
        Returns the records changed (none: the client is not in Bitrix24)."""
        if updates == "client" and ref is not None:  # learnt before: no search (the rate limit)
            await self.set_responsible(call, ref, user)
            return [ref]
        found = await find(call, client["phones"], client["emails"], region=self.region)
        if not found and ref is not None:
            found = {ref[0]: [ref[1]]}
        if updates == "client":
            targets = [r for r in (first(found),) if r is not None]
        elif updates == "deal":
            targets = [(DEAL, d) for d in await self.open_deals(call, found)]
        else:
            entity = updates.upper()
            targets = [(entity, record_id) for record_id in found.get(entity, [])[:MAX_UPDATED]]
        for target in targets:
            await self.set_responsible(call, target, user)
        return targets


def _client_fields(client: Mapping[str, Any], user: str, channel: str) -> dict[str, Any]:
    first_identity = next(iter((*client["phones"], *client["emails"])), None) or next(
        (f"{m['channel']} {m['user_id']}" for m in client["messengers"]), "unknown")
    fields: dict[str, Any] = {
        "TITLE": client["name"] or f"{channel or 'contact'}: {first_identity}",
        "NAME": client["name"],
        "ASSIGNED_BY_ID": user,
        "SOURCE_ID": "CALL" if channel == "phone" else "OTHER",
        "PHONE": [{"VALUE": p, "VALUE_TYPE": "WORK"} for p in client["phones"]],
        "EMAIL": [{"VALUE": e, "VALUE_TYPE": "WORK"} for e in client["emails"]],
        "IM": [{"VALUE": m["user_id"], "VALUE_TYPE": _IM_TYPES.get(m["channel"], "OTHER")}
               for m in client["messengers"]],
    }
    return {k: v for k, v in fields.items() if v not in ("", [])}


_ITEM_NAMES = {"TITLE": "title", "NAME": "name", "ASSIGNED_BY_ID": "assignedById", "SOURCE_ID": "sourceId",
               "CONTACT_IDS": "contactIds", "COMPANY_ID": "companyId"}


def _item_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Upper-case fields as ``crm.item.*`` names them (camelCase, multifields in ``fm``)."""
    item: dict[str, Any] = {}
    fm: list[dict[str, Any]] = []
    for name, value in fields.items():
        if name in ("PHONE", "EMAIL", "IM", "WEB"):
            fm += [{"typeId": name, "valueType": m["VALUE_TYPE"], "value": m["VALUE"]} for m in value]
        else:
            item[_ITEM_NAMES.get(name, name)] = value
    if fm:
        item["fm"] = fm
    return item
