"""Other channels: assignments per second through the HTTP API, p50/p99 per request,
with SQLite and with PostgreSQL.

The whole service runs here (uvicorn on loopback, the Desk writing its history); a
client with 32 requests in flight posts chats (POST /api/channels/inbound/chat with an
API token) into a queue of 50 agents with room for all of them; every chat is
assigned (offered) before the answer returns. PostgreSQL is Debian's package,
installed and started by this script where it is missing (as root), like .ci/run.
Run: python -m bench.http_assign [--quick] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from acd import event_loop

from .common import percentile, save, service_up

AGENTS = 50
CONCURRENCY = int(os.environ.get("ACD_BENCH_CONCURRENCY", "32"))
PG_URL = "postgresql+psycopg://acd:acd-test@127.0.0.1/acd_bench"
TARGET_PER_S, TARGET_P99_MS = 2500, 50.0  # issue 16, at 32 requests in flight


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres() -> str | None:
    """A PostgreSQL database for the benchmark, from Debian's packages; None if it cannot be had."""
    if os.geteuid() != 0:
        return os.environ.get("ACD_BENCH_POSTGRES_URL")
    if shutil.which("pg_ctlcluster") is None:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)
    cluster = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["pg_ctlcluster", cluster[0], cluster[1], "start"], capture_output=True)
    for _ in range(60):
        if subprocess.run(["pg_isready", "-q"]).returncode == 0:
            break
        time.sleep(0.5)
    psql = ["runuser", "-u", "postgres", "--", "psql", "-q"]
    subprocess.run([*psql, "-c", "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='acd') THEN "
                    "CREATE ROLE acd LOGIN PASSWORD 'acd-test'; END IF; END$$;"], check=True)
    subprocess.run([*psql, "-c", "DROP DATABASE IF EXISTS acd_bench"], check=True)
    subprocess.run(["runuser", "-u", "postgres", "--", "createdb", "-O", "acd", "acd_bench"], check=True)
    return PG_URL


async def measure(database: str, chats: int) -> dict[str, Any]:
    from acd.config import settings_from_dict
    from acd.serve import Acd
    from acd.web.accounts import Accounts

    port = free_port()
    settings = settings_from_dict({
        "service": {"port": port, "database": database},
        "ami": {"port": free_port(), "secret": "unused", "simulate": "never"},
        "agents": [{"id": f"a{n}", "endpoint": f"PJSIP/a{n}"} for n in range(AGENTS)],
        "groups": [{"id": "phones", "members": ["a0"]}],
        "channels": [{"id": "web", "kind": "chat", "members": [f"a{n}" for n in range(AGENTS)], "mode": "evenly",
                      "capacity": 1000, "idle_seconds": "never"}],
    }, "<bench>")
    acd = Acd(settings)
    accounts = Accounts(acd.store.engine)
    user = accounts.create_user("bench", "bench-password", role="supervisor", permissions=("open_channels",))
    token = accounts.create_token(user.id, "bench")
    service = asyncio.create_task(acd.run(own_process=True))  # the AMI link retries in the background: no PBX needed
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    # the load comes from another process, so the figures are the service's alone
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.http_assign", "--client", f"http://127.0.0.1:{port}", token, str(chats),
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
    out, _ = await child.communicate()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    figures = json.loads(out.decode().strip().splitlines()[-1])
    # the service's CPU (all its threads) per chat: steadier than the rates on a shared machine
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    figures["cpu_ms_per_chat"] = round(cpu / chats * 1e3, 3)
    assigned = sum(acd.desk.load(f"a{n}") for n in range(AGENTS))
    acd.stop()
    await service
    return {"chats": chats, "assigned": assigned, **figures}


async def client(url: str, token: str, chats: int) -> dict[str, Any]:
    """32 keep-alive HTTP/1.1 connections written by hand: a general-purpose client
    costs more per request than the service measured (it became the bottleneck)."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    todo = iter(range(chats))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for n in todo:
            body = json.dumps({"queue": "web", "client": f"telegram:{n}", "text": "hello"}).encode()
            start = time.perf_counter()
            writer.write(b"POST /api/channels/inbound/chat HTTP/1.1\r\nHost: bench\r\n"
                         b"Authorization: Bearer " + token.encode() + b"\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 202"):
                raise RuntimeError(head.decode(errors="replace"))
        writer.close()

    await service_up(host, int(port))
    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"per_s": round(chats / elapsed), "p50_ms": round(percentile(latencies, 50) * 1e3, 1),
            "p99_ms": round(percentile(latencies, 99) * 1e3, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--client", nargs=3, metavar=("URL", "TOKEN", "CHATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        url, token, count = args.client
        print(json.dumps(event_loop.run(client(url, token, int(count)))))
        return
    chats = 200 if args.quick else 5000
    figures: dict[str, Any] = {"agents": AGENTS, "concurrency": CONCURRENCY}
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = event_loop.run(measure(f"sqlite:///{tmp}/bench.db", chats))
    pg = None if args.no_postgres else postgres()
    if pg:
        figures["postgresql"] = event_loop.run(measure(pg, chats))
    for name in ("sqlite", "postgresql"):
        if name in figures:
            f = figures[name]
            met = f["per_s"] >= TARGET_PER_S and f["p99_ms"] < TARGET_P99_MS and f["assigned"] == f["chats"]
            print(f"http assignment ({name}): {f['chats']} chats, {f['assigned']} assigned, {f['per_s']}/s, "
                  f"p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, service CPU {f['cpu_ms_per_chat']} ms/chat; "
                  f"target >= {TARGET_PER_S:,}/s with p99 < {TARGET_P99_MS:g} ms at {CONCURRENCY} in flight: "
                  f"{'met' if met else 'missed'}")
    print("saved", save("http_assign" + ("-quick" if args.quick else ""), figures))


if __name__ == "__main__":
    main()
