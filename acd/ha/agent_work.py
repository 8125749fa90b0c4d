"""Agents' work changes (clock in/out, breaks, online/offline) made on a standby are
made on the active node, whose router gives agents their calls and chats.

The standby NOTIFYs the step (``acd_agent_work``: an id, the desk's step, its
arguments); the active node makes it on its desk, commits it and NOTIFYs the outcome
(``acd_agent_work_done``: the agent's work state, or the refusal); the standby answers
its HTTP request with that. No answer within ``timeout_s`` (no node active, or
the active one away) is ``Unanswered``: nothing was changed that the caller knows of.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from ..channels.desk import Desk, DeskError
from .notify import Notifications, publish

log = logging.getLogger(__name__)

CHANNEL = "acd_agent_work"
DONE = "acd_agent_work_done"
STEPS = frozenset({"clock_in", "clock_out", "start_break", "end_break", "schedule_break", "set_presence"})


class Unanswered(DeskError):
    """No active node answered: the change may or may not have been made."""

    status = 503


class Refusal(DeskError):
    """The active node's desk refused the step; its status and words."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status = status


class AgentWorkOnActive:
    def __init__(self, engine: Engine, desk: Desk, is_active: Callable[[], bool], *,
                 timeout_s: float = 5.0) -> None:
        self.engine = engine
        self.desk = desk
        self.is_active = is_active
        self.timeout_s = timeout_s
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def listen(self, notifications: Notifications) -> None:
        notifications.on(CHANNEL, self.asked)
        notifications.on(DONE, self.answered)

    def here(self) -> bool:
        """Whether this node makes the changes itself (it is the active one)."""
        return self.is_active()

    async def on_active(self, step: str, agent_id: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Make ``step`` on the active node's desk; the agent's work state after it, or
        ``Refusal`` / ``Unanswered``."""
        if step not in STEPS:
            raise ValueError(f"not an agent's work step: {step!r}")
        ask_id = uuid.uuid4().hex
        ask = {"id": ask_id, "step": step, "agent": agent_id, "args": list(args), "kwargs": kwargs}
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ask_id] = answer
        try:
            await asyncio.to_thread(self._tell, CHANNEL, ask)
            async with asyncio.timeout(self.timeout_s):
                done = await answer
        except TimeoutError:
            raise Unanswered("no active node answered; try again in a moment") from None
        finally:
            self._waiting.pop(ask_id, None)
        if "refused" in done:
            raise Refusal(int(done["refused"]), str(done["problem"]))
        state: dict[str, Any] = done["state"]
        return state

    async def asked(self, payload: str | None) -> None:
        if payload is None or not self.is_active():
            return  # a standby, or a reconnection: the asking node's timeout covers what was lost
        ask = json.loads(payload)
        if ask.get("step") not in STEPS:
            return
        done: dict[str, Any] = {"id": ask["id"]}
        try:
            getattr(self.desk, ask["step"])(ask["agent"], *ask["args"], **ask["kwargs"])
            await self.desk.commit()
            done["state"] = self.desk.work_state(ask["agent"])
        except DeskError as e:
            done.update(refused=e.status, problem=str(e))
        await asyncio.to_thread(self._tell, DONE, done)

    async def answered(self, payload: str | None) -> None:
        if payload is None:
            return
        done = json.loads(payload)
        waiting = self._waiting.get(done.get("id"))
        if waiting is not None and not waiting.done():
            waiting.set_result(done)

    def _tell(self, channel: str, message: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            publish(connection, channel, json.dumps(message))
