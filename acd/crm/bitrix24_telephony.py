"""A call in Bitrix24's telephony: the live call card while it rings, and the call in
the client's timeline when it ends (telephony.externalCall.*, bitrix24/b24restdocs
api-reference/telephony).

The live card (:class:`CallCards`, a distributor listener) follows Bitrix24's queue
scenarios: as the call first rings, ``register`` with ``SHOW=1`` for the member who
rings (the others ringing at once get ``show`` in the same batch); as ringing moves on,
``hide`` for who stops and ``show`` for who starts, in one batch; when someone answers,
``hide`` for the others. These go straight to the portal (first in its queue), never
through the outbox's back-off: a card a minute late is no card.

The end of the call goes through the outbox (:func:`deliver_call`), durable: ``finish``
with the agent who answered, or the group's responsible person for a missed call, and
``attachRecord`` when acd knows of a recording, all in one batch; the card closes with
``finish`` (those still shown are hidden in the same batch).

Requests per call, against the portal's 2/s: without the live card 1 (register, finish
in one batch). With it, strict/evenly: 1 (register) + 1 per move to the next member + 1
(finish); all at once: 1 (register and show) + 1 (hide the others on answer) + 1 (finish).

Idempotency (every step may lose its answer and be sent again):

- ``EXTERNAL_CALL_ID`` is the Asterisk call id. Bitrix24 answers a repeated ``register``
  with the same CALL_ID only within 30 minutes of the call's start, so the card
  registers at the first ring, and the CALL_ID travels to the end of the call; a
  repeat of the card's register after a lost answer comes seconds later.
- Without the card (or after a restart) the end of the call registers and finishes in
  one batch. Any later attempt (its answer lost, or the attempt cut short by the
  outbox's deadline) first looks the call up (``voximplant.statistic.get`` by
  EXTERNAL_CALL_ID) instead of registering it twice.
- A repeated ``finish`` answers ``ERROR_CORE`` "Call is not found" (finish deletes the
  call): the call was delivered.
- ``DURATION``: Bitrix24 calls a call answered when ``DURATION > 0``, so an answered call
  is at least 1 s (rounded, not cut).
- ``finish`` answering 200 with ``ERRORS`` (``ACTIVITY_CREATION``): the call was saved
  but not its activity in the timeline: not a success, the job goes dead saying so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..core.commands import Command, Record, Ring
from ..core.events import Event
from .bitrix24_portal import Bitrix24Error, Bitrix24Portal
from .outbox import Outcome

log = logging.getLogger(__name__)

REGISTER = "telephony.externalcall.register"
FINISH = "telephony.externalcall.finish"
SHOW = "telephony.externalcall.show"
HIDE = "telephony.externalcall.hide"
ATTACH_RECORD = "telephony.externalcall.attachRecord"
STATISTIC = "voximplant.statistic.get"
INCOMING = 2
KEEP_S = 4 * 3600.0  # a card's state outlives its call this long at most


def duration_of(call: Mapping[str, Any]) -> int:
    """Whole seconds, and at least 1 for an answered call (Bitrix24: answered when > 0)."""
    if not call.get("answered"):
        return 0
    return max(1, round(float(call.get("duration_s") or 0.0)))


def register_params(call: Mapping[str, Any], user: str, *, show: bool,
                    ref: tuple[str, str] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "USER_ID": user,
        "PHONE_NUMBER": call["number"],
        "TYPE": INCOMING,
        "CALL_START_DATE": datetime.fromtimestamp(float(call["started_at"]), UTC).isoformat(),
        "CRM_CREATE": 0,  # leads are acd's decision (lead.created), not Bitrix24's
        "SHOW": 1 if show else 0,
        "EXTERNAL_CALL_ID": str(call["id"]),
    }
    if ref is not None and ref[0] in ("CONTACT", "COMPANY", "LEAD"):
        params |= {"CRM_ENTITY_TYPE": ref[0], "CRM_ENTITY_ID": ref[1]}
    if call.get("line"):
        params["LINE_NUMBER"] = call["line"]
    return params


def _not_found(error: Any) -> bool:
    return isinstance(error, Bitrix24Error) and error.code == "ERROR_CORE" and "not found" in error.description.lower()


@dataclass(slots=True)
class _Card:
    call_id: str  # the Asterisk call id (EXTERNAL_CALL_ID)
    number: str
    line: str
    started_at: float
    seen_at: float  # by our clock: when to forget a card nobody took
    bitrix_call_id: str | None = None
    registered_for: str | None = None  # the Bitrix24 user the call is registered for
    shown: set[str] = field(default_factory=set)  # Bitrix24 users seeing the card
    chain: asyncio.Task[None] | None = None  # its requests, one after another
    ended_at: float | None = None


class CallCards:
    """The live call card: a distributor listener (``__call__(event, commands)``)."""

    def __init__(self, portal: Bitrix24Portal, users: Mapping[str, str], *, region_number: Callable[[str], str]
                 = lambda n: n, attempts: int = 3, now: Callable[[], float] = time.time) -> None:
        self.portal = portal
        self.users = dict(users)  # acd agent -> Bitrix24 user
        self.region_number = region_number  # the caller's number as Bitrix24 gets it (E.164)
        self.attempts = attempts
        self.now = now
        self.requests = 0  # the card's requests (each batch is one)
        self._cards: dict[str, _Card] = {}
        self._unmapped: set[str] = set()

    # -- the distributor listener ---------------------------------------------------------

    def __call__(self, event: Event | None, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, Record):
                self._on_record(command)
            elif isinstance(command, Ring):
                self._on_ring(command)

    def take(self, call_id: str) -> tuple[str | None, set[str], str | None]:
        """For the end of the call: its Bitrix24 CALL_ID (if the card registered it), who
        still sees the card, and who it is registered for. The card forgets the call."""
        card = self._cards.pop(call_id, None)
        if card is None:
            return None, set(), None
        return card.bitrix_call_id, set(card.shown), card.registered_for

    async def settled(self) -> None:
        """Until every card request made so far is done (tests, shutdown)."""
        chains = [c.chain for c in self._cards.values() if c.chain is not None]
        if chains:
            await asyncio.gather(*chains, return_exceptions=True)

    def _on_record(self, record: Record) -> None:
        detail = record.detail
        if record.kind in ("arrived", "recovered"):
            number = self.region_number(str(detail.get("caller_number", "")))
            if number:
                self._cards.setdefault(record.call_id, _Card(record.call_id, number, str(detail.get("did", "")),
                                                             record.at, self.now()))
            self._forget_old()
            return
        card = self._cards.get(record.call_id)
        if card is None:
            return
        if record.kind == "answered" and detail.get("agent"):
            user = self.users.get(str(detail["agent"]))
            self._then(card, self._keep_only, {user} if user else set())
        elif record.kind in ("ended", "abandoned", "missed"):
            card.ended_at = record.at

    def _on_ring(self, ring: Ring) -> None:
        card = self._cards.get(ring.call_id)
        if card is None or card.ended_at is not None:
            return
        users = [u for a in ring.agent_ids if (u := self._user(a))]
        if users:
            self._then(card, self._ring, users)

    # -- the requests, in order per call ----------------------------------------------------

    def _then(self, card: _Card, step: Callable[[_Card, Any], Any], arg: Any) -> None:
        previous = card.chain

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await step(card, arg)
            except Exception:  # the card is a courtesy: the call's record goes through the outbox
                log.warning("bitrix24.card_failed", extra={"call_id": card.call_id}, exc_info=True)

        card.chain = asyncio.get_running_loop().create_task(run())

    async def _ring(self, card: _Card, users: Sequence[str]) -> None:
        """Ringing (re)starts for ``users``: the card follows them."""
        wanted = list(dict.fromkeys(users))
        if card.bitrix_call_id is None:
            call = {"id": card.call_id, "number": card.number, "line": card.line, "started_at": card.started_at}
            commands: dict[str, tuple[str, Mapping[str, Any]]] = {
                "register": (REGISTER, register_params(call, wanted[0], show=True))}
            if len(wanted) > 1:
                commands["show"] = (SHOW, {"CALL_ID": "$result[register][CALL_ID]", "USER_ID": wanted[1:]})
            answer = await self._send(commands)
            registered = answer.get("register")
            if not isinstance(registered, Mapping) or not registered.get("CALL_ID"):
                raise RuntimeError(f"register gave no CALL_ID: {str(registered)[:200]}")
            card.bitrix_call_id = str(registered["CALL_ID"])
            card.registered_for = wanted[0]
            card.shown = {wanted[0]} | (set(wanted[1:]) if answer.get("show") is True else set())
            return
        await self._show_only(card, set(wanted))

    async def _keep_only(self, card: _Card, users: set[str]) -> None:
        """Someone answered: the card stays only with them."""
        if card.bitrix_call_id is None:
            return
        stale = card.shown - users
        if stale:
            await self._send({"hide": (HIDE, {"CALL_ID": card.bitrix_call_id, "USER_ID": sorted(stale)})})
            card.shown -= stale

    async def _show_only(self, card: _Card, users: set[str]) -> None:
        assert card.bitrix_call_id is not None
        commands: dict[str, tuple[str, Mapping[str, Any]]] = {}
        if stale := card.shown - users:
            commands["hide"] = (HIDE, {"CALL_ID": card.bitrix_call_id, "USER_ID": sorted(stale)})
        if new := users - card.shown:
            commands["show"] = (SHOW, {"CALL_ID": card.bitrix_call_id, "USER_ID": sorted(new)})
        if commands:
            await self._send(commands)
            card.shown = (card.shown - stale) | new

    async def _send(self, commands: dict[str, tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
        """One request (a batch if more than one command), sent again when its answer is
        lost: a register repeated seconds later gets the same CALL_ID back (EXTERNAL_CALL_ID),
        show and hide are the same twice."""
        for attempt in range(1, self.attempts + 1):
            self.requests += 1
            try:
                if len(commands) == 1:
                    [(key, (method, params))] = commands.items()
                    return {key: await self.portal.call(method, params, live=True)}
                answer = await self.portal.batch(commands, halt=True, live=True)
            except Bitrix24Error as error:
                if not error.retryable or error.rate_limited or attempt == self.attempts:
                    raise
                continue
            failed = next((v for v in answer.values() if isinstance(v, Bitrix24Error)), None)
            if failed is not None and "register" in commands and not isinstance(answer.get("register"), Mapping):
                raise failed
            return answer
        raise AssertionError("unreachable")

    def _user(self, agent: str) -> str | None:
        user = self.users.get(agent)
        if user is None and agent not in self._unmapped:
            self._unmapped.add(agent)
            log.warning("bitrix24.card_agent_unmapped", extra={"agent": agent})
        return user

    def _forget_old(self) -> None:
        """Calls whose end never took their card (a group without Bitrix24, a lost job)."""
        limit = self.now() - KEEP_S
        for call_id in [c for c, card in self._cards.items() if card.seen_at < limit]:
            del self._cards[call_id]


async def deliver_call(portal: Bitrix24Portal, call: Mapping[str, Any], user: str, *, ref: tuple[str, str] | None,
                       progress: dict[str, Any], attempts: int = 0, cards: CallCards | None = None) -> Outcome:
    """The end of a call, as one outbox attempt. ``progress`` (kept between attempts)
    gains ``bitrix_call_id`` and ``sent``; the caller returns it with the outcome.
    ``attempts``: the job's attempts before this one."""
    external_id = str(call["id"])
    live_call_id, shown, _ = cards.take(external_id) if cards is not None else (None, set(), None)
    if live_call_id and "bitrix_call_id" not in progress:
        progress["bitrix_call_id"] = live_call_id
        progress["shown"] = sorted(shown)
    call_id = progress.get("bitrix_call_id")
    if call_id is None and (progress.get("sent") or attempts > 0):
        # the register + finish batch may have gone out and its answer been lost (or the
        # attempt cut short before its progress was kept): done already?
        found = await portal.call(STATISTIC, {"FILTER": {"EXTERNAL_CALL_ID": external_id}})
        if isinstance(found, list) and found:
            return Outcome.delivered(200, note="already in Bitrix24 (an earlier answer was lost)")
    commands: dict[str, tuple[str, Mapping[str, Any]]] = {}
    if call_id is None:
        commands["register"] = (REGISTER, register_params(call, user, show=False, ref=ref))
        call_id = "$result[register][CALL_ID]"
    hide = [u for u in progress.get("shown", []) if u != user]
    if hide:
        commands["hide"] = (HIDE, {"CALL_ID": call_id, "USER_ID": hide})
    commands["finish"] = (FINISH, {"CALL_ID": call_id, "USER_ID": user, "DURATION": duration_of(call),
                                   "STATUS_CODE": "200" if call.get("answered") else "304", "ADD_TO_CHAT": 0})
    if call.get("recording_url"):
        commands["record"] = (ATTACH_RECORD, {"CALL_ID": call_id, "RECORD_URL": call["recording_url"]})
    if len(commands) == 1:
        try:
            answer: dict[str, Any] = {"finish": await portal.call(FINISH, commands["finish"][1])}
        except Bitrix24Error as error:
            answer = {"finish": error}
    else:
        try:
            answer = await portal.batch(commands, halt=True)
        except Bitrix24Error as error:
            if "register" in commands and not error.rate_limited:  # a rate-limit refusal did nothing
                progress["sent"] = True
            raise
    registered = answer.get("register")
    if isinstance(registered, Mapping) and registered.get("CALL_ID"):
        progress["bitrix_call_id"] = str(registered["CALL_ID"])
    finished = answer.get("finish")
    if "register" in commands and not isinstance(registered, Mapping):
        raise registered if isinstance(registered, Bitrix24Error) else Bitrix24Error(
            "UNEXPECTED_ANSWER", f"register gave no CALL_ID: {str(registered)[:200]}")
    if _not_found(finished) and "register" not in commands:
        return Outcome.delivered(200, note="finished already (Call is not found: an earlier answer was lost)")
    if isinstance(finished, Bitrix24Error):
        raise finished
    if not isinstance(finished, Mapping):
        raise Bitrix24Error("UNEXPECTED_ANSWER", f"finish answered {str(finished)[:200]}")
    if finished.get("ERRORS"):
        return Outcome.dead(f"Bitrix24 saved the call but not its activity in the timeline: "
                            f"{str(finished['ERRORS'])[:300]}", 200)
    note = ""
    if isinstance(answer.get("record"), Bitrix24Error):
        note = f"the recording was not attached: {answer['record']}"
    return Outcome.delivered(200, note=note)
