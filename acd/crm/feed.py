"""The CRM's side of the service: what the distributor and the chat router report,
queued so that they never wait, and applied to the database on the CRM's own task.

The distributor calls its listeners synchronously on the event loop; a SQLite write
there could wait on a lock for seconds. So :meth:`CrmFeed.manual_transfer` and the
others only queue the report; :meth:`CrmFeed.run` (started in the service's
TaskGroup next to the outbox sender) applies each in a worker thread, in one
transaction with its outbox jobs, and then wakes the sender.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ..core.commands import ReportManualTransfer
from ..core.conversation_model import CreateLead, ReportConversationTransfer
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
)
from .identity import Identity, check_region
from .options import CrmOptions, options_for
from .outbox import retry
from .sender import OutboxSender

log = logging.getLogger(__name__)

Work = Callable[[Session], Any]


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

    def conversation_transfer(self, report: ReportConversationTransfer, queue: str | None = None) -> None:
        """For the conversation router's ``ReportConversationTransfer``."""
        opts = options_for(self.options, queue)
        self._put(f"conversation transfer {report.conversation_id}", partial(
            on_conversation_transfer, report=report, options=opts, region=self.region, targets=self.targets,
            now=self.now()))

    def create_lead(self, command: CreateLead) -> None:
        """For the conversation router's ``CreateLead``."""
        opts = options_for(self.options, command.queue_id)
        self._put(f"lead {command.item_id}", partial(
            on_create_lead, command=command, options=opts, region=self.region, targets=self.targets,
            now=self.now()))

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
        opts = options_for(self.options, interaction.queue)
        self._put(f"finished {interaction.id}", partial(
            on_call_finished, interaction=interaction, agent=agent, duration_s=duration_s, options=opts,
            targets=self.targets, now=self.now()))

    # -- questions: awaited, but with a short budget ------------------------------------

    async def owner_for(self, *identities: Identity, queue: str | None = None, budget_s: float = 0.2) -> str | None:
        """The known client's owner, or None if there is none or the database does not
        answer within ``budget_s``: routing then goes on as for an unknown caller."""
        opts = options_for(self.options, queue)
        try:
            async with asyncio.timeout(budget_s):
                return await asyncio.to_thread(self._read, partial(owner_for, options=opts), *identities)
        except TimeoutError:
            log.warning("crm.owner_lookup_slow", extra={"budget_s": budget_s})
        except Exception:
            log.exception("crm.owner_lookup_failed")
        return None

    async def retry(self, job_id: int) -> None:
        """Give a dead outbox job new attempts and wake the sender."""
        await asyncio.to_thread(self._write, partial(retry, job_id=job_id, now=self.now()))
        if self.sender is not None:
            self.sender.wake()

    # -- the task -----------------------------------------------------------------------

    async def run(self) -> None:
        """Apply the queued reports in order, until cancelled."""
        while True:
            what, work = await self._queue.get()
            try:
                await asyncio.to_thread(self._write, work)
            except Exception:  # one bad report must not stop the others
                log.exception("crm.report_failed", extra={"report": what})
            finally:
                self._queue.task_done()
            if self.sender is not None:
                self.sender.wake()

    async def drained(self) -> None:
        """Wait until every report queued so far is applied (tests, shutdown)."""
        await self._queue.join()

    def _put(self, what: str, work: Work) -> None:
        self._queue.put_nowait((what, work))

    def _write(self, work: Work) -> Any:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            return work(session)

    def _read(self, work: Callable[..., Any], *args: Any) -> Any:
        with Session(self.engine) as session:
            return work(session, *args)
