"""The built-in simulator as the service's PBX when no Asterisk answers.

``simulate = "auto"`` (the default): try the configured AMI address; if nothing
listens there, start the Asterisk stand-in (acd/sim) on a free loopback port, running
the project's own asterisk/extensions.conf with one scripted phone per agent, so a
newcomer sees the service work. ``"always"`` never tries; ``"never"`` never simulates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from .clock import Clock
from .config import Settings
from .serve import AmiTarget
from .sim import Answer, ManagerUser, Simulator

log = logging.getLogger(__name__)

DIALPLAN = Path(__file__).resolve().parents[1] / "asterisk" / "extensions.conf"


async def asterisk_answers(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def simulator_for(settings: Settings, clock: Clock, rng: random.Random | None = None) -> tuple[Simulator, str]:
    """A simulator with a phone for every configured agent (answering after 2-6 s) and
    a manager user with a fresh random secret."""
    rng = rng or random.Random()
    secret = secrets.token_urlsafe(16)
    sim = Simulator(
        dialplan=DIALPLAN, clock=clock, trunk=settings.ami.trunk,
        manager_users={settings.ami.username: ManagerUser(secret=secret, read=("system", "call", "user"),
                                                          write=("system", "call", "originate"))},
    )
    for agent in settings.agents:
        tech, _, name = agent.endpoint.partition("/")
        if tech.upper() == "PJSIP" and name:
            sim.add_phone(name, Answer(after=rng.uniform(2, 6)), callerid=(agent.extension or name, agent.name))
    return sim, secret


@contextlib.asynccontextmanager
async def simulator_if_needed(settings: Settings, clock: Clock | None = None) -> AsyncIterator[AmiTarget | None]:
    """Yields where the service should connect: None for the configured Asterisk,
    or the address of a simulator started here (and stopped on exit)."""
    mode = settings.ami.simulate
    if mode == "never" or (mode == "auto" and await asterisk_answers(settings.ami.host, settings.ami.port)):
        yield None
        return
    if mode == "auto":
        log.warning("no Asterisk answers: using the built-in simulator",
                    extra={"ami_host": settings.ami.host, "ami_port": settings.ami.port})
    sim, secret = simulator_for(settings, clock or Clock())
    port = await sim.start("127.0.0.1", 0)
    try:
        yield AmiTarget("127.0.0.1", port, settings.ami.username, secret)
    finally:
        await sim.stop()
