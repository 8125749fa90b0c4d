"""Time to first ring in the simulator: from the ACDCallWaiting UserEvent leaving the
PBX to acd's Redirect into the dial context leaving acd, at 100 new calls per second.

The simulated PBX runs in a child process with 1,000 phones that answer after 0.5 s;
callers hang up 2 s after being answered. acd runs here (the whole service: framing,
tracker, router, history, AMI back) with 1,000 agents in 100 queue groups of 10 and
the CRM off (bench/e2e_calls.py measures it with the CRM on). Two clocks of the same
machine (``time.perf_counter``, CLOCK_MONOTONIC, shared by both processes) stamp:

  announced    in the simulator, right after the UserEvent was written to acd's socket
  on the wire  in acd, right after the one write carrying Setvar, Setvar and Redirect
               returned (the three actions of a ring attempt go out together; uvloop's
               transport sends at once when nothing waits before it, so the send system
               call is done by then)
  read by acd  in acd, when the bytes holding the UserEvent were read off its socket
  read by sim  in the simulator, when its session took the Redirect off the socket (it
               adds the simulator's own delay, busy with 100 calls/s, for reference)

A write that wakes the other process can lose its core to it before the write returns
(the kernel runs the woken reader first): the simulator may read the Redirect before acd's
stamp, and acd may read (and even answer) the UserEvent before the simulator's. Bytes are
on the wire before anybody reads them, so "announced" is the earlier of the simulator's
stamp and acd's read, and "on the wire" the earlier of acd's stamp and the simulator's read.

Where the processes run, and what else acd's process runs, decide the tail. The run with
the target leaves placement to the kernel, as a deployment that tunes nothing; the run on
separate cores (acd on the first CPU this process may use, the simulator on the others)
is printed beside it for reference (``--cores``). Runs differ a lot from one to the next
on this machine: compare them, not one figure.

What was acd doing while a call of the tail (at or above the p99) waited? The bench notes
when acd handled each read, ran a garbage collection, or wrote a history batch (on a
worker thread, Store.apply_records; in acd serve, since the fifth round, by a child
process: from the batch's handing over to its answer). It names for each tail call the
first of: a history batch or a collection running during its wait, a read of acd's
running before acd read the call's bytes, acd's own CPU for the read (over half the
wait), else nothing of acd's. "p99 without the calls a history batch overlapped" is what the batches cost.
What the bench machine (a 2-core VM) showed on 2026-12-01, in runs of 2,000 calls (20 s):

- On separate cores nearly the whole tail (16-20 of ~21 calls, p99 1.7-2.4 ms) waited
  while a history batch ran: the batch (about 1.4 ms of CPU alone, 2.4 ms inside the
  bench, most of it SQLAlchemy's Python) runs on acd's one CPU beside the loop. With the
  batch replaced by work that needs no CPU (a 3 ms sleep; a 4 KB write and its fsync)
  the p99 was 0.55-0.71 ms; by 1.5 ms of pure Python, 0.94 ms. The same batch in a child
  process, also on that CPU, changed nothing (2.1-2.5 ms): the CPU is what the loop waits
  for there, not only the GIL. Neither did a 0.05 ms GIL switch interval or nice 10 for
  the worker thread; a 0.1 ms time slice for the loop's thread (Linux 6.12+) gave 1.5 ms.
- With the kernel's placement (the target's run) the causes mix: history batches (2-11
  of ~21), acd's own CPU for a read that brought a finished call's hang-up events along
  with the new call (1-8), earlier reads, and calls where nothing of acd's ran (3-13;
  ``perf sched``: both virtual CPUs idle for 1.0-1.4 ms after the simulator's write, the
  VM waking one, or acd's thread queued behind another thread on one CPU while the
  other idled). The history batch in a child process took it out of the tail (1-3 of
  ~21; p99 0.87-1.07 ms in 5 runs, which plain runs also span; in one run of 6,000
  calls 1.07 ms against 1.17-1.25 ms): acd's own CPU and the machine filled it. acd
  serve has written its history that way since (acd/store/history_process.py): in
  runs of 6,000 alternated with the code before, p99 1.81, 1.63, 1.57 -> 1.15, 1.49,
  1.24 ms, history batches in the tail 27-29 -> 5-7 of 61.

The figure with the target is "announced -> on the wire"; "read by acd -> on the wire" is
acd's own part (framing, tracker, router, history queue, the AMI write), which a starved
simulator (see its CPU) cannot inflate. Groups ring in turn (strict, evenly), one phone
per attempt, so the simulator keeps up.
Run: python -m bench.first_ring [--quick] [--cores separate|shared|both]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import json
import math
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from acd import event_loop, hot_path

from .common import CRM_OFF, SIM_SECRET, bench_simulator, percentile, save

AGENTS = 1000
GROUP = 10
MODES = ("strict", "evenly")  # one phone rung per attempt: the simulator's load stays modest
SECRET = SIM_SECRET
DIAL_CONTEXT = "acd-dial"  # asterisk/extensions.conf: where a Redirect rings members
TARGET_P99_MS = 1.0


# ---------------------------------------------------------------- the PBX (child process)
async def pbx_process(rate: float, seconds: float, port_file: str, cpus: set[int] | None) -> None:
    from acd.sim.server import Session

    if cpus:
        os.sched_setaffinity(0, cpus)
    sim = bench_simulator(AGENTS)
    announced: dict[str, float] = {}  # caller's channel -> when its ACDCallWaiting was written
    read_by_sim: dict[str, float] = {}
    emit, handle = sim.pbx.emit, Session.handle

    def watch_emit(name: str, cls: str, pairs: Any) -> None:
        emit(name, cls, pairs)  # written to every session that reads the class (the socket's write returned)
        if name == "UserEvent":
            written = time.perf_counter()  # before the look at the fields, which is the bench's, not the PBX's
            fields = dict(pairs)
            if fields.get("UserEvent") == "ACDCallWaiting":
                announced.setdefault(fields["Channel"], written)

    async def watch_actions(session: Session, msg: Any) -> None:
        if msg.get("Action") == "Redirect" and msg.get("Context") == DIAL_CONTEXT:
            read_by_sim.setdefault(msg.get("Channel") or "", time.perf_counter())
        await handle(session, msg)

    sim.pbx.emit = watch_emit  # type: ignore[method-assign]
    Session.handle = watch_actions  # type: ignore[method-assign]
    port = await sim.start("127.0.0.1", 0)
    Path(port_file).write_text(str(port))
    await asyncio.sleep(2.0)  # acd logs in and resyncs
    start = time.perf_counter()
    n = 0
    while (now := time.perf_counter()) - start < seconds:
        while n < int((now - start) * rate) + 1:
            await sim.call(did=str(5000 + n % (AGENTS // GROUP)), caller=f"+1555{n:07d}", hangup_after=2.0)
            n += 1
        await asyncio.sleep(0.002)
    placed_for = time.perf_counter() - start
    await asyncio.sleep(3.0)
    print(json.dumps({"calls": n, "placed_for_s": placed_for, "announced": announced, "read_by_sim": read_by_sim,
                      "sim_errors": len(sim.errors)}))
    await sim.stop()


# ---------------------------------------------------------------- acd (this process)
def settings(port: int, database: str) -> Any:
    from acd.config import settings_from_dict

    groups = [{"id": f"g{g}", "members": [f"a{g * GROUP + m}" for m in range(GROUP)], "mode": MODES[g % len(MODES)],
               "missed": {"action": "hangup"}, "crm": CRM_OFF} for g in range(AGENTS // GROUP)]
    return settings_from_dict({
        "service": {"database": database},
        "ami": {"port": port, "secret": SECRET, "simulate": "never"},
        "agents": [{"id": f"a{n}", "endpoint": f"PJSIP/a{n}"} for n in range(AGENTS)],
        "groups": groups,
        "numbers": {str(5000 + g): f"g{g}" for g in range(AGENTS // GROUP)},
    }, "<bench>")


Stamps = dict[str, tuple[float, float]]  # caller's channel -> (perf_counter, acd thread's CPU time)
Spans = list[tuple[str, float, float]]  # (what acd did, from, to): see busy_while


def stamp_rings_on_the_wire(on_the_wire: Stamps, read_by_acd: Stamps, busy: Spans) -> Callable[[], None]:
    """Note when the write carrying a call's first Redirect into the dial context returned,
    when acd read the bytes holding the call's ACDCallWaiting off its socket, and in
    ``busy`` when acd handled a read, collected garbage or wrote a history batch. Returns
    what puts acd's own methods back."""
    from acd.pbx.connection import _AmiProtocol
    from acd.store.database import Store

    apply_records = Store.apply_records

    def history_batch(store: Store, *args: Any, **kwargs: Any) -> None:  # on acd's worker thread
        start = time.perf_counter()
        try:
            apply_records(store, *args, **kwargs)
        finally:
            busy.append(("history", start, time.perf_counter()))

    # acd serve's history batches run in a child process (acd/store/history_process.py):
    # the span is from the batch's handing over to its answer
    from acd.store.history_process import HistoryProcess

    in_child = HistoryProcess.apply

    async def history_batch_in_child(history: HistoryProcess, *args: Any) -> None:
        start = time.perf_counter()
        try:
            await in_child(history, *args)
        finally:
            busy.append(("history", start, time.perf_counter()))

    collecting: list[float] = []

    def collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting.append(time.perf_counter())
        elif collecting:
            busy.append(("gc", collecting.pop(), time.perf_counter()))

    data_received = _AmiProtocol.data_received
    # the transport write itself: actions decided while a read's events are handled are
    # held and leave together at its end (hold_writes); older code wrote in send_actions
    writes = "_write" if hasattr(_AmiProtocol, "_write") else "send_actions"
    write = getattr(_AmiProtocol, writes)

    def read(protocol: _AmiProtocol, data: bytes) -> None:
        if b"ACDCallWaiting" not in data:
            start = time.perf_counter()
            data_received(protocol, data)
            busy.append(("read", start, time.perf_counter()))
            return
        now = time.perf_counter(), time.thread_time()
        data_received(protocol, data)  # acd handles what it read (and rings) in this call
        busy.append(("read", now[0], time.perf_counter()))
        for frame in data.split(b"\r\n\r\n"):  # the bench's own look at the frames: outside the measure
            if b"UserEvent: ACDCallWaiting" in frame and b"\r\nChannel: " in frame:
                channel = frame.split(b"\r\nChannel: ", 1)[1].split(b"\r\n", 1)[0].decode()
                read_by_acd.setdefault(channel, now)

    def stamped(protocol: _AmiProtocol, many: Any) -> Any:
        returned = write(protocol, many)
        written = time.perf_counter(), time.thread_time()
        for action in many:
            fields = getattr(action, "fields", action)  # _write takes actions, send_actions their fields
            if fields.get("Action") == "Redirect" and fields.get("Context") == DIAL_CONTEXT:
                on_the_wire.setdefault(fields["Channel"], written)
        return returned

    setattr(_AmiProtocol, writes, stamped)
    _AmiProtocol.data_received = read  # type: ignore[method-assign]
    Store.apply_records = history_batch  # type: ignore[method-assign]
    HistoryProcess.apply = history_batch_in_child  # type: ignore[method-assign]
    gc.callbacks.append(collection)

    def restore() -> None:
        setattr(_AmiProtocol, writes, write)
        _AmiProtocol.data_received = data_received  # type: ignore[method-assign]
        Store.apply_records = apply_records  # type: ignore[method-assign]
        HistoryProcess.apply = in_child  # type: ignore[method-assign]
        gc.callbacks.remove(collection)

    return restore


def spread(delays: list[float]) -> dict[str, float]:
    delays = sorted(delays)
    return {"p50_ms": round(percentile(delays, 50) * 1e3, 3), "p99_ms": round(percentile(delays, 99) * 1e3, 3),
            "max_ms": round(delays[-1] * 1e3, 3) if delays else float("nan")}


CAUSES = {"history": "a history batch being written", "gc": "a garbage collection",
          "read": "acd handling an earlier read", "own": "acd's own CPU for the read (over half the wait)",
          "": "nothing of acd's: the machine's scheduling"}


class Wait(NamedTuple):
    announced: float
    read: float  # when acd read the bytes (the announcement, when acd read them first)
    on_the_wire: float
    cpu: float  # acd thread's CPU time from its read to the Redirect's write

    @property
    def delay(self) -> float:
        return self.on_the_wire - self.announced


def busy_while(waits: list[Wait], busy: Spans) -> list[str]:
    """What of acd's delayed each wait, the first of: a history batch or a garbage
    collection running while it lasted; a read of acd's running before acd read this
    call's bytes; acd's own CPU time for the read, if over half the wait. "": none."""
    spans = sorted(busy, key=lambda span: span[1])
    starts = [start for _, start, _ in spans]
    longest = max((end - start for _, start, end in spans), default=0.0)
    causes = []
    for wait in waits:
        # the spans that start before the wait ends and may still run when it begins
        near = spans[bisect.bisect_left(starts, wait.announced - longest):bisect.bisect_left(starts, wait.on_the_wire)]
        during = {kind for kind, start, end in near if end > wait.announced}
        before = {kind for kind, start, end in near if end > wait.announced and start < wait.read}
        causes.append("history" if "history" in during else "gc" if "gc" in during else
                      "read" if "read" in before else "own" if wait.cpu * 2 > wait.delay else "")
    return causes


def placement() -> tuple[set[int], set[int]] | None:
    """(acd's CPU, the PBX's CPUs) for separate cores, or None on a single-CPU machine."""
    cpus = sorted(os.sched_getaffinity(0))
    return ({cpus[0]}, set(cpus[1:])) if len(cpus) > 1 else None


async def run(rate: float, seconds: float, separate: bool) -> dict[str, Any]:
    from acd.serve import Acd, AmiTarget

    cores = placement() if separate else None
    everywhere = os.sched_getaffinity(0)
    if cores is not None:
        os.sched_setaffinity(0, cores[0])  # before acd starts: its threads inherit it
    on_the_wire: Stamps = {}
    read_by_acd: Stamps = {}
    busy: Spans = []
    restore = stamp_rings_on_the_wire(on_the_wire, read_by_acd, busy)
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.first_ring", "--pbx", "--rate", str(rate), "--seconds", str(seconds),
            "--port-file", port_file, *(["--pbx-cpus", ",".join(map(str, sorted(cores[1])))] if cores else []),
            stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
        try:
            while not os.path.exists(port_file) or not Path(port_file).read_text():
                await asyncio.sleep(0.05)
            port = int(Path(port_file).read_text())
            acd = Acd(settings(port, f"sqlite:///{tmp}/bench.db"), ami=AmiTarget("127.0.0.1", port, "acd", SECRET))
            usage0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            # the children's figures add up over the process: the other run's simulator is in them
            sim0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            service = asyncio.create_task(acd.run(http=False, own_process=True))
            try:
                out, _ = await asyncio.wait_for(child.communicate(), seconds + 60)
            except TimeoutError:
                raise SystemExit("first ring: the simulator did not finish (too busy a machine?); "
                                 "no figures") from None
            usage1, wall1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            sim_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            acd.stop()
            await service
            # acd's history process (acd/store/history_process.py) has ended now: its CPU is acd's
            history_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
            os.sched_setaffinity(0, everywhere)
            restore()
    sim = json.loads(out.decode().strip().splitlines()[-1])
    announced: dict[str, float] = sim["announced"]
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime) + (
        history_usage.ru_utime - sim_usage.ru_utime + history_usage.ru_stime - sim_usage.ru_stime)
    read_by_sim: dict[str, float] = sim["read_by_sim"]
    # each stamp no later than the other side's read of the same bytes (see the docstring)
    stamped_late = sum(1 for c, t in announced.items() if c in on_the_wire and (
        read_by_sim.get(c, math.inf) < on_the_wire[c][0] or read_by_acd.get(c, (math.inf,))[0] < t))
    announced = {c: min(t, read_by_acd.get(c, (t,))[0]) for c, t in announced.items()}
    waits = sorted((Wait(t, read_by_acd.get(c, (t, 0.0))[0], min(on_the_wire[c][0], read_by_sim.get(c, math.inf)),
                         on_the_wire[c][1] - read_by_acd[c][1] if c in read_by_acd else 0.0)
                    for c, t in announced.items() if c in on_the_wire), key=lambda w: w.delay)
    wire = spread([w.delay for w in waits])
    causes = busy_while(waits, busy)
    # the tail: the calls at or above the p99, and what of acd's delayed them
    p99 = percentile([w.delay for w in waits], 99) if waits else math.inf
    tail = [cause for w, cause in zip(waits, causes, strict=True) if w.delay >= p99]
    history_free = [w.delay for w, cause in zip(waits, causes, strict=True) if cause != "history"]
    read = [c for c in read_by_acd if c in on_the_wire]
    return {
        "rate_per_s": rate, "calls": sim["calls"], "calls_per_s": round(sim["calls"] / sim["placed_for_s"], 1),
        "rung": sum(1 for c in announced if c in on_the_wire), "agents": AGENTS, "crm": "off",
        "cores": (f"acd on CPU {sorted(cores[0])}, PBX on CPUs {sorted(cores[1])}" if cores
                  else "shared: placed by the kernel"),
        "stamps_after_the_other_side_read": stamped_late,
        "announced_to_wire": wire, "target_p99_ms": TARGET_P99_MS, "met": wire["p99_ms"] < TARGET_P99_MS,
        "tail_calls": len(tail), "tail_overlapped": {kind or "nothing": tail.count(kind) for kind in CAUSES},
        "p99_ms_without_history_overlaps": spread(history_free)["p99_ms"],
        "acd_read_to_wire": spread([on_the_wire[c][0] - read_by_acd[c][0] for c in read]),
        # the CPU acd's thread spent meanwhile (that call's and whatever else ran): what a
        # busy machine, which delays acd's thread, cannot inflate
        "acd_read_to_wire_cpu": spread([on_the_wire[c][1] - read_by_acd[c][1] for c in read]),
        "announced_to_read_by_sim": spread([read_by_sim[c] - t for c, t in announced.items() if c in read_by_sim]),
        "acd_cpu_percent": round(100 * cpu / (wall1 - wall0), 1),
        "acd_cpu_ms_per_call": round(1e3 * cpu / max(1, sim["calls"]), 2),
        "sim_cpu_percent": round(100 * (sim_usage.ru_utime - sim0.ru_utime + sim_usage.ru_stime - sim0.ru_stime)
                                 / (wall1 - wall0), 1),
        "sim_errors": sim["sim_errors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate", type=float, default=100.0, help="new calls per second")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="how long calls are placed (60 s: 6,000 calls, so the p99 rests on 60 of them)")
    parser.add_argument("--cores", choices=("separate", "shared", "both"), default="both",
                        help="acd and the PBX on cores of their own, as the kernel places them (the target's "
                             "run), or both runs (default)")
    parser.add_argument("--pbx", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    parser.add_argument("--pbx-cpus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pbx:
        cpus = {int(c) for c in args.pbx_cpus.split(",")} if args.pbx_cpus else None
        event_loop.run(pbx_process(args.rate, args.seconds, args.port_file, cpus))
        return
    rate, seconds = (10.0, 3.0) if args.quick else (args.rate, args.seconds)
    print("acd's hot path:", hot_path.describe())  # compiled or not (README, Compiled build)
    runs: dict[str, dict[str, Any]] = {}
    if args.cores in ("separate", "both"):
        if placement() is None:
            print("first ring: one CPU only, so no run on separate cores")
        else:
            runs["separate"] = event_loop.run(run(rate, seconds, separate=True))
    if args.cores in ("shared", "both") or not runs:
        runs["shared"] = event_loop.run(run(rate, seconds, separate=False))
    judged = "shared" if "shared" in runs else "separate"
    for name, figures in runs.items():
        print(line(figures, with_target=name == judged))
    print("saved", save("first_ring" + ("-quick" if args.quick else ""),
                        {"judged": judged, **runs[judged], "runs": runs}))


def line(figures: dict[str, Any], with_target: bool) -> str:
    wire, sim, own = figures["announced_to_wire"], figures["announced_to_read_by_sim"], figures["acd_read_to_wire"]
    cpu = figures["acd_read_to_wire_cpu"]
    verdict = (f"target p99 < {TARGET_P99_MS} ms: {'met' if figures['met'] else 'missed'}" if with_target
               else "for reference, not the target's run")
    return (f"first ring ({figures['cores']}): {figures['calls']} calls at {figures['calls_per_s']}/s, "
            f"{figures['rung']} rung, CRM off; ACDCallWaiting -> Redirect on the wire p50 {wire['p50_ms']} ms "
            f"p99 {wire['p99_ms']} ms ({verdict}); as the simulator read it p50 {sim['p50_ms']} ms "
            f"p99 {sim['p99_ms']} ms; acd's own part (read off its socket -> on the wire) p50 {own['p50_ms']} ms "
            f"p99 {own['p99_ms']} ms, of which acd's CPU p50 {cpu['p50_ms']} ms p99 {cpu['p99_ms']} ms; "
            f"acd CPU {figures['acd_cpu_percent']}%, {figures['acd_cpu_ms_per_call']} ms per call; "
            f"simulator CPU {figures['sim_cpu_percent']}%; {figures['stamps_after_the_other_side_read']} calls "
            f"with a stamp taken after the other side had read the bytes\n  the {figures['tail_calls']} calls at or "
            f"above the p99 were delayed by: " + ", ".join(
                f"{CAUSES[kind]} {figures['tail_overlapped'][kind or 'nothing']}" for kind in CAUSES)
            + f"; p99 without the calls a history batch overlapped {figures['p99_ms_without_history_overlaps']} ms")


if __name__ == "__main__":
    main()
