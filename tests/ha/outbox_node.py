"""An acd node's outbox delivery in a process of its own, for the tests that kill it
with SIGKILL (no tests in this file):

    python tests/ha/outbox_node.py <database url> <receiver url> <node name>

It delivers in turn with the other nodes (``acd.ha.outbox_turn``) to a connector that
posts each job, with its idempotency key, to ``<receiver url>/<node name>``, one job
at a time and not too fast, so that a test sees it at work before killing it.
"""

from __future__ import annotations

import asyncio
import sys

import httpx

from acd import event_loop
from acd.crm.connectors import outcome_of
from acd.crm.outbox import Envelope, Outcome
from acd.crm.sender import OutboxSender
from acd.ha.outbox_turn import OutboxTurn
from acd.store import make_engine


class Receiver:
    name = "hook"

    def __init__(self, url: str) -> None:
        self.url = url

    async def deliver(self, http: httpx.AsyncClient, envelope: Envelope) -> Outcome:
        await asyncio.sleep(0.05)
        reply = await http.post(self.url, json={"job": envelope.id, "key": envelope.key})
        return outcome_of(reply)

    def mask(self, text: str) -> str:
        return text


async def main(database: str, receiver: str, node: str) -> None:
    sender = OutboxSender(make_engine(database), [Receiver(f"{receiver}/{node}")], concurrency=1, poll_s=0.2)
    turn = OutboxTurn(database, sender.run)
    sender.may_claim = turn.fresh
    delivering = asyncio.create_task(turn.run())
    await turn.tried.wait()  # in line for the turn: the test may give the nodes work
    print("started", flush=True)
    await delivering


if __name__ == "__main__":
    event_loop.run(main(*sys.argv[1:4]))
