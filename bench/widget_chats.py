"""Website chat: 1,000 simultaneous widget conversations over 50 agents, messages both
ways; messages per second, p50/p99 delivery latency each way, the service's memory.

The whole service runs here (``acd.serve.Acd`` under uvicorn on loopback, SQLite); the
load comes from another process: each visitor takes a token, keeps a long poll open
(``GET /widget/site/messages?wait=25``) and writes ``ROUNDS`` messages; for each one an
agent (through the channels API, a supervisor's token acting for the agent the chat
was offered to) accepts and answers, and the visitor waits for the answer on its poll.

- customer -> agent: from the visitor's POST until its 202, which means the message is
  committed and the conversation offered (what the agent's queue shows);
- agent -> customer: from the agent's answer POST until the visitor's long poll
  returns the reply (committed, then woken).

Run: python -m bench.widget_chats [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import percentile, save

ORIGIN = "https://shop.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def measure(database: str, conversations: int, agents: int, rounds: int) -> dict[str, Any]:
    from acd.config import settings_from_dict
    from acd.serve import Acd
    from acd.web.accounts import Accounts

    port = free_port()
    names = [f"a{n}" for n in range(agents)]
    settings = settings_from_dict({
        "service": {"port": port, "database": database},
        "ami": {"port": free_port(), "secret": "unused", "simulate": "never"},
        "agents": [{"id": a, "endpoint": f"PJSIP/{a}"} for a in names],
        "groups": [{"id": "phones", "members": ["a0"]}],
        "channels": [{"id": "site", "kind": "chat", "members": names, "mode": "evenly", "idle_seconds": "never",
                      "capacity": 1000,
                      "widget": {"allowed_origins": [ORIGIN], "visitor_messages_per_minute": 10_000,
                                 "address_messages_per_minute": 100_000, "new_visitors_per_minute": 10_000}}],
    }, "<bench>")
    acd = Acd(settings)
    accounts = Accounts(acd.store.engine)
    user = accounts.create_user("bench", "bench-password", role="supervisor", permissions=("open_channels",))
    token = accounts.create_token(user.id, "bench")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    service = asyncio.create_task(acd.run())  # the AMI link retries in the background: no PBX needed
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.widget_chats", "--client", f"http://127.0.0.1:{port}", token,
        str(conversations), str(rounds), stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
    out, _ = await child.communicate()
    figures = json.loads(out.decode().strip().splitlines()[-1])
    open_now = len(acd.desk.router.conversations)
    acd.stop()
    await service
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"conversations": conversations, "agents": agents, "rounds": rounds, "open_at_end": open_now,
            "service_peak_rss_mb": round(rss / 1024), "rss_at_start_mb": round(rss_before / 1024), **figures}


async def client(url: str, token: str, conversations: int, rounds: int) -> dict[str, Any]:
    import httpx

    # idle connections are dropped before uvicorn's keep-alive of 5 s ends: a request on a
    # connection the server is closing would fail (a race of the client's, not the service's)
    limits = httpx.Limits(max_connections=conversations * 2 + 100, max_keepalive_connections=conversations * 2 + 100,
                          keepalive_expiry=2.0)
    http = httpx.AsyncClient(base_url=url, limits=limits, timeout=120)
    staff = {"Authorization": f"Bearer {token}"}
    retried: list[str] = []

    async def send(method: str, path: str, **kw: Any) -> httpx.Response:
        """A request, sent again on a connection the server closed as it was reused (a
        browser does the same; httpx does not): under load the client's loop may see a
        keep-alive connection as fresh after the server's idle timeout closed it."""
        for attempt in range(3):
            try:
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
    errors: list[str] = []
    polled: dict[int, Any] = {}  # the last poll's answer per visitor, to say why one never arrives

    for _ in range(100):  # the service is starting
        try:
            if (await send("GET", "/widget.js")).status_code == 200:
                break
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)

    async def poll(n: int, headers: dict[str, str], done: asyncio.Event) -> None:
        after, conversation = 0, ""
        while not done.is_set():
            params: dict[str, Any] = {"after": after, "wait": 25}
            if conversation:
                params["conversation"] = conversation
            try:
                response = await http.get("/widget/site/messages", params=params, headers=headers)
                response.raise_for_status()
                body = response.json()
            except (httpx.HTTPError, ValueError) as e:  # counted and asked again, as the page does
                errors.append(f"poll: {e!r}"[:200])
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
        origin = {"Origin": ORIGIN}
        token = (await send("POST", "/widget/site/visitors", headers=origin)).json()["visitor"]
        headers = {**origin, "X-ACD-Visitor": token}
        arrived[n] = asyncio.Queue()
        done = asyncio.Event()
        poller = asyncio.create_task(poll(n, headers, done))
        agent = None
        for r in range(rounds):
            start = time.perf_counter()
            written = await send("POST", "/widget/site/messages", json={"text": f"question {r}"}, headers=headers)
            to_agent.append(time.perf_counter() - start)
            if written.status_code != 202:
                raise RuntimeError(written.text)
            cid = written.json()["conversation"]
            if agent is None:
                conversation = (await send("GET", f"/api/channels/conversations/{cid}", headers=staff)).json()
                agent = conversation["offered_to"][0]
                await send("POST", f"/api/channels/conversations/{cid}/accept", json={"agent_id": agent}, headers=staff)
            sent_at[(n, r)] = time.perf_counter()
            answered = await send("POST", f"/api/channels/conversations/{cid}/answer",
                                       json={"text": f"answer {r}", "agent_id": agent}, headers=staff)
            if answered.status_code != 200:
                raise RuntimeError(answered.text)
            try:
                await asyncio.wait_for(arrived[n].get(), 300)
            except TimeoutError:
                timeline = (await send("GET", f"/api/channels/conversations/{cid}/timeline", headers=staff)).json()
                raise RuntimeError(f"visitor {n}: no answer {r} on the page after 300 s; poller "
                                   f"{'dead: ' + repr(poller.exception()) if poller.done() else 'alive'}, "
                                   f"last poll {polled.get(n)}; the conversation's lines: "
                                   f"{[(x['kind'], x.get('text')) for x in timeline['timeline']]}") from None
        done.set()
        poller.cancel()

    start = time.perf_counter()
    await asyncio.gather(*(visitor(n) for n in range(conversations)))
    elapsed = time.perf_counter() - start
    await http.aclose()
    to_agent.sort()
    to_customer.sort()
    messages = len(to_agent) + len(to_customer)
    return {"client_cpu_s": round(time.process_time(), 2), "poll_errors": len(errors), "first_errors": errors[:3],
            "requests_sent_again": len(retried), "messages": messages, "seconds": round(elapsed, 2),
            "messages_per_s": round(messages / elapsed),
            "to_agent_p50_ms": round(percentile(to_agent, 50) * 1e3, 1),
            "to_agent_p99_ms": round(percentile(to_agent, 99) * 1e3, 1),
            "to_customer_p50_ms": round(percentile(to_customer, 50) * 1e3, 1),
            "to_customer_p99_ms": round(percentile(to_customer, 99) * 1e3, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--client", nargs=4, metavar=("URL", "TOKEN", "CONVERSATIONS", "ROUNDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        url, token, count, rounds = args.client
        print(json.dumps(asyncio.run(client(url, token, int(count), int(rounds)))))
        return
    conversations, agents, rounds = (100, 10, 2) if args.quick else (1000, 50, 3)
    with tempfile.TemporaryDirectory() as tmp:
        f = asyncio.run(measure(f"sqlite:///{tmp}/bench.db", conversations, agents, rounds))
    print(f"widget chats (sqlite): {f['conversations']} conversations over {f['agents']} agents, "
          f"{f['messages']} messages in {f['seconds']} s = {f['messages_per_s']}/s; customer->agent p50 "
          f"{f['to_agent_p50_ms']} ms p99 {f['to_agent_p99_ms']} ms; agent->customer p50 {f['to_customer_p50_ms']} "
          f"ms p99 {f['to_customer_p99_ms']} ms; service peak RSS {f['service_peak_rss_mb']} MB")
    print("saved", save("widget_chats" + ("-quick" if args.quick else ""), f))


if __name__ == "__main__":
    main()
