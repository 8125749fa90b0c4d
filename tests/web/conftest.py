"""A web app over a real router and distributor, an in-memory history, and users."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from acd.channels.history import Base as ChannelTables
from acd.clock import Clock
from acd.config import Settings, settings_from_dict
from acd.core.commands import Command, Record
from acd.core.events import DeviceState, DeviceStateChanged
from acd.core.router import Router
from acd.distributor import Distributor
from acd.store import Store
from acd.web.accounts import Accounts
from acd.web.app import WebContext, create_app
from acd.web.live_feed import LiveFeed

PASSWORD = "correct-horse"

SETTINGS: dict[str, Any] = {
    "ami": {"secret": "ami-secret-never-shown"},
    "service": {"database": "postgresql://acd:db-password-never-shown@db/acd"},
    "agents": [
        {"id": "anna", "name": "Anna Berg", "endpoint": "PJSIP/101", "mobile": "+4915112345601"},
        {"id": "ben", "name": "Ben Ortiz", "endpoint": "PJSIP/102"},
        {"id": "chloe", "name": "Chloé Martin", "endpoint": "PJSIP/103"},
    ],
    "groups": [
        {"id": "sales", "name": "Sales", "members": ["anna", "ben"], "allow_pickup": True},
        {"id": "support", "name": "Support", "members": ["chloe", "anna"], "mode": "evenly"},
    ],
    "numbers": {"+4930111111": "sales", "+4930222222": "support"},
    "default_group": "support",
}


class Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class StillClock(Clock):
    """Real time, but timers never fire (the tests feed every event themselves), so
    the distributor runs without an event loop."""

    def call_later(self, delay_s: float, callback: Any, *args: Any) -> Any:
        return Handle()


class Pbx:
    def __init__(self) -> None:
        self.commands: list[Command] = []

    def execute(self, command: Command) -> None:
        self.commands.append(command)


class History:
    """The distributor's history port, written at once (no batching in tests)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, records: list[Record]) -> None:
        self.store.apply_records(records)

    def offered(self, group_id: str, agent_ids: tuple[str, ...], at: float) -> None:
        for agent_id in agent_ids:
            self.store.save_offer(group_id, agent_id, at)


@dataclass
class Service:
    """What acd.serve.Acd gives the web app, small."""

    settings: Settings
    distributor: Distributor
    pbx: Pbx
    store: Store
    accounts: Accounts
    ctx: WebContext
    app: FastAPI
    config_path: Path | None
    intercepts: list[tuple[str, str]] = field(default_factory=list)

    def apply(self, settings: Settings) -> None:
        self.settings = settings
        self.distributor.reconfigure(settings.routing())

    def user(self, username: str, role: str = "supervisor", permissions: set[str] | None = None,
             agent_id: str | None = None) -> Any:
        return self.accounts.create_user(username, PASSWORD, role=role, permissions=permissions or set(),
                                         agent_id=agent_id)


def build(tmp_path: Path | None = None, data: dict[str, Any] | None = None, *, write_file: bool = True,
          clock: Clock | None = None, crm: Any = None) -> Service:
    settings = settings_from_dict(data or SETTINGS)
    config_path = None
    if tmp_path is not None and write_file:
        config_path = tmp_path / "acd.toml"
        config_path.write_text('# comment\ndefault_group = "support"\n[ami]\nsecret = "file-secret"\n'
                               '[service]\ndatabase = "sqlite:///real.db"\n')
    store = Store("sqlite://")
    store.create_all()
    ChannelTables.metadata.create_all(store.engine)  # one database holds both, as in the service
    pbx = Pbx()
    clock = clock or StillClock()
    distributor = Distributor(Router(settings.routing()), clock, pbx, History(store))
    for agent in settings.agents:
        distributor.feed(DeviceStateChanged(agent.id, DeviceState.NOT_INUSE))
    feed = LiveFeed(min_interval_s=0.05)
    distributor.listeners.append(feed)
    accounts = Accounts(store.engine)
    service = Service(settings, distributor, pbx, store, accounts, None, None, config_path)  # type: ignore[arg-type]

    def intercept(call_id: str, agent_id: str) -> str | None:
        service.intercepts.append((call_id, agent_id))
        return None

    service.ctx = WebContext(distributor, clock, feed, store=store, settings=lambda: service.settings,
                             apply_settings=service.apply, config_path=config_path, intercept=intercept,
                             accounts=accounts, crm=crm)
    service.app = create_app(service.ctx)
    return service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    s = build(tmp_path)
    yield s
    s.distributor.timers.cancel_all()
    s.store.close()


def login(app: FastAPI, username: str, password: str = PASSWORD) -> TestClient:
    """A browser signed in as ``username``; ``client.csrf`` is its session's token."""
    client = TestClient(app)
    response = client.post("/login", data={"username": username, "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/").text
    client.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)[1]  # type: ignore[attr-defined,index]
    return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
