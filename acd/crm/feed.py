"""The CRM's side of the service: what the distributor and the chat router report,
queued so that they never wait, and applied to the database on the CRM's own task.

The distributor calls its listeners synchronously on the event loop; a SQLite write
there could wait on a lock for seconds. So :meth:`CrmFeed.manual_transfer` and the
others only queue the report; :meth:`CrmFeed.run` (started in the service's
TaskGroup next to the outbox sender) applies each in a worker thread, in one
transaction with its outbox jobs, and then wakes the sender.

The chat desk instead asks for the change itself (:meth:`CrmFeed.lead_change`,
:meth:`CrmFeed.transfer_change`) and runs it in the transaction that records the
conversation's step, so the API's answer covers both. Either way, once a change
commits, the owner index follows and the sender looks at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from functools import partial
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from ..core.commands import ReportManualTransfer
from ..core.conversation_model import CreateLead, ReportConversationTransfer
from .clients import NEW_OWNERS
from .decisions import (
    Interaction,
    ReportChatTransfer,
    on_answered,
    on_call_finished,
    on_chat_transfer,
    on_conversation_transfer,
    on_create_lead,
    on_manual_transfer,
    on_missed,
    owner_for,
    take_crm_owner,
)
from .identity import Identity, check_region
from .models import Client, ClientIdentity
from .options import CrmOptions, options_for
from .outbox import retry
from .sender import OutboxSender

log = logging.getLogger(__name__)

Work = Callable[[Session], Any]
# (identity kind, value) -> owner changed, identities gone; None: reload every owner
OwnerListener = Callable[[Mapping[tuple[str, str], str] | None, AbstractSet[tuple[str, str]]], None]
BATCH = 100  # reports applied in one transaction at most


class CrmFeed:
    def __init__(
        self,
        engine: Engine,
        *,
        region: str = "DE",
        targets: Sequence[str] = (),
        options: Mapping[str, CrmOptions] | None = None,
        now: Callable[[], float] = time.time,
        sender: OutboxSender | None = None,
    ) -> None:
        self.engine = engine
        self.region = check_region(region)
        self.targets = tuple(targets)  # connector names each change is pushed to
        self.options = dict(options or {})  # per queue group / channel queue id
        self.now = now
        self.sender = sender
        self._queue: asyncio.Queue[tuple[str, Work]] = asyncio.Queue()
        # (identity kind, value) -> owner, for every identity of the built-in CRM: routing
        # asks it on every new call and chat, so it answers from memory; writes keep it
        # current (None until run() has loaded it: then look-ups go to the database)
        self._owners: dict[tuple[str, str], str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # several nodes: told of every change this node commits (None: reload them all),
        # in the committing thread, so the others' indexes follow (acd.ha.shared_owners)
        self.owner_listeners: list[OwnerListener] = []

    # -- reports: synchronous, never block, safe to call from the distributor ---------

    def manual_transfer(self, transfer: ReportManualTransfer, queue: str | None = None) -> None:
        """A ``Distributor.transfer_listeners`` entry."""
        opts = options_for(self.options, queue)
        self._put(f"transfer {transfer.call_id}", partial(
            on_manual_transfer, transfer=transfer, options=opts, region=self.region, targets=self.targets,
            now=self.now()))

    def chat_transfer(self, transfer: ReportChatTransfer, queue: str | None = None) -> None:
        opts = options_for(self.options, queue)
        self._put(f"chat transfer {transfer.conversation_id}", partial(
            on_chat_transfer, transfer=transfer, options=opts, targets=self.targets, now=self.now()))

    def crm_owner(self, identities: Sequence[Identity], owner: str, crm: str = "bitrix24") -> None:
        """The external CRM named ``owner`` as the client's responsible person (asked
        before routing): acd's record follows, on the CRM's task."""
        if self._owners is not None and all(self._owners.get((i.kind, i.value)) == owner for i in identities):
            return  # acd agrees already (most calls): no work for the database
        self._put(f"owner from {crm}", partial(take_crm_owner, identities=tuple(identities), owner=owner, crm=crm,
                                               now=self.now()))

    # -- changes for the caller's own transaction (the chat desk) ------------------------

    def transfer_change(self, report: ReportConversationTransfer, queue: str | None = None) -> Work:
        """The conversation router's ``ReportConversationTransfer`` as a change to run in
        the caller's transaction: the owner follows, with its outbox jobs."""
        opts = options_for(self.options, queue)
        return self._tracked(partial(on_conversation_transfer, report=report, options=opts, region=self.region,
                                     targets=self.targets, now=self.now()))

    def lead_change(self, command: CreateLead) -> Work:
        """The conversation router's ``CreateLead`` as a change to run in the caller's
        transaction."""
        opts = options_for(self.options, command.queue_id)
        return self._tracked(partial(on_create_lead, command=command, options=opts, region=self.region,
                                     targets=self.targets, now=self.now()))

    def answered(self, interaction: Interaction, agent: str) -> None:
        opts = options_for(self.options, interaction.queue)
        self._put(f"answered {interaction.id}", partial(
            on_answered, interaction=interaction, agent=agent, options=opts, targets=self.targets, now=self.now()))

    def missed(self, interaction: Interaction, responsible: str | None) -> None:
        opts = options_for(self.options, interaction.queue)
        self._put(f"missed {interaction.id}", partial(
            on_missed, interaction=interaction, responsible=responsible, options=opts, targets=self.targets,
            now=self.now()))

    def call_finished(self, interaction: Interaction, agent: str, duration_s: float) -> None:
        if not self.targets:  # only external CRMs hear of a finished call: no work at all
            return
        opts = options_for(self.options, interaction.queue)
        self._put(f"finished {interaction.id}", partial(
            on_call_finished, interaction=interaction, agent=agent, duration_s=duration_s, options=opts,
            targets=self.targets, now=self.now()))

    # -- questions: awaited, but with a short budget ------------------------------------

    def owner_known(self, *identities: Identity, queue: str | None = None) -> tuple[bool, str | None]:
        """(True, the owner or None) from the owner index once ``run`` has loaded it;
        (False, None) before: then ask ``owner_for``, which reads the database."""
        if self._owners is None:
            return False, None
        opts = options_for(self.options, queue)
        if not (opts.check_client and opts.owner_first):
            return True, None
        return True, next((o for i in identities if (o := self._owners.get((i.kind, i.value)))), None)

    async def owner_for(self, *identities: Identity, queue: str | None = None, budget_s: float = 0.2) -> str | None:
        """The known client's owner, or None if there is none or the database does not
        answer within ``budget_s``: routing then goes on as for an unknown caller.
        Once ``run`` has loaded the owner index, the answer comes from memory at once."""
        opts = options_for(self.options, queue)
        if self._owners is not None:
            if not (opts.check_client and opts.owner_first):
                return None
            return next((o for i in identities if (o := self._owners.get((i.kind, i.value)))), None)
        try:
            async with asyncio.timeout(budget_s):
                return await asyncio.to_thread(self._read, partial(owner_for, options=opts), *identities)
        except TimeoutError:
            log.warning("crm.owner_lookup_slow", extra={"budget_s": budget_s})
        except Exception:
            log.exception("crm.owner_lookup_failed")
        return None

    async def apply(self, work: Work, *, many: bool = False) -> Any:
        """A person's change to clients (the clients page, an import): ``work(session)``
        in its own transaction with its outbox jobs, awaited, so once it returns both
        are committed. The owner index follows client by client, or is reloaded whole
        after ``many`` changes (an import: one look-up of every client touched would be
        as long as the reload)."""
        if not many:
            return await asyncio.to_thread(self._write, work)

        def untracked() -> Any:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                return work(session)

        result = await asyncio.to_thread(untracked)
        if self._owners is not None:
            await self.reload_owners()
        for listener in self.owner_listeners:
            await asyncio.to_thread(listener, None, frozenset())
        if self.sender is not None:
            self.sender.wake()
        return result

    async def retry(self, job_id: int) -> None:
        """Give a dead outbox job new attempts and wake the sender."""
        await asyncio.to_thread(self._write, partial(retry, job_id=job_id, now=self.now()))
        if self.sender is not None:
            self.sender.wake()

    # -- the task -----------------------------------------------------------------------

    async def run(self) -> None:
        """Load the owner index, then apply the queued reports in order, until cancelled."""
        try:
            await self.reload_owners()
        except Exception:  # the look-ups fall back to the database, within their budget
            log.exception("crm.owner_index_failed")
        while True:
            # what queued up meanwhile goes in one transaction: at 100 new callers a second
            # one commit each (on a thread that shares the GIL with routing) was the cost
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await asyncio.to_thread(self._write_all, batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def reload_owners(self) -> None:
        """(Re)load the owner index from the database: at start, and after clients were
        written by anything but this feed (an import straight into the database)."""
        self._loop = asyncio.get_running_loop()
        self._owners = dict(await asyncio.to_thread(self._read, _all_owners))
        log.info("crm.owner_index_loaded", extra={"identities": len(self._owners)})

    def learn_owners(self, owners: Mapping[tuple[str, str], str], gone: AbstractSet[tuple[str, str]]) -> None:
        """Owners another node changed (loop thread)."""
        if self._owners is not None:
            _forget(self._owners, gone)
            self._owners.update(owners)

    async def drained(self) -> None:
        """Wait until every report queued so far is applied (tests, shutdown)."""
        await self._queue.join()

    def _put(self, what: str, work: Work) -> None:
        self._queue.put_nowait((what, work))

    def _write_all(self, batch: list[tuple[str, Work]]) -> None:
        """Apply reports in order in one transaction; if that fails, each on its own, so
        one bad report costs only itself."""
        if len(batch) > 1:
            try:
                self._write(*(work for _, work in batch))
                return
            except Exception:
                log.warning("crm.batch_failed_retrying_one_by_one", extra={"reports": len(batch)})
        for what, work in batch:
            try:
                self._write(work)
            except Exception:  # one bad report must not stop the others
                log.exception("crm.report_failed", extra={"report": what})

    def _write(self, *works: Work) -> Any:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            for work in works:
                result = self._tracked(work)(session)
        return result

    def _tracked(self, work: Work) -> Work:
        """``work`` noting the clients it creates or changes; once the transaction it
        runs in commits (whoever's it is), their owners go into the index and the
        sender is woken for the outbox jobs."""
        def run(session: Session) -> Any:
            touched: set[int] = set()
            removed: set[tuple[str, str]] = set()
            note = partial(_note_clients, touched)
            drop = partial(_note_removed, removed)
            event.listen(session, "after_flush", note)
            event.listen(session, "persistent_to_deleted", drop)  # deleted by hand or as an orphan
            inserted: dict[tuple[str, str], str] = {}
            session.info[NEW_OWNERS] = inserted  # clients inserted without the ORM (no flush events)
            try:
                result = work(session)
                session.flush()
            finally:
                event.remove(session, "after_flush", note)
                event.remove(session, "persistent_to_deleted", drop)
                session.info.pop(NEW_OWNERS, None)
            changed = inserted | _owners_of(session, touched)  # the ORM's changes are the later ones
            # an identity taken off a client (or its client deleted) routes no more
            gone = removed - changed.keys()
            event.listen(session, "after_commit", lambda _: self._committed(changed, gone), once=True)
            return result

        return run

    def _committed(self, owners: dict[tuple[str, str], str], gone: AbstractSet[tuple[str, str]] = frozenset()) -> None:
        """After a commit, in the thread that made it."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if gone and self._owners is not None:
            loop.call_soon_threadsafe(_forget, self._owners, gone)
        if owners and self._owners is not None:
            loop.call_soon_threadsafe(self._owners.update, owners)
        if owners or gone:
            for listener in self.owner_listeners:
                listener(owners, gone)
        if self.sender is not None and self.targets:  # with no targets this feed makes no job
            loop.call_soon_threadsafe(self.sender.wake)

    def _read(self, work: Callable[..., Any], *args: Any) -> Any:
        with Session(self.engine) as session:
            return work(session, *args)


def _all_owners(session: Session) -> list[tuple[tuple[str, str], str]]:
    rows = session.execute(select(ClientIdentity.kind, ClientIdentity.value, Client.owner)
                           .join(Client, Client.id == ClientIdentity.client_id).where(Client.owner.is_not(None)))
    return [((kind, value), owner) for kind, value, owner in rows if owner]


def _note_clients(touched: set[int], session: Session, context: Any) -> None:
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Client) and obj.id is not None:
            touched.add(obj.id)
        elif isinstance(obj, ClientIdentity) and obj.client_id is not None:
            touched.add(obj.client_id)


def _note_removed(removed: set[tuple[str, str]], session: Session, obj: Any) -> None:
    if isinstance(obj, ClientIdentity):
        removed.add((obj.kind, obj.value))


def _forget(owners: dict[tuple[str, str], str], keys: AbstractSet[tuple[str, str]]) -> None:
    for key in keys:
        owners.pop(key, None)


def _owners_of(session: Session, clients: set[int]) -> dict[tuple[str, str], str]:
    """Every identity of these clients with its owner, as the transaction leaves them."""
    if not clients:
        return {}
    rows = session.execute(select(ClientIdentity.kind, ClientIdentity.value, Client.owner)
                           .join(Client, Client.id == ClientIdentity.client_id).where(Client.id.in_(clients)))
    return {(kind, value): owner for kind, value, owner in rows if owner}
