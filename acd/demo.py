"""``acd demo``: the service, the simulated PBX and a steady stream of callers.

Six agents in three queue groups (one per distribution mode), phones that answer
after a few seconds or not at all, callers who talk for a while or give up waiting.
Everything a newcomer needs to watch distribution live at http://127.0.0.1:8000.
"""

from __future__ import annotations

import asyncio
import logging
import random
import resource
from typing import Any

from .clock import Clock
from .config import Settings, settings_from_dict
from .event_loop import stop_on_signals
from .serve import Acd, AmiTarget
from .sim import Answer, NeverAnswer, Simulator
from .simulate import simulator_for

log = logging.getLogger(__name__)

AGENTS = [
    ("anna", "Anna Berg", "101"), ("boris", "Boris Ivanov", "102"), ("clara", "Clara Diaz", "103"),
    ("dmitri", "Dmitri Popov", "104"), ("elena", "Elena Rossi", "105"), ("farid", "Farid Haddad", "106"),
]
NUMBERS = {"5000": "sales", "5001": "support", "5002": "vip"}


def demo_settings(host: str, port: int, database: str) -> Settings:
    data: dict[str, Any] = {
        # the demo's own database: upgraded without asking
        "service": {"host": host, "port": port, "database": database, "upgrade_database": True},
        "ami": {"simulate": "always", "secret": "demo-only"},
        "agents": [{"id": i, "name": n, "endpoint": f"PJSIP/{e}", "mobile": f"+49151000{e}"} for i, n, e in AGENTS],
        "groups": [
            {"id": "sales", "name": "Sales (strictly in list order)", "members": ["anna", "boris", "clara"],
             "mode": "strict", "rings": 3, "allow_pickup": True, "wrapup_seconds": 5,
             "missed": {"action": "voicemail"}},
            {"id": "support", "name": "Support (evenly)", "members": ["dmitri", "elena", "farid", "anna"],
             "mode": "evenly", "rings": 2, "missed": {"action": "keep_waiting", "max_wait_seconds": 90,
                                                       "retry_seconds": 10, "after_wait": "voicemail"}},
            {"id": "vip", "name": "VIP line (all at once)", "members": ["boris", "elena"], "mode": "all",
             "rings": 4, "missed": {"action": "forward_group", "group": "support"}},
        ],
        "numbers": NUMBERS,
        "channels": [
            {"id": "telegram", "name": "Telegram", "kind": "chat", "members": ["clara", "dmitri", "farid"],
             "mode": "evenly", "idle_seconds": 60, "capacity": 3},
            {"id": "webchat", "name": "Website chat", "kind": "chat", "members": ["anna", "elena"],
             "mode": "all", "idle_seconds": 120},
        ],
    }
    return settings_from_dict(data, "<demo>")


DEMO_PASSWORD = "demo-demo"
DEMO_USERS = [("admin", "admin", None), ("supervisor", "supervisor", None), ("anna", "agent", "anna")]


def demo_accounts(acd: Acd) -> str:
    """Demo users (the same password for all), and the hint the sign-in page shows."""
    from .web.accounts import Accounts
    from .web.security import PERMISSIONS

    accounts = Accounts(acd.store.engine)
    if not accounts.has_users():
        for name, role, agent in DEMO_USERS:
            accounts.create_user(name, DEMO_PASSWORD, role=role, agent_id=agent,
                                 permissions=PERMISSIONS if role == "supervisor" else ())
    return (f"Demo: sign in as admin, supervisor or anna (an agent), password {DEMO_PASSWORD}. "
            "Calls and chats arrive by themselves.")


class Traffic:
    """Callers arriving at random, and agents' phones changing their minds now and then."""

    def __init__(self, sim: Simulator, clock: Clock, rng: random.Random) -> None:
        self.sim, self.clock, self.rng = sim, clock, rng
        self.placed = 0
        self._calls: set[Any] = set()

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.rng.uniform(3, 9))
            self._moods()
            did = self.rng.choice(list(NUMBERS))
            caller = f"+1555{self.rng.randrange(10**6, 10**7)}"
            call = await self.sim.call(did=did, caller=caller, hangup_after=self.rng.uniform(15, 60))
            self.placed += 1
            patience = self.rng.uniform(30, 120)
            task = asyncio.ensure_future(self._give_up_after(call, patience))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)

    async def _give_up_after(self, call: Any, patience: float) -> None:
        try:
            await asyncio.wait_for(call.answered.wait(), self.clock.real(patience))
        except TimeoutError:
            await call.hangup()  # an impatient caller: abandoned, listed for calling back

    async def chats(self, desk: Any) -> None:
        """Clients writing in the messengers; agents accept, answer and close in time."""
        while True:
            await self.clock.sleep(self.rng.uniform(5, 15))
            queue = self.rng.choice(["telegram", "webchat"])
            client = f"tg:{self.rng.randrange(10**5, 10**6)}" if queue == "telegram" else \
                f"web:{self.rng.randrange(10**5, 10**6)}"
            cid, _ = await desk.chat_message(queue, client, "Hello, I have a question about my order")
            task = asyncio.ensure_future(self._agent_works_on(desk, cid))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)

    async def _agent_works_on(self, desk: Any, cid: str) -> None:
        for _ in range(20):
            await self.clock.sleep(self.rng.uniform(5, 30))
            holders = sorted(desk.holders(cid))
            if not holders:
                continue  # still waiting for a free agent
            agent = self.rng.choice(holders)
            if self.rng.random() < 0.15:
                continue  # the agent does not react: the idle time passes it on
            try:
                desk.accept(cid, agent)
                desk.answer(cid, agent, "Happy to help!")
                await self.clock.sleep(self.rng.uniform(20, 90))
                desk.close_conversation(cid)
            except Exception:  # it moved on meanwhile (idle time, another agent)
                continue
            return

    def _moods(self) -> None:
        for phone in self.sim.phones.values():
            if self.rng.random() < 0.1:
                phone.behaviour = NeverAnswer() if self.rng.random() < 0.2 else Answer(after=self.rng.uniform(2, 8))


def rss_mib() -> float:
    """This process's resident memory now (Linux), else its peak."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_demo(*, host: str = "127.0.0.1", port: int = 8000, speed: float = 1.0, minutes: float = 0,
                   database: str = "sqlite:///acd-demo.db", seed: int | None = None) -> dict[str, float]:
    clock = Clock(speed)
    rng = random.Random(seed)
    settings = demo_settings(host, port, database)
    sim, secret = simulator_for(settings, clock, rng)
    sim_port = await sim.start("127.0.0.1", 0)  # a free port: it cannot be taken
    report: dict[str, float] = {}
    try:
        acd = Acd(settings, clock=clock, ami=AmiTarget("127.0.0.1", sim_port, settings.ami.username, secret))
        acd.listen()  # a taken port stops the demo here, before it says where to look
        acd.web_context.extra["login_hint"] = hint = demo_accounts(acd)
        traffic = Traffic(sim, clock, rng)
        print(f"acd demo: open http://{host}:{port} (simulated PBX on 127.0.0.1:{sim_port}; Ctrl-C stops)\n"
              f"acd demo: {hint}")
        async with asyncio.TaskGroup() as tasks:
            service = tasks.create_task(acd.run(own_process=True))
            calls = tasks.create_task(traffic.run())
            chats = tasks.create_task(traffic.chats(acd.desk))

            def stop() -> None:  # Ctrl-C, a service manager's stop, or the end of ``minutes``
                calls.cancel()
                chats.cancel()
                acd.stop()

            stop_on_signals(stop)
            started = asyncio.get_running_loop().time()
            report["rss_start_mib"] = rss_mib()
            if minutes:
                await clock.sleep(minutes * 60)
                report.update(calls=traffic.placed, rss_end_mib=rss_mib(),
                              seconds=asyncio.get_running_loop().time() - started, errors=len(sim.errors))
                stop()
            await service
    finally:
        await sim.stop()
    if report.get("calls"):
        print("acd demo: {calls:.0f} calls in {seconds:.1f} s, resident memory {rss_start_mib:.1f} -> "
              "{rss_end_mib:.1f} MiB, {errors:.0f} simulator errors".format(**report))
    return report
