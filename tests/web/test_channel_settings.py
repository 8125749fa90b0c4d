"""Open channels, mailboxes, CRM forms, agents' working time and the queue groups' CRM
tab through the pages and the API: permissions, field-level errors in sentences, live
application, the TOML file and the audit log."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from acd.core.model import Mode

from .conftest import SETTINGS, Service, bearer, build, login

DATA: dict[str, Any] = {
    **copy.deepcopy(SETTINGS),
    "channels": [
        {"id": "site", "name": "Website chat", "members": ["anna", "ben"], "mode": "strict", "idle_seconds": 180},
        {"id": "sales-mail", "name": "Sales mailbox", "kind": "email", "members": ["ben", "anna"]},
        {"id": "contact", "name": "Contact form", "kind": "form", "members": ["chloe"]},
    ],
}
PAGES = {"open_channels": "/open-channels", "email": "/mailboxes", "crm_forms": "/crm-forms"}
APIS = {"open_channels": "/api/channels-config/chats", "email": "/api/channels-config/mailboxes",
        "crm_forms": "/api/channels-config/forms"}


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    s = build(tmp_path, DATA)
    yield s
    s.distributor.timers.cancel_all()
    s.store.close()


def token(service: Service, username: str) -> dict[str, str]:
    user = next(u for u, _ in service.accounts.users() if u.username == username)
    return bearer(service.accounts.create_token(user.id, "test"))


def new_chat_form(client: TestClient, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": client.csrf, "id": "web", "name": "Web chat", "members": ["anna", "ben", "chloe"],
            "mode": "evenly", "idle_seconds": "60", "capacity": "2", "check_availability": "on",
            "check_client": "on", "chat_tracking": "on", "owner_first": "on", "owner_follows_transfer": "on",
            "time_zone": "UTC", **fields}


# ------------------------------------------------------------------ open channels
def test_a_supervisor_creates_an_open_channel_it_applies_is_written_back_and_audited(svc: Service) -> None:
    ann = svc.user("ann", permissions={"open_channels"})
    client = login(svc.app, "ann")
    form = new_chat_form(client, owner_follows_transfer="", working_hours="mon-fri 09:00-18:00\n",
                         time_zone="Europe/Berlin", auto_reply="We answer from 9:00.", waiting_message="One moment.",
                         offer_during_calls="on")
    del form["owner_follows_transfer"]  # an unticked box is not sent
    response = client.post("/open-channels/new", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/open-channels/web?saved=1"
    queue = svc.settings.conversations().queues["web"]  # what the service hands the desk at once
    assert queue.members == ("anna", "ben", "chloe") and queue.mode is Mode.EVENLY
    assert (queue.idle_s, queue.capacity, queue.owner_follows_transfer) == (60.0, 2, False)
    assert queue.hours is not None and queue.auto_reply == "We answer from 9:00." and queue.offer_during_calls
    written = tomllib.loads(svc.config_path.read_text())
    (saved,) = [c for c in written["channels"] if c["id"] == "web"]
    assert saved["members"] == ["anna", "ben", "chloe"] and saved["idle_seconds"] == 60
    assert written["ami"]["secret"] == "file-secret"  # the rest of the file is kept
    (entry, *_) = svc.app.state.audit.entries()
    assert entry.user_id == ann.id and entry.action == "open channel saved" and entry.target == "chat:web"
    changed = {c["item"]: c["after"] for c in entry.changes}
    assert changed['channels["web"]']["mode"] == "evenly"
    page = client.get("/open-channels/web?saved=1").text
    assert "Saved and applied." in page


def test_the_open_channel_page_speaks_a_supervisors_words(svc: Service) -> None:
    svc.user("ann", permissions={"open_channels"})
    client = login(svc.app, "ann")
    page = client.get("/open-channels/site").text
    for words in ("strictly in order", "evenly", "to everyone at once",
                  "Time before the conversation passes to the next agent", "1 minute", "12 hours", "never",
                  "Check that an agent is working before routing", "Check the client in the CRM",
                  "Recognise the same client writing from another channel",
                  "Route to the responsible person when the client is recognised",
                  "forwarded by hand", "Auto-reply outside working hours", "Message while the customer waits",
                  "Limit of simultaneous conversations per agent"):
        assert words in page, words
    assert "Mode." not in page and "ChannelKind" not in page and ">180.0<" not in page
    listing = client.get("/open-channels").text
    assert "Website chat" in listing and "Anna Berg → Ben Ortiz" in listing and "3 minutes" in listing
    assert "Sales mailbox" not in listing and "Contact form" not in listing  # other kinds, other pages


def test_members_are_reordered_before_saving_like_on_the_group_page(svc: Service) -> None:
    svc.user("ann", permissions={"open_channels"})
    client = login(svc.app, "ann")
    form = new_chat_form(client, id="site", move="down:0")
    page = client.post("/open-channels/site", data=form)
    assert page.status_code == 200 and "Not saved yet" in page.text
    assert page.text.index('value="ben"') < page.text.index('value="anna"')
    assert svc.settings.channel("site").members == ["anna", "ben"]  # nothing saved yet


def test_invalid_open_channel_settings_are_named_field_by_field_in_sentences(svc: Service) -> None:
    svc.user("ann", permissions={"open_channels"})
    client = login(svc.app, "ann")
    before = svc.config_path.read_text()
    page = client.post("/open-channels/new", data=new_chat_form(client, capacity="0", working_hours="mon-fry 9-18",
                                                               time_zone="Mars/Olympus"))
    assert page.status_code == 422 and "Not saved: please correct the fields marked below." in page.text
    assert 'id="err-capacity"' in page.text
    assert "Give a whole number of conversations from 1 to 1000, or leave it empty for no limit." in page.text
    assert 'id="err-working_hours"' in page.text and "not days like" in page.text
    assert 'id="err-time_zone"' in page.text and "unknown time zone" in page.text
    assert "Input should" not in page.text and "Traceback" not in page.text
    page = client.post("/open-channels/new", data=new_chat_form(client, idle_seconds="soon", mode="random"))
    assert page.status_code == 422 and "Choose a time from 1 minute to 12 hours, or never." in page.text
    assert 'id="err-mode"' in page.text and "Choose how conversations are distributed" in page.text
    page = client.post("/open-channels/new", data=new_chat_form(client, auto_reply="Closed."))
    assert page.status_code == 422 and 'id="err-auto_reply"' in page.text and "give the working hours" in page.text
    page = client.post("/open-channels/new", data={**new_chat_form(client), "members": []})
    assert page.status_code == 422 and "Add at least one agent to the queue." in page.text
    page = client.post("/open-channels/new", data=new_chat_form(client, id="sales"))
    assert page.status_code == 422 and "already used by a queue group" in page.text
    assert svc.settings.channel("web") is None and svc.config_path.read_text() == before
    assert svc.app.state.audit.entries() == []


def test_the_open_channels_api_twin_creates_reads_and_deletes(svc: Service) -> None:
    svc.user("ann", permissions={"open_channels"})
    client = TestClient(svc.app)
    auth = token(svc, "ann")
    body = {"name": "Web chat", "members": ["anna", "ben", "chloe"], "mode": "evenly", "idle_seconds": 60,
            "capacity": 2}
    response = client.put("/api/channels-config/chats/web", json=body, headers=auth)
    assert response.status_code == 200 and response.json()["kind"] == "chat" and response.json()["capacity"] == 2
    assert [q["id"] for q in client.get("/api/channels-config/chats", headers=auth).json()] == ["site", "web"]
    response = client.put("/api/channels-config/chats/web", json={**body, "idle_seconds": 30}, headers=auth)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["item"] == 'channels[3] "web".idle_seconds' and "1 minute" in problem["problem"]
    assert client.delete("/api/channels-config/chats/web", headers=auth).status_code == 204
    assert client.get("/api/channels-config/chats/web", headers=auth).status_code == 404
    assert [e.action for e in svc.app.state.audit.entries()] == ["open channel deleted", "open channel saved"]


def test_one_area_cannot_replace_another_kinds_queue_by_its_id(svc: Service) -> None:
    svc.user("mo", permissions={"email"})
    client = TestClient(svc.app)
    response = client.put("/api/channels-config/mailboxes/site", json={"members": ["anna"]}, headers=token(svc, "mo"))
    assert response.status_code == 409 and "another kind" in response.json()["detail"]
    assert client.get("/api/channels-config/mailboxes/site", headers=token(svc, "mo")).status_code == 404
    assert svc.settings.channel("site").kind.value == "chat"


# ------------------------------------------------------------------ permissions
@pytest.mark.parametrize("permission", ["open_channels", "email", "crm_forms"])
def test_each_area_needs_its_own_permission(svc: Service, permission: str) -> None:
    svc.user("sam", permissions={permission})
    client = login(svc.app, "sam")
    auth = token(svc, "sam")
    nav = client.get("/").text
    for other, page in PAGES.items():
        allowed = other == permission
        expected = 200 if allowed else 403
        assert client.get(page).status_code == expected, page
        assert client.get(APIS[other], headers=auth).status_code == expected, APIS[other]
        label = {"open_channels": "Open channels", "email": "Mailboxes", "crm_forms": "CRM forms"}[other]
        assert (f'href="{page}"' in nav) is allowed, label
        if not allowed:
            assert client.put(APIS[other] + "/x", json={"members": ["anna"]}, headers=auth).status_code == 403
            assert client.post(page + "/new", data={"csrf_token": client.csrf, "id": "x",
                                                    "members": "anna"}).status_code == 403


def test_an_agent_sees_none_of_the_channel_settings(svc: Service) -> None:
    # agents hold the channels' permissions to work on conversations, not to configure them
    svc.user("anna", role="agent", agent_id="anna", permissions={"open_channels", "email", "crm_forms"})
    client = login(svc.app, "anna")
    auth = token(svc, "anna")
    nav = client.get("/").text
    for page in (*PAGES.values(), "/open-channels/new", "/agents", "/groups/sales"):
        assert client.get(page).status_code == 403, page
        assert f'href="{page}"' not in nav
    for api in (*APIS.values(), "/api/agents/anna/work-time"):
        assert client.get(api, headers=auth).status_code == 403, api
    assert client.put("/api/agents/anna/work-time", json={"tracked": False}, headers=auth).status_code == 403
    assert client.put(APIS["open_channels"] + "/x", json={"members": ["anna"]}, headers=auth).status_code == 403
    form = {"csrf_token": client.csrf, "id": "x", "members": "anna"}
    assert client.post("/open-channels/new", data=form).status_code == 403
    assert svc.settings.channel("x") is None


def test_the_pages_forms_need_the_csrf_token(svc: Service) -> None:
    svc.user("ann", permissions={"open_channels"})
    client = login(svc.app, "ann")
    form = new_chat_form(client)
    del form["csrf_token"]
    assert client.post("/open-channels/new", data=form).status_code == 403
    assert client.put("/api/channels-config/chats/web", json={"members": ["anna"]}).status_code == 403
    assert svc.settings.channel("web") is None


# ------------------------------------------------------------------ mailboxes
def test_a_mailbox_takes_the_imap_connection_and_only_the_name_of_the_password_variable(svc: Service) -> None:
    svc.user("mo", permissions={"email"})
    client = login(svc.app, "mo")
    page = client.get("/mailboxes/sales-mail").text
    assert "Route e-mails from existing clients to their assigned managers" in page
    assert "The password itself is never entered, stored or shown here" in page
    assert 'type="password"' not in page
    form = {"csrf_token": client.csrf, "name": "Sales mailbox", "members": ["ben", "anna"], "owner_first": "on",
            "imap.enabled": "on", "imap.host": "imap.example.com", "imap.port": "993", "imap.ssl": "on",
            "imap.username": "sales@example.com", "imap.password_env": "ACD_SALES_MAIL_PASSWORD",
            "imap.password": "hunter2"}
    assert client.post("/mailboxes/sales-mail", data=form, follow_redirects=False).status_code == 303
    mailbox = svc.settings.channel("sales-mail")
    assert mailbox.imap is not None and mailbox.imap.password_env == "ACD_SALES_MAIL_PASSWORD"
    assert mailbox.imap.host == "imap.example.com" and mailbox.imap.ssl and mailbox.owner_first
    assert "hunter2" not in svc.config_path.read_text()
    page = client.post("/mailboxes/sales-mail", data={**form, "imap.password_env": "my secret!"})
    assert page.status_code == 422 and 'id="err-imap-password_env"' in page.text
    assert "not the password itself" in page.text or "not an environment variable name" in page.text
    response = client.put("/api/channels-config/mailboxes/sales-mail", headers={"X-CSRF-Token": client.csrf}, json={
        "members": ["ben"], "imap": {"host": "h", "username": "u", "password": "hunter2", "password_env": "P"}})
    assert response.status_code == 422 and "a password does not belong in the file" in response.text
    assert "hunter2" not in response.text
    shown = client.get("/api/channels-config/mailboxes/sales-mail").text
    assert "ACD_SALES_MAIL_PASSWORD" in shown and '"password"' not in shown


# ------------------------------------------------------------------ CRM forms
def test_a_crm_forms_responsible_persons_and_the_availability_check_are_saved(svc: Service) -> None:
    svc.user("fi", permissions={"crm_forms"})
    client = login(svc.app, "fi")
    page = client.get("/crm-forms/contact").text
    assert "Do not make a person responsible if they have not clocked in or are on a scheduled break" in page
    assert "distributed in order anyway" in page
    form = {"csrf_token": client.csrf, "name": "Contact form", "members": ["chloe", "anna"]}  # box unticked
    assert client.post("/crm-forms/contact", data=form, follow_redirects=False).status_code == 303
    queue = svc.settings.conversations().queues["contact"]
    assert queue.members == ("chloe", "anna") and queue.check_availability is False
    assert svc.app.state.audit.entries()[0].action == "CRM form saved"


# ------------------------------------------------------------------ agents' working time
def test_an_agents_working_time_is_set_on_the_agents_page(svc: Service) -> None:
    svc.user("ag", permissions={"agents"})
    client = login(svc.app, "ag")
    page = client.get("/agents?edit=anna").text
    assert "Working time" in page and "Gets work only after clocking in" in page
    form = {"csrf_token": client.csrf, "id": "anna", "name": "Anna Berg", "endpoint": "PJSIP/101",
            "mobile": "+4915112345601", "work.shown": "1", "work.tracked": "on",
            "work.hours": "mon-fri 09:00-18:00\nsat 10:00-14:00", "work.breaks": "mon-fri 13:00-14:00",
            "work.time_zone": "Europe/Berlin", "work.capacity": "3"}
    assert client.post("/agents", data=form, follow_redirects=False).status_code == 303
    work = svc.settings.agent("anna").work
    assert work is not None and work.hours == ["mon-fri 09:00-18:00", "sat 10:00-14:00"]
    assert (work.time_zone, work.capacity, work.clock_in_required) == ("Europe/Berlin", 3, False)
    assert svc.settings.conversations().agents["anna"].capacity == 3
    assert tomllib.loads(svc.config_path.read_text())["agents"][0]["work"]["capacity"] == 3
    page = client.post("/agents", data={**form, "work.capacity": "0", "work.hours": "weekdays 9-5"})
    assert page.status_code == 422 and 'id="err-work-capacity"' in page.text
    assert "Give a whole number of conversations from 1 to 1000" in page.text
    assert 'id="err-work-hours"' in page.text and "not days like" in page.text
    untracked = {k: v for k, v in form.items() if k != "work.tracked"}
    assert client.post("/agents", data=untracked, follow_redirects=False).status_code == 303
    assert svc.settings.agent("anna").work is None


def test_the_working_time_api_twin(svc: Service) -> None:
    svc.user("ag", permissions={"agents"})
    client = TestClient(svc.app)
    auth = token(svc, "ag")
    assert client.get("/api/agents/ben/work-time", headers=auth).json() == {"tracked": False}
    body = {"time_zone": "Europe/Berlin", "hours": ["mon-fri 09:00-18:00"], "clock_in_required": True, "capacity": 2}
    response = client.put("/api/agents/ben/work-time", json=body, headers=auth)
    assert response.status_code == 200 and response.json() == {"tracked": True, "breaks": [], **body}
    response = client.put("/api/agents/ben/work-time", json={"time_zone": "Mars/Olympus"}, headers=auth)
    assert response.status_code == 422
    assert response.json()["detail"][0]["item"] == 'agents[1] "ben".work.time_zone'
    assert client.put("/api/agents/ben/work-time", json={"tracked": False}, headers=auth).json() == {"tracked": False}
    assert client.get("/api/agents/zed/work-time", headers=auth).status_code == 404


# ------------------------------------------------------------------ the groups' CRM tab
def test_a_queue_groups_crm_integration_is_set_on_its_page(svc: Service) -> None:
    svc.user("tel", permissions={"telephony"})
    client = login(svc.app, "tel")
    page = client.get("/groups/sales").text
    for words in ("CRM integration", "Check the client in the CRM", "Create a lead for an unknown caller",
                  "Update the lead's responsible person automatically when a call is transferred by hand",
                  "Record missed calls"):
        assert words in page.replace("&#39;", "'"), words
    form = {"csrf_token": client.csrf, "name": "Sales", "members": ["anna", "ben"], "mode": "strict",
            "crm.shown": "1", "crm.check_client": "on", "crm.owner_first": "on"}
    assert client.post("/groups/sales", data=form, follow_redirects=False).status_code == 303
    crm = svc.settings.group("sales").crm
    assert (crm.check_client, crm.owner_first, crm.owner_follows_transfer, crm.create_lead, crm.record_missed) == (
        True, True, False, False, False)
    assert tomllib.loads(svc.config_path.read_text())["groups"][0]["crm"]["owner_follows_transfer"] is False
    del form["crm.shown"]  # a form without the tab (an older page) leaves the CRM options alone
    assert client.post("/groups/sales", data={**form, "rings": "4"}, follow_redirects=False).status_code == 303
    assert svc.settings.group("sales").crm == crm and svc.settings.group("sales").rings == 4
