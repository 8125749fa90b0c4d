"""Shared bits of the benchmarks: percentiles, the machine, saving results as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from acd import hot_path

RESULTS = Path(__file__).resolve().parent / "results"
SIM_SECRET = "bench-secret"  # the simulated PBX's AMI secret
# a queue group's CRM options, all off: routing alone
CRM_OFF = {"check_client": False, "owner_first": False, "owner_follows_transfer": False,
           "create_lead": False, "record_missed": False}


def bench_simulator(agents: int) -> Any:
    """The simulated PBX of the end-to-end benchmarks: this repository's dialplan, acd's
    AMI user, ``agents`` phones a0.. that answer after 0.5 s (run in a child process)."""
    from acd.clock import Clock
    from acd.sim import Answer, ManagerUser, Simulator

    repo = Path(__file__).resolve().parents[1]
    sim = Simulator(dialplan=repo / "asterisk" / "extensions.conf", clock=Clock(),
                    manager_users={"acd": ManagerUser(secret=SIM_SECRET, read=("system", "call", "user"),
                                                      write=("system", "call", "originate"))}, trunk="trunk")
    for n in range(agents):
        sim.add_phone(f"a{n}", Answer(after=0.5))
    return sim


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "acd_hot_path": hot_path.describe(),  # compiled or interpreted (acd/hot_path.py)
    }


def save(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **figures}, indent=2))
    return path


async def service_up(host: str, port: int) -> None:
    """Wait (up to 10 s) until the service started in the parent process takes connections."""
    for _ in range(100):
        try:
            _, probe = await asyncio.open_connection(host, port)
            probe.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
