"""The web app with the desk behind it (chats, e-mails, forms) and the agent workspace,
as ``acd.serve`` wires them, over the in-memory history of ``conftest.build``; the
built-in CRM in the same database. No tests in this file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from acd.channels import Desk
from acd.core.events import AgentWorkChanged
from acd.crm.feed import CrmFeed
from acd.crm.models import create_all
from acd.web.app import create_app
from acd.web.channels_api import channels_router
from acd.web.workspace import install_workspace

from .conftest import SETTINGS, Service, build

WORK = {"time_zone": "Europe/Berlin", "clock_in_required": True}  # clocking in and out counts

DATA: dict[str, Any] = copy.deepcopy(SETTINGS)
for agent in DATA["agents"]:
    agent["work"] = dict(WORK)
DATA["channels"] = [
    {"id": "site", "name": "Website chat", "kind": "chat", "members": ["anna", "ben", "chloe"], "mode": "evenly",
     "idle_seconds": 60, "capacity": 2},
    {"id": "vip", "name": "VIP chat", "kind": "chat", "members": ["chloe"]},
    {"id": "mail", "name": "Sales mailbox", "kind": "email", "members": ["anna", "ben"]},
    {"id": "callback", "name": "Call-back form", "kind": "form", "members": ["anna"]},
]


def build_with_desk(tmp_path: Path, clock: Any) -> tuple[Service, Desk]:
    """The service of ``conftest.build`` with a desk, its API and the workspace. The
    desk is not started: the caller awaits ``desk.start()`` on its event loop."""
    service = build(tmp_path, DATA, clock=clock)
    create_all(service.store.engine)
    crm = CrmFeed(service.store.engine, region="DE", now=clock.now)
    desk = Desk(service.settings.conversations(), service.store.engine, clock, crm=crm)
    # as acd.serve does: a change of work state reaches telephony at once
    desk.on_work_state.append(lambda agent, working, reason: service.distributor.feed(
        AgentWorkChanged(agent, working, reason)))
    service.ctx.crm = crm
    service.ctx.conversations = desk.live_conversations
    service.app = create_app(service.ctx, routers=[channels_router(desk)])
    install_workspace(service.app, desk)
    return service, desk
