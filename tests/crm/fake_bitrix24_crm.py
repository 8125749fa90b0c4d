"""The CRM side of the fake Bitrix24: contacts, leads, companies, deals and users, with
the methods acd calls, checked the way Bitrix24's REST documentation (bitrix24/b24restdocs,
api-reference/crm, telephony, user) says the portal checks them.

``FakeCrm.methods()`` maps each method name to ``handler(params, auth) -> result``; the
HTTP server (``tests/crm/fake_bitrix24.py``) dispatches to them and turns a raised
:class:`CrmApiError` into Bitrix24's error answer (``{"error", "error_description"}``
with its HTTP status). ``params`` is the request's parameters as a dict: lists may
arrive as lists or as PHP-style ``{"0": ..., "1": ...}`` and numbers as strings (a
form-encoded request), so the handlers accept both.

What the documentation says and the fake does:
- ``crm.duplicate.findbycomm``: ``type`` (PHONE | EMAIL) and ``values`` (at most 20)
  required; without ``entity_type`` it searches leads, contacts and companies, and when
  one type has 20 or more matches the others are left out. Phones match on their digits
  only (Bitrix24 normalises numbers its own way: "+49 30 1234567" and "030 1234567"
  are different digits, which is why a client sends both forms). Nothing found: ``[]``.
- ``crm.<entity>.get/update``: ``id`` must be a positive integer ("ID is not defined or
  invalid."), a missing record is "Not found" / "<Entity> is not found"; ``fields``
  must be an object.
- ``crm.item.*``: ``entityTypeId`` 1 lead, 2 deal, 3 contact, 4 company, else
  ``NOT_FOUND`` "Smart process not found"; a missing item ``NOT_FOUND`` "Element not
  found". Fields are camelCase (``assignedById``, ``fm``, ``contactIds``).
- ``crm.settings.mode.get``: 1 classic CRM, 2 simple CRM (no leads).
- ``user.get``: ``FILTER`` on ``ID``, ``ACTIVE``, ``UF_PHONE_INNER`` (values may be
  lists); at most 50 users a page (``start``).
- ``telephony.externalCall.searchCrmEntities``: ``PHONE_NUMBER`` required (``ERROR_CORE``
  "PHONE_NUMBER is empty"); every contact, company and lead with that number, each with
  ``ASSIGNED_BY_ID`` and the employee (``ASSIGNED_BY``: ``TIMEMAN_STATUS``,
  ``USER_PHONE_INNER``...).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

LEAD, DEAL, CONTACT, COMPANY = "LEAD", "DEAL", "CONTACT", "COMPANY"
TYPE_IDS = {1: LEAD, 2: DEAL, 3: CONTACT, 4: COMPANY}
SIMPLE_MODE, CLASSIC_MODE = 2, 1
PAGE = 50  # user.get's fixed page size
MULTIFIELDS = ("PHONE", "EMAIL", "IM", "WEB")
# crm.item.* names (camelCase) of the upper-case fields the fake keeps
_ITEM_NAMES = {"title": "TITLE", "name": "NAME", "lastName": "LAST_NAME", "assignedById": "ASSIGNED_BY_ID",
               "sourceId": "SOURCE_ID", "stageId": "STAGE_ID", "companyId": "COMPANY_ID", "contactId": "CONTACT_ID",
               "contactIds": "CONTACT_IDS", "stageSemanticId": "STAGE_SEMANTIC_ID", "opened": "OPENED",
               "comments": "COMMENTS"}
_UPPER_NAMES = {v: k for k, v in _ITEM_NAMES.items()}


class CrmApiError(Exception):
    """Bitrix24's error answer: HTTP ``status`` with ``{"error": error, "error_description": description}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class FakeUser:
    id: int
    name: str = ""
    active: bool = True
    phone_inner: str | None = None  # the employee's extension (UF_PHONE_INNER)
    timeman_status: str = "OPENED"  # workday started


@dataclass
class FakeCrm:
    mode: int = CLASSIC_MODE
    item_api: bool = True  # crm.item.* present (older on-premise portals lack it)
    entities: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {LEAD: {}, DEAL: {}, CONTACT: {}, COMPANY: {}})
    # the portal's employees: the same as the fake portal server's (tests/crm/fake_bitrix24.py)
    users: dict[int, FakeUser] = field(default_factory=lambda: {u: FakeUser(u) for u in (1, 11, 12, 13, 14)})
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # every method called, in order
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- the test's own set-up and look-ups ----------------------------------------------

    def add_user(self, user_id: int, **kw: Any) -> FakeUser:
        self.users[user_id] = FakeUser(user_id, **kw)
        return self.users[user_id]

    def add(self, entity: str, *, phones: tuple[str, ...] = (), emails: tuple[str, ...] = (),
            assigned: int = 1, **fields: Any) -> int:
        """A record as if a person had typed it into the portal; its id."""
        record = {"ASSIGNED_BY_ID": assigned, **{k.upper(): v for k, v in fields.items()}}
        record["PHONE"] = [{"VALUE": p, "VALUE_TYPE": "WORK"} for p in phones]
        record["EMAIL"] = [{"VALUE": e, "VALUE_TYPE": "WORK"} for e in emails]
        return self._store(entity, record)

    def get(self, entity: str, record_id: int | str) -> dict[str, Any]:
        return self.entities[entity][int(record_id)]

    def assigned(self, entity: str, record_id: int | str) -> int:
        return int(self.get(entity, record_id)["ASSIGNED_BY_ID"])

    def called(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name.lower() == method.lower()]

    # -- the methods --------------------------------------------------------------------

    def methods(self) -> dict[str, Callable[[dict[str, Any], Any], Any]]:
        table: dict[str, Callable[[dict[str, Any]], Any]] = {
            "crm.duplicate.findbycomm": self._findbycomm,
            "crm.settings.mode.get": lambda params: self.mode,
            "user.get": self._user_get,
            "telephony.externalCall.searchCrmEntities": self._search_crm_entities,
        }
        for entity in (LEAD, DEAL, CONTACT, COMPANY):
            name = entity.lower()
            table[f"crm.{name}.get"] = _bind(self._legacy_get, entity)
            table[f"crm.{name}.update"] = _bind(self._legacy_update, entity)
            table[f"crm.{name}.add"] = _bind(self._legacy_add, entity)
            table[f"crm.{name}.list"] = _bind(self._legacy_list, entity)
        if self.item_api:
            table |= {"crm.item.add": self._item_add, "crm.item.update": self._item_update,
                      "crm.item.get": self._item_get, "crm.item.list": self._item_list}

        def logged(method: str, handler: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any], Any], Any]:
            def run(params: dict[str, Any], auth: Any = None) -> Any:
                self.calls.append((method, params))
                return handler(params)
            return run

        return {method: logged(method, handler) for method, handler in table.items()}

    def _findbycomm(self, params: dict[str, Any]) -> Any:
        kind = str(params.get("type") or "").upper()
        if not kind:
            raise CrmApiError(400, "Communication type is not defined", "Parameter 'type' is required.")
        if kind not in ("PHONE", "EMAIL"):
            raise CrmApiError(400, f"Communication type '{kind}' is not supported in current context", "")
        values = [str(v) for v in _list(params.get("values"))]
        if not values:
            raise CrmApiError(400, "Communication values is not defined", "Parameter 'values' is required.")
        if len(values) > 20:
            raise CrmApiError(400, "", "Maximum number of values is 20")
        wanted_type = str(params.get("entity_type") or "").upper()
        if wanted_type and wanted_type not in (LEAD, CONTACT, COMPANY):
            raise CrmApiError(400, "", f"Entity type '{wanted_type}' is not supported")
        keys = {_comm_key(kind, v) for v in values} - {""}
        found: dict[str, list[int]] = {}
        for entity in (LEAD, CONTACT, COMPANY):
            if wanted_type and entity != wanted_type:
                continue
            ids = [i for i, r in self.entities[entity].items()
                   if keys & {_comm_key(kind, m["VALUE"]) for m in r.get(kind, [])}]
            if ids:
                found[entity] = ids[:20]
                if len(ids) >= 20:  # the documented quirk: the other types are left out
                    break
        return found or []

    def _legacy_get(self, entity: str, params: dict[str, Any]) -> dict[str, Any]:
        record_id = _positive_id(params.get("id"))
        if record_id not in self.entities[entity]:
            raise CrmApiError(400, "", "Not found")
        return _upper_view(self.entities[entity][record_id])

    def _legacy_update(self, entity: str, params: dict[str, Any]) -> bool:
        record_id = _positive_id(params.get("id"))
        fields = _fields(params.get("fields"))
        if record_id not in self.entities[entity]:
            raise CrmApiError(400, "", f"{entity.capitalize()} is not found")
        self._apply(entity, record_id, {k.upper(): v for k, v in fields.items()})
        return True

    def _legacy_add(self, entity: str, params: dict[str, Any]) -> int:
        fields = {k.upper(): v for k, v in _fields(params.get("fields")).items()}
        return self._store(entity, fields)

    def _legacy_list(self, entity: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = params.get("filter") or {}
        if not isinstance(wanted, Mapping):
            raise CrmApiError(400, "", "Parameter 'filter' must be array")
        found = []
        for record_id in sorted(self.entities[entity]):
            record = {"ID": str(record_id), **_upper_view(self.entities[entity][record_id])}
            record["CLOSED"] = "N" if record.get("STAGE_SEMANTIC_ID", "P") == "P" else "Y"
            accepted = all(str(record.get(str(key).lstrip("=@"))) in {str(v) for v in _list(value)}
                           for key, value in wanted.items())
            if accepted:
                found.append(record)
        start = int(params.get("start") or 0)
        return found[start:start + PAGE]

    def _item_add(self, params: dict[str, Any]) -> dict[str, Any]:
        entity = _entity_type(params)
        fields = _fields(params.get("fields"))
        record_id = self._store(entity, self._from_item(fields))
        return {"item": self._item_view(entity, record_id)}

    def _item_update(self, params: dict[str, Any]) -> dict[str, Any]:
        entity = _entity_type(params)
        record_id = self._item_id(entity, params)
        self._apply(entity, record_id, self._from_item(_fields(params.get("fields"))))
        return {"item": self._item_view(entity, record_id)}

    def _item_get(self, params: dict[str, Any]) -> dict[str, Any]:
        entity = _entity_type(params)
        return {"item": self._item_view(entity, self._item_id(entity, params))}

    def _item_list(self, params: dict[str, Any]) -> dict[str, Any]:
        entity = _entity_type(params)
        wanted = params.get("filter") or {}
        if not isinstance(wanted, Mapping):
            raise CrmApiError(400, "", "Parameter 'filter' must be array")
        items = [self._item_view(entity, i) for i in sorted(self.entities[entity])]
        for key, value in wanted.items():
            name = str(key).lstrip("=@")
            accepted = {str(v) for v in _list(value)} if isinstance(value, list | Mapping) else {str(value)}
            items = [i for i in items if accepted & ({str(v) for v in i.get(name) or []}
                                                     if isinstance(i.get(name), list) else {str(i.get(name))})]
        start = int(params.get("start") or 0)
        return {"items": items[start:start + PAGE]}

    def _user_get(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = params.get("FILTER") or params.get("filter") or {}
        if not isinstance(wanted, Mapping):
            raise CrmApiError(400, "", "FILTER must be an object")
        users = sorted(self.users.values(), key=lambda u: u.id)
        for key, value in wanted.items():
            values = {str(v) for v in _list(value)} if isinstance(value, list | Mapping) else {str(value)}
            name = str(key).lstrip("@=")
            if name == "ID":
                users = [u for u in users if str(u.id) in values]
            elif name == "ACTIVE":
                active = values & {"true", "True", "Y", "1"}
                users = [u for u in users if u.active == bool(active)]
            elif name == "UF_PHONE_INNER":
                users = [u for u in users if u.phone_inner in values]
        start = int(params.get("start") or 0)
        return [{"ID": str(u.id), "ACTIVE": u.active, "NAME": u.name, "UF_PHONE_INNER": u.phone_inner,
                 "USER_TYPE": "employee"} for u in users[start:start + PAGE]]

    def _search_crm_entities(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        number = str(params.get("PHONE_NUMBER") or "")
        if not number:
            raise CrmApiError(400, "ERROR_CORE", "PHONE_NUMBER is empty")
        key = _comm_key("PHONE", number)
        found = []
        for entity in (CONTACT, COMPANY, LEAD):
            for record_id, record in self.entities[entity].items():
                if key and key in {_comm_key("PHONE", m["VALUE"]) for m in record.get("PHONE", [])}:
                    user = self.users.get(int(record["ASSIGNED_BY_ID"]))
                    found.append({
                        "CRM_ENTITY_TYPE": entity, "CRM_ENTITY_ID": record_id,
                        "ASSIGNED_BY_ID": int(record["ASSIGNED_BY_ID"]),
                        "NAME": record.get("NAME") or record.get("TITLE") or "",
                        "ASSIGNED_BY": {
                            "ID": str(record["ASSIGNED_BY_ID"]),
                            "TIMEMAN_STATUS": user.timeman_status if user else "UNAVAILABLE",
                            "USER_PHONE_INNER": user.phone_inner if user else None,
                            "WORK_PHONE": None, "PERSONAL_PHONE": None, "PERSONAL_MOBILE": None,
                        },
                    })
        return found

    # -- storage ------------------------------------------------------------------------

    def _store(self, entity: str, fields: dict[str, Any]) -> int:
        record_id = next(self._ids)
        record: dict[str, Any] = {"ASSIGNED_BY_ID": 1, "PHONE": [], "EMAIL": []}
        if entity == DEAL:
            record |= {"STAGE_SEMANTIC_ID": "P", "CONTACT_IDS": []}
        self.entities[entity][record_id] = record
        self._apply(entity, record_id, fields)
        return record_id

    def _apply(self, entity: str, record_id: int, fields: Mapping[str, Any]) -> None:
        record = self.entities[entity][record_id]
        for name, value in fields.items():
            if name in MULTIFIELDS:
                record.setdefault(name, [])
                record[name] = record[name] + [{"VALUE": str(m["VALUE"]), "VALUE_TYPE": m.get("VALUE_TYPE", "WORK")}
                                               for m in _list(value) if isinstance(m, Mapping) and m.get("VALUE")]
            elif name == "ASSIGNED_BY_ID":
                user_id = _positive_id(value, what="ASSIGNED_BY_ID")
                record[name] = user_id
            elif name == "CONTACT_IDS":
                record[name] = [int(v) for v in _list(value)]
            elif name == "CONTACT_ID" and entity == DEAL:
                record["CONTACT_IDS"] = [int(value)]
            else:
                record[name] = value
        if entity == DEAL:
            record["CONTACT_ID"] = (record.get("CONTACT_IDS") or [None])[0]

    def _from_item(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        upper: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "fm":
                for m in _list(value):
                    if isinstance(m, Mapping) and str(m.get("typeId", "")).upper() in MULTIFIELDS:
                        upper.setdefault(str(m["typeId"]).upper(), []).append(
                            {"VALUE": m.get("value"), "VALUE_TYPE": m.get("valueType", "WORK")})
            elif name in _ITEM_NAMES:
                upper[_ITEM_NAMES[name]] = value
        return upper

    def _item_id(self, entity: str, params: dict[str, Any]) -> int:
        record_id = _positive_id(params.get("id"))
        if record_id not in self.entities[entity]:
            raise CrmApiError(400, "NOT_FOUND", "Element not found")
        return record_id

    def _item_view(self, entity: str, record_id: int) -> dict[str, Any]:
        record = self.entities[entity][record_id]
        item: dict[str, Any] = {"id": record_id, "entityTypeId": _TYPE_OF[entity]}
        for name, value in record.items():
            if name in _UPPER_NAMES:
                item[_UPPER_NAMES[name]] = value
        item["fm"] = [{"typeId": kind, "valueType": m["VALUE_TYPE"], "value": m["VALUE"]}
                      for kind in MULTIFIELDS for m in record.get(kind, [])]
        return item


_TYPE_OF = {name: type_id for type_id, name in TYPE_IDS.items()}


def _bind(handler: Callable[[str, dict[str, Any]], Any], entity: str) -> Callable[[dict[str, Any]], Any]:
    return lambda params: handler(entity, params)


def _comm_key(kind: str, value: Any) -> str:
    text = str(value).strip()
    return re.sub(r"\D", "", text) if kind == "PHONE" else text.lower()


def _list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, Mapping):  # PHP-style form arrays: {"0": a, "1": b}
        return [value[k] for k in sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _positive_id(value: Any, what: str = "ID") -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number <= 0:
        raise CrmApiError(400, "", f"{what} is not defined or invalid.")
    return number


def _fields(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CrmApiError(400, "", "Parameter 'fields' must be array")
    return value


def _entity_type(params: dict[str, Any]) -> str:
    try:
        type_id = int(str(params.get("entityTypeId")))
    except ValueError:
        type_id = 0
    if type_id not in TYPE_IDS:
        raise CrmApiError(400, "NOT_FOUND", "Smart process not found")
    return TYPE_IDS[type_id]


def _upper_view(record: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in record.items()}
    view["ASSIGNED_BY_ID"] = str(record["ASSIGNED_BY_ID"])
    return view


class LocalPortal:
    """``FakeCrm`` behind the agreed portal interface (``call``), without HTTP: for the
    entity logic's own tests. ``delay_s`` and ``down`` make the portal slow or absent."""

    def __init__(self, crm: FakeCrm, error: Callable[[CrmApiError], Exception] | None = None) -> None:
        self.crm = crm
        self.delay_s = 0.0
        self.down = False
        self._methods = {name.lower(): handler for name, handler in crm.methods().items()}
        self._error = error or (lambda e: e)

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.down:
            raise ConnectionError("the portal does not answer")
        handler = self._methods.get(method.lower())
        if handler is None:
            raise self._error(CrmApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!"))
        try:
            return handler(dict(params), None)
        except CrmApiError as exc:
            raise self._error(exc) from None

    async def batch(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], *, live: bool = False
                    ) -> dict[str, Any]:
        """Every command's result by its key (one request on a real portal)."""
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.down:
            raise ConnectionError("the portal does not answer")
        self.crm.calls.append(("batch", {"cmd": dict(commands)}))
        return {key: self._methods[method.lower()](dict(params), None) for key, (method, params) in commands.items()}
