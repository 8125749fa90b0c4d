"""The desk: chats, e-mails and CRM form submissions handed out to agents.

The ``Desk`` owns the pure ``ConversationRouter`` and is the only place where it meets
the outside, like the ``Distributor`` for calls: it feeds the router events and carries
out its commands, one at a time on the event loop (no locks):

- idle timers on the shared clock (``acd.timers.Timers``), shift changes on the
  calendar (``WorkCalendar``, APScheduler) when one is given;
- timelines, items and alerts written to the history database (``ChannelHistory``)
  in worker threads, batched; the router's snapshot with them, so a restart keeps
  every open conversation, line and idle deadline (``start`` restores it with
  ``ConversationRouter.restore``): its conversations one row each, a write carrying
  only those that changed (``ConversationRouter.take_changed``);
- ``CreateLead`` and transfer reports turned into CRM changes by the CRM hook
  (``CrmFeed``) and written in the same transaction as the lines that caused them;
  the client's owner asked with a short budget;
- work-state changes to ``on_work_state`` subscribers (the telephony side), and what
  each agent holds here to ``on_load`` subscribers (telephony again: one capacity
  across channels; a restore reports every agent holding something again);
  ``phone_calls`` is the way back in.

Operations the API offers check their input first and raise a ``DeskError`` (not
found, refused, invalid) before anything changes.

Durability: ``commit`` returns once every change made so far is committed, with the
CRM changes it caused; the API awaits it before answering, and the inbound methods
(chat, e-mail, form) before returning, so an acknowledged change survives a kill -9.
Requests that wait together share one transaction (group commit: they queue on the
write lock, and the first writes what all of them changed). Changes nobody waits for
(timers, shifts) are written by ``run`` within ``write_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ..core.commands import CancelTimer, StartTimer
from ..core.conversation_agents import SHIFT
from ..core.conversation_model import (
    AgentPresenceChanged,
    AlertSupervisors,
    BreakEnded,
    BreakScheduled,
    BreakStarted,
    ChannelKind,
    ChannelQueue,
    ClockedIn,
    ClockedOut,
    ConversationAccepted,
    ConversationAnswered,
    ConversationArrived,
    ConversationClosed,
    ConversationCommand,
    ConversationConfig,
    ConversationEvent,
    ConversationRejected,
    ConversationTransferred,
    CreateLead,
    EmailReceived,
    FormSubmitted,
    ItemClosed,
    Phase,
    PhoneCallsChanged,
    ReportChannelLoad,
    ReportConversationTransfer,
    TellCustomer,
    TimelineRecord,
    WorkStateChanged,
)
from ..core.conversations import ConversationRouter
from ..core.events import TimerFired
from ..crm.identity import MESSENGER, InvalidIdentity, normalise_email, parse_client
from ..timers import Timers
from .history import ITEM_ID_MAX, Batch, ChannelHistory, ConversationState, CrmChange, Line, NewItem
from .outgoing import Outgoing, routes_from
from .work_calendar import WorkCalendar

if TYPE_CHECKING:
    from ..config import Settings
    from .mailbox import MailboxPoller

log = logging.getLogger(__name__)

STATE_VERSION = 1
BODY_KEPT = 4000  # characters of an e-mail body kept in the item's detail


class Clock(Protocol):
    def now(self) -> float: ...

    def call_later(self, delay_s: float, callback: Callable[..., Any], *args: Any) -> Any: ...


class CrmHook(Protocol):
    """What the desk asks the CRM (``acd.crm.CrmFeed`` fits). Each returns the change to
    make in the CRM's tables (a lead, a new owner, their outbox jobs) as a function of a
    session: the desk runs it in the transaction that records the conversation's step.
    ``owner_for`` is optional."""

    def lead_change(self, command: CreateLead) -> Callable[[Session], object]: ...

    def transfer_change(self, report: ReportConversationTransfer,
                        queue: str | None = None) -> Callable[[Session], object]: ...


WorkStateHook = Callable[[str, bool, str], None]  # (agent id, working, reason)
WrittenHook = Callable[[Batch], None]  # a write committed (live views, the outbox sender)
Receipt = tuple[str, str, dict[str, Any]]  # (item id, kind, detail): a line committed with a message
LoadHook = Callable[[str, int, int, int], None]  # (agent id, chats, e-mails, forms held)
# (conversation id, text, why): hands a text for the customer to the channel's connector
CustomerDelivery = Callable[[str, str, str], None]
Listener = Callable[[ConversationEvent | None, list[ConversationCommand]], None]


class DeskError(Exception):
    status = 400


class NotFound(DeskError):
    status = 404


class Refused(DeskError):
    """The request is understood but the conversation's state does not allow it."""

    status = 409


class NotYours(DeskError):
    """An agent acts on a conversation, e-mail or form that is offered to, held by or
    assigned to someone else: not a conflict of states but a matter of whose it is."""

    status = 403

    def __init__(self, whose: str) -> None:
        super().__init__(f"{whose} Nothing was changed.")


class Invalid(DeskError):
    status = 422


class NotSaved(DeskError):
    """The change was made but its write failed: it is kept and written again, but the
    caller must not take it as done."""

    status = 503


class Desk:
    def __init__(self, config: ConversationConfig, engine: Engine, clock: Clock, *,
                 crm: CrmHook | None = None, calendar: WorkCalendar | None = None, region: str = "DE",
                 owner_budget_s: float = 0.2, outgoing: Outgoing | None = None) -> None:
        self.config = config
        self.clock = clock
        self.crm = crm
        self.region = region
        self.owner_budget_s = owner_budget_s
        self.history = ChannelHistory(engine)
        self.history.create_all()
        self.router = ConversationRouter(config)
        self.timers = Timers(clock, self._timer_fired)  # type: ignore[arg-type]  # any clock with call_later
        self.calendar = calendar
        if calendar is not None:
            calendar.bind(self._timer_fired)
        self.alerts: deque[dict[str, Any]] = deque(maxlen=1000)  # newest last
        self.on_work_state: list[WorkStateHook] = []
        self.on_load: list[LoadHook] = []
        self.listeners: list[Listener] = []  # live views: every event and what it caused
        # texts to customers become outbox jobs in the write that records them
        self.outgoing = outgoing or Outgoing()
        self.on_written: list[WrittenHook] = []
        # the core's TellCustomer (auto-reply, waiting message): the connectors plug in
        # here; without one the text is only recorded in the conversation's thread
        self.deliver_to_customer: CustomerDelivery | None = None
        self._open: dict[str, str] = {}  # "<queue>|<client>" -> open chat conversation
        self._key_of: dict[str, str] = {}  # the other way round
        self._ranks: dict[str, int] = {}  # open conversation -> its order in the stored rows
        self._rank_seq = 0
        self._unsaved: set[str] = set()  # conversations to write besides the router's changed ones
        self._seen: set[str] = set()  # e-mail / form item ids taken this run
        self._batch = Batch()
        self._dirty = False
        self._write_lock = asyncio.Lock()
        # group commit: who waits for the changes being gathered, and for the write under way
        self._gathered: asyncio.Future[None] | None = None
        self._writing: asyncio.Future[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        # the writes' own thread: in the shared pool a commit queued behind every long
        # poll's read (thousands at once), and every request waiting for it with it
        self._writer: ThreadPoolExecutor | None = None
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._started = False
        self.pollers: list[MailboxPoller] = []  # run by ``run``; see ``from_settings``, ``use_mailboxes``
        self._poll_group: asyncio.TaskGroup | None = None  # while ``run`` runs
        self._polling: dict[str, asyncio.Task[None]] = {}  # mailbox queue -> its poller's task
        # changes nobody waits for (timers) are written within this; what the API
        # changes is committed before it answers (``commit``)
        self.write_interval_s = 0.25

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        """Restore the router from the last snapshot (or start empty) and restart the
        timers; idempotent. ``run`` calls it; tests may call it alone."""
        if self._started:
            return
        self._started = True
        saved = await asyncio.to_thread(self.history.snapshot)
        self.alerts.extend(reversed(await asyncio.to_thread(self.history.alerts, self.alerts.maxlen or 1000)))
        now = self.clock.now()
        if saved and saved.get("version") == STATE_VERSION:
            self.router, out = ConversationRouter.restore(self.config, saved["router"], now)
            self._open = {k: v for k, v in saved.get("open", {}).items() if v in self.router.conversations}
            self._key_of = {v: k for k, v in self._open.items()}
            self._ranks = {cid: n for n, cid in enumerate(self.router.conversations, 1)}
            self._rank_seq = len(self._ranks)
            # written again once, one row each (a snapshot from before the rows held them all)
            self._unsaved = set(self.router.conversations)
            self._dirty = True
            log.info("channels.restored", extra={"conversations": len(self.router.conversations)})
        else:
            out = self.router.reconfigure(self.config, now)  # starts work time and the shift timers
        self._execute(out, now)
        if self.calendar is not None:
            self.calendar.start()

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, clock: Clock, *, crm: CrmHook | None = None,
                      calendar: WorkCalendar | None = None, region: str = "DE") -> Desk:
        """A desk for the configuration's channels, with an IMAP poller per mailbox
        that has ``[channels.imap]`` (``run`` runs them)."""
        desk = cls(settings.conversations(), engine, clock, crm=crm, calendar=calendar, region=region,
                   outgoing=Outgoing(routes_from(settings)))
        desk.use_mailboxes(settings)
        return desk

    def use_mailboxes(self, settings: Settings) -> None:
        """The IMAP connections as configured now (the web pages change them): a changed
        one is used from its next poll, a new one starts polling, a removed one stops."""
        from .mailbox import MailboxPoller

        wanted = {c.id: c.imap for c in settings.channels if c.imap is not None}
        for poller in list(self.pollers):
            if poller.queue_id in wanted:
                poller.imap = wanted.pop(poller.queue_id)
            else:
                self.pollers.remove(poller)
                task = self._polling.pop(poller.queue_id, None)
                if task is not None:
                    task.cancel()
        sleeper = self.clock if hasattr(self.clock, "sleep") else None
        for queue_id, imap in wanted.items():
            poller = MailboxPoller(self, queue_id, imap, sleeper)  # type: ignore[arg-type]
            self.pollers.append(poller)
            if self._poll_group is not None:
                self._polling[queue_id] = self._poll_group.create_task(poller.run(), name=f"imap {queue_id}")

    async def run(self) -> None:
        """Until ``close``: restore (``start``), then write changes as they come, and
        poll the mailboxes. For the service's TaskGroup."""
        await self.start()
        async with asyncio.TaskGroup() as tasks:
            self._poll_group = tasks
            self._polling = {p.queue_id: tasks.create_task(p.run(), name=f"imap {p.queue_id}") for p in self.pollers}
            try:
                await self._write_until_closed()
            finally:
                self._poll_group = None
                for task in self._polling.values():
                    task.cancel()

    async def _write_until_closed(self) -> None:
        while not self._closing.is_set():
            closing = asyncio.ensure_future(self._closing.wait())
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({closing, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closing.cancel()
                woken.cancel()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("channels.history_write_failed")
                await asyncio.sleep(1.0)
            # let changes gather: each write carries the whole router snapshot, so one
            # write per change would cost O(open conversations) per chat message
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.write_interval_s)

    async def close(self) -> None:
        """Stop timers and the calendar and write what is pending; ``run`` returns."""
        self._closing.set()
        self.timers.cancel_all()
        if self.calendar is not None:
            self.calendar.close()
        if self._committer is not None:
            await self._committer
        try:
            await self.flush()
        finally:
            if self._writer is not None:  # made again by a later write, if any
                self._writer.shutdown(wait=False)
                self._writer = None

    async def flush(self) -> None:
        """Write every change made so far (timelines, items, alerts, the snapshot and
        the CRM changes) in one transaction; return once it is committed."""
        async with self._write_lock:
            if not self._batch and not self._dirty:
                return  # every change so far was in a write that committed
            batch, self._batch = self._batch, Batch()
            if self._dirty:
                batch.snapshot, batch.snapshot_at = self._state(), self.clock.now()
                batch.conversations.update(self._changed_conversations())
                self._dirty = False
            # whoever waits for these changes waits for this write
            done, self._gathered = self._gathered or _future(), None
            self._writing = done
            try:
                await asyncio.get_running_loop().run_in_executor(self._write_thread(), self.history.write, batch)
            except Exception as e:
                # keep it for the next round: nothing is lost for one failed write
                self._batch.put_back(batch)
                self._dirty = True
                done.set_exception(e)
                raise
            else:
                done.set_result(None)
                for hook in self.on_written:
                    _safely(hook, batch)
            finally:
                self._writing = None

    def _write_thread(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="channels-write")
        return self._writer

    async def commit(self) -> None:
        """Return once every change made so far is committed; ``NotSaved`` (503) when
        the write failed (the change is kept and written again).

        Group commit: a caller waits only for the write that carries its changes.
        Changes made while a write is under way gather, and the next write takes all
        of them as soon as that one ends: under load one transaction answers many
        requests, and nobody waits for writes of changes made after theirs."""
        if self._batch or self._dirty:
            if self._gathered is None:
                self._gathered = _future()
            waited = self._gathered
            if self._committer is None or self._committer.done():
                self._committer = asyncio.create_task(self._commit_gathered(), name="channels commit")
        elif self._writing is not None:
            waited = self._writing  # the write under way may carry this caller's changes
        else:
            return
        try:
            await asyncio.shield(waited)
        except Exception as e:
            raise NotSaved(f"the change is not saved yet ({type(e).__name__}): the database did not "
                           "take it; it will be written again") from None

    async def _commit_gathered(self) -> None:
        """Write while someone waits for changes not written yet."""
        while self._gathered is not None:
            try:
                await self.flush()
            except Exception:  # the waiters were told (NotSaved); the changes stay for the next write
                log.exception("channels.commit_failed")
                return

    def reconfigure(self, config: ConversationConfig) -> None:
        """New settings apply at once; waiting conversations are served again."""
        self.config = config
        now = self.clock.now()
        self._execute(self.router.reconfigure(config, now), now)

    # ------------------------------------------------------------------ inbound
    async def chat_message(self, queue_id: str, client: str, text: str,
                           receipt: Receipt | None = None) -> tuple[str, bool]:
        """A client wrote in an open channel: their open conversation there, or a new
        one. Returns (conversation id, new). ``receipt``: a line committed in the same
        transaction as the message (a connector's cursor: taken once, never lost)."""
        self._queue(queue_id, ChannelKind.CHAT)
        client = client.strip()
        if not client:
            raise Invalid("client: empty")
        key = f"{queue_id}|{client}"
        cid = self._open.get(key)
        new = cid is None or cid not in self.router.conversations
        if new:
            owner = await self._owner(client, queue_id)
            cid = self._open.get(key)  # the look-up awaited: the same client may have come meanwhile
            new = cid is None or cid not in self.router.conversations
        now = self.clock.now()
        if new:
            cid = f"chat-{growing_id()}"
            self._open[key] = cid
            self._key_of[cid] = key
            self._batch.items.append(NewItem(cid, ChannelKind.CHAT.value, queue_id, client, now, {"channel": queue_id}))
            self.handle(ConversationArrived(cid, queue_id, client, owner))
        assert cid is not None
        if text:
            self._line(cid, "message", sender="client", client=client, text=text)
            if not new:
                self._notify()  # no router event for a line: live views are told here
        if receipt is not None:
            self._line(receipt[0], receipt[1], **receipt[2])
        await self.commit()
        return cid, new

    async def note(self, item_id: str, kind: str, **detail: Any) -> None:
        """A line of its own (e.g. a connector's cursor past an update it skips), committed."""
        self._line(item_id, kind, **detail)
        await self.commit()

    async def email_received(self, queue_id: str, message_id: str, sender: str, subject: str = "",
                             body: str = "", references: str = "") -> tuple[str, bool]:
        """An e-mail for a mailbox queue; the same Message-ID twice is taken once.
        Returns (item id, duplicate)."""
        self._queue(queue_id, ChannelKind.EMAIL)
        message_id = message_id.strip().strip("<>").strip()
        if not message_id or any(c.isspace() for c in message_id):
            raise Invalid("message_id: not a Message-ID")
        try:
            address = normalise_email(sender)
        except InvalidIdentity:
            raise Invalid(f"sender: not an e-mail address ({sender[:100]!r})") from None
        item_id = f"email:{message_id}"
        if len(item_id) > ITEM_ID_MAX:
            raise Invalid("message_id: too long")
        if await self._taken(item_id):
            return item_id, True
        owner = await self._owner(address, queue_id)
        now = self.clock.now()
        self._batch.items.append(NewItem(item_id, ChannelKind.EMAIL.value, queue_id, address, now,
                                         {"subject": subject[:998], "body": body[:BODY_KEPT],
                                          "references": references[:ITEM_ID_MAX * 8]}))
        self.handle(EmailReceived(item_id, queue_id, address, owner))
        await self.commit()
        return item_id, False

    async def form_submitted(self, queue_id: str, fields: Mapping[str, str],
                             submission_id: str | None = None) -> tuple[str, bool]:
        """A CRM web form was sent. The client is the form's e-mail or phone field.
        Returns (item id, duplicate)."""
        self._queue(queue_id, ChannelKind.FORM)
        item_id = f"form:{queue_id}:{submission_id or uuid.uuid4().hex}"
        if len(item_id) > ITEM_ID_MAX:
            raise Invalid("submission_id: too long")
        client = ""
        for name in ("email", "e-mail", "phone", "tel"):
            value = str(fields.get(name, "")).strip()
            if value and parse_client(value, self.region) is not None:
                client = value
                break
        if await self._taken(item_id):
            return item_id, True
        now = self.clock.now()
        self._batch.items.append(NewItem(item_id, ChannelKind.FORM.value, queue_id, client or item_id, now,
                                         {"fields": dict(fields)}))
        self.handle(FormSubmitted(item_id, queue_id, client or item_id))
        await self.commit()
        return item_id, False

    # ------------------------------------------------------------------ conversations
    def accept(self, cid: str, agent_id: str) -> None:
        self._holder(cid, agent_id, offered_ok=True)
        self.handle(ConversationAccepted(cid, agent_id))

    def answer(self, cid: str, agent_id: str, text: str) -> None:
        self._holder(cid, agent_id, offered_ok=True)
        self.handle(ConversationAnswered(cid, agent_id))
        self.say(cid, text, sender="agent", agent=agent_id)

    def say(self, cid: str, text: str, *, sender: str = "system", **detail: Any) -> None:
        """A text to the customer of open conversation ``cid`` (an agent's reply, an
        auto-reply, a waiting message): a timeline line, and the outbox job that
        delivers it on the customer's channel, in one write. Await ``commit`` for it."""
        conv = self._conversation(cid)
        text = text.strip()
        if not text:
            raise Invalid("text: empty")
        self._tell(cid, conv.queue_id, conv.client, text, self.clock.now(), sender=sender, **detail)

    def _tell(self, cid: str, queue_id: str, client: str, text: str, at: float, **detail: Any) -> None:
        self._batch.lines.append(Line(cid, at, "message", {**detail, "text": text}))
        self._wake.set()
        job = self.outgoing.chat_text(cid, queue_id, client, text, now=at, detail=detail)
        if job is not None:
            self._batch.outgoing.append(job)

    async def reply_email(self, item_id: str, text: str, agent_id: str | None = None) -> str:
        """An agent's answer to a customer's e-mail, sent from the mailbox over SMTP
        with the threading headers; ``agent_id``: only if the e-mail is theirs.
        Returns the reply's Message-ID, once the reply and its job are committed."""
        item = await self.item(item_id)
        if item is None or item["kind"] != ChannelKind.EMAIL.value:
            raise NotFound(f"no e-mail {item_id!r}")
        if agent_id is not None and item["agent"] != agent_id:
            raise NotYours(f"This e-mail is assigned to {item['agent']}, not to {agent_id}.")
        text = text.strip()
        if not text:
            raise Invalid("text: empty")
        detail = item["detail"]
        references = [r for r in str(detail.get("references", "")).split() if r]
        reply = self.outgoing.email_reply(
            item_id, item["queue"], item["client"], text, now=self.clock.now(), subject=str(detail.get("subject", "")),
            in_reply_to=item_id.removeprefix("email:"), references=[r.strip("<>") for r in references],
            agent=agent_id)
        if reply is None:
            raise Refused(f"the mailbox {item['queue']!r} has no [channels.smtp] to send from")
        message_id, job = reply
        self._line(item_id, "reply", sender="agent", agent=agent_id or item["agent"], text=text,
                   message_id=message_id)
        self._batch.outgoing.append(job)
        await self.commit()
        return message_id

    def reject(self, cid: str, agent_id: str) -> None:
        self._holder(cid, agent_id, offered_ok=True)
        self.handle(ConversationRejected(cid, agent_id))

    def close_conversation(self, cid: str, by: str = "agent") -> None:
        conv = self._conversation(cid)
        self._forget(conv.id)
        self.handle(ConversationClosed(cid, by))

    async def close_item(self, item_id: str, by: str, agent_id: str | None = None) -> None:
        """Mark an e-mail or form submission done. ``agent_id``: only if it is theirs."""
        item = await self.item(item_id)
        if item is None or item["kind"] == ChannelKind.CHAT.value:
            raise NotFound(f"no e-mail or form {item_id!r}")
        if agent_id is not None and item["agent"] != agent_id:
            kind = "e-mail" if item["kind"] == ChannelKind.EMAIL.value else "form"
            raise NotYours(f"This {kind} is assigned to {item['agent']}, not to {agent_id}.")
        if item["status"] != "open":
            raise Refused("closed already")
        self._line(item_id, "closed", by=by, agent=item["agent"])
        self.handle(ItemClosed(item_id))  # it no longer draws on the agent's budget
        await self.commit()

    def transfer(self, cid: str, by: str | None, to_agent: str | None = None, to_queue: str | None = None) -> None:
        conv = self._conversation(cid)
        if bool(to_agent) == bool(to_queue):
            raise Invalid("name one target: to_agent or to_queue")
        if to_agent:
            self._agent(to_agent)
            if self.holders(cid) == {to_agent}:
                raise Refused(f"{to_agent} has it already")
        if to_queue:
            self._queue(to_queue, ChannelKind.CHAT)
            if to_queue == conv.queue_id and conv.phase is Phase.WAITING:
                raise Refused(f"it is waiting in {to_queue} already")
        self.handle(ConversationTransferred(cid, by, to_agent, to_queue))

    def open_conversation(self, queue_id: str, client: str) -> str | None:
        """The client's open conversation in the chat queue they wrote to, if any."""
        cid = self._open.get(f"{queue_id}|{client}")
        return cid if cid is not None and cid in self.router.conversations else None

    def holders(self, cid: str) -> set[str]:
        conv = self.router.conversations.get(cid)
        if conv is None:
            return set()
        return set(conv.offered) | ({conv.agent} if conv.agent else set())

    def conversation(self, cid: str) -> dict[str, Any] | None:
        conv = self.router.conversations.get(cid)
        if conv is None:
            return None
        return {"id": conv.id, "queue": conv.queue_id, "client": conv.client, "owner": conv.owner,
                "phase": conv.phase.value, "agent": conv.agent, "offered_to": list(conv.offered),
                "arrived_at": conv.arrived_at, "idle_deadline": conv.deadline, "answered": conv.answered,
                "outside_hours": conv.outside_hours}

    # ------------------------------------------------------------------ agents and work time
    def clock_in(self, agent_id: str, by: str | None = None) -> None:
        self._agent_event(ClockedIn(self._agent(agent_id)), "clocked_in", by)

    def clock_out(self, agent_id: str, by: str | None = None) -> None:
        self._agent_event(ClockedOut(self._agent(agent_id)), "clocked_out", by)

    def start_break(self, agent_id: str, by: str | None = None, reason: str = "") -> None:
        """``reason``: the agent's words ("lunch"), kept in their timeline."""
        detail = {"reason": reason} if reason else {}
        self._agent_event(BreakStarted(self._agent(agent_id), reason), "break_started", by, **detail)

    def alert(self, queue_id: str, kind: str, at: float, **detail: Any) -> None:
        """A supervisor alert from elsewhere (telephony's auto-pause), kept and shown
        with the channels' own (``/api/channels/alerts``)."""
        self.alerts.append({"queue": queue_id, "at": at, "kind": kind, **_plain(detail)})
        self._batch.alerts.append(Line(queue_id, at, kind, _plain(detail)))
        log.warning("channels.alert", extra={"queue": queue_id, "kind": kind})
        self._wake.set()
        for listener in self.listeners:
            _safely(listener, None, [])

    def end_break(self, agent_id: str, by: str | None = None) -> None:
        self._agent_event(BreakEnded(self._agent(agent_id)), "break_ended", by)

    def schedule_break(self, agent_id: str, starts_at: float, ends_at: float, by: str | None = None) -> None:
        self._agent(agent_id)
        if ends_at <= starts_at:
            raise Invalid("ends_at: must be after starts_at")
        if ends_at <= self.clock.now():
            raise Invalid("ends_at: the break is over already")
        self._agent_event(BreakScheduled(agent_id, starts_at, ends_at), "break_scheduled", by,
                          starts_at=starts_at, ends_at=ends_at)

    def phone_calls(self, agent_id: str, calls: int) -> None:
        """Telephony says how many calls the agent talks on now (``capacity``)."""
        if agent_id in self.config.agents:
            self.handle(PhoneCallsChanged(agent_id, calls))

    def set_presence(self, agent_id: str, online: bool, by: str | None = None) -> None:
        self._agent_event(AgentPresenceChanged(self._agent(agent_id), online), "online" if online else "offline", by)

    def work_state(self, agent_id: str) -> dict[str, Any]:
        self._agent(agent_id)
        state = self.router.availability.agent(agent_id)
        clock = self.router.availability.work.snapshot().get(agent_id, {})
        return {"agent": agent_id, "working": state.working, "reason": state.reason or "working",
                "online": state.online, "clocked_in": bool(clock.get("clocked_in", False)),
                "on_break": bool(clock.get("on_break", False)),
                "tracked": self.router.availability.work.tracked(agent_id),
                "offered": len(state.offered), "active": len(state.active),
                "capacity": self.config.agents[agent_id].capacity, "phone_calls": state.calls,
                "emails": len(state.emails), "forms": len(state.forms)}

    def work_states(self) -> dict[str, tuple[bool, str]]:
        """Every agent's (working, reason) now: what ``on_work_state`` subscribers start
        from (the hook reports changes only)."""
        states = self.router.availability.agents
        return {a: (states[a].working, states[a].reason or "working") if a in states else (True, "working")
                for a in self.config.agents}

    async def agent_queue(self, agent_id: str) -> dict[str, Any]:
        """The agent's open conversations (offers first) and their open e-mails and forms."""
        self._agent(agent_id)
        state = self.router.availability.agent(agent_id)
        conversations = [self.conversation(c) for c in (*state.offered, *state.active)]
        await self.flush()
        items = await asyncio.to_thread(self.history.open_items, agent_id)
        return {"agent": agent_id, "conversations": conversations, "items": items}

    def live_conversations(self) -> list[dict[str, Any]]:
        """Every open chat now, longest waiting first: for the supervisors' live view."""
        now = self.clock.now()
        queues = self.config.queues
        return [
            {"id": c.id, "queue": c.queue_id, "queue_name": queues[c.queue_id].name if c.queue_id in queues else "",
             "client": c.client, "phase": c.phase.value, "agent": c.agent, "offered": list(c.offered),
             "waited_s": round(now - c.arrived_at, 1)}
            for c in sorted(self.router.conversations.values(), key=lambda c: c.arrived_at)
        ]

    def waiting(self, queue_id: str) -> list[dict[str, Any]]:
        self._queue(queue_id, ChannelKind.CHAT)
        return [c for c in map(self.conversation, self.router.waiting(queue_id)) if c is not None]

    def load(self, agent_id: str) -> int:
        return self.router.load(agent_id)

    async def timeline(self, item_id: str) -> list[dict[str, Any]]:
        await self.flush()
        return await asyncio.to_thread(self.history.timeline, item_id)

    async def item(self, item_id: str) -> dict[str, Any] | None:
        await self.flush()
        return await asyncio.to_thread(self.history.item, item_id)

    # ------------------------------------------------------------------ the router
    def handle(self, event: ConversationEvent) -> list[ConversationCommand]:
        now = self.clock.now()
        try:
            out = self.router.handle(event, now)
        except Exception:  # a routing bug must not take every other conversation down
            log.exception("channels.router_failed", extra={"event": repr(event)})
            return []
        self._execute(out, now)
        for listener in self.listeners:
            _safely(listener, event, out)
        return out

    def _notify(self) -> None:
        """Tell the live views of a change that is no router event (a client's line)."""
        for listener in self.listeners:
            _safely(listener, None, [])

    def _timer_fired(self, key: str) -> None:
        self.handle(TimerFired(key))

    def _execute(self, out: list[ConversationCommand], now: float) -> None:
        for cmd in out:
            if isinstance(cmd, TimelineRecord):
                self._batch.lines.append(Line(cmd.item_id, cmd.at, cmd.kind, _plain(cmd.detail)))
            elif isinstance(cmd, StartTimer):
                if self.calendar is not None and cmd.key.startswith(SHIFT + "|"):
                    self.calendar.at(cmd.key, cmd.delay_s)
                else:
                    self.timers.start(cmd.key, cmd.delay_s)
            elif isinstance(cmd, CancelTimer):
                self.timers.cancel(cmd.key)
                if self.calendar is not None:
                    self.calendar.cancel(cmd.key)
            elif isinstance(cmd, AlertSupervisors):
                alert = {"queue": cmd.queue_id, "at": cmd.at, "kind": cmd.kind, **_plain(cmd.detail)}
                self.alerts.append(alert)
                self._batch.alerts.append(Line(cmd.queue_id, cmd.at, cmd.kind, _plain(cmd.detail)))
                log.warning("channels.alert", extra={"queue": cmd.queue_id, "kind": cmd.kind})
            elif isinstance(cmd, WorkStateChanged):
                self._batch.lines.append(Line(f"agent:{cmd.agent_id}", cmd.at, "work_state",
                                              {"working": cmd.working, "reason": cmd.reason}))
                for hook in self.on_work_state:
                    _safely(hook, cmd.agent_id, cmd.working, cmd.reason)
            elif isinstance(cmd, ReportChannelLoad):
                for load_hook in self.on_load:
                    _safely(load_hook, cmd.agent_id, cmd.chats, cmd.emails, cmd.forms)
            elif isinstance(cmd, CreateLead):
                if self.crm is not None:
                    self._crm_change(self.crm.lead_change, cmd)
            elif isinstance(cmd, TellCustomer):  # an auto-reply or waiting message: delivered like a reply
                told = self.router.conversations.get(cmd.conversation_id)
                if told is not None:
                    self._tell(cmd.conversation_id, told.queue_id, told.client, cmd.text, now, sender="acd",
                               why=cmd.why)
                else:
                    self._batch.lines.append(Line(cmd.conversation_id, now, "message",
                                                  {"sender": "acd", "why": cmd.why, "text": cmd.text}))
                if self.deliver_to_customer is not None:
                    _safely(self.deliver_to_customer, cmd.conversation_id, cmd.text, cmd.why)
            elif isinstance(cmd, ReportConversationTransfer):
                if self.crm is not None:
                    conv = self.router.conversations.get(cmd.conversation_id)
                    self._crm_change(self.crm.transfer_change, cmd, conv.queue_id if conv else None)
            # Offer, Withdraw, AssignItem: the timeline holds them; agents read their queue
        self._dirty = True
        self._wake.set()

    def _crm_change(self, make: Callable[..., CrmChange], *args: Any) -> None:
        try:
            self._batch.crm.append(make(*args))
        except Exception:
            log.exception("channels.crm_change_failed")

    def _state(self) -> dict[str, Any]:
        """The router's snapshot but its conversations: each is a row of its own
        (``_changed_conversations``), with the "<queue>|<client>" it was opened for."""
        return {"version": STATE_VERSION, "router": self.router.shared_snapshot()}

    def _changed_conversations(self) -> dict[str, ConversationState | None]:
        """The rows to write: the state of each conversation changed since the last
        write, None for those closed."""
        changed = dict.fromkeys(self.router.take_changed())
        changed.update(dict.fromkeys(self._unsaved))
        self._unsaved = set()
        rows: dict[str, ConversationState | None] = {}
        for cid in changed:
            conv = self.router.conversations.get(cid)
            if conv is None:
                self._forget(cid)
                rows[cid] = None
            else:
                rank = self._ranks.get(cid)
                if rank is None:
                    self._rank_seq += 1
                    rank = self._ranks[cid] = self._rank_seq
                rows[cid] = ConversationState(rank, self._key_of.get(cid), conv.to_data())
        return rows

    def _forget(self, cid: str) -> None:
        """A conversation is closed: its client's next message opens a new one."""
        key = self._key_of.pop(cid, None)
        if key is not None and self._open.get(key) == cid:
            del self._open[key]
        self._ranks.pop(cid, None)

    # ------------------------------------------------------------------ checks
    def _queue(self, queue_id: str, kind: ChannelKind) -> ChannelQueue:
        queue = self.config.queues.get(queue_id)
        if queue is None or queue.kind is not kind:
            known = sorted(q.id for q in self.config.queues.values() if q.kind is kind)
            raise NotFound(f"no {kind.value} queue {queue_id!r} (known: {', '.join(known) or 'none'})")
        return queue

    def _agent(self, agent_id: str) -> str:
        if agent_id not in self.config.agents:
            raise NotFound(f"no agent {agent_id!r}")
        return agent_id

    def _conversation(self, cid: str) -> Any:
        conv = self.router.conversations.get(cid)
        if conv is None:
            raise NotFound(f"no open conversation {cid!r}")
        return conv

    def _holder(self, cid: str, agent_id: str, offered_ok: bool) -> None:
        conv = self._conversation(cid)
        self._agent(agent_id)
        if conv.agent == agent_id or (offered_ok and agent_id in conv.offered):
            return
        raise NotYours(self.whose(cid, agent_id))

    def whose(self, cid: str, agent_id: str | None) -> str:
        """The sentence saying whose open conversation ``cid`` is, for ``agent_id`` who
        is not offered it and does not hold it."""
        conv = self._conversation(cid)
        someone = agent_id or "you"
        if conv.agent:
            return f"This is {conv.agent}'s conversation, not {someone}'s."
        if conv.offered:
            return f"This conversation is offered to {', '.join(conv.offered)}, not to {someone}."
        return f"This conversation waits in the queue {conv.queue_id} and is not offered to {someone}."

    async def _taken(self, item_id: str) -> bool:
        if item_id in self._seen:
            return True
        self._seen.add(item_id)  # before the await: the same item twice at once is taken once
        if await asyncio.to_thread(self.history.exists, [item_id]):
            return True
        return False

    async def _owner(self, client: str, queue_id: str) -> str | None:
        """The recognised client's owner. Not asked when the queue does not check the
        client; without chat tracking only a messenger id (this channel's own) is
        looked up, never a phone or e-mail that would find a client of another channel."""
        lookup = getattr(self.crm, "owner_for", None)
        identity = parse_client(client, self.region)
        queue = self.config.queues.get(queue_id)
        if lookup is None or identity is None or (queue is not None and not queue.check_client):
            return None
        if queue is not None and not queue.chat_tracking and identity.kind != MESSENGER:
            return None
        try:
            owner = await lookup(identity, queue=queue_id, budget_s=self.owner_budget_s)
        except Exception:
            log.exception("channels.owner_lookup_failed")
            return None
        return owner if isinstance(owner, str) else None

    def _line(self, item_id: str, kind: str, **detail: Any) -> None:
        self._batch.lines.append(Line(item_id, self.clock.now(), kind, detail))
        self._wake.set()

    def _agent_event(self, event: ConversationEvent, kind: str, by: str | None, **detail: Any) -> None:
        agent_id = getattr(event, "agent_id")  # noqa: B009 - every agent event has one
        self._line(f"agent:{agent_id}", kind, by=by or agent_id, **detail)
        self.handle(event)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(detail: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-able detail (sets from the core become sorted lists). Scalars, most of the
    values, are taken as they are without a call each (three details a chat)."""
    return {key if type(key) is str else str(key): value if type(value) in _SCALARS else _plain_value(value)
            for key, value in detail.items()}


def _plain_value(value: Any) -> Any:
    if type(value) in _SCALARS:  # asked first, without the ABCs' isinstance
        return value
    if isinstance(value, Mapping):
        return _plain(value)
    if isinstance(value, set | frozenset):
        return sorted(map(_plain_value, value))
    if isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else _plain_value(v) for v in value]
    return value


class _RandomAhead:
    """Random bytes read ahead: os.urandom lets go of the GIL, and the event loop then
    waited to take it back behind the history's writer thread (up to the switch
    interval, acd/event_loop.py) once a chat. One read of ``size`` bytes serves size/8
    ids, as random."""

    def __init__(self, size: int = 4096) -> None:
        self.size, self.data, self.used = size, b"", 0

    def forget(self) -> None:
        self.data, self.used = b"", 0

    def hex8(self) -> str:
        if self.used + 8 > len(self.data):
            self.data, self.used = os.urandom(self.size), 0
        self.used += 8
        return self.data[self.used - 8:self.used].hex()


_random = _RandomAhead()
os.register_at_fork(after_in_child=_random.forget)  # a forked process never reuses its parent's bytes


_issued = [0, 0]  # the last id's milliseconds and its count within them


def growing_id() -> str:
    """A new conversation's id, 32 hex digits: the time in milliseconds (48 bits), a
    count within them (16 bits) and 64 random bits. Ids grow in the order they are
    issued, so every index on them (the item's, its lines', its row's) takes a new chat
    at its end: random ids touched a page of each index anywhere, and SQLite's commits
    wrote 2.8 times the pages (issue 16). Unique across restarts and nodes by the time
    and the random bits, and as hard to guess as the random bits."""
    ms = time.time_ns() // 1_000_000
    last_ms, count = _issued
    if ms > last_ms:
        count = 0
    else:  # within the same millisecond, or the clock went back: keep growing
        ms, count = last_ms, count + 1
        if count > 0xFFFF:
            ms, count = ms + 1, 0
    _issued[:] = ms, count
    return f"{ms:012x}{count:04x}{_random.hex8()}"


def _future() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    # a failed write nobody waited for is logged by its writer, not again by asyncio
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


def _safely(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("channels.listener_failed")
