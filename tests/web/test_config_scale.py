"""The configuration pages and API at 40,000 groups and 75,000 agents (bench/scale.py):
reading one item, the agents page and saving one group must not cost a dump or a
validation of every agent and group, or a look at every group per agent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from acd.config import Settings

from .conftest import SETTINGS, Service, bearer, build, login


@pytest.fixture
def whole_dumps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every dump of the whole settings (or of some of its sections) made meanwhile."""
    calls: list[Any] = []
    dump = Settings.model_dump

    def counted(self: Settings, **kw: Any) -> dict[str, Any]:
        calls.append(kw.get("include"))
        return dump(self, **kw)

    monkeypatch.setattr(Settings, "model_dump", counted)
    yield calls


def with_agents(tmp_path: Path, count: int) -> Service:
    agents = [{"id": f"a{n}", "endpoint": f"PJSIP/{200 + n}"} for n in range(count)]
    groups = [{"id": f"g{n}", "members": [f"a{n}", f"a{(n + 1) % count}"]} for n in range(count)]
    return build(tmp_path, {**SETTINGS, "agents": SETTINGS["agents"] + agents, "groups": SETTINGS["groups"] + groups,
                            "numbers": {}, "default_group": None})


def test_reading_one_group_or_agent_dumps_that_item_only(service: Service, whole_dumps: list[Any]) -> None:
    service.user("ann", permissions={"telephony", "agents"})
    client = login(service.app, "ann")
    whole_dumps.clear()

    group = client.get("/api/groups/support").json()
    agent = client.get("/api/agents/anna").json()

    assert whole_dumps == []
    assert group == next(g for g in service.settings.to_dict()["groups"] if g["id"] == "support")
    assert agent == next(a for a in service.settings.to_dict()["agents"] if a["id"] == "anna")
    assert client.get("/api/groups/nobody").status_code == 404


def test_the_group_list_dumps_the_groups_only(service: Service, whole_dumps: list[Any]) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    whole_dumps.clear()

    groups = client.get("/api/groups").json()

    assert [g["id"] for g in groups] == ["sales", "support"]
    assert whole_dumps == [{"groups"}]


def test_the_agents_page_looks_at_the_groups_once_however_many_agents(tmp_path: Path,
                                                                       whole_dumps: list[Any]) -> None:
    dumps = []
    for count in (3, 30):
        service = with_agents(tmp_path, count)
        service.user("ann", permissions={"agents"})
        client = login(service.app, "ann")
        whole_dumps.clear()
        page = client.get("/agents")
        assert page.status_code == 200
        dumps.append(len(whole_dumps))
        service.store.close()
    assert dumps[0] == dumps[1]
    assert "sales, support" in page.text  # anna's groups, in the settings' order
    assert "g1, g2" in page.text  # a2 is in g1 and g2


def test_saving_one_group_keeps_the_agents_as_validated(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    token = service.accounts.create_token(service.accounts.users()[0][0].id, "it")
    before = service.settings

    response = client_put(service, token, {"name": "Sales team", "members": ["ben", "anna"]})

    assert response.status_code == 200, response.text
    after = service.settings
    assert after.group("sales").name == "Sales team"  # type: ignore[union-attr]
    assert after.agents[0] is before.agents[0]
    assert after.to_dict()["agents"] == before.to_dict()["agents"]


def test_a_group_naming_an_unknown_agent_is_still_refused(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    token = service.accounts.create_token(service.accounts.users()[0][0].id, "it")

    response = client_put(service, token, {"name": "Sales", "members": ["anna", "nobody"]})

    assert response.status_code == 422
    assert "unknown agent" in response.text
    assert service.settings.group("sales").members == ["anna", "ben"]  # type: ignore[union-attr]


def client_put(service: Service, token: str, body: dict[str, Any]) -> Any:
    return TestClient(service.app).put("/api/groups/sales", json=body, headers=bearer(token))


def with_groups(tmp_path: Path, count: int) -> Service:
    groups = [{"id": f"g{n:04d}", "members": ["anna"]} for n in range(count)]
    return build(tmp_path, {**SETTINGS, "groups": SETTINGS["groups"] + groups})


def test_the_groups_page_shows_500_groups_a_page(tmp_path: Path) -> None:
    service = with_groups(tmp_path, 1_098)  # 1,100 with sales and support
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")

    first, last = client.get("/groups"), client.get("/groups?page=3")

    assert first.text.count('<a href="/groups/') == 500
    assert "Queue groups 1–500 of 1,100" in first.text
    assert 'href="?page=2" rel="next"' in first.text and 'rel="prev"' not in first.text
    assert last.text.count('<a href="/groups/') == 100 and ">g1097<" in last.text.replace('"hint">', ">")
    assert "Queue groups 1,001–1,100 of 1,100" in last.text
    assert 'href="?page=2" rel="prev"' in last.text and 'rel="next"' not in last.text
    assert "No queue groups on this page." in client.get("/groups?page=4").text
    assert client.get("/groups?page=0").status_code == 422
    service.store.close()


def test_the_group_list_api_gives_a_page_given_offset_and_limit(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")

    assert [g["id"] for g in client.get("/api/groups").json()] == ["sales", "support"]
    assert [g["id"] for g in client.get("/api/groups?limit=1").json()] == ["sales"]
    assert [g["id"] for g in client.get("/api/groups?offset=1&limit=5").json()] == ["support"]
    assert client.get("/api/groups?offset=2").json() == []
    assert client.get("/api/groups?limit=0").status_code == 422
    assert client.get("/api/groups?limit=10001").status_code == 422
