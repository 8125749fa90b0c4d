"""The built-in simulator as the service's PBX, only where it is asked for.

``simulate = "always"`` (and ``acd demo``): the Asterisk stand-in (acd/sim) on a free
loopback port, running the project's own asterisk/extensions.conf with one scripted
phone per agent, so a newcomer sees the service work. Otherwise (``"never"``, the
default) ``acd serve`` connects to the configured Asterisk and keeps trying until it
answers: a production configuration never runs on the simulator by accident.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from .clock import Clock
from .config import AsteriskServer, Settings
from .serve import AmiTarget
from .sim import Answer, ManagerUser, Simulator

log = logging.getLogger(__name__)

DIALPLAN = Path(__file__).resolve().parents[1] / "asterisk" / "extensions.conf"


def simulator_for(settings: Settings, clock: Clock, rng: random.Random | None = None,
                  server: AsteriskServer | None = None) -> tuple[Simulator, str]:
    """A simulator for one Asterisk server (the first by default) with a phone for every
    agent on it (answering after 2-6 s) and a manager user with a fresh random secret."""
    rng = rng or random.Random()
    secret = secrets.token_urlsafe(16)
    server = server or settings.servers()[0]
    link = server.link
    sim = Simulator(
        dialplan=DIALPLAN, clock=clock, trunk=link.trunk,
        manager_users={link.username: ManagerUser(secret=secret, read=("system", "call", "user", "dtmf"),
                                                  write=("system", "call", "originate"))},
        channelvars=("ACD_DID", "ACD_CALLBACK"),  # as asterisk/manager.conf
    )
    on_server = {a.id for a in settings.routing().agents.values() if a.server == server.name}
    for agent in settings.agents:
        if agent.id not in on_server:
            continue
        tech, _, name = agent.endpoint.partition("/")
        if tech.upper() == "PJSIP" and name:
            sim.add_phone(name, Answer(after=rng.uniform(2, 6)), callerid=(agent.extension or name, agent.name))
    return sim, secret


@contextlib.asynccontextmanager
async def simulator_if_asked(settings: Settings, clock: Clock | None = None) -> AsyncIterator[dict[str, AmiTarget]]:
    """Yields where the service should connect to each server that has
    ``simulate = "always"``: a simulator started here (and stopped on exit). The
    others (none listed) are the configured Asterisk servers."""
    targets: dict[str, AmiTarget] = {}
    sims: list[Simulator] = []
    try:
        for server in settings.servers():
            if not server.link.simulated:
                continue
            sim, secret = simulator_for(settings, clock or Clock(), server=server)
            sims.append(sim)
            port = await sim.start("127.0.0.1", 0)  # a free port: it cannot be taken
            log.warning('simulate = "always": the built-in simulator stands in for Asterisk; no real calls',
                        extra={"ami_port": port, "ami_server": server.name})
            targets[server.name] = AmiTarget("127.0.0.1", port, server.link.username, secret)
        yield targets
    finally:
        for sim in sims:
            await sim.stop()
