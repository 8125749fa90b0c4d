"""Routing core: decisions per second and latency per decision, memory per waiting call.

10,000 agents in 1,000 queue groups of 10 members, for each distribution mode. A
"decision" is one event handled by the router (a call arriving and being rung, a
member ringing, answering, the caller hanging up). Run: python -m bench.core [--quick]
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc

from acd.core.events import CallArrived, CallerHungUp, DeviceState, DeviceStateChanged, MemberAnswered, MemberRinging
from acd.core.model import Agent, MissedAction, MissedCallPolicy, Mode, QueueGroup, RoutingConfig
from acd.core.router import Router

from .common import percentile, save


def build(mode: Mode, groups: int, per_group: int, missed: MissedAction = MissedAction.VOICEMAIL) -> RoutingConfig:
    agents = {}
    queue_groups = {}
    numbers = {}
    for g in range(groups):
        members = []
        for m in range(per_group):
            agent_id = f"a{g}-{m}"
            agents[agent_id] = Agent(agent_id, agent_id, f"PJSIP/{agent_id}", agent_id)
            members.append(agent_id)
        queue_groups[f"g{g}"] = QueueGroup(f"g{g}", f"Group {g}", tuple(members), mode,
                                           missed=MissedCallPolicy(missed, max_wait_s=1e9))
        numbers[str(10_000 + g)] = f"g{g}"
    return RoutingConfig(agents=agents, groups=queue_groups, numbers=numbers)


def run_mode(mode: Mode, calls: int, groups: int, per_group: int) -> dict[str, float]:
    config = build(mode, groups, per_group)
    router = Router(config)
    now = 1_000_000.0
    for agent_id in config.agents:
        router.handle(DeviceStateChanged(agent_id, DeviceState.NOT_INUSE), now)
    rng = random.Random(7)
    latencies: list[float] = []
    arrival: list[float] = []
    perf = time.perf_counter
    start = perf()
    for n in range(calls):
        now += 0.01
        call_id = f"{now:.2f}.{n}"
        did = str(10_000 + rng.randrange(groups))
        t0 = perf()
        ring = router.handle(CallArrived(call_id, did, "15550001"), now)
        t1 = perf()
        arrival.append(t1 - t0)
        latencies.append(t1 - t0)
        rung = next(c for c in ring if type(c).__name__ == "Ring")
        agent = rung.agent_ids[0]
        for event in (MemberRinging(call_id, rung.attempt, agent), MemberAnswered(call_id, rung.attempt, agent),
                      CallerHungUp(call_id)):
            t0 = perf()
            router.handle(event, now)
            latencies.append(perf() - t0)
    elapsed = perf() - start
    latencies.sort()
    arrival.sort()
    return {
        "decisions": len(latencies),
        "decisions_per_s": round(len(latencies) / sum(latencies)),
        "wall_events_per_s": round(len(latencies) / elapsed),
        "p50_us": round(percentile(latencies, 50) * 1e6, 1),
        "p99_us": round(percentile(latencies, 99) * 1e6, 1),
        "arrival_p50_us": round(percentile(arrival, 50) * 1e6, 1),
        "arrival_p99_us": round(percentile(arrival, 99) * 1e6, 1),
    }


def memory_per_waiting_call(waiting: int) -> float:
    config = build(Mode.STRICT, 10, 10, MissedAction.KEEP_WAITING)
    router = Router(config)
    for agent_id in config.agents:
        router.handle(DeviceStateChanged(agent_id, DeviceState.INUSE), 0.0)  # nobody free: callers wait
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(waiting):
        router.handle(CallArrived(f"w{n}", str(10_000 + n % 10), "15550001"), float(n))
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few hundred calls, for CI")
    args = parser.parse_args()
    calls = 500 if args.quick else 50_000
    groups, per_group = (50, 10) if args.quick else (1_000, 10)
    figures: dict[str, object] = {"agents": groups * per_group, "groups": groups, "calls": calls}
    for mode in Mode:
        figures[mode.value] = result = run_mode(mode, calls, groups, per_group)
        print(f"core {mode.value:7s} {result['decisions_per_s']:>9,} decisions/s  "
              f"p50 {result['p50_us']} us  p99 {result['p99_us']} us  (arrival p99 {result['arrival_p99_us']} us)")
    per_call = memory_per_waiting_call(200 if args.quick else 10_000)
    figures["bytes_per_waiting_call"] = round(per_call)
    print(f"core memory per waiting call: {per_call:,.0f} bytes")
    print("saved", save("core" + ("-quick" if args.quick else ""), figures))


if __name__ == "__main__":
    main()
