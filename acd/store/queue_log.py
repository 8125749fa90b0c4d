"""The call history as an Asterisk ``queue_log`` file, for the tools contact centres
already read it with (QueueMetrics and the like).

The format follows Asterisk's documentation, "Queue Logs"
(https://docs.asterisk.org/Operation/Logging/Queue-Logs/, from asterisk/documentation
docs/Operation/Logging/Queue-Logs.md): one line per event, pipe-delimited,
``epoch|callid|queuename|agent|event|data1|data2|...``, where the callid is the caller
channel's Uniqueid (acd's call id is exactly that), the agent field the queue member
("NONE" for events of no member), and the data fields per event:

=================  ==========================================  ============================
event              data fields (documented)                    written by acd when
=================  ==========================================  ============================
ENTERQUEUE         url|callerid|origposition                   the call reached a group
RINGNOANSWER       ringtime (milliseconds)                     a member rang out, or could
                                                               not be rung (busy, offline)
CONNECT            holdtime|bridgedchanneluniqueid|ringtime    a member answered (a pickup
                                                               too: the picker)
COMPLETECALLER     holdtime|calltime|origposition              the caller hung up the call
COMPLETEAGENT      holdtime|calltime|origposition              the member hung up the call
TRANSFER           extension|context|holdtime|calltime|        a member transferred it (no
                   origposition                                COMPLETE* after, as Asterisk)
ABANDON            position|origposition|waittime              the caller hung up waiting
EXITWITHTIMEOUT    position|origposition|waittime              nobody answered in time: the
                                                               missed-call processing ran
EXITEMPTY          position|origposition|waittime              no member could be rung: the
                                                               missed-call processing ran
=================  ==========================================  ============================

Times are whole seconds (Asterisk logs ``time(NULL)`` differences), ringtime of
RINGNOANSWER milliseconds. acd keeps no queue positions: position and origposition
are written as 1. The member channel's Uniqueid is not kept either: CONNECT's second
field is empty. A missed-call forward to another group is EXITWITHTIMEOUT in the
first group and ENTERQUEUE in the next, as a dialplan chaining two Queue() calls
would log. Lines are in time order (a call's own lines in the order they happened).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from .database import Store, Time
from .models import CallRow, epoch
from .views import CallDetail

AGENTS_CONTEXT = "acd-agents"  # the dialplan context of agents' phones (asterisk/extensions.conf)
NONE = "NONE"


def _clean(value: object) -> str:
    """A field never carries the separator or a line break (a caller name could)."""
    return str(value).replace("|", "/").replace("\n", " ").replace("\r", " ")


def line(at: float, call_id: str, queue: str, agent: str, event: str, *data: object) -> str:
    return "|".join([str(int(at)), _clean(call_id), _clean(queue), _clean(agent), event, *map(_clean, data)])


@dataclass
class _Stint:
    group: str
    entered_at: float
    rang_at: dict[str, float] = field(default_factory=dict)
    connected_at: float | None = None
    agent: str | None = None  # who holds the call now
    last_missed: str = ""
    done: bool = False  # the caller left this group (exit, abandon, completion, transfer)


def call_lines(call: CallDetail, members: Mapping[str, str] | None = None,
               extensions: Mapping[str, str] | None = None) -> list[tuple[float, str]]:
    """One call's queue_log lines as (time, line), in the call's order. ``members``:
    agent id -> the member field (e.g. "PJSIP/101"); ``extensions``: agent id -> the
    extension a transfer went to. Unknown agents are written by their id."""
    members = members or {}
    extensions = extensions or {}
    out: list[tuple[float, str]] = []
    stint: _Stint | None = None

    def emit(at: float, agent: str, event: str, *data: object) -> None:
        assert stint is not None
        out.append((at, line(at, call.call_id, stint.group, agent, event, *data)))

    def member(agent_id: str | None) -> str:
        return members.get(agent_id, agent_id) if agent_id else NONE

    def seconds(start: float | None, end: float) -> int:
        return max(0, int(end - (start if start is not None else end)))

    for e in call.events:
        d = e.detail
        if e.kind == "arrived" and d.get("group") and stint is None:
            stint = _Stint(str(d["group"]), e.at)
            emit(e.at, NONE, "ENTERQUEUE", "", call.caller_number, 1)
            continue
        if stint is None:
            continue
        if e.kind == "rerouted" and d.get("group"):
            if not stint.done:
                emit(e.at, NONE, "EXITWITHTIMEOUT", 1, 1, seconds(stint.entered_at, e.at))
            stint = _Stint(str(d["group"]), e.at)
            emit(e.at, NONE, "ENTERQUEUE", "", call.caller_number, 1)
            continue
        if stint.done:
            continue
        agent = str(d.get("agent") or "")
        if e.kind == "ringing" and agent:
            stint.rang_at.setdefault(agent, e.at)
        elif e.kind in ("no_answer", "failed") and agent and stint.connected_at is None:
            rang = stint.rang_at.pop(agent, None)
            emit(e.at, member(agent), "RINGNOANSWER", int(1000 * max(0.0, e.at - rang)) if rang is not None else 0)
        elif e.kind == "answered" and agent and stint.connected_at is None:
            stint.connected_at, stint.agent = e.at, agent
            emit(e.at, member(agent), "CONNECT", seconds(stint.entered_at, e.at), "",
                 seconds(stint.rang_at.get(agent, e.at), e.at))
        elif e.kind == "missed":
            stint.last_missed = str(d.get("reason") or "")
        elif e.kind in ("voicemail", "forwarded", "hangup") and stint.connected_at is None:
            event = "EXITEMPTY" if stint.last_missed == "no member available" else "EXITWITHTIMEOUT"
            emit(e.at, NONE, event, 1, 1, seconds(stint.entered_at, e.at))
            stint.done = True
        elif e.kind == "abandoned" and stint.connected_at is None:
            emit(e.at, NONE, "ABANDON", 1, 1, seconds(stint.entered_at, e.at))
            stint.done = True
        elif e.kind == "transferred" and stint.connected_at is not None:
            to = str(d.get("to_agent") or "")
            emit(e.at, member(str(d.get("from_agent") or stint.agent or "")), "TRANSFER",
                 extensions.get(to, to), AGENTS_CONTEXT, seconds(stint.entered_at, stint.connected_at),
                 seconds(stint.connected_at, e.at), 1)
            stint.done = True
        elif e.kind == "ended" and stint.connected_at is not None:
            event = "COMPLETECALLER" if d.get("by") == "caller" else "COMPLETEAGENT"
            emit(e.at, member(stint.agent), event, seconds(stint.entered_at, stint.connected_at),
                 seconds(stint.connected_at, e.at), 1)
            stint.done = True
    return out


def queue_log(calls: Iterable[CallDetail], members: Mapping[str, str] | None = None,
              extensions: Mapping[str, str] | None = None) -> Iterator[str]:
    """Every line of ``calls`` (given in order of arrival) in time order, streamed: a
    line is written once no later-arriving call can come before it."""
    pending: list[tuple[float, int, str]] = []
    order = 0
    for call in calls:
        while pending and pending[0][0] < call.arrived_at:
            yield heapq.heappop(pending)[2]
        for at, text in call_lines(call, members, extensions):
            heapq.heappush(pending, (at, order, text))
            order += 1
    while pending:
        yield heapq.heappop(pending)[2]


def history_calls(store: Store, since: Time | None = None, until: Time | None = None,
                  page: int = 500) -> Iterator[CallDetail]:
    """Calls that arrived in [since, until), oldest first, with their timelines: read
    ``page`` calls at a time (keyset paging), so a long range streams in bounded memory."""
    after: tuple[float, str] | None = None
    while True:
        stmt = select(CallRow)
        if since is not None:
            stmt = stmt.where(CallRow.arrived_at >= epoch(since))
        if until is not None:
            stmt = stmt.where(CallRow.arrived_at < epoch(until))
        if after is not None:
            stmt = stmt.where(or_(CallRow.arrived_at > after[0],
                                  and_(CallRow.arrived_at == after[0], CallRow.call_id > after[1])))
        stmt = stmt.order_by(CallRow.arrived_at, CallRow.call_id).limit(page).options(selectinload(CallRow.events))
        with store.snapshot() as session:
            found = [CallDetail.of(row) for row in session.scalars(stmt)]
        yield from found
        if len(found) < page:
            return
        after = (found[-1].arrived_at, found[-1].call_id)
