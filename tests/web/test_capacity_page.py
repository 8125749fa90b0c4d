"""One capacity across channels where a supervisor looks for it, the Agents page: the
weights of a call, a chat, an e-mail and a form and the budget they draw on
(``[capacity]``), and each agent's own budget; applied live, written back, audited,
refused field by field in sentences. Its API twin is ``/api/capacity``."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from .conftest import Service, build, login
from .test_channel_settings import DATA, token


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    s = build(tmp_path, DATA)
    s.user("ag", permissions={"agents"})
    yield s
    s.distributor.timers.cancel_all()
    s.store.close()


def capacity_form(client: TestClient, **fields: str) -> dict[str, Any]:
    return {"csrf_token": client.csrf, "capacity.enabled": "on", "capacity.budget": "100", "capacity.call": "60",
            "capacity.chat": "30", "capacity.email": "10", "capacity.form": "5", **fields}


def agent_form(client: TestClient, **fields: str) -> dict[str, Any]:
    return {"csrf_token": client.csrf, "id": "anna", "name": "Anna Berg", "endpoint": "PJSIP/101",
            "mobile": "+4915112345601", **fields}


def test_the_weights_of_each_channel_and_the_budget_are_set_on_the_agents_page(svc: Service) -> None:
    client = login(svc.app, "ag")
    page = client.get("/agents").text
    assert "One capacity across channels" in page and "A call takes" in page
    assert client.post("/agents/capacity", data=capacity_form(client), follow_redirects=False).status_code == 303
    capacity = svc.distributor.router.config.capacity  # what routing uses, at once
    assert capacity is not None and (capacity.budget, capacity.call, capacity.chat, capacity.email,
                                     capacity.form) == (100, 60, 30, 10, 5)
    assert svc.settings.conversations().capacity == capacity
    assert tomllib.loads(svc.config_path.read_text())["capacity"] == {
        "budget": 100, "call": 60, "chat": 30, "email": 10, "form": 5}
    (entry, *_) = svc.app.state.audit.entries()
    assert entry.action == "capacity saved" and entry.target == "capacity"
    page = client.get("/agents?saved=1").text
    assert 'value="60"' in page and "Saved and applied." in page

    off = {k: v for k, v in capacity_form(client).items() if k != "capacity.enabled"}
    assert client.post("/agents/capacity", data=off, follow_redirects=False).status_code == 303
    assert svc.settings.capacity is None and svc.distributor.router.config.capacity is None
    assert "capacity" not in tomllib.loads(svc.config_path.read_text())


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"capacity.budget": "0"}, "capacity-budget", "Give a whole number from 1 to 1000"),
    ({"capacity.chat": "-1"}, "capacity-chat", "Give a whole number from 0 to 1000"),
    ({"capacity.call": "lots"}, "capacity-call", "Give a whole number from 0 to 1000"),
])
def test_a_bad_weight_is_named_on_its_field_in_a_sentence(svc: Service, fields: dict[str, str], field: str,
                                                          words: str) -> None:
    client = login(svc.app, "ag")
    before = svc.config_path.read_text()
    page = client.post("/agents/capacity", data=capacity_form(client, **fields))
    assert page.status_code == 422 and f'id="err-{field}"' in page.text and words in page.text, page.text
    assert "Input should" not in page.text
    assert svc.settings.capacity is None and svc.config_path.read_text() == before


def test_an_agents_own_capacity_is_set_on_their_form_and_needs_the_weights_first(svc: Service) -> None:
    client = login(svc.app, "ag")
    page = client.get("/agents?edit=anna").text
    assert "Capacity across channels" in page
    refused = client.post("/agents", data=agent_form(client, budget="150"))
    assert refused.status_code == 422 and 'id="err-budget"' in refused.text
    assert escape("Set the weights of each channel first (One capacity across channels, below)") in refused.text
    assert client.post("/agents/capacity", data=capacity_form(client), follow_redirects=False).status_code == 303
    assert client.post("/agents", data=agent_form(client, budget="150"), follow_redirects=False).status_code == 303
    assert svc.settings.agent("anna").budget == 150
    assert svc.distributor.router.config.capacity.budget_of("anna") == 150
    assert svc.distributor.router.config.capacity.budget_of("ben") == 100
    bad = client.post("/agents", data=agent_form(client, budget="5000"))
    assert bad.status_code == 422 and "Give a whole number from 1 to 1000, or leave it empty" in bad.text
    # the weights cannot go while an agent has a budget of their own: said at the top
    off = {k: v for k, v in capacity_form(client).items() if k != "capacity.enabled"}
    page = client.post("/agents/capacity", data=off)
    assert page.status_code == 422 and "Anna Berg" in page.text and "own capacity" in page.text
    assert svc.settings.capacity is not None


def test_the_capacity_api_twin(svc: Service) -> None:
    client = TestClient(svc.app)
    auth = token(svc, "ag")
    assert client.get("/api/capacity", headers=auth).json() == {"enabled": False}
    body = {"budget": 100, "call": 60, "chat": 30, "email": 10, "form": 5}
    response = client.put("/api/capacity", json=body, headers=auth)
    assert response.status_code == 200 and response.json() == {"enabled": True, **body}
    bad = client.put("/api/capacity", json={**body, "chat": 5000}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["item"] == "capacity.chat"
    assert client.put("/api/capacity", json={"enabled": False}, headers=auth).json() == {"enabled": False}
    assert svc.settings.capacity is None
    svc.user("carl", role="agent", permissions={"open_channels"}, agent_id="chloe")
    assert client.get("/api/capacity", headers=token(svc, "carl")).status_code == 403
