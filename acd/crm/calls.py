"""The CRM side of telephony: what calls tell the CRM, and the CRM built from settings.

``CallCrm`` listens to the distributor: a call's records (answered, missed, ended)
and manual transfers become CRM reports, queued so routing never waits; and
``owner_of`` answers "whose client is this caller?" within a short budget.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from ..core.commands import Command, Record, ReportManualTransfer, Ring
from ..core.events import Event
from .bitrix24 import Bitrix24Connector
from .bitrix24_crm import Call
from .bitrix24_events import OwnerSync
from .bitrix24_portal import AppAuth, Bitrix24Portal, PortalStore, TokenCipher, WebhookAuth
from .bitrix24_responsible import ResponsibleLookup, UserMap, check_users
from .bitrix24_telephony import CallCards
from .connectors import Connector
from .decisions import Interaction
from .feed import CrmFeed
from .identity import parse_phone, phone_to_look_up
from .models import create_all, make_engine
from .options import CrmOptions
from .sender import OutboxSender
from .webhook import WebhookConnector

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config import Bitrix24Settings, Settings

log = logging.getLogger(__name__)



@dataclass(slots=True)
class _CallNote:
    caller_number: str
    did: str
    group: str | None
    arrived_at: float
    agent: str | None = None
    answered_at: float | None = None


class CallCrm:
    def __init__(self, feed: CrmFeed, region: str, responsible: ResponsibleLookup | None = None,
                 cards: CallCards | None = None) -> None:
        """``responsible``: ask Bitrix24 who is responsible for a caller before routing.
        ``cards``: Bitrix24's live call card, for the calls of groups that use the CRM."""
        self.feed = feed
        self.region = region
        self.responsible = responsible
        self.cards = cards
        self.owner_sync: OwnerSync | None = None  # Bitrix24's events, when a token is configured
        self.bitrix24_users: UserMap | None = None
        self._bitrix24_call: Call | None = None
        self._bitrix24_connector: Bitrix24Connector | None = None
        self._calls: dict[str, _CallNote] = {}

    async def owner_of(self, caller_number: str, group: str | None, budget_s: float = 0.2) -> str | None:
        """Whom a known caller rings first: Bitrix24's responsible person when Bitrix24
        answers within its budget and that person is an agent (acd's record then takes
        the same owner), else acd's own record."""
        identity = parse_phone(caller_number, self.region)
        if identity is None:
            return None
        options = self.feed.options.get(group or "")
        if options is not None and not (options.check_client and options.owner_first):
            return None
        if self.responsible is not None:
            answer = await self.responsible.responsible(identity.value)
            if answer is not None and answer.agent is not None:
                self.feed.crm_owner([identity], answer.agent)
                return answer.agent
        return await self.feed.owner_for(identity, queue=group, budget_s=budget_s)

    def owner_known(self, caller_number: str, group: str | None) -> tuple[bool, str | None]:
        """``owner_of`` answered at once from the CRM's owner index: (True, owner or
        None); (False, None) while the index is not loaded or Bitrix24 is asked (then
        await ``owner_of``)."""
        options = self.feed.options.get(group or "")
        if options is not None and not (options.check_client and options.owner_first):
            return True, None
        if self.responsible is not None:  # Bitrix24 is asked first: that takes ``owner_of``
            return False, None
        identity = phone_to_look_up(caller_number, self.region)
        if identity is None:
            return True, None
        return self.feed.owner_known(identity, queue=group)

    def use_bitrix24(self, b24: Bitrix24Settings, connector: Bitrix24Connector, settings: Settings) -> None:
        """Bitrix24 says who is responsible (asked before routing) and tells acd when that
        changes (its outgoing events), through the same portal as the outbox's jobs."""
        # one portal object per portal: its rate limit is shared by everything acd asks
        portal = connector.portal
        extensions = {a.id: a.extension or a.endpoint.partition("/")[2] for a in settings.agents} \
            if b24.map_by_extension else {}
        self.bitrix24_users = UserMap(dict(b24.users), extensions)
        self._bitrix24_call = portal.call
        self._bitrix24_connector = connector
        if b24.ask_responsible:
            self.responsible = ResponsibleLookup(portal, self.bitrix24_users, region=self.region,
                                                 budget_s=b24.responsible_budget_ms / 1000,
                                                 ttl_s=b24.responsible_cache_seconds)
        token = os.environ.get(b24.events_token_env or "", "")
        if token:
            self.owner_sync = OwnerSync(portal.call, self.bitrix24_users, self.feed, application_token=token,
                                        region=self.region, lookup=self.responsible)

    async def check_bitrix24_users(self) -> None:
        """At start: every mapped Bitrix24 user exists and is active (a clear log line
        for each that is not); agents mapped by their extension get their user."""
        if self.bitrix24_users is None or self._bitrix24_call is None:
            return
        try:
            await check_users(self._bitrix24_call, self.bitrix24_users)
        except Exception as error:  # the portal is down at start: the outbox's jobs will say more
            log.warning("crm.bitrix24_user_check_failed: %s", type(error).__name__)
            return
        if self._bitrix24_connector is not None:  # the outbox's calls and leads use the same users
            for agent, user in self.bitrix24_users.users.items():
                self._bitrix24_connector.users.setdefault(agent, user)

    # a Distributor listener: every event and the commands it caused
    def __call__(self, event: Event | None, commands: list[Command]) -> None:
        card: list[Command] = []
        for command in commands:
            # a call is known from its "arrived" record until its end: ask before the end forgets it
            if self.cards is not None and isinstance(command, Ring | Record) and self._uses_crm(command.call_id):
                card.append(command)
            if isinstance(command, Record):
                self._on_record(command)
                if (self.cards is not None and command.kind in ("arrived", "recovered")
                        and self._uses_crm(command.call_id)):
                    card.append(command)
        if card and self.cards is not None:
            self.cards(event, card)

    def _uses_crm(self, call_id: str) -> bool:
        note = self._calls.get(call_id)
        if note is None:
            return False
        options = self.feed.options.get(note.group or "")
        return options is None or options.check_client

    def manual_transfer(self, transfer: ReportManualTransfer) -> None:
        note = self._calls.get(transfer.call_id)
        self.feed.manual_transfer(transfer, queue=note.group if note else None)
        if note is not None:
            note.agent = transfer.to_agent

    def _on_record(self, record: Record) -> None:
        detail: Mapping[str, Any] = record.detail
        if record.kind in ("arrived", "recovered"):
            self._calls.setdefault(record.call_id, _CallNote(
                str(detail.get("caller_number", "")), str(detail.get("did", "")),
                detail.get("group") or None, record.at))
            return
        note = self._calls.get(record.call_id)
        if note is None:
            return
        options = self.feed.options.get(note.group or "")
        if options is not None and not options.check_client:  # the group keeps the CRM out
            if record.kind in ("ended", "abandoned"):
                self._calls.pop(record.call_id, None)
            return
        if record.kind == "answered" and detail.get("agent"):
            note.agent, note.answered_at = str(detail["agent"]), record.at
            self.feed.answered(self._interaction(record.call_id, note), note.agent)
        elif record.kind == "missed":
            responsible = (detail.get("tried") or [None])[0]
            self.feed.missed(self._interaction(record.call_id, note), responsible)
        elif record.kind == "ended":
            self._calls.pop(record.call_id, None)
            if note.agent and note.answered_at is not None:
                self.feed.call_finished(self._interaction(record.call_id, note), note.agent,
                                        max(0.0, record.at - note.answered_at))
        elif record.kind == "abandoned":
            self._calls.pop(record.call_id, None)

    def _interaction(self, call_id: str, note: _CallNote) -> Interaction:
        return Interaction.call(call_id, note.caller_number, note.arrived_at, region=self.region, line=note.did,
                                queue=note.group)


def crm_options(settings: Settings) -> dict[str, CrmOptions]:
    """What the CRM does per queue group and per channel queue (the service sets them
    again when the settings change, so a page's change applies at once)."""
    options = {g.id: CrmOptions(**g.crm.model_dump()) for g in settings.groups}
    options.update({c.id: CrmOptions(check_client=c.check_client, owner_first=c.owner_first,
                                     owner_follows_transfer=c.owner_follows_transfer) for c in settings.channels})
    return options


def build_crm(settings: Settings, clock: Clock, database_url: str) -> tuple[CrmFeed, OutboxSender, CallCrm]:
    """The built-in CRM on the service's database and the connectors the settings name.
    Connector URLs and secrets come from the environment variables the settings name;
    a missing or malformed one stops the start with an error naming the item."""
    from ..config import ConfigError

    engine = make_engine(database_url)
    create_all(engine)
    connectors: list[Connector] = []
    problems: list[tuple[str, str]] = []

    def env(item: str, name: str) -> str:
        value = os.environ.get(name, "")
        if not value:
            problems.append((item, f"environment variable {name} is not set"))
        return value

    for n, hook in enumerate(settings.crm.webhooks):
        item = f'crm.webhooks[{n}] "{hook.name}"'
        url, secret = env(item + ".url_env", hook.url_env), env(item + ".secret_env", hook.secret_env)
        if url and secret:
            try:
                connectors.append(WebhookConnector(hook.name, url, secret, now=clock.now))
            except ValueError as error:
                problems.append((item, str(error)))
    cards: CallCards | None = None
    bitrix24: Bitrix24Connector | None = None
    if settings.crm.bitrix24 is not None:
        b24 = settings.crm.bitrix24
        if b24.events_token_env:
            env("crm.bitrix24.events_token_env", b24.events_token_env)
        portal = _bitrix24_portal(b24, engine, env, problems)
        if portal is not None:
            users = {agent: str(user) for agent, user in b24.users.items()}
            if b24.live_card:
                cards = CallCards(portal, users, region_number=partial(_e164, region=settings.crm.region))
            bitrix24 = Bitrix24Connector(
                b24.name, portal, dict(b24.users), fallback_user=b24.fallback_user, now=clock.now, cards=cards,
                responsibles={g.id: g.responsible for g in settings.groups}, region=settings.crm.region)
            connectors.append(bitrix24)
    if problems:
        raise ConfigError("<environment>", problems)
    sender = OutboxSender(engine, connectors, now=clock.now)
    feed = CrmFeed(engine, region=settings.crm.region, targets=[c.name for c in connectors],
                   options=crm_options(settings),
                   now=clock.now, sender=sender)
    calls = CallCrm(feed, settings.crm.region, cards=cards)
    if bitrix24 is not None and settings.crm.bitrix24 is not None:
        calls.use_bitrix24(settings.crm.bitrix24, bitrix24, settings)
    return feed, sender, calls


def _bitrix24_portal(b24: Bitrix24Settings, engine: Engine, env: Callable[[str, str], str],
                     problems: list[tuple[str, str]]) -> Bitrix24Portal | None:
    """The portal as the settings connect it (webhook or application), or None with the
    problem noted. Its address after a rename and the application's tokens live in the
    database."""
    try:
        if b24.auth == "webhook":
            assert b24.webhook_url_env is not None  # the settings check it
            url = env("crm.bitrix24.webhook_url_env", b24.webhook_url_env)
            return Bitrix24Portal(b24.name, WebhookAuth(url), store=PortalStore(engine, b24.name),
                                  rate=b24.rate_per_second, burst=b24.burst) if url else None
        assert b24.client_id_env and b24.client_secret_env and b24.token_key_env  # the settings check them
        client_id = env("crm.bitrix24.client_id_env", b24.client_id_env)
        secret = env("crm.bitrix24.client_secret_env", b24.client_secret_env)
        key = env("crm.bitrix24.token_key_env", b24.token_key_env)
        if not (client_id and secret and key):
            return None
        cipher = TokenCipher(key)
        return Bitrix24Portal(b24.name, AppAuth(b24.portal_url, client_id, secret, member_id=b24.member_id),
                              store=PortalStore(engine, b24.name, cipher), rate=b24.rate_per_second, burst=b24.burst)
    except ValueError as error:
        problems.append(("crm.bitrix24", str(error)))
        return None


def _e164(number: str, region: str) -> str:
    phone = parse_phone(number, region)
    return phone.value if phone is not None else ""
