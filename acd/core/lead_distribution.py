"""E-mails and CRM form submissions: who becomes responsible, in turn.

Mailboxes and forms assign at once: no offer, no idle time, no limit of open items.

- Form: every submission becomes a lead for the next responsible person in turn.
- Mailbox: an e-mail from a known client (the CRM resolved an owner who is a
  configured agent) goes to that owner, available or not (it waits in their inbox),
  unless the queue's "hand a recognised client to the responsible person" is off; a
  new sender's e-mail goes to the next in turn and becomes a lead with that owner. An
  e-mail from a known client whose owner is not an agent goes in turn, without a lead.
- "In turn": the member after the one who got the last item, in list order, round and
  round (the mailbox's "list order" and the form's "the next in turn gets it"). With the
  availability check on, members who do not work now (not clocked in, on a break,
  outside their hours) are passed over; when nobody works, or work time is not tracked,
  the next in turn gets it regardless. Online presence does not matter for leads.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field

from .conversation_model import (
    AssignItem,
    ChannelKind,
    ChannelQueue,
    ConversationCommand,
    CreateLead,
    EmailReceived,
    FormSubmitted,
    TimelineRecord,
)


@dataclass(frozen=True, slots=True)
class Turn:
    agent_id: str | None
    rule: str
    skipped: dict[str, str] = field(default_factory=dict)


def next_in_turn(members: Sequence[str], last: str | None, known: Container[str],
                 not_working: Callable[[str], str | None] | None) -> Turn:
    """``not_working`` gives the reason an agent does not work now (None: works); pass
    None itself to assign regardless of work time."""
    ordered = list(dict.fromkeys(members))
    start = ordered.index(last) + 1 if last in ordered else 0
    turn = [m for m in ordered[start:] + ordered[:start] if m in known]
    if not turn:
        return Turn(None, "no responsible person")
    if not_working is None:
        return Turn(turn[0], "next in turn")
    skipped: dict[str, str] = {}
    for member in turn:
        reason = not_working(member)
        if reason is None:
            return Turn(member, "next in turn", skipped)
        skipped[member] = reason
    return Turn(turn[0], "next in turn (nobody is working)", skipped)


class Leads:
    """E-mails and form submissions to their responsible person; remembers the turn."""

    def __init__(self) -> None:
        self.last_in_turn: dict[str, str] = {}  # queue -> who got the last item

    def email(self, e: EmailReceived, queue: ChannelQueue, agents: Container[str],
              not_working: Callable[[str], str | None] | None, now: float) -> list[ConversationCommand]:
        out: list[ConversationCommand] = [
            TimelineRecord(e.item_id, now, "received", {"queue": queue.id, "sender": e.sender, "owner": e.owner_agent})]
        if e.owner_agent and queue.owner_first and e.owner_agent in agents:
            return out + self._assign(e.item_id, queue, Turn(e.owner_agent, "client's owner"), now)
        turn = self._turn(queue, agents, not_working)
        out += self._assign(e.item_id, queue, turn, now)
        if not e.owner_agent:
            out.append(CreateLead(e.item_id, queue.id, ChannelKind.EMAIL, e.sender, turn.agent_id))
        return out

    def form(self, e: FormSubmitted, queue: ChannelQueue, agents: Container[str],
             not_working: Callable[[str], str | None] | None, now: float) -> list[ConversationCommand]:
        turn = self._turn(queue, agents, not_working)
        return [TimelineRecord(e.item_id, now, "submitted", {"queue": queue.id, "client": e.client}),
                *self._assign(e.item_id, queue, turn, now),
                CreateLead(e.item_id, queue.id, ChannelKind.FORM, e.client, turn.agent_id)]

    def _turn(self, queue: ChannelQueue, agents: Container[str],
              not_working: Callable[[str], str | None] | None) -> Turn:
        turn = next_in_turn(queue.members, self.last_in_turn.get(queue.id), agents, not_working)
        if turn.agent_id:
            self.last_in_turn[queue.id] = turn.agent_id
        return turn

    @staticmethod
    def _assign(item_id: str, queue: ChannelQueue, turn: Turn, now: float) -> list[ConversationCommand]:
        detail = {"queue": queue.id, "agent": turn.agent_id, "rule": turn.rule, "skipped": turn.skipped}
        return [AssignItem(item_id, queue.id, turn.agent_id, turn.rule),
                TimelineRecord(item_id, now, "assigned", detail)]
