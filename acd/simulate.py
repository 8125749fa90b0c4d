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
from .config import Settings
from .serve import AmiTarget
from .sim import Answer, ManagerUser, Simulator

log = logging.getLogger(__name__)

DIALPLAN = Path(__file__).resolve().parents[1] / "asterisk" / "extensions.conf"


def simulator_for(settings: Settings, clock: Clock, rng: random.Random | None = None) -> tuple[Simulator, str]:
    """A simulator with a phone for every configured agent (answering after 2-6 s) and
    a manager user with a fresh random secret."""
    rng = rng or random.Random()
    secret = secrets.token_urlsafe(16)
    sim = Simulator(
        dialplan=DIALPLAN, clock=clock, trunk=settings.ami.trunk,
        manager_users={settings.ami.username: ManagerUser(secret=secret, read=("system", "call", "user", "dtmf"),
                                                          write=("system", "call", "originate"))},
        channelvars=("ACD_DID", "ACD_CALLBACK"),  # as asterisk/manager.conf
    )
    for agent in settings.agents:
        tech, _, name = agent.endpoint.partition("/")
        if tech.upper() == "PJSIP" and name:
            sim.add_phone(name, Answer(after=rng.uniform(2, 6)), callerid=(agent.extension or name, agent.name))
    return sim, secret


@contextlib.asynccontextmanager
async def simulator_if_asked(settings: Settings, clock: Clock | None = None) -> AsyncIterator[AmiTarget | None]:
    """Yields where the service should connect: None for the configured Asterisk,
    or, with ``simulate = "always"``, a simulator started here (and stopped on exit)."""
    if not settings.ami.simulated:
        yield None
        return
    sim, secret = simulator_for(settings, clock or Clock())
    port = await sim.start("127.0.0.1", 0)  # a free port: it cannot be taken
    log.warning('simulate = "always": the built-in simulator stands in for Asterisk; no real calls',
                extra={"ami_port": port})
    try:
        yield AmiTarget("127.0.0.1", port, settings.ami.username, secret)
    finally:
        await sim.stop()
