"""Website chat: the visitor's message post (``POST /widget/{channel}/messages``) at 32
requests in flight, measured as ``bench.http_assign`` measures chat assignment: posts
per second, p50/p99 per request, the service's CPU per post, SQLite and PostgreSQL,
beside http_assign's target (>= 2,500/s with p99 < 50 ms at 32 in flight).

The whole service runs here (uvicorn on loopback, the Desk writing its history); a
client in another process keeps 32 keep-alive connections busy with posts from
``VISITORS`` visitors, each with the site's Origin and its visitor token: a visitor's
first post opens their conversation (offered to an agent before the 202), the later
ones add to it. Every 202 means the message is committed. Nobody long-polls here: what
a reply costs is ``bench.widget_chats``'s part.

Run: python -m bench.widget_posts [--quick] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from acd import event_loop

from .common import percentile, save, service_up
from .http_assign import CONCURRENCY, PG_URL, TARGET_P99_MS, TARGET_PER_S, free_port, postgres

AGENTS = 50
ORIGIN = "https://shop.example"


def fresh_postgres(name: str) -> str | None:
    """An empty PostgreSQL database ``name`` on bench.http_assign's server (a restart
    restores the desk from its database: every run starts from none; whoever is still
    connected is cut off). Not bench.http_assign's own database, which another
    benchmark may be using. Without root, ACD_BENCH_POSTGRES_URL as it is."""
    if os.geteuid() != 0:
        return os.environ.get("ACD_BENCH_POSTGRES_URL")
    if subprocess.run(["pg_isready", "-q"]).returncode != 0 and postgres() is None:
        return None
    psql = ["runuser", "-u", "postgres", "--", "psql", "-q", "-c"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)
    subprocess.run(["runuser", "-u", "postgres", "--", "createdb", "-O", "acd", name], check=True)
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def site_chat_settings(database: str, port: int, names: list[str]) -> Any:
    """The service for the widget's benchmarks: one website chat queue over ``names``,
    with rate limits above what the benchmark sends."""
    from acd.config import settings_from_dict

    return settings_from_dict({
        "service": {"port": port, "database": database},
        "ami": {"port": free_port(), "secret": "unused", "simulate": "never"},
        "agents": [{"id": a, "endpoint": f"PJSIP/{a}"} for a in names],
        "groups": [{"id": "phones", "members": ["a0"]}],
        "channels": [{"id": "site", "kind": "chat", "members": names, "mode": "evenly", "idle_seconds": "never",
                      "capacity": 1000,
                      "widget": {"allowed_origins": [ORIGIN], "visitor_messages_per_minute": 10_000,
                                 "address_messages_per_minute": 100_000, "new_visitors_per_minute": 10_000}}],
    }, "<bench>")


async def measure(database: str, posts: int, visitors: int) -> dict[str, Any]:
    from acd.serve import Acd
    from acd.web.accounts import Accounts

    port = free_port()
    names = [f"a{n}" for n in range(AGENTS)]
    settings = site_chat_settings(database, port, names)
    acd = Acd(settings)
    Accounts(acd.store.engine).create_user("bench", "bench-password", role="supervisor")  # no first-admin banner
    service = asyncio.create_task(acd.run(own_process=True))  # the AMI link retries in the background: no PBX needed
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.widget_posts", "--client", f"http://127.0.0.1:{port}", str(posts), str(visitors),
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
    # the client says when its timed part starts and ends: the service's CPU is read then
    assert child.stdout is not None
    await child.stdout.readline()  # "start"
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    await child.stdout.readline()  # "end"
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    out = await child.stdout.read()
    await child.wait()
    if child.returncode != 0:
        acd.stop()
        await service
        raise RuntimeError("the visitors' process failed (its error is above)")
    figures = json.loads(out.decode().strip().splitlines()[-1])
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)  # all the service's threads
    figures["cpu_ms_per_post"] = round(cpu / posts * 1e3, 3)
    opened = len(acd.desk.router.conversations)
    offered = sum(acd.desk.load(a) for a in names)
    acd.stop()
    await service
    return {"posts": posts, "visitors": visitors, "conversations": opened, "offered": offered, **figures}


async def client(url: str, posts: int, visitors: int) -> dict[str, Any]:
    """32 keep-alive HTTP/1.1 connections written by hand, as bench.http_assign's
    client (a general-purpose client costs more per request than the service)."""
    host, port = url.removeprefix("http://").split(":")
    # tokens as the service issues them (POST /visitors): random, 43 URL-safe characters
    tokens = [secrets.token_urlsafe(32) for _ in range(visitors)]
    latencies: list[float] = []
    todo = iter(range(posts))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for n in todo:
            body = json.dumps({"text": f"question {n}"}).encode()
            start = time.perf_counter()
            writer.write(b"POST /widget/site/messages HTTP/1.1\r\nHost: bench\r\nOrigin: " + ORIGIN.encode()
                         + b"\r\nX-ACD-Visitor: " + tokens[n % visitors].encode()
                         + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\n\r\n" + body)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 202"):
                raise RuntimeError((head + answer).decode(errors="replace"))
        writer.close()

    await service_up(host, int(port))
    print("start", flush=True)
    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    print("end", flush=True)
    latencies.sort()
    return {"per_s": round(posts / elapsed), "p50_ms": round(percentile(latencies, 50) * 1e3, 1),
            "p99_ms": round(percentile(latencies, 99) * 1e3, 1)}


def verdict(name: str, f: dict[str, Any]) -> str:
    met = (f["per_s"] >= TARGET_PER_S and f["p99_ms"] < TARGET_P99_MS
           and f["conversations"] == f["visitors"] == f["offered"])
    return (f"widget message posts ({name}): {f['posts']} posts from {f['visitors']} visitors, "
            f"{f['conversations']} conversations open, {f['offered']} offered; {f['per_s']}/s, p50 {f['p50_ms']} ms, "
            f"p99 {f['p99_ms']} ms, service CPU {f['cpu_ms_per_post']} ms/post; target >= {TARGET_PER_S:,}/s "
            f"with p99 < {TARGET_P99_MS:g} ms at {CONCURRENCY} in flight: {'met' if met else 'missed'}")


def sizes(quick: bool) -> tuple[int, int]:
    """(posts, visitors): every visitor writes five times, the first opening their conversation."""
    return (250, 50) if quick else (5000, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--client", nargs=3, metavar=("URL", "POSTS", "VISITORS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        url, posts, visitors = args.client
        print(json.dumps(event_loop.run(client(url, int(posts), int(visitors)))))
        return
    posts, visitors = sizes(args.quick)
    figures: dict[str, Any] = {"agents": AGENTS, "concurrency": CONCURRENCY}
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = event_loop.run(measure(f"sqlite:///{tmp}/bench.db", posts, visitors))
    pg = None if args.no_postgres else fresh_postgres("acd_bench_widget")
    if pg:
        figures["postgresql"] = event_loop.run(measure(pg, posts, visitors))
    for name in ("sqlite", "postgresql"):
        if name in figures:
            print(verdict(name, figures[name]))
    print("saved", save("widget_posts" + ("-quick" if args.quick else ""), figures))


if __name__ == "__main__":
    main()
