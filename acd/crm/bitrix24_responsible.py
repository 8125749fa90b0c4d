"""Who is responsible for a caller, as Bitrix24 says: asked before a known caller is
routed, and kept in agreement with acd's own record.

- :class:`UserMap`: Bitrix24 users <-> acd agents, from the configured map and, for an
  agent without one, the agent's extension as the employee's internal number
  (``UF_PHONE_INNER`` / ``USER_PHONE_INNER``). :func:`check_users` asks ``user.get`` at
  start and logs every mapped user the portal does not know or has dismissed.
- :class:`ResponsibleLookup`: ``telephony.externalCall.searchCrmEntities`` (the contact,
  company or lead with the number and its responsible employee), within the routing
  budget, cached for a while, and not asked again for a short cool-off after Bitrix24
  failed or was slow: routing then uses acd's own record at once. A slow answer still
  fills the cache for the next call from that number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .bitrix24_crm import CARD_ORDER, Call, Ref, phone_forms

log = logging.getLogger(__name__)

Commands = Mapping[str, tuple[str, Mapping[str, Any]]]


class BatchPortal(Protocol):
    """What the look-up needs of :class:`~acd.crm.bitrix24_portal.Bitrix24Portal`."""

    async def batch(self, commands: Commands, *, live: bool = False) -> Mapping[str, Any]: ...

USER_PAGE = 50  # user.get answers at most 50 users a request


class UserMap:
    def __init__(self, users: Mapping[str, int | str], extensions: Mapping[str, str] | None = None) -> None:
        """``users``: acd agent -> Bitrix24 user id; ``extensions``: acd agent -> its
        extension, for agents not in ``users`` (matched to the employee's internal number)."""
        self.users = {str(agent): str(user) for agent, user in users.items()}
        self._agents = {user: agent for agent, user in self.users.items()}
        self._by_extension = {ext: agent for agent, ext in (extensions or {}).items()
                              if ext and agent not in self.users}

    def agent_of(self, user_id: object, phone_inner: object = None) -> str | None:
        agent = self._agents.get(str(user_id))
        if agent is None and phone_inner:
            agent = self._by_extension.get(str(phone_inner))
        return agent

    def user_of(self, agent: str) -> str | None:
        return self.users.get(agent)

    def learn(self, agent: str, user_id: str) -> None:
        self.users[agent] = user_id
        self._agents[user_id] = agent

    @property
    def unmapped_extensions(self) -> dict[str, str]:
        return {ext: agent for ext, agent in self._by_extension.items() if agent not in self.users}


async def check_users(call: Call, users: UserMap) -> list[str]:
    """Check the mapping against the portal (``user.get``): each configured user must
    exist and be active; agents mapped by extension get their user id. Returns the
    problems, each also logged (a clear line naming the agent and the user)."""
    problems: list[str] = []
    ids = sorted(set(users.users.values()), key=lambda u: (len(u), u))
    seen: dict[str, Mapping[str, object]] = {}
    for start in range(0, len(ids), USER_PAGE):
        for user in await call("user.get", {"FILTER": {"ID": ids[start:start + USER_PAGE]}}) or []:
            seen[str(user.get("ID"))] = user
    for agent, user_id in sorted(users.users.items()):
        user = seen.get(user_id)
        if user is None:
            problems.append(f"agent {agent!r}: Bitrix24 has no user {user_id}")
        elif user.get("ACTIVE") in (False, "N", "false", 0):
            problems.append(f"agent {agent!r}: Bitrix24 user {user_id} is dismissed (not active)")
    extensions = users.unmapped_extensions
    if extensions:
        for user in await call("user.get", {"FILTER": {"UF_PHONE_INNER": sorted(extensions), "ACTIVE": True}}) or []:
            extension_of = extensions.get(str(user.get("UF_PHONE_INNER")))
            if extension_of is not None and extension_of not in users.users:
                users.learn(extension_of, str(user["ID"]))
                log.info("crm.bitrix24_user_by_extension", extra={"agent": extension_of, "bitrix24_user": user["ID"]})
        for ext, agent in sorted(users.unmapped_extensions.items()):
            problems.append(f"agent {agent!r}: no active Bitrix24 user has the internal number {ext}")
    for problem in problems:
        log.warning("crm.bitrix24_user_mapping: %s", problem)
    return problems


@dataclass(frozen=True, slots=True)
class Responsible:
    """Bitrix24's answer for a number: the record and its responsible person (``agent``
    None when that employee is no acd agent, or when no record has the number)."""

    agent: str | None
    user_id: str | None = None
    entity: Ref | None = None
    timeman_status: str = ""


NOBODY = Responsible(None)


class ResponsibleLookup:
    def __init__(self, portal: BatchPortal, users: UserMap, *, region: str = "DE", budget_s: float = 0.4,
                 ttl_s: float = 300.0, cool_off_s: float = 30.0, max_cached: int = 10_000,
                 now: Callable[[], float] = time.monotonic) -> None:
        """``portal``: the portal's :class:`~acd.crm.bitrix24_portal.Bitrix24Portal`."""
        self._portal = portal
        self.region = region
        self.users = users
        self.budget_s = budget_s
        self.ttl_s = ttl_s
        self.cool_off_s = cool_off_s
        self.max_cached = max_cached
        self._now = now
        self._cache: OrderedDict[str, tuple[float, Responsible]] = OrderedDict()
        self._asking: dict[str, asyncio.Task[Responsible]] = {}
        self._quiet_until = 0.0

    async def responsible(self, number: str) -> Responsible | None:
        """Bitrix24's responsible person for ``number`` (E.164), or None when Bitrix24
        did not answer within the budget (or is in its cool-off after failing)."""
        now = self._now()
        cached = self._cache.get(number)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(number)
            return cached[1]
        if now < self._quiet_until:
            return None
        task = self._asking.get(number)
        if task is None:
            task = self._asking[number] = asyncio.ensure_future(self._ask(number))
            task.add_done_callback(lambda _: self._asking.pop(number, None))
        try:
            async with asyncio.timeout(self.budget_s):
                return await asyncio.shield(task)
        except TimeoutError:
            log.warning("crm.bitrix24_responsible_slow", extra={"budget_s": self.budget_s})
            self._quiet_until = self._now() + self.cool_off_s
        except Exception as error:
            log.warning("crm.bitrix24_responsible_failed: %s", error)
            self._quiet_until = self._now() + self.cool_off_s
        return None

    def forget(self, numbers: Iterable[str]) -> None:
        """Bitrix24 changed these clients: ask again next time."""
        for number in numbers:
            self._cache.pop(number, None)

    async def _ask(self, number: str) -> Responsible:
        # E.164 and the national form in one request (a batch counts once against the
        # portal's rate limit): Bitrix24 matches numbers the way they were typed in
        forms = phone_forms(number, self.region)
        method = "telephony.externalCall.searchCrmEntities"
        # live: a caller waits, so it goes before the outbox's requests
        results = await self._portal.batch({f"n{i}": (method, {"PHONE_NUMBER": form}) for i, form in enumerate(forms)},
                                           live=True)
        found = [entity for form in range(len(forms)) for entity in _entities(results.get(f"n{form}"))]
        answer = _pick(found, self.users)
        self._cache[number] = (self._now() + self.ttl_s, answer)
        self._cache.move_to_end(number)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return answer

    async def close(self) -> None:
        for task in list(self._asking.values()):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def _entities(result: object) -> list[Mapping[str, object]]:
    return [e for e in result if isinstance(e, Mapping)] if isinstance(result, list) else []


def _pick(entities: list[Mapping[str, object]], users: UserMap) -> Responsible:
    """The record Bitrix24's call card shows (a contact, else a company, else a lead)."""
    def rank(entity: Mapping[str, object]) -> int:
        kind = str(entity.get("CRM_ENTITY_TYPE", ""))
        return CARD_ORDER.index(kind) if kind in CARD_ORDER else len(CARD_ORDER)

    for entity in sorted(entities, key=rank):
        if str(entity.get("CRM_ENTITY_TYPE", "")) not in CARD_ORDER:
            continue
        employee = entity.get("ASSIGNED_BY")
        employee = employee if isinstance(employee, Mapping) else {}
        user_id = str(entity.get("ASSIGNED_BY_ID") or employee.get("ID") or "")
        return Responsible(users.agent_of(user_id, employee.get("USER_PHONE_INNER")), user_id or None,
                           (str(entity["CRM_ENTITY_TYPE"]), str(entity.get("CRM_ENTITY_ID"))),
                           str(employee.get("TIMEMAN_STATUS") or ""))
    return NOBODY
