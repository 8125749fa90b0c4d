"""One capacity across channels: a per-agent budget that calls, chats, e-mails and forms
draw on with weights, so each router can tell when an agent's other channels are full.

The rule, read by both routers:
- An agent's load is the sum, over what they hold, of each item's weight (defaults: a
  call 100, the whole budget; a chat 34, about a third; an e-mail 10; a form 5). Chats
  count from the offer (as the per-queue limit does), e-mails and forms while open.
- The budget (default 100, per agent if set) is full when the load reaches it. So with
  the defaults three chats fill it (102), two leave room (68).
- Chats: an agent on a phone call gets no new chat, unless the chat queue says
  ``offer_during_calls``; then the call counts by its weight like anything else (lower
  the call's weight to leave room beside a call). An agent whose budget is full gets no
  new chat. The queue's count limit (simultaneous conversations) still applies too.
- Calls: an agent whose other channels fill the budget is skipped when the queue group
  says ``skip_when_busy_in_other_channels`` (off by default: the reference product,
  Bitrix24, rings a telephony queue's members whatever chats they hold).
- E-mails and forms are assigned at once as before; they only draw on the budget.
- No budget configured (``None``, the configuration file has no ``[capacity]``): each
  channel counts alone, as before; only the "on a phone call" rule holds.

Each router knows its own load and learns the other's through an event
(``OtherChannelsLoadChanged`` for telephony, ``PhoneCallsChanged`` for conversations);
the adapters pass them across. Pure values and functions: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

BUDGET_MAX = 1000


@dataclass(frozen=True, slots=True)
class Capacity:
    """Weights of one item of each channel, and the budget they draw on."""

    budget: int = 100
    call: int = 100
    chat: int = 34
    email: int = 10
    form: int = 5
    budgets: Mapping[str, int] = field(default_factory=dict)  # agent id -> their own budget

    def __post_init__(self) -> None:
        for name in ("budget", "call", "chat", "email", "form"):
            value = getattr(self, name)
            low = 1 if name == "budget" else 0
            if not low <= value <= BUDGET_MAX:
                raise ValueError(f"capacity {name} {value} is outside {low}..{BUDGET_MAX}")
        for agent_id, value in self.budgets.items():
            if not 1 <= value <= BUDGET_MAX:
                raise ValueError(f"agent {agent_id}: budget {value} is outside 1..{BUDGET_MAX}")

    def budget_of(self, agent_id: str) -> int:
        return self.budgets.get(agent_id, self.budget)


@dataclass(frozen=True, slots=True)
class Load:
    """What an agent holds in each channel now."""

    calls: int = 0
    chats: int = 0
    emails: int = 0
    forms: int = 0

    def units(self, capacity: Capacity, with_calls: bool = True) -> int:
        used = self.chats * capacity.chat + self.emails * capacity.email + self.forms * capacity.form
        return used + self.calls * capacity.call if with_calls else used

    def describe(self, with_calls: bool = True) -> tuple[str, str]:
        """(the channels, the items): ("chats", "3 chats"), ("calls and chats", "1 call, 1 chat")."""
        counts = [(self.calls if with_calls else 0, "call", "calls"), (self.chats, "chat", "chats"),
                  (self.emails, "e-mail", "e-mails"), (self.forms, "form", "forms")]
        held = [(n, one, many) for n, one, many in counts if n]
        channels = [many for _, _, many in held]
        named = channels[0] if len(channels) == 1 else ", ".join(channels[:-1]) + " and " + channels[-1]
        return named, ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in held)


NO_LOAD = Load()


def full_because(load: Load, capacity: Capacity | None, agent_id: str, with_calls: bool = True) -> str | None:
    """None while the agent's budget has room (or no budget is configured), else the
    decision log's words saying which budget is full, e.g. "chats take their whole
    capacity (3 chats: 102 of 100)"."""
    if capacity is None:
        return None
    budget = capacity.budget_of(agent_id)
    used = load.units(capacity, with_calls)
    if used < budget:
        return None
    channels, items = load.describe(with_calls)
    return f"{channels} take their whole capacity ({items}: {used} of {budget})"
