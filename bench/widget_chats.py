"""Website chat: 1,000 simultaneous widget conversations over 50 agents, messages both
ways; messages per second, p50/p99 delivery latency each way, the service's memory and
CPU, each beside its target (met / MISSED).

The whole service runs here (``acd.serve.Acd`` under uvicorn on loopback, SQLite, or
PostgreSQL with ``--postgres``); the load comes from another process: each visitor is a
browser of its own (two connections: its long poll ``GET /widget/site/messages?wait=25``
and its writes), takes a token and writes ``ROUNDS`` messages; for each one an agent
(through the channels API, a supervisor's token acting for the agent the chat was
offered to; each agent a client of its own) accepts and answers, and the visitor waits
for the answer on its poll.

- customer -> agent: from the visitor's POST until its 202, which means the message is
  committed and the conversation offered (what the agent's queue shows);
- agent -> customer: from the agent's answer POST until the visitor's long poll
  returns the reply (committed, then woken).

Every visitor waits for each answer before writing again, so messages/s is what the
service sustains with 1,000 conversations waiting at once, not a request rate pushed
from outside. The machine is shared: the service's CPU per message says what the
figures cost whatever else runs.

Then the visitors' message post alone at 32 requests in flight, as bench.http_assign
measures assignment (``bench.widget_posts``), beside http_assign's target.

Run: python -m bench.widget_chats [--quick] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from acd import event_loop

from . import widget_posts
from .common import percentile, save

ORIGIN = "https://shop.example"
THINK_S = 30.0  # a visitor's pause between reading an answer and sending the next question (mean)
KEEP_PACE = 0.9  # messages/s each way: at least this share of what the visitors offer
TARGET_P99_MS = 1000
TARGET_RSS_MB = 500
PG_DATABASE = "acd_bench_widget"  # not bench.http_assign's: another benchmark may use that one
AGENT_CONNECTIONS = 32  # more than the chats an agent answers at once here: no request queues in the client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def measure(database: str, conversations: int, agents: int, rounds: int, think_s: float) -> dict[str, Any]:
    from acd.serve import Acd
    from acd.web.accounts import Accounts

    port = free_port()
    names = [f"a{n}" for n in range(agents)]
    settings = widget_posts.site_chat_settings(database, port, names)
    acd = Acd(settings)
    accounts = Accounts(acd.store.engine)
    user = accounts.create_user("bench", "bench-password", role="supervisor", permissions=("open_channels",))
    token = accounts.create_token(user.id, "bench")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    service = asyncio.create_task(acd.run(own_process=True))  # the AMI link retries in the background: no PBX needed
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.widget_chats", "--client", f"http://127.0.0.1:{port}", token,
        str(conversations), str(rounds), str(think_s), stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1])
    # the service's CPU (every thread) from the visitors' first request to their last
    # answer: its start-up (migrations, the first imports) is no message's cost
    assert child.stdout is not None
    started = await child.stdout.readline()
    cpu_before = time.process_time()
    ended = await child.stdout.readline()
    cpu = time.process_time() - cpu_before
    out = await child.stdout.read()
    await child.wait()
    if child.returncode != 0 or (started, ended) != (b"start\n", b"end\n"):
        acd.stop()
        await service
        raise RuntimeError("the visitors' process failed (its error is above)")
    figures = json.loads(out.decode().strip().splitlines()[-1])
    open_now = len(acd.desk.router.conversations)
    acd.stop()
    await service
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"conversations": conversations, "agents": agents, "rounds": rounds, "think_s": think_s,
            "open_at_end": open_now, "machine_load_1min": round(os.getloadavg()[0], 1),  # others' work too
            "service_peak_rss_mb": round(rss / 1024), "rss_at_start_mb": round(rss_before / 1024),
            "service_cpu_s": round(cpu, 2),
            "service_cpu_ms_per_message": round(cpu * 1e3 / (figures["to_agent"]["messages"] * 2), 2),
            "service_cpu_ms_per_request": round(cpu * 1e3 / figures["requests"], 2),
            "requests_per_message": round(figures["requests"] / (figures["to_agent"]["messages"] * 2), 2), **figures}


async def client(url: str, token: str, conversations: int, rounds: int, think_s: float) -> dict[str, Any]:
    import ssl

    import httpx

    # Each visitor is a browser of its own and each agent a workspace of its own, each
    # with its own few connections, as in life. One client's pool shared by thousands
    # of connections is no model of that, and it stalled: httpcore scans the whole pool
    # per request (O(n) each, the client's CPU went there) and, under that load, left
    # responses unread on connections it had handed to queued requests (httpcore
    # issue #1110), so a visitor's poll hung although the service had answered.
    tls = ssl.create_default_context()  # unused over http://, made once rather than per client

    def browser(connections: int) -> httpx.AsyncClient:
        # idle connections are dropped before uvicorn's keep-alive of 5 s ends: a request on
        # a connection the server is closing would fail (a race of the client's, not the service's)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections,
                              keepalive_expiry=2.0)
        return httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(60.0), verify=tls)

    staff = {"Authorization": f"Bearer {token}"}
    agents: dict[str, httpx.AsyncClient] = {}  # an agent's workspace: the replies to their chats
    retried: list[str] = []
    requests = [0]  # every request sent (polls, writes, the agents' steps): the service's CPU per request

    async def send(http: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
        """A request, sent again on a connection the server closed as it was reused (a
        browser does the same; httpx does not): under load the client's loop may see a
        keep-alive connection as fresh after the server's idle timeout closed it."""
        for attempt in range(3):
            try:
                requests[0] += 1
                return await http.request(method, path, **kw)
            except (httpx.RemoteProtocolError, httpx.ReadError) as e:
                if attempt == 2:
                    raise
                retried.append(repr(e)[:100])
        raise AssertionError("unreachable")

    to_agent: list[float] = []
    to_customer: list[float] = []
    sent_at: dict[tuple[int, int], float] = {}
    arrived: dict[int, asyncio.Queue[str]] = {}
    errors: dict[int, list[str]] = {}  # per visitor: polls that failed (asked again, as the page does)
    paused: dict[int, float] = {}
    polled: dict[int, Any] = {}  # the last poll's answer per visitor, to say why one never arrives

    probe = browser(1)
    for _ in range(100):  # the service is starting
        try:
            if (await probe.get("/widget.js")).status_code == 200:
                break
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    await probe.aclose()
    print("start", flush=True)

    async def poll(n: int, http: httpx.AsyncClient, headers: dict[str, str], done: asyncio.Event) -> None:
        after, conversation = 0, ""
        while not done.is_set():
            params: dict[str, Any] = {"after": after, "wait": 25}
            if conversation:
                params["conversation"] = conversation
            try:
                requests[0] += 1
                response = await http.get("/widget/site/messages", params=params, headers=headers)
                response.raise_for_status()
                body = response.json()
            except (httpx.HTTPError, ValueError) as e:  # counted and asked again, as the page does
                errors.setdefault(n, []).append(f"{round(time.perf_counter() - start, 1)} s: {e!r}"[:200])
                await asyncio.sleep(0.5)
                continue
            conversation = body.get("conversation") or conversation
            polled[n] = (round(time.perf_counter() - start, 1), params, body)
            now = time.perf_counter()
            for message in body["messages"]:
                if message["from"] == "agent":
                    r = int(message["text"].split()[-1])
                    to_customer.append(now - sent_at[(n, r)])
                    arrived[n].put_nowait(message["text"])
            after = body["last"]

    async def visitor(n: int) -> None:
        pace = random.Random(n)
        pauses = [pace.uniform(0, think_s)] + [pace.uniform(0.5, 1.5) * think_s for _ in range(rounds - 1)]
        paused[n] = sum(pauses)  # the visitor's time were the service instant
        await asyncio.sleep(pauses[0])  # the visitors arrive over the first pause
        http = browser(2)  # the page's long poll, and its writes
        origin = {"Origin": ORIGIN}
        token = (await send(http, "POST", "/widget/site/visitors", headers=origin)).json()["visitor"]
        headers = {**origin, "X-ACD-Visitor": token}
        arrived[n] = asyncio.Queue()
        done = asyncio.Event()
        poller = asyncio.create_task(poll(n, http, headers, done))
        agent = None
        for r in range(rounds):
            if r:
                await asyncio.sleep(pauses[r])  # the visitor reads, then types
            began = time.perf_counter()
            written = await send(http, "POST", "/widget/site/messages", json={"text": f"question {r}"},
                                 headers=headers)
            to_agent.append(time.perf_counter() - began)
            if written.status_code != 202:
                raise RuntimeError(written.text)
            cid = written.json()["conversation"]
            if agent is None:
                conversation = (await send(http, "GET", f"/api/channels/conversations/{cid}", headers=staff)).json()
                agent = conversation["offered_to"][0]
                if agent not in agents:
                    agents[agent] = browser(AGENT_CONNECTIONS)
                await send(agents[agent], "POST", f"/api/channels/conversations/{cid}/accept",
                           json={"agent_id": agent}, headers=staff)
            sent_at[(n, r)] = time.perf_counter()
            answered = await send(agents[agent], "POST", f"/api/channels/conversations/{cid}/answer",
                                  json={"text": f"answer {r}", "agent_id": agent}, headers=staff)
            if answered.status_code != 200:
                raise RuntimeError(answered.text)
            try:
                await asyncio.wait_for(arrived[n].get(), 120)
            except TimeoutError:
                timeline = (await send(http, "GET", f"/api/channels/conversations/{cid}/timeline",
                                       headers=staff)).json()
                raise RuntimeError(f"visitor {n}: no answer {r} on the page after 120 s; poller "
                                   f"{'dead: ' + repr(poller.exception()) if poller.done() else 'alive'}, "
                                   f"last poll {polled.get(n)}, its failed polls {errors.get(n, [])[-3:]}; "
                                   f"the conversation's lines: "
                                   f"{[(x['kind'], x.get('text')) for x in timeline['timeline']]}") from None
        done.set()
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await http.aclose()

    start = time.perf_counter()
    await asyncio.gather(*(visitor(n) for n in range(conversations)))
    elapsed = time.perf_counter() - start
    print("end", flush=True)
    for http in agents.values():
        await http.aclose()
    failed_polls = sum(map(len, errors.values()))
    first_errors = [e for lines in errors.values() for e in lines][:3]
    return {"client_cpu_s": round(time.process_time(), 2), "poll_errors": failed_polls, "first_errors": first_errors,
            "requests_sent_again": len(retried), "requests": requests[0], "seconds": round(elapsed, 2),
            # the rate the visitors offer: their messages over the time they would take
            # were every answer instant (the slowest visitor's pauses)
            "offered_per_s": round(len(to_agent) / max(paused.values()), 1),
            "to_agent": figures(to_agent, elapsed), "to_customer": figures(to_customer, elapsed)}


def figures(latencies: list[float], elapsed: float) -> dict[str, Any]:
    latencies = sorted(latencies)
    return {"messages": len(latencies), "per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1e3, 1), "p99_ms": round(percentile(latencies, 99) * 1e3, 1)}


def verdicts(f: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(figure, value, target, met) for each figure the README's table shows."""
    rows = []
    for way, label in (("to_agent", "customer -> agent"), ("to_customer", "agent -> customer")):
        w = f[way]
        pace = round(KEEP_PACE * f["offered_per_s"], 1)
        rows += [(f"{label} messages/s", f"{w['per_s']}", f">= {pace}", w["per_s"] >= pace),
                 (f"{label} p50", f"{w['p50_ms']} ms", "", True),
                 (f"{label} p99", f"{w['p99_ms']} ms", f"< {TARGET_P99_MS} ms", w["p99_ms"] < TARGET_P99_MS)]
    rows.append(("service CPU per message", f"{f['service_cpu_ms_per_message']} ms", "", True))
    rows.append(("  per request", f"{f['service_cpu_ms_per_request']} ms", "", True))
    rows.append(("  requests per message", f"{f['requests_per_message']}", "", True))
    rows.append(("service peak RSS", f"{f['service_peak_rss_mb']} MB", f"< {TARGET_RSS_MB} MB",
                 f["service_peak_rss_mb"] < TARGET_RSS_MB))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL too (a database of its own)")
    parser.add_argument("--client", nargs=5, metavar=("URL", "TOKEN", "CONVERSATIONS", "ROUNDS", "THINK_S"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        url, token, count, rounds, think_s = args.client
        print(json.dumps(event_loop.run(client(url, token, int(count), int(rounds), float(think_s)))))
        return 0
    conversations, agents, rounds, think_s = (60, 6, 2, 1.0) if args.quick else (1000, 50, 3, THINK_S)
    databases = ["sqlite"] + (["postgresql"] if args.postgres else [])
    for database in databases:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db" if database == "sqlite" else widget_posts.fresh_postgres(PG_DATABASE)
            if url is None:
                print("no PostgreSQL: skipped")
                continue
            f = event_loop.run(measure(url, conversations, agents, rounds, think_s))
        f["database"] = database
        print(f"widget chats ({database}): {f['conversations']} conversations over {f['agents']} agents, "
              f"{rounds} messages each way in each, a pause of ~{think_s:g} s between them "
              f"(~{f['offered_per_s']} messages/s each way offered), {f['seconds']} s; "
              f"machine load {f['machine_load_1min']} on {os.cpu_count()} CPUs")
        for figure, value, target, met in verdicts(f):
            print(f"  {figure:<28} {value:>10}   {target and ('target ' + target):<18} "
                  f"{target and ('met' if met else 'MISSED')}")
        with tempfile.TemporaryDirectory() as tmp:  # an empty database again: no conversation open
            url = f"sqlite:///{tmp}/posts.db" if database == "sqlite" else widget_posts.fresh_postgres(PG_DATABASE)
            assert url is not None
            f["posts"] = event_loop.run(widget_posts.measure(url, *widget_posts.sizes(args.quick)))
        print("  " + widget_posts.verdict(database, f["posts"]))
        print("saved", save("widget_chats" + ("-quick" if args.quick else "") + f"-{database}", f))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
