"""The whole service (``acd.serve.Acd``) with its API under uvicorn, in a process of its
own, for the tests that kill it with SIGKILL (no tests in this file).

    python tests/channels/service_process.py <database url>

It listens on a port the system picks (no race for a free port) and prints that port
as its first line once the API answers. The CRM has one webhook whose URL refuses
connections, so every outbox job it makes stays pending: the test finds it there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import uvicorn

from acd import event_loop
from acd.config import settings_from_dict
from acd.serve import Acd

AGENTS = ("anna", "boris", "clara")
HOOK_URL_ENV, HOOK_SECRET_ENV = "DURABILITY_HOOK_URL", "DURABILITY_HOOK_SECRET"


def settings(database: str) -> object:
    return settings_from_dict({
        "service": {"database": database},
        "ami": {"host": "127.0.0.1", "port": 1, "secret": "unused", "simulate": "never"},
        "agents": [{"id": a, "endpoint": f"PJSIP/{101 + n}"} for n, a in enumerate(AGENTS)],
        "groups": [{"id": "phones", "members": ["anna"]}],
        "channels": [{"id": "web", "kind": "chat", "members": list(AGENTS), "mode": "strict",
                      "idle_seconds": "never"}],
        "crm": {"webhooks": [{"name": "hook", "url_env": HOOK_URL_ENV, "secret_env": HOOK_SECRET_ENV}]},
    }, "<durability test>")


async def main(database: str) -> None:
    os.environ.setdefault(HOOK_URL_ENV, "http://127.0.0.1:1/refused")
    os.environ.setdefault(HOOK_SECRET_ENV, "durability-secret")
    acd = Acd(settings(database))  # type: ignore[arg-type]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(acd.web, log_level="warning", lifespan="off"))
    await acd.desk.start()  # the open conversations are back before the first request
    service = asyncio.create_task(acd.run(http=False))
    web = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if service.done() or web.done():
            raise SystemExit(f"the service did not start: {service.exception() if service.done() else web}")
        await asyncio.sleep(0.01)
    print(listener.getsockname()[1], flush=True)
    await asyncio.gather(service, web)


if __name__ == "__main__":
    event_loop.run(main(sys.argv[1]))
