"""Two real `acd serve` processes on one PostgreSQL database, in front of one simulated
Asterisk that runs here (real time) and notes every AMI action it receives, per node
(each node logs in as its own manager user: acd-a, acd-b).

Used by the tests in this directory and by bench/takeover.py. The processes are killed
whatever happens (``async with cluster(...)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import create_engine, text

from acd.sim import ManagerUser, Simulator
from acd.sim.phones import Behaviour, Call
from acd.sim.server import Session

REPO = Path(__file__).resolve().parents[2]
SECRET = "ha-secret"
SERVER = "default"
# what a node sends when it logs in and resyncs, before it acts on any call
SESSION_ACTIONS = frozenset({"login", "coreshowchannels", "devicestatelist", "ping", "events"})


@dataclass(frozen=True)
class Received:
    node: str  # "a", "b": the manager user acd-<node>
    action: str
    at: float  # time.monotonic() here, when the simulator read it


def reset_database(url: str) -> None:
    """An empty database brought to the current schema, with its first administrator:
    the nodes can then start together (two first starts would both create him)."""
    from acd.cli import schema_metadata
    from acd.store.schema import ensure_current
    from acd.web.bootstrap import bootstrap_admin

    engine = create_engine(url)
    try:
        for metadata in schema_metadata():
            metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        ensure_current(engine)
        bootstrap_admin(engine, env={"ACD_ADMIN_PASSWORD": "ha-admin-pw"}, out=lambda _: None)
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    def __init__(self, name: str, config: Path, log: Path) -> None:
        self.name = name
        self.config = config
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0
        self.log_from = 0  # where the running process's lines begin in the log

    def text(self) -> str:
        """The log of this node's processes, the last one's at the end."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def this_run(self) -> str:
        return self.text()[self.log_from:]

    @property
    def active(self) -> bool:
        """Its process said it became active, and has not said it no longer is."""
        lines = self.this_run()
        return lines.rfind(f"active for {SERVER}") > lines.rfind(f"no longer active for {SERVER}") + 10

    @property
    def standby(self) -> bool:
        return f"standby for {SERVER}" in self.this_run()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)


class Cluster:
    def __init__(self, tmp: Path, database: str, phones: Mapping[str, Behaviour], group: dict[str, Any],
                 lease_s: float = 1.5, names: tuple[str, ...] = ("a", "b"),
                 databases: Mapping[str, str] | None = None) -> None:
        """``databases``: a node's own way to the database (tests/ha/db_proxy.py)."""
        self.tmp = tmp
        self.database = database
        self.databases = dict(databases or {})
        self.sim = Simulator(
            dialplan=REPO / "asterisk" / "extensions.conf",
            manager_users={f"acd-{n}": ManagerUser(secret=SECRET, read=("system", "call", "user", "dtmf"),
                                                   write=("system", "call", "originate")) for n in names},
            channelvars=("ACD_DID", "ACD_CALLBACK"), trunk="trunk")
        for ext, behaviour in phones.items():
            self.sim.add_phone(ext, behaviour)
        self.phones = dict(phones)
        self.group = group
        self.lease_s = lease_s
        self.names = names
        self.nodes: dict[str, Node] = {}
        self.nodes_config: dict[str, Path] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.received: list[Received] = []
        self._original_handle = Session.handle

    # ------------------------------------------------------------------ AMI seen by the simulator
    def _record(self) -> None:
        received, original = self.received, self._original_handle

        async def handle(session: Session, msg: Any) -> None:
            user = session.username or msg.get("Username") or ""
            received.append(Received(user.removeprefix("acd-"), (msg.get("Action") or "").strip(),
                                     time.monotonic()))
            await original(session, msg)

        Session.handle = handle  # type: ignore[method-assign]

    def actions(self, node: str, since: float = 0.0, *, calls_only: bool = False) -> list[Received]:
        return [r for r in self.received if r.node == node and r.at >= since
                and not (calls_only and r.action.lower() in SESSION_ACTIONS)]

    async def callers(self, count: int, talk_s: float = 0.3) -> list[Call]:
        """``count`` callers on 5000; each hangs up ``talk_s`` after an agent answered
        (the dialplan's own Answer() does not count)."""
        calls = [await self.sim.call(did="5000", caller=f"1555{i:07d}") for i in range(count)]
        for call in calls:
            task = asyncio.create_task(_talk_then_hang_up(call, talk_s))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return calls

    def ringing(self) -> int:
        """How many phones ring now."""
        return sum(1 for phone in self.sim.phones.values() if any(r.ended is None for r in phone.rings))

    def first(self, node: str, action: str, since: float) -> float | None:
        return next((r.at for r in self.received if r.node == node and r.at >= since
                     and r.action.lower() == action.lower()), None)

    # ------------------------------------------------------------------ the nodes
    def _config(self, name: str, sim_port: int) -> Path:
        agents = [{"id": f"agent{ext}", "name": f"Agent {ext}", "endpoint": f"PJSIP/{ext}"} for ext in self.phones]
        data = {
            "service": {"database": self.databases.get(name, self.database), "host": "127.0.0.1", "port": free_port()},
            "ami": {"host": "127.0.0.1", "port": sim_port, "username": f"acd-{name}", "simulate": "never"},
            "ha": {"node_name": name, "lease_seconds": self.lease_s},
            "agents": agents,
            "groups": [{"members": [a["id"] for a in agents], **self.group}],
            "numbers": {"5000": self.group["id"]},
        }
        path = self.tmp / f"acd-{name}.toml"
        path.write_bytes(tomli_w.dumps(data).encode())
        return path

    async def start_node(self, name: str) -> Node:
        node = self.nodes.get(name) or Node(name, self.nodes_config[name], self.tmp / f"acd-{name}.log")
        self.nodes[name] = node
        env = {**os.environ, "PYTHONPATH": str(REPO), "ACD_AMI_SECRET": SECRET, "ACD_ADMIN_PASSWORD": "ha-admin-pw"}
        node.log_from = len(node.text())
        log = node.log.open("ab")
        node.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "acd.cli", "serve", "--config", str(node.config),
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=self.tmp)
        log.close()
        node.started_at = time.monotonic()
        return node

    async def start(self) -> Cluster:
        reset_database(self.database)
        self._record()
        port = await self.sim.start("127.0.0.1", 0)
        self.nodes_config = {n: self._config(n, port) for n in self.names}
        nodes = [await self.start_node(name) for name in self.names]
        await self.until(lambda: all(n.active or n.standby for n in nodes), 60,
                         why=lambda: "\n".join(n.text()[-1500:] for n in nodes))
        return self

    def active(self) -> Node:
        """The running node whose process said it became active."""
        running = [n for n in self.nodes.values() if n.running and n.active]
        assert len(running) == 1, f"{len(running)} nodes active"
        return running[0]

    def standby(self) -> Node:
        """A running node standing by."""
        return next(n for n in self.nodes.values() if n.running and n.standby and not n.active)

    async def stop(self) -> None:
        for node in self.nodes.values():
            if node.running:
                assert node.process is not None
                with contextlib.suppress(ProcessLookupError):
                    node.process.kill()  # stopped ones too (SIGKILL needs no SIGCONT)
        for node in self.nodes.values():
            if node.process is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(node.process.wait(), 10)
        Session.handle = self._original_handle  # type: ignore[method-assign]
        for task in self._tasks:
            task.cancel()
        await self.sim.stop()

    async def until(self, condition: Callable[[], bool], seconds: float, *,
                    why: Callable[[], str] | None = None) -> float:
        """Wait for ``condition()`` (real seconds); time.monotonic() when it held."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {seconds} s" + (f"\n{why()}" if why else ""))
            await asyncio.sleep(0.005)
        return time.monotonic()


async def _talk_then_hang_up(call: Call, talk_s: float) -> None:
    await call.answered.wait()
    await asyncio.sleep(talk_s)
    await call.hangup()


@contextlib.asynccontextmanager
async def cluster(tmp: Path, database: str, phones: Mapping[str, Behaviour], group: dict[str, Any],
                  **kw: Any) -> AsyncIterator[Cluster]:
    c = Cluster(tmp, database, phones, group, **kw)
    try:
        yield await c.start()
    finally:
        await c.stop()
