"""Queue groups, numbers and agents through the pages and the API: permissions, CSRF,
field-level errors, live application, the TOML file and the audit log."""

from __future__ import annotations

import re
import tomllib

from fastapi.testclient import TestClient

from acd.core.model import Mode

from .conftest import Service, bearer, login


def test_pages_send_strangers_to_sign_in_and_the_api_says_401(service: Service) -> None:
    client = TestClient(service.app)
    for path in ("/", "/groups", "/history", "/missed", "/users"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    for path in ("/api/groups", "/api/live", "/api/calls", "/api/users", "/api/me"):
        response = client.get(path)
        assert response.status_code == 401 and response.json()["detail"]


def test_a_wrong_password_is_refused(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = TestClient(service.app)
    response = client.post("/login", data={"username": "ann", "password": "nope-nope"})
    assert response.status_code == 401 and "Wrong username or password" in response.text
    assert "acd_session" not in client.cookies


def test_a_user_without_telephony_can_neither_see_nor_change_queue_groups(service: Service) -> None:
    service.user("carl", permissions={"crm", "agents"})
    client = login(service.app, "carl")
    token = service.accounts.create_token(service.accounts.users()[0][0].id, "it")
    assert client.get("/groups").status_code == 403
    assert client.get("/groups/sales").status_code == 403
    assert client.get("/numbers").status_code == 403
    form = {"csrf_token": client.csrf, "name": "X", "members": "anna"}
    assert client.post("/groups/sales", data=form).status_code == 403
    assert client.get("/api/groups").status_code == 403
    assert client.get("/api/groups", headers=bearer(token)).status_code == 403
    assert client.put("/api/groups/sales", json={"members": ["anna"]}, headers=bearer(token)).status_code == 403
    assert client.delete("/api/groups/sales", headers={"X-CSRF-Token": client.csrf}).status_code == 403
    assert "Queue groups" not in client.get("/").text  # not even in the navigation
    assert service.settings.group("sales").name == "Sales"
    assert client.get("/agents").status_code == 200  # what carl may do, he can


def test_a_form_without_the_csrf_token_is_refused(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    form = {"name": "Sales team", "members": ["anna", "ben"], "mode": "strict", "rings": "3"}
    assert client.post("/groups/sales", data=form).status_code == 403
    assert client.post("/groups/sales", data={**form, "csrf_token": "forged"}).status_code == 403
    assert client.put("/api/groups/sales", json={"members": ["anna"]}).status_code == 403
    assert service.settings.group("sales").name == "Sales"
    response = client.post("/groups/sales", data={**form, "csrf_token": client.csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert service.settings.group("sales").name == "Sales team"


def test_saving_a_group_applies_it_writes_the_file_and_audits_the_change(service: Service) -> None:
    ann = service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    form = {"csrf_token": client.csrf, "name": "Sales", "members": ["ben", "anna"], "mode": "all", "rings": "5",
            "ring_seconds": "4", "allow_pickup": "on", "missed.action": "forward_number",
            "missed.number": "+4930999999"}
    assert client.post("/groups/sales", data=form, follow_redirects=False).status_code == 303
    group = service.distributor.router.config.groups["sales"]  # the router follows at once
    assert group.members == ("ben", "anna") and group.mode is Mode.ALL and group.rings == 5
    written = tomllib.loads(service.config_path.read_text())
    assert written["groups"][0]["members"] == ["ben", "anna"]
    assert written["ami"]["secret"] == "file-secret"  # the rest of the file is kept
    assert written["service"]["database"] == "sqlite:///real.db"
    assert service.config_path.with_name("acd.toml.bak").read_text().startswith("# comment")
    (entry, *_) = service.app.state.audit.entries()
    assert entry.username == "ann" and entry.user_id == ann.id and entry.action == "group saved"
    changed = {c["item"]: (c["before"], c["after"]) for c in entry.changes}
    assert changed['groups["sales"].rings'] == (3, 5)
    assert changed['groups["sales"].mode'] == ("strict", "all")
    assert changed['groups["sales"].members'] == (["anna", "ben"], ["ben", "anna"])


def test_an_invalid_group_is_a_field_level_422_and_nothing_changes(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    form = {"csrf_token": client.csrf, "name": "Sales", "members": ["anna"], "mode": "strict", "rings": "9",
            "missed.action": "forward_number"}
    page = client.post("/groups/sales", data=form)
    assert page.status_code == 422
    assert 'id="err-rings"' in page.text
    assert "Rings before the next member: enter a whole number from 2 to 7" in page.text
    assert "Input should" not in page.text and "(got" not in page.text
    page = client.post("/groups/sales", data={**form, "rings": "3"})  # cross-checks come once fields are valid
    assert page.status_code == 422
    assert 'id="err-missed-action"' in page.text
    assert "To forward to a phone number, give the phone number to forward to" in page.text
    assert "Traceback" not in page.text
    response = client.put("/api/groups/sales", json={"members": ["anna", "zed"], "rings": 1},
                          headers={"X-CSRF-Token": client.csrf})
    assert response.status_code == 422
    items = {p["item"]: p["problem"] for p in response.json()["detail"]}
    assert items['groups[0] "sales".rings'] == "Rings before the next member: enter a whole number from 2 to 7"
    response = client.put("/api/groups/sales", json={"members": ["anna", "zed"]}, headers={"X-CSRF-Token": client.csrf})
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["item"] == 'groups[0] "sales".members[1]' and 'unknown agent "zed"' in problem["problem"]
    assert service.settings.group("sales").rings == 3 and service.app.state.audit.entries() == []


def test_a_group_forward_that_closes_a_loop_is_refused_naming_it(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    csrf = {"X-CSRF-Token": client.csrf}
    forward = lambda to: {"missed": {"action": "forward_group", "group": to}}  # noqa: E731
    response = client.put("/api/groups/sales", json={"members": ["anna"], **forward("support")}, headers=csrf)
    assert response.status_code == 200
    response = client.put("/api/groups/support", json={"members": ["chloe"], **forward("sales")}, headers=csrf)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["problem"] == 'missed calls would be forwarded in a loop: "sales" -> "support" -> "sales"'
    assert service.settings.group("support").missed.action.value != "forward_group"


def test_groups_over_the_api_with_a_token(service: Service) -> None:
    ann = service.user("ann", permissions={"telephony"})
    client = TestClient(service.app)
    token = bearer(service.accounts.create_token(ann.id, "script"))
    new = {"name": "Night", "members": ["chloe"], "missed": {"action": "hangup"}}
    response = client.put("/api/groups/night", json=new, headers=token)
    assert response.status_code == 200 and response.json()["members"] == ["chloe"]
    assert [g["id"] for g in client.get("/api/groups", headers=token).json()] == ["sales", "support", "night"]
    assert client.get("/api/groups/nope", headers=token).status_code == 404
    assert client.delete("/api/groups/night", headers=token).status_code == 204
    assert "night" not in service.distributor.router.config.groups
    # a group still used by a number cannot go
    response = client.delete("/api/groups/sales", headers=token)
    assert response.status_code == 422 and "unknown group" in response.json()["detail"][0]["problem"]


def test_members_reorder_without_a_script(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    form = {"csrf_token": client.csrf, "name": "Sales", "members": ["anna", "ben"], "move": "down:0"}
    page = client.post("/groups/sales", data=form)
    assert page.status_code == 200 and "Not saved yet" in page.text
    assert page.text.index('value="ben"') < page.text.index('value="anna"')
    assert service.settings.group("sales").members == ["anna", "ben"]  # only Save saves


def test_a_new_group_from_the_page(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    form = {"csrf_token": client.csrf, "id": "vip", "name": "VIP", "members": ["chloe", "ben"], "mode": "strict",
            "rings": "2", "ring_seconds": "5", "missed.action": "voicemail"}
    response = client.post("/groups/new", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/groups/vip")
    assert service.settings.group("vip").members == ["chloe", "ben"]
    again = client.post("/groups/new", data=form)
    assert again.status_code == 422 and "already used" in again.text


def test_numbers_page_and_api(service: Service) -> None:
    ann = service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    form = {"csrf_token": client.csrf, "did": ["+4930111111", "+4930333333"], "group": ["support", "sales"],
            "default_group": ""}
    assert client.post("/numbers", data=form, follow_redirects=False).status_code == 303
    assert service.settings.numbers == {"+4930111111": "support", "+4930333333": "sales"}
    assert service.settings.default_group is None
    bad = client.post("/numbers", data={**form, "did": ["12 AB"], "group": ["sales"]})
    assert bad.status_code == 422 and "not a phone number" in bad.text
    token = bearer(service.accounts.create_token(ann.id, "t"))
    response = TestClient(service.app).put("/api/numbers", json={"numbers": {"+4930444444": "ghost"}}, headers=token)
    assert response.status_code == 422
    assert response.json()["detail"][0]["item"].startswith("numbers")
    assert 'unknown group "ghost"' in response.json()["detail"][0]["problem"]


def test_agents_page_keeps_what_the_form_does_not_show(service: Service) -> None:
    service.user("ann", permissions={"agents"})
    client = login(service.app, "ann")
    form = {"csrf_token": client.csrf, "id": "ben", "new": "0", "name": "Ben O.", "endpoint": "PJSIP/102",
            "mobile": "not-a-number"}
    page = client.post("/agents", data=form)
    assert page.status_code == 422 and 'id="err-mobile"' in page.text
    form["mobile"] = "+4915100000002"
    assert client.post("/agents", data=form, follow_redirects=False).status_code == 303
    assert service.settings.agent("ben").name == "Ben O."
    assert service.distributor.router.config.agents["ben"].mobile == "+4915100000002"
    # an agent a group lists cannot be deleted
    refused = client.post("/agents", data={**form, "action": "delete"})
    assert refused.status_code == 422 and "unknown agent" in refused.text


def test_secrets_never_appear_in_pages_or_api_output(service: Service) -> None:
    service.user("root", role="admin")
    client = login(service.app, "root")
    client.put("/api/groups/sales", json={"members": ["anna"]}, headers={"X-CSRF-Token": client.csrf})
    seen = ""
    for path in ("/", "/groups", "/groups/sales", "/numbers", "/agents", "/users", "/audit", "/tokens",
                 "/api/groups", "/api/agents", "/api/numbers", "/api/audit", "/api/users", "/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200, path
        seen += response.text
    assert "ami-secret-never-shown" not in seen and "db-password-never-shown" not in seen
    assert "file-secret" not in seen and "$argon2" not in seen and "password_hash" not in seen
    assert "ami-secret-never-shown" not in service.config_path.read_text()  # nor written to the file


def test_a_save_over_someone_elses_change_is_refused(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    service.user("bob", permissions={"telephony"})
    ann, bob = login(service.app, "ann"), login(service.app, "bob")
    version = re.search(r'name="version" value="([0-9a-f]+)"', ann.get("/groups/sales").text)[1]  # type: ignore[index]
    assert re.search(r'name="version" value="([0-9a-f]+)"', bob.get("/groups/sales").text)[1] == version  # type: ignore[index]
    form = {"name": "Sales", "members": ["anna", "ben"], "mode": "strict", "version": version}
    assert bob.post("/groups/sales", data={**form, "csrf_token": bob.csrf, "rings": "6"},
                    follow_redirects=False).status_code == 303
    page = ann.post("/groups/sales", data={**form, "csrf_token": ann.csrf, "rings": "2"})
    assert page.status_code == 409 and "Someone else changed this group" in page.text
    assert service.settings.group("sales").rings == 6
    fresh = re.search(r'name="version" value="([0-9a-f]+)"', page.text)[1]  # type: ignore[index]
    assert ann.post("/groups/sales", data={**form, "csrf_token": ann.csrf, "rings": "2", "version": fresh},
                    follow_redirects=False).status_code == 303
    assert service.settings.group("sales").rings == 2


def test_phone_numbers_typed_with_spaces_and_brackets_are_kept_as_dialled(service: Service) -> None:
    ann = service.user("ann", permissions={"telephony", "agents"})
    client = login(service.app, "ann")
    form = {"csrf_token": client.csrf, "did": ["+49 30 555-555"], "group": ["sales"], "default_group": ""}
    assert client.post("/numbers", data=form, follow_redirects=False).status_code == 303
    assert service.settings.numbers == {"+4930555555": "sales"}
    token = bearer(service.accounts.create_token(ann.id, "t"))
    api = TestClient(service.app)
    response = api.put("/api/agents/ben", json={"endpoint": "PJSIP/102", "mobile": "(0151) 1234-5602"}, headers=token)
    assert response.status_code == 200 and response.json()["mobile"] == "015112345602"
    response = api.put("/api/numbers", json={"numbers": {"+49 (0)30 111 111": "sales"}}, headers=token)
    assert response.status_code == 200 and response.json()["numbers"] == {"+4930111111": "sales"}


def test_announcements_on_the_group_page_and_api_with_field_level_errors(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    page = client.get("/groups/sales")
    assert "What a waiting caller hears" in page.text and 'name="announce.say"' in page.text
    form = {"csrf_token": client.csrf, "name": "Sales", "members": ["anna"], "mode": "strict",
            "missed.action": "keep_waiting", "announce.say": "position_and_wait", "announce.every_seconds": "5",
            "announce.message": "../secret", "announce.message_every_seconds": "90"}
    page = client.post("/groups/sales", data=form)
    assert page.status_code == 422
    assert 'id="err-announce-every_seconds"' in page.text
    assert "Announce every (seconds): enter a number from 15 to 3600" in page.text
    assert 'id="err-announce-message"' in page.text and "not a sound name" in page.text
    form.update({"announce.every_seconds": "30", "announce.message": "custom/sales-busy"})
    assert client.post("/groups/sales", data=form, follow_redirects=False).status_code == 303
    policy = service.distributor.router.config.groups["sales"].announce  # the router follows at once
    assert (policy.say.value, policy.every_s, policy.message, policy.message_every_s) == (
        "position_and_wait", 30, "custom/sales-busy", 90)
    assert tomllib.loads(service.config_path.read_text())["groups"][0]["announce"]["say"] == "position_and_wait"
    assert 'value="custom/sales-busy"' in client.get("/groups/sales").text
    # the API carries the same options; a group whose callers never wait in music is refused
    csrf = {"X-CSRF-Token": client.csrf}
    assert client.get("/api/groups/sales").json()["announce"]["every_seconds"] == 30
    response = client.put("/api/groups/sales", json={"members": ["anna"], "missed": {"action": "voicemail"},
                                                     "announce": {"say": "position"}}, headers=csrf)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["item"] == 'groups[0] "sales".announce.say' and "keep waiting" in problem["problem"]
