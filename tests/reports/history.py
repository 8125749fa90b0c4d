"""A known day of history, built by hand, and every figure the reports must give for it.

The site is in Europe/Berlin (UTC+1 in March): 2026-03-10 00:30 local is 23:30 UTC the
day before, so a report that took UTC days would put call c6 on the 9th.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from acd.channels.history import Batch, ChannelHistory, Line, NewItem
from acd.core.commands import Record
from acd.reports.queries import Filters, GroupInfo, Site
from acd.store import Store

ZONE = "Europe/Berlin"
DAY = date(2026, 3, 10)
SITE = Site(
    zone=ZONE,
    groups={"sales": GroupInfo("Sales", target_s=20, wrapup_s=10), "support": GroupInfo("Support", target_s=30)},
    agents={"anna": "Anna Berg", "ben": "Ben Ortiz", "chloe": "Chloé Martin"},
    queues={"web": ("Website chat", "chat"), "info": ("Info mailbox", "email"), "leads": ("Leads form", "form")})
FILTERS = Filters(DAY, DAY)


def local(hh: int, mm: int = 0, day: date = DAY) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(ZONE)).timestamp()


END_OF_DAY = local(23, 59)
TWO_DAYS_LATER = local(12, 0, date(2026, 3, 12))


def _call(call_id: str, group: str, at: float, *steps: tuple[float, str, dict[str, object]]) -> list[Record]:
    records = [Record(call_id, at, "arrived", {"did": "+4930111111", "caller_number": "+4915100000001",
                                               "caller_name": "Caller", "group": group})]
    return records + [Record(call_id, at + offset, kind, dict(detail)) for offset, kind, detail in steps]


def calls() -> list[Record]:
    return [
        # sales (target 20 s, wrap-up 10 s)
        *_call("c1", "sales", local(9, 0), (1, "ringing", {"agent": "anna"}),
               (12, "answered", {"agent": "anna", "waited_s": 12}), (112, "ended", {"by": "caller"})),
        *_call("c2", "sales", local(9, 10), (1, "ringing", {"agent": "ben"}), (16, "no_answer", {"agent": "ben"}),
               (17, "ringing", {"agent": "anna"}), (25, "answered", {"agent": "anna", "waited_s": 25}),
               (85, "ended", {"by": "agent"})),
        *_call("c3", "sales", local(9, 20), (1, "ringing", {"agent": "anna"}),
               (5, "abandoned", {"waited_s": 5, "tried": ["anna"]}), (5, "missed", {"reason": "x", "tried": ["anna"]}),
               (5, "ended", {"by": "caller"})),
        *_call("c4", "sales", local(10, 5), (40, "abandoned", {"waited_s": 40, "tried": []}),
               (40, "ended", {"by": "caller"})),
        *_call("c5", "sales", local(10, 30), (30, "missed", {"reason": "nobody", "waited_s": 30}),
               (30, "voicemail", {"mailbox": "100", "waited_s": 30}), (90, "ended", {"by": "caller"})),
        *_call("c9", "sales", local(11, 40), (45, "missed", {"reason": "nobody", "waited_s": 45}),
               (45, "hangup", {"waited_s": 45}), (45, "ended", {"by": "acd"})),
        # the day before: outside the range
        *_call("c10", "sales", local(12, 0, date(2026, 3, 9)), (1, "ringing", {"agent": "anna"}),
               (4, "answered", {"agent": "anna", "waited_s": 4}), (50, "ended", {"by": "caller"})),
        # support (target 30 s, no wrap-up)
        *_call("c6", "support", local(0, 30), (1, "ringing", {"agent": "anna"}),
               (8, "answered", {"agent": "chloe", "picked_up_from": "anna", "waited_s": 8}),
               (58, "ended", {"by": "caller"})),
        *_call("c7", "support", local(11, 0), (1, "ringing", {"agent": "anna"}),
               (3, "answered", {"agent": "anna", "waited_s": 3}),
               (60, "transferred", {"from_agent": "anna", "to_agent": "ben", "kind": "blind"}),
               (203, "ended", {"by": "caller"})),
        *_call("c8", "support", local(11, 15), (20, "missed", {"reason": "nobody", "waited_s": 20}),
               (20, "forwarded", {"number": "+4917000000", "waited_s": 20}), (80, "ended", {"by": "caller"})),
        *_call("c11", "support", local(12, 0), (1, "ringing", {"agent": "chloe"})),  # still in progress
    ]


def channel_batch() -> Batch:
    items = [NewItem("chat-1", "chat", "web", "+4915100000002", local(9, 0)),
             NewItem("chat-2", "chat", "web", "+4915100000003", local(9, 5)),
             NewItem("chat-3", "chat", "web", "+4915100000004", local(9, 6)),
             NewItem("email:a@x", "email", "info", "a@example.com", local(9, 0)),
             NewItem("form:leads:1", "form", "leads", "b@example.com", local(9, 0)),
             NewItem("chat-0", "chat", "web", "+4915100000005", local(9, 0, date(2026, 3, 9)))]  # the day before
    lines = [
        Line("chat-1", local(9, 0) + 1, "message", {"sender": "client", "text": "hi"}),
        Line("chat-1", local(9, 0) + 10, "accepted", {"agent": "anna"}),
        Line("chat-1", local(9, 0) + 30, "message", {"sender": "agent", "agent": "anna", "text": "hello"}),
        Line("chat-1", local(9, 0) + 300, "closed", {"by": "agent", "agent": "anna"}),
        Line("chat-2", local(9, 5) + 90, "accepted", {"agent": "anna"}),
        Line("chat-2", local(9, 5) + 90, "answered", {"agent": "anna", "response_s": 90}),
        Line("chat-3", local(9, 6) + 5, "accepted", {"agent": "ben"}),
        Line("email:a@x", local(9, 0) + 1, "assigned", {"agent": "anna"}),
        Line("email:a@x", local(10, 0), "reply", {"sender": "agent", "agent": "anna", "text": "ok"}),
        Line("form:leads:1", local(9, 0) + 1, "assigned", {"agent": "ben"}),
        Line("form:leads:1", local(9, 10), "closed", {"by": "ben", "agent": "ben"}),
        # anna's day: clocked in 08:00-17:00, a break 10:00-10:15; ben's 16:00-20:00
        Line("agent:anna", local(8, 0), "clocked_in", {"by": "anna"}),
        Line("agent:anna", local(10, 0), "break_started", {"by": "anna", "reason": "coffee"}),
        Line("agent:anna", local(10, 15), "break_ended", {"by": "anna"}),
        Line("agent:anna", local(17, 0), "clocked_out", {"by": "anna"}),
        Line("agent:ben", local(16, 0), "clocked_in", {"by": "ben"}),
        Line("agent:ben", local(20, 0), "clocked_out", {"by": "ben"}),
    ]
    return Batch(items=items, lines=lines)


def fill(store: Store) -> Engine:
    store.apply_records(calls())
    channels = ChannelHistory(store.engine)
    channels.create_all()
    channels.write(channel_batch())
    return store.engine


ZERO = dict.fromkeys(("answered", "picked_up", "transferred", "abandoned", "missed", "voicemail", "forwarded", "other"),
                     0)


def hour(name: str, **counts: int) -> dict[str, object]:
    return {"hour": name, **ZERO, **counts, "total": sum(counts.values())}


HOURLY = {0: hour("00:00", picked_up=1), 9: hour("09:00", answered=2, abandoned=1),
          10: hour("10:00", abandoned=1, voicemail=1), 11: hour("11:00", transferred=1, forwarded=1, missed=1),
          12: hour("12:00", other=1)}

GROUPS = [
    {"group": "Sales", "offered": 6, "answered": 2, "abandoned": 2, "abandoned_wait_avg": 22.5,
     "abandoned_wait_max": 40.0, "missed": 2, "target_s": 20,
     # within 20 s: c1; counted: 2 answered + c4 (abandoned after 40 s) + 2 missed; c3 (5 s) is a short abandon
     "service_level": 20.0, "asa": 18.5, "wait_avg": round((12 + 25 + 5 + 40 + 30 + 45) / 6, 1), "wait_max": 45.0,
     "talk_avg": 80.0},
    {"group": "Support", "offered": 4, "answered": 2, "abandoned": 0, "abandoned_wait_avg": None,
     "abandoned_wait_max": None, "missed": 1, "target_s": 30, "service_level": 66.7, "asa": 5.5,
     "wait_avg": round(31 / 3, 1), "wait_max": 20.0, "talk_avg": 125.0},
]

CLOCKED = 9 * 3600.0
AGENTS = [
    {"agent": "Anna Berg", "offers": 5, "answers": 3, "rang_out": 0, "talk": 360.0, "pickups": 0, "transfers_made": 1,
     "transfers_taken": 0, "clocked_in": CLOCKED, "on_break": 900.0, "wrap_up": 20.0,
     "available": CLOCKED - 900 - 360 - 20, "chats": 2, "chat_response_avg": 60.0},
    {"agent": "Ben Ortiz", "offers": 1, "answers": 0, "rang_out": 1, "talk": 0.0, "pickups": 0, "transfers_made": 0,
     "transfers_taken": 1, "clocked_in": 4 * 3600.0, "on_break": 0.0, "wrap_up": 0.0,
     "available": 4 * 3600.0, "chats": 1, "chat_response_avg": None},
    {"agent": "Chloé Martin", "offers": 1, "answers": 1, "rang_out": 0, "talk": 50.0, "pickups": 1,
     "transfers_made": 0, "transfers_taken": 0, "clocked_in": 0.0, "on_break": 0.0, "wrap_up": 0.0,
     "available": 0.0, "chats": 0, "chat_response_avg": None},
]

QUEUES = [
    {"queue": "Info mailbox", "kind": "e-mail", "items": 1, "responded": 1, "response_avg": 3600.0,
     "response_max": 3600.0},
    {"queue": "Leads form", "kind": "form", "items": 1, "responded": 1, "response_avg": 600.0, "response_max": 600.0},
    {"queue": "Website chat", "kind": "chat", "items": 3, "responded": 2, "response_avg": 60.0,
     "response_max": 90.0},
]

DISTRIBUTION = [
    {"queue": "Info mailbox", "agent": "Anna Berg", "items": 1, "share": 100.0, "response_avg": 3600.0},
    {"queue": "Leads form", "agent": "Ben Ortiz", "items": 1, "share": 100.0, "response_avg": 600.0},
    {"queue": "Website chat", "agent": "Anna Berg", "items": 2, "share": 66.7, "response_avg": 60.0},
    {"queue": "Website chat", "agent": "Ben Ortiz", "items": 1, "share": 33.3, "response_avg": None},
]
