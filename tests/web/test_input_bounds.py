"""Bad input gets a 4xx, never a 500: numbers past any real range, oversized bodies,
ids that disagree, names longer than a page can show."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .conftest import Service, bearer, login

HUGE = "99999999999999999999"  # past 2**63 - 1, SQLite's largest integer


@pytest.fixture
def admin(service: Service) -> TestClient:
    user = service.user("root", role="admin")
    client = TestClient(service.app, raise_server_exceptions=False)
    client.headers.update(bearer(service.accounts.create_token(user.id, "test")))
    return client


@pytest.mark.parametrize("path", [
    f"/api/calls?offset={HUGE}", f"/api/calls?limit={HUGE}", f"/api/missed?offset={HUGE}",
    f"/api/audit?offset={HUGE}", f"/api/audit?limit={HUGE}", f"/api/outbox?limit={HUGE}",
    "/api/audit?limit=-1", "/api/audit?limit=0", "/api/audit?offset=-5", "/api/calls?limit=-1",
])
def test_listing_bounds_are_422(admin: TestClient, path: str) -> None:
    response = admin.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["item"] in ("query.limit", "query.offset")


@pytest.mark.parametrize("method,path", [
    ("put", f"/api/users/{HUGE}"), ("delete", f"/api/users/{HUGE}"), ("delete", f"/api/tokens/{HUGE}"),
    ("post", f"/api/outbox/{HUGE}/retry"), ("delete", "/api/users/-1"), ("delete", "/api/tokens/0"),
])
def test_ids_past_any_real_row_are_422(admin: TestClient, method: str, path: str) -> None:
    body = {"json": {"role": "agent", "agent_id": "anna"}} if method == "put" else {}
    response = admin.request(method.upper(), path, **body)
    assert response.status_code == 422, response.text


def test_an_audit_listing_never_returns_more_than_its_cap(admin: TestClient) -> None:
    for n in range(3):
        assert admin.post("/api/tokens", json={"name": f"token {n}"}).status_code == 201  # an audit row each
    assert len(admin.get("/api/audit?limit=2").json()) == 2
    assert admin.get("/api/audit?limit=1001").status_code == 422


@pytest.mark.parametrize("form", [{"action": "update", "user_id": "abc", "role": "agent"},
                                  {"action": "delete", "user_id": HUGE},
                                  {"action": "update", "user_id": "1e3", "role": "agent"}])
def test_the_users_form_refuses_a_user_id_that_is_not_one(service: Service, form: dict[str, str]) -> None:
    service.user("root", role="admin")
    client = login(service.app, "root")
    client_safe = TestClient(service.app, raise_server_exceptions=False, cookies=client.cookies)
    response = client_safe.post("/users", data={"csrf_token": client.csrf, **form}, follow_redirects=False)
    assert response.status_code == 422, response.text
    assert "user_id" in response.text


def test_the_tokens_form_refuses_a_token_id_that_is_not_one(service: Service) -> None:
    service.user("root", role="admin")
    client = login(service.app, "root")
    client_safe = TestClient(service.app, raise_server_exceptions=False, cookies=client.cookies)
    response = client_safe.post("/tokens", data={"csrf_token": client.csrf, "action": "revoke", "token_id": HUGE},
                                follow_redirects=False)
    assert response.status_code == 422, response.text


def test_the_history_page_refuses_an_offset_past_any_row(service: Service) -> None:
    service.user("root", role="admin")
    client = login(service.app, "root")
    for page in ("/history", "/missed", "/audit"):
        assert client.get(f"{page}?offset={HUGE}").status_code == 422, page


# ------------------------------------------------------------------ bodies and fields
def test_an_oversized_json_body_is_413(admin: TestClient) -> None:
    response = admin.put("/api/groups/sales", json={"name": "S", "members": ["anna"], "pad": "x" * 300_000})
    assert response.status_code == 413
    assert "detail" in response.json()


def test_an_oversized_form_field_is_refused(service: Service) -> None:
    service.user("root", role="admin")
    client = login(service.app, "root")
    response = client.post("/groups/sales", data={"csrf_token": client.csrf, "name": "x" * 20_000,
                                                  "members": ["anna"]})
    assert response.status_code == 413


# ------------------------------------------------------------------ ids in the path and the body
@pytest.mark.parametrize("section", ["groups", "agents"])
def test_a_put_whose_body_names_another_id_is_422(service: Service, admin: TestClient, section: str) -> None:
    before = service.settings.to_dict()[section]
    body = ({"id": "bbb", "members": ["anna"]} if section == "groups" else {"id": "bbb", "endpoint": "PJSIP/199"})
    response = admin.put(f"/api/{section}/aaa", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [{"item": "id", "problem": 'the body says "bbb", the path "aaa"'}]
    assert service.settings.to_dict()[section] == before


def test_a_put_whose_body_repeats_the_paths_id_is_fine(admin: TestClient) -> None:
    response = admin.put("/api/groups/aaa", json={"id": "aaa", "members": ["anna"]})
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------ names
def test_a_group_name_longer_than_a_page_can_show_is_422(service: Service, admin: TestClient) -> None:
    response = admin.put("/api/groups/sales", json={"name": "x" * 5000, "members": ["anna"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["item"].endswith(".name")
    assert service.settings.group("sales").name == "Sales"  # type: ignore[union-attr]


def test_a_token_name_too_long_is_422(admin: TestClient) -> None:
    assert admin.post("/api/tokens", json={"name": "x" * 101}).status_code == 422


# ------------------------------------------------------------------ the channels' API
@pytest.fixture
def channels(service: Service) -> TestClient:
    from acd.channels import Desk
    from acd.web.app import create_app
    from acd.web.channels_api import channels_router

    service.apply(service.settings.with_changes({"channels": [{"id": "webchat", "members": ["anna", "ben"]}]}))
    desk = Desk.from_settings(service.settings, service.store.engine, service.ctx.clock)
    app = create_app(service.ctx, routers=[channels_router(desk)])
    user = service.user("boss", permissions={"open_channels", "crm_forms", "agents"})
    client = TestClient(app, raise_server_exceptions=False)
    client.headers.update(bearer(service.accounts.create_token(user.id, "test")))
    return client


@pytest.mark.parametrize("body", [
    b'{"starts_at": Infinity, "ends_at": Infinity}', b'{"starts_at": NaN, "ends_at": 2e9}',
    b'{"starts_at": 1e300, "ends_at": 2e300}', b'{"starts_at": -1e300, "ends_at": 1e9}',
])
def test_a_break_at_no_real_time_is_422(channels: TestClient, body: bytes) -> None:
    response = channels.post("/api/channels/agents/anna/breaks", content=body,
                             headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("path,body", [
    ("/api/channels/conversations/c1/accept", {"agent_id": "a" * 65}),
    ("/api/channels/conversations/c1/transfer", {"to_agent": "a" * 65}),
    ("/api/channels/inbound/form", {"form": "webchat", "fields": {"k" * 101: "v"}}),
])
def test_the_channels_ids_and_field_names_have_lengths(channels: TestClient, path: str,
                                                       body: dict[str, object]) -> None:
    response = channels.post(path, json=body)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("body", [{"username": "x", "password": "p" * 300, "role": "agent", "agent_id": "anna"},
                                  {"username": "x", "password": "p" * 10, "role": "agent", "agent_id": "a" * 65},
                                  {"username": "x", "password": "p" * 10, "role": "r" * 5000}])
def test_a_new_users_fields_have_lengths(admin: TestClient, body: dict[str, object]) -> None:
    response = admin.post("/api/users", json=body)
    assert response.status_code == 422, response.text
    assert "p" * 300 not in response.text and "r" * 5000 not in response.text  # never echoed


def test_a_member_move_with_an_absurd_position_changes_nothing(service: Service) -> None:
    service.user("root", role="admin")
    client = login(service.app, "root")
    response = client.post("/groups/sales", data={"csrf_token": client.csrf, "name": "Sales",
                                                  "members": ["anna", "ben"], "move": "up:" + "9" * 5000})
    assert response.status_code == 200 and "Not saved yet" in response.text
