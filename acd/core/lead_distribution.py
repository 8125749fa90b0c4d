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
