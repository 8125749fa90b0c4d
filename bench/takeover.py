"""Takeover: two `acd serve` processes on PostgreSQL in front of the simulator, 200
callers waiting and ringing; kill -9 of the active node, then the time until the
standby's first AMI action (its Login), until its resync is done (DeviceStateList
sent) and until its first action on a call. Then every caller must be answered:
0 lost. The killed node is started again (it becomes the standby) and the next run
kills the other one.

Needs a PostgreSQL database it may empty: ``--database`` or ACD_TEST_POSTGRES_URL
(without either it says so and does nothing). Run: python -m bench.takeover [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from acd import event_loop

from .common import percentile, save

TARGET_S = 3.0
PHONES = [str(n) for n in range(101, 121)]  # 20 agents
SALES = {"id": "sales", "mode": "strict", "rings": 2, "ring_seconds": 1,
         "missed": {"action": "keep_waiting", "retry_seconds": 1, "max_wait_seconds": 3600}}
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?(active for default|ami logged in)", re.M)


def connect_cost(log: str) -> float | None:
    """In one node's log: from its "active for" line to its next "ami logged in" (what a
    standby already logged in to AMI would save), the last such pair."""
    found = [(datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp(), m[2]) for m in STAMP.finditer(log)]
    pairs = [b[0] - a[0] for a, b in zip(found, found[1:], strict=False)
             if a[1] == "active for default" and b[1] == "ami logged in"]
    return pairs[-1] if pairs else None


async def one_run(c: Any, callers: int, number: int) -> dict[str, Any]:
    from acd.sim import Answer, NeverAnswer

    for phone in PHONES:
        c.sim.phone(phone).behaviour = NeverAnswer()
    calls = await c.callers(callers, talk_s=0.1)
    await c.until(lambda: c.ringing() == len(PHONES), 120)  # 20 ring, the other 180 wait
    await asyncio.sleep(0.5)
    old = c.active()
    new = next(n for n in c.nodes.values() if n is not old)
    for phone in PHONES:  # answered from now on: only through the new active node
        c.sim.phone(phone).behaviour = Answer(after=0.2)
    killed = time.monotonic()
    old.signal(signal.SIGKILL)
    await c.until(lambda: bool(c.actions(new.name, killed, calls_only=True)), 30, why=new.text)
    login = c.first(new.name, "Login", killed)
    resynced = c.first(new.name, "DeviceStateList", killed)
    first_call_action = c.actions(new.name, killed, calls_only=True)[0].at
    deadline = time.monotonic() + 60 + callers * 0.5
    while not all(call.answered.is_set() or call.ended.is_set() for call in calls):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    lost = sum(1 for call in calls if not call.answered.is_set())
    assert old.process is not None
    await old.process.wait()
    await c.start_node(old.name)  # back, as the standby (or active: the other gave way meanwhile)
    await c.until(lambda: old.standby or old.active, 60, why=old.this_run)
    await c.until(lambda: sum(n.active for n in c.nodes.values() if n.running) == 1, 60)
    figures = {"login_s": login - killed if login else None, "resynced_s": resynced - killed if resynced else None,
               "first_call_action_s": first_call_action - killed, "lost": lost,
               "connect_and_login_s": connect_cost(new.text())}
    print(f"run {number}: first AMI action (Login) {figures['login_s']:.3f} s, resynced "
          f"{figures['resynced_s']:.3f} s, first call action {figures['first_call_action_s']:.3f} s "
          f"after kill -9; {lost} of {callers} callers lost", flush=True)
    return figures


async def bench(database: str, runs: int, callers: int) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' two-node cluster
    from acd.sim import NeverAnswer
    from tests.ha.cluster import cluster

    tmp = Path(tempfile.mkdtemp(prefix="acd-takeover-"))
    print(f"the nodes' logs: {tmp}", flush=True)
    async with cluster(tmp, database, {p: NeverAnswer() for p in PHONES}, SALES) as c:
        results = [await one_run(c, callers, n + 1) for n in range(runs)]
        # an active node that gave way without being killed: a renewal stalled past its lease
        gave_way = sum(node.text().count("no longer active for default") for node in c.nodes.values())
    shutil.rmtree(tmp)
    return {"runs": results, "gave_way": gave_way}


def summary(results: list[dict[str, Any]], callers: int) -> dict[str, Any]:
    def stats(key: str) -> dict[str, float]:
        values = sorted(r[key] for r in results if r[key] is not None)
        return {"p50": percentile(values, 50), "p99": percentile(values, 99), "max": values[-1] if values else 0}

    return {"callers": callers, "runs": len(results), "target_s": TARGET_S,
            "login_s": stats("login_s"), "resynced_s": stats("resynced_s"),
            "first_call_action_s": stats("first_call_action_s"),
            "connect_and_login_s": stats("connect_and_login_s"),
            "lost": sum(r["lost"] for r in results)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.takeover", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 runs of 50 callers (CI)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--database", default=os.environ.get("ACD_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    if not args.database:
        print("bench.takeover: needs PostgreSQL (--database or ACD_TEST_POSTGRES_URL); nothing measured")
        return
    runs, callers = (2, 50) if args.quick else (args.runs, args.callers)
    measured = event_loop.run(bench(args.database, runs, callers))
    figures = {**summary(measured["runs"], callers), "gave_way": measured["gave_way"]}
    login, resynced, acted = figures["login_s"], figures["resynced_s"], figures["first_call_action_s"]
    print(f"takeover over {runs} runs, {callers} callers waiting and ringing, kill -9 of the active node:")
    print(f"  to the standby's first AMI action (Login): p50 {login['p50']:.3f} s, p99 {login['p99']:.3f} s")
    print(f"  to its resync done (DeviceStateList sent): p50 {resynced['p50']:.3f} s, p99 {resynced['p99']:.3f} s")
    print(f"  to its first action on a call:             p50 {acted['p50']:.3f} s, p99 {acted['p99']:.3f} s")
    print(f"  of which AMI connect + Login after the lease: p50 {figures['connect_and_login_s']['p50'] * 1000:.1f} ms"
          " (what a standby kept logged in would save)")
    met = resynced["p99"] < TARGET_S and figures["lost"] == 0
    print(f"  callers lost: {figures['lost']}; an active node gave way unkilled (a renewal stalled past its"
          f" lease on a loaded machine) {figures['gave_way']} times")
    print(f"target takeover < {TARGET_S:g} s (p99, resynced) with 0 callers lost: {'met' if met else 'missed'}")
    print("saved", save("takeover" + ("-quick" if args.quick else ""), figures))


if __name__ == "__main__":
    main()
