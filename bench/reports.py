"""Reports over a year of history: 1 million calls and 1 million chat messages; how long
each report takes (target: under 1 s each, on SQLite and on PostgreSQL).

The history is written straight into the tables (calls, call_agents, channel_items,
channel_events, the agents' clock-in and break lines), shaped like a contact centre's:
10 queue groups of 5 agents, 50 agents, 5 chat queues, outcomes in realistic shares,
exponential waits. The schema is made by the migrations (``acd db upgrade``'s path),
so the benchmark measures the indexes and roll-up tables acd really ships. The roll-up
of the whole year (done once, by the first report) is timed on its own; then every
report is timed for a day, a month and the whole year.

Run: python -m bench.reports [--quick] [--postgres URL]
(``--postgres``, or ACD_BENCH_POSTGRES_URL: a database for benchmarks only, every
table in it is dropped first.)
"""

from __future__ import annotations

import argparse
import math
import os
import random
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, MetaData, insert

from .common import save

ZONE = "Europe/Berlin"
GROUPS = 10
AGENTS_PER_GROUP = 5
CHAT_QUEUES = 5
MESSAGES_PER_CHAT = 5
TARGET_S = 1.0
FIRST = date(2025, 1, 1)
BATCH = 10_000


def _local(day: date, seconds: float) -> float:
    return datetime.combine(day, dtime(), ZoneInfo(ZONE)).timestamp() + seconds


def fill(engine: Engine, calls: int, messages: int, days: int, rng: random.Random) -> None:
    from acd.channels.history import EventRow, ItemRow
    from acd.store.models import CallAgentRow, CallRow

    agents = [f"a{n}" for n in range(GROUPS * AGENTS_PER_GROUP)]
    with engine.begin() as connection:
        rows: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []

        def flush() -> None:
            if rows:
                connection.execute(insert(CallRow), rows)
                rows.clear()
            if links:
                connection.execute(insert(CallAgentRow), links)
                links.clear()

        for n in range(calls):
            day = FIRST + timedelta(n * days // calls)
            arrived = _local(day, rng.uniform(7 * 3600, 20 * 3600))
            g = rng.randrange(GROUPS)
            members = agents[g * AGENTS_PER_GROUP:(g + 1) * AGENTS_PER_GROUP]
            roll = rng.random()
            call_id = f"bench-{n}"
            row: dict[str, Any] = {
                "call_id": call_id, "did": "+4930111111", "caller_number": f"+49151{n:08d}", "caller_name": "",
                "group_id": f"g{g}", "arrived_at": arrived, "answered_at": None, "answered_by": None,
                "picked_up_from": None, "transferred_to": None, "forwarded_to": None, "mailbox": None,
                "ended_at": None, "outcome": None, "waited_s": None, "hung_up_by": "caller", "missed": False,
                "missed_reason": None, "tried": [], "called_back": False}
            first = rng.choice(members)
            links.append({"call_id": call_id, "agent_id": first, "role": "offered"})
            if roll < 0.80:  # answered (5 % of them picked up, 5 % transferred on)
                wait = rng.expovariate(1 / 15)
                agent = first
                if rng.random() < 0.3:  # the first phone rang out, the next one answered
                    links.append({"call_id": call_id, "agent_id": first, "role": "rang_out"})
                    agent = rng.choice([m for m in members if m != first])
                    links.append({"call_id": call_id, "agent_id": agent, "role": "offered"})
                links.append({"call_id": call_id, "agent_id": agent, "role": "answered"})
                talk = rng.expovariate(1 / 180)
                row.update(answered_at=arrived + wait, answered_by=agent, waited_s=wait, outcome="answered",
                           ended_at=arrived + wait + talk)
                kind = rng.random()
                if kind < 0.05:
                    row["picked_up_from"] = first
                elif kind < 0.10:
                    other = rng.choice(agents)
                    row.update(outcome="transferred", transferred_to=other)
                    links.append({"call_id": call_id, "agent_id": other, "role": "transferred"})
            else:
                wait = rng.expovariate(1 / 40)
                outcome = "abandoned" if roll < 0.88 else "voicemail" if roll < 0.93 else \
                    "forwarded" if roll < 0.96 else "missed"
                row.update(waited_s=wait, outcome=outcome, ended_at=arrived + wait + 30, missed=True)
            rows.append(row)
            if len(rows) >= BATCH:
                flush()
        flush()

        chats = max(1, messages // MESSAGES_PER_CHAT)
        items: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []

        def flush_items() -> None:
            if items:
                connection.execute(insert(ItemRow), items)
                items.clear()
            if lines:
                connection.execute(insert(EventRow), lines)
                lines.clear()

        for n in range(chats):
            day = FIRST + timedelta(n * days // chats)
            created = _local(day, rng.uniform(7 * 3600, 20 * 3600))
            agent = rng.choice(agents)
            responded = created + rng.expovariate(1 / 40)
            item_id = f"chat-bench-{n}"
            items.append({"item_id": item_id, "kind": "chat", "queue_id": f"chat{rng.randrange(CHAT_QUEUES)}",
                          "client": f"+49152{n:08d}", "agent_id": agent, "status": "closed", "created_at": created,
                          "updated_at": responded + 600, "closed_at": responded + 600,
                          "first_response_at": responded, "detail": {}})
            for m in range(MESSAGES_PER_CHAT):
                sender = "client" if m % 2 == 0 else "agent"
                lines.append({"item_id": item_id, "at": created + m * 60, "kind": "message",
                              "detail": {"sender": sender, "agent": agent, "text": "Hello, about my order"}})
            if len(lines) >= BATCH:
                flush_items()
        for n in range(days):  # every agent's day: clocked in 08:00-17:00, a break 12:00-12:30
            day = FIRST + timedelta(n)
            for agent in agents:
                for at, kind in ((8, "clocked_in"), (12, "break_started"), (12.5, "break_ended"), (17, "clocked_out")):
                    lines.append({"item_id": f"agent:{agent}", "at": _local(day, at * 3600), "kind": kind,
                                  "detail": {"by": agent}})
            if len(lines) >= BATCH:
                flush_items()
        flush_items()


def site() -> Any:
    from acd.reports.queries import GroupInfo, Site

    return Site(zone=ZONE, groups={f"g{g}": GroupInfo(f"Group {g}", 20, 10) for g in range(GROUPS)},
                agents={f"a{n}": f"Agent {n}" for n in range(GROUPS * AGENTS_PER_GROUP)},
                queues={f"chat{q}": (f"Chat {q}", "chat") for q in range(CHAT_QUEUES)})


def measure(url: str, calls: int, messages: int, days: int) -> dict[str, Any]:
    from acd.reports.queries import NAMES, Filters, Reports
    from acd.store import make_engine, schema

    engine = make_engine(url)
    if engine.dialect.name != "sqlite":
        existing = MetaData()
        existing.reflect(engine)
        existing.drop_all(engine)
    schema.ensure_current(engine)
    started = time.perf_counter()
    fill(engine, calls, messages, days, random.Random(13))
    filled_s = time.perf_counter() - started
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    reports = Reports(engine)
    now = _local(FIRST + timedelta(days + 1), 0)
    started = time.perf_counter()
    reports.refresh(ZONE, now)
    rollup_s = time.perf_counter() - started
    last = FIRST + timedelta(days - 1)
    ranges = {"a day": (last, last), "a month": (last - timedelta(29), last), "the whole history": (FIRST, last)}
    times: dict[str, dict[str, float]] = {}
    for label, (first, to) in ranges.items():
        for name in NAMES:
            best = math.inf
            for _ in range(3):  # the best of three: the figure without another process's noise
                started = time.perf_counter()
                reports.run([name], site(), Filters(first, to), now)
                best = min(best, time.perf_counter() - started)
            times.setdefault(name, {})[label] = round(best, 3)
    engine.dispose()
    return {"fill_s": round(filled_s, 1), "rollup_s": round(rollup_s, 1), "times": times}


def show(backend: str, found: dict[str, Any]) -> bool:
    print(f"{backend}: filled in {found['fill_s']} s; the first report rolled the history up in "
          f"{found['rollup_s']} s (once)")
    ok = True
    for name, by_range in found["times"].items():
        cells = []
        for label, seconds in by_range.items():
            ok &= seconds < TARGET_S
            cells.append(f"{label} {seconds:.3f} s")
        print(f"  {name:<13} " + ", ".join(cells) + f"   (target < {TARGET_S:.0f} s)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 calls and messages (CI)")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--postgres", default=os.environ.get("ACD_BENCH_POSTGRES_URL", ""),
                        help="a PostgreSQL database for benchmarks only (every table in it is dropped)")
    args = parser.parse_args()
    calls, messages, days = (20_000, 20_000, 30) if args.quick else (args.calls, args.messages, args.days)
    print(f"reports over {calls:,} calls and {messages:,} chat messages in {days} days")
    results: dict[str, Any] = {"calls": calls, "messages": messages, "days": days}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'reports.db'}", calls, messages, days)
        ok &= show("SQLite", results["sqlite"])
    if args.postgres:
        results["postgresql"] = measure(args.postgres, calls, messages, days)
        ok &= show("PostgreSQL", results["postgresql"])
    save("reports-quick" if args.quick else "reports", results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
