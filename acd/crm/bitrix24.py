"""Bitrix24's side of the outbox: what each outbox event becomes on the portal. Every
request goes through the portal's :class:`~acd.crm.bitrix24_portal.Bitrix24Portal`
(auth, the rate limit, redirects), form-encoded the way Bitrix24's own examples are
(``fields[ASSIGNED_BY_ID]=7``).

- ``owner.changed`` (a manual transfer): the new responsible person on what the queue
  group's ``transfer_updates`` names: the contact, company or lead Bitrix24 finds first
  (``client``), every lead, contact or company with the number, or their open deals
  (``crm.item.update``, see :mod:`acd.crm.bitrix24_crm`).
- ``lead.created``: a lead, or in the simple CRM a contact with a deal, unless
  ``crm.duplicate.findbycomm`` finds the client already as a contact, company or lead
  (a repeat after a lost answer must not make a second one).
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

from .bitrix24_crm import Bitrix24Crm, Call, find, first, transfer_updates
from .bitrix24_portal import Bitrix24Error, Bitrix24Portal, WebhookAuth, flatten
from .bitrix24_telephony import CallCards, deliver_call
from .connectors import reveal
from .outbox import CALL_FINISHED, LEAD_CREATED, OWNER_CHANGED, Envelope, Outcome

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
        region: str = "DE",
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
        self.crm = Bitrix24Crm(region)  # what this portal supports: its CRM mode, crm.item.*

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

    def _caller(self, http: httpx.AsyncClient, envelope: Envelope) -> Call:
        async def call(method: str, params: Mapping[str, Any]) -> Any:
            return await self._call(http, envelope, method, params)
        return call

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

