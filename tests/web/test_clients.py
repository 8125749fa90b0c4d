"""The clients page and /api/clients: search, the card, the responsible person (audited,
pushed through the outbox, 409 over a newer change), identities, merge, CSV import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from acd.channels.history import Batch, ChannelHistory, NewItem
from acd.core.commands import Record
from acd.crm import Client, CrmFeed, Identity, OutboxJob, add_client, create_all, make_engine

from .conftest import Service, bearer, build, login

NOW = 1_700_000_000.0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    engine = make_engine("sqlite://")
    create_all(engine)
    s = build(tmp_path, crm=CrmFeed(engine, targets=["hook"]))
    ChannelHistory(s.store.engine).create_all()
    s.user("sue", permissions={"crm"})
    s.user("ben", role="agent", agent_id="ben")
    yield s
    s.distributor.timers.cancel_all()
    s.store.close()
    engine.dispose()


def crm(service: Service) -> Session:
    return Session(service.ctx.crm.engine, expire_on_commit=False)


def seed(service: Service) -> dict[str, int]:
    with crm(service) as session, session.begin():
        ann = add_client(session, [Identity.phone("+49 30 1234567"), Identity.email("ann@example.org"),
                                   Identity.messenger("telegram", "4242")], owner="anna", name="Ann Lee", now=NOW)
        bob = add_client(session, [Identity.phone("+49 170 5550001")], kind="lead", owner="ben", name="Bob Stone",
                         now=NOW)
        ids = {"ann": ann.id, "bob": bob.id}
    service.store.apply_records([Record("c1", NOW + 1, "arrived", {"caller_number": "0301234567",
                                                                   "did": "+4930111111", "group": "sales"}),
                                 Record("c1", NOW + 5, "answered", {"agent": "anna", "waited_s": 4}),
                                 Record("c1", NOW + 60, "ended", {"by": "caller"})])
    ChannelHistory(service.store.engine).write(Batch(items=[
        NewItem("chat-1", "chat", "web", "tg:4242", NOW + 2),
        NewItem("email:m1", "email", "info", "ann@example.org", NOW + 3, {"subject": "Your offer"})]))
    return ids


def jobs(service: Service) -> list[OutboxJob]:
    with crm(service) as session:
        return list(session.scalars(select(OutboxJob).order_by(OutboxJob.id)))


@pytest.mark.parametrize("typed", ["030 1234567", "+49 (30) 123 45 67", "ANN@example.org", "tg:4242",
                                   "telegram:4242", "ann", "Lee"])
def test_a_supervisor_finds_a_client_by_any_identity_or_name(service, typed):
    ids = seed(service)
    client = login(service.app, "sue")
    found = client.get("/api/clients", params={"q": typed}).json()
    assert [c["id"] for c in found["clients"]] == [ids["ann"]]
    assert found["clients"][0]["owner"] == {"id": "anna", "name": "Anna Berg"}
    page = client.get("/clients", params={"q": typed}).text
    assert "Ann Lee" in page and "Anna Berg" in page and "Bob Stone" not in page


def test_search_is_paged_and_its_input_bounded(service):
    seed(service)
    client = login(service.app, "sue")
    first = client.get("/api/clients", params={"limit": 1}).json()
    assert len(first["clients"]) == 1 and first["more"]
    assert client.get("/api/clients", params={"limit": 1000}).status_code == 422
    assert client.get("/api/clients", params={"q": "x" * 201}).status_code == 422
    assert client.get("/clients", params={"q": "nobody-here"}).status_code == 200


def test_the_card_shows_the_client_and_its_history_in_a_supervisors_words(service):
    ids = seed(service)
    client = login(service.app, "sue")
    card = client.get(f"/api/clients/{ids['ann']}").json()
    assert card["kind"] == "contact" and card["name"] == "Ann Lee" and card["revision"] == 0
    assert [c["call_id"] for c in card["calls"]] == ["c1"] and card["calls"][0]["outcome"] == "answered"
    assert [c["id"] for c in card["chats"]] == ["chat-1"] and [e["id"] for e in card["emails"]] == ["email:m1"]
    page = client.get(f"/clients/{ids['ann']}").text
    for words in ("Responsible person", "Contact", "Anna Berg", "Your offer", "Recent chats", "(UTC)",
                  "Contact created"):
        assert words in page
    assert "contact_created" not in page and "owner_changed" not in page
    assert client.get("/api/clients/999").status_code == 404
    assert client.get("/clients/999").status_code == 404


def test_an_owner_change_is_audited_and_pushed_and_a_stale_one_refused(service):
    ids = seed(service)
    client = login(service.app, "sue")
    headers = {"X-CSRF-Token": client.csrf}
    changed = client.put(f"/api/clients/{ids['ann']}/owner", json={"owner": "chloe", "revision": 0}, headers=headers)
    assert changed.status_code == 200 and changed.json()["owner"]["id"] == "chloe"
    assert changed.json()["revision"] == 1
    [job] = jobs(service)  # committed before the answer
    assert (job.event, job.target, job.payload["owner"], job.payload["previous_owner"], job.payload["by"]) == (
        "owner.changed", "hook", "chloe", "anna", "sue")
    [entry] = [e for e in service.app.state.audit.entries() if e.target == f"client:{ids['ann']}"]
    assert (entry.username, entry.action, entry.changes) == (
        "sue", "client responsible person changed", [{"item": "owner", "before": "anna", "after": "chloe"}])
    stale = client.put(f"/api/clients/{ids['ann']}/owner", json={"owner": "ben", "revision": 0}, headers=headers)
    assert stale.status_code == 409 and stale.json()["detail"]["owner"] == "chloe"
    assert len(jobs(service)) == 1
    unknown = client.put(f"/api/clients/{ids['ann']}/owner", json={"owner": "zed"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["item"] == "owner"
    assert client.put(f"/api/clients/{ids['ann']}/owner", json={"owner": "ben"}).status_code == 403  # no CSRF


def test_the_owner_form_changes_it_and_says_so_when_someone_was_quicker(service):
    ids = seed(service)
    client = login(service.app, "sue")
    done = client.post(f"/clients/{ids['ann']}/owner", data={"owner": "ben", "revision": "0",
                                                              "csrf_token": client.csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/clients/{ids['ann']}?saved=owner"
    stale = client.post(f"/clients/{ids['ann']}/owner", data={"owner": "chloe", "revision": "0",
                                                               "csrf_token": client.csrf})
    assert stale.status_code == 409 and "Someone else changed the responsible person" in stale.text
    nobody = client.post(f"/clients/{ids['ann']}/owner", data={"owner": "", "csrf_token": client.csrf})
    assert nobody.status_code == 422 and "choose the responsible person" in nobody.text
    with crm(service) as session:
        assert session.get(Client, ids["ann"]).owner == "ben"


def test_an_agent_has_no_clients_page_nor_api_nor_link(service):
    ids = seed(service)
    agent = login(service.app, "ben")
    assert agent.get("/api/clients").status_code == 403
    assert agent.get(f"/api/clients/{ids['ann']}").status_code == 403
    assert agent.put(f"/api/clients/{ids['ann']}/owner", json={"owner": "ben"},
                     headers={"X-CSRF-Token": agent.csrf}).status_code == 403
    assert agent.post("/api/clients/import", content=b"phone\n030 5550100\n",
                      headers={"Content-Type": "text/csv", "X-CSRF-Token": agent.csrf}).status_code == 403
    assert agent.get("/clients").status_code == 403
    assert 'href="/clients"' not in agent.get("/").text
    assert 'href="/clients"' in login(service.app, "sue").get("/").text


def test_identities_are_added_validated_and_removed_and_anothers_refused_naming_it(service):
    ids = seed(service)
    client = login(service.app, "sue")
    headers = {"X-CSRF-Token": client.csrf}
    url = f"/api/clients/{ids['ann']}/identities"
    added = client.post(url, json={"kind": "phone", "value": "0171 2223334"}, headers=headers)
    assert added.status_code == 201 and "+491712223334" in [i["value"] for i in added.json()["identities"]]
    assert client.post(url, json={"kind": "phone", "value": "+49 171 2223334"}, headers=headers).status_code == 200
    taken = client.post(url, json={"kind": "phone", "value": "0170 5550001"}, headers=headers)
    assert taken.status_code == 409
    assert taken.json()["detail"] == (f"the phone number +491705550001 already belongs to client {ids['bob']} "
                                      "(Bob Stone)")
    bad = client.post(url, json={"kind": "email", "value": "not an address"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["item"] == "value"
    assert client.post(url, json={"kind": "fax", "value": "1"}, headers=headers).status_code == 422
    assert client.post(url, json={"kind": "phone", "value": "1" * 400}, headers=headers).status_code == 422
    mobile = next(i for i in added.json()["identities"] if i["value"] == "+491712223334")
    assert client.delete(f"{url}/{mobile['id']}", headers=headers).status_code == 204
    assert client.delete(f"{url}/{mobile['id']}", headers=headers).status_code == 404
    page = client.post(f"/clients/{ids['ann']}/identities", data={"kind": "phone", "value": "0170 5550001",
                                                                   "csrf_token": client.csrf})
    assert page.status_code == 409 and "already belongs to client" in page.text and "Bob Stone" in page.text
    actions = [e.action for e in service.app.state.audit.entries()]
    assert actions.count("client identity added") == 1 and actions.count("client identity removed") == 1


def test_a_merge_moves_identities_and_history_and_tells_the_crm(service):
    ids = seed(service)
    with crm(service) as session, session.begin():
        other = add_client(session, [Identity.phone("0301234568")], owner="chloe", name="", now=NOW)
        other_id = other.id
    service.store.apply_records([Record("c2", NOW + 9, "arrived", {"caller_number": "+49301234568", "did": "1"})])
    client = login(service.app, "sue")
    headers = {"X-CSRF-Token": client.csrf}
    refused = client.post(f"/api/clients/{ids['ann']}/merge", json={"other": ids["bob"], "owner": "ben"},
                          headers=headers)
    assert refused.status_code == 409 and "choose the one to keep" in refused.json()["detail"]
    merged = client.post(f"/api/clients/{ids['ann']}/merge", json={"other": other_id, "owner": "ben", "revision": 0,
                                                                   "other_revision": 0}, headers=headers)
    assert merged.status_code == 200
    card = merged.json()
    assert card["owner"]["id"] == "ben" and "+49301234568" in [i["value"] for i in card["identities"]]
    assert [c["call_id"] for c in card["calls"]] == ["c2", "c1"]
    assert client.get(f"/api/clients/{other_id}").status_code == 404
    [job] = jobs(service)
    assert job.payload["reason"] == "merge" and job.payload["merged_from"]["id"] == other_id
    assert [e.action for e in service.app.state.audit.entries()][0] == "clients merged"


def test_the_merge_page_reviews_both_clients_before_merging(service):
    ids = seed(service)
    client = login(service.app, "sue")
    review = client.get(f"/clients/{ids['ann']}/merge", params={"other": str(ids["bob"])})
    assert review.status_code == 200 and "Bob Stone" in review.text and "Name to keep" in review.text
    assert client.get(f"/clients/{ids['ann']}/merge", params={"other": "abc"}).status_code == 422
    assert client.get(f"/clients/{ids['ann']}/merge", params={"other": "999"}).status_code == 404
    done = client.post(f"/clients/{ids['ann']}/merge", data={
        "other": str(ids["bob"]), "owner": "anna", "name": "Bob Stone", "revision": "0", "other_revision": "0",
        "csrf_token": client.csrf}, follow_redirects=False)
    assert done.status_code == 303
    card = client.get(f"/api/clients/{ids['ann']}").json()
    assert card["name"] == "Bob Stone" and card["kind"] == "contact"


MIXED = """name,phone,email,owner,kind
Carl Diaz,030 5550100,carl@example.org,anna,lead
Dora,+49 30 5550101,,zed,contact
Eve,12,,anna,
Fay,030 5550100,,ben,
Ann again,+49 30 1234567,,chloe,
"""


def test_a_csv_import_reports_each_refused_line_and_pushes_owner_changes(service):
    ids = seed(service)
    client = login(service.app, "sue")
    answer = client.post("/api/clients/import", content=MIXED.encode(),
                         headers={"Content-Type": "text/csv; charset=utf-8", "X-CSRF-Token": client.csrf})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["created"], report["updated"], report["refused"]) == (1, 1, 3)
    assert [(r["line"], r["reason"]) for r in report["refused_lines"]] == [
        (3, "unknown agent 'zed' as responsible person"),
        (4, '"12" is not a phone number a client can be reached at'),
        (5, "the phone number +49305550100 is also on line 2 (a duplicate in the file)")]
    assert client.get(f"/api/clients/{ids['ann']}").json()["owner"]["id"] == "chloe"
    assert sorted(j.payload["owner"] for j in jobs(service)) == ["anna", "chloe"]
    assert client.get("/api/clients", params={"q": "carl@example.org"}).json()["clients"][0]["kind"] == "lead"
    assert service.app.state.audit.entries()[0].action == "clients imported"


def test_the_import_page_uploads_a_file_and_shows_the_report(service):
    seed(service)
    client = login(service.app, "sue")
    assert "Import clients from CSV" in client.get("/clients/import").text
    page = client.post("/clients/import", data={"csrf_token": client.csrf},
                       files={"file": ("clients.csv", MIXED.encode(), "text/csv")})
    assert page.status_code == 200
    assert "1 created, 1 updated, 0 already up to date, 3 refused." in page.text
    assert "unknown agent &#39;zed&#39; as responsible person" in page.text
    unreadable = client.post("/clients/import", data={"csrf_token": client.csrf},
                             files={"file": ("x.csv", b"\xff\xfe\x00\x01", "text/csv")})
    assert unreadable.status_code == 422 and "not UTF-8" in unreadable.text


def test_an_import_may_be_larger_than_other_bodies_up_to_its_own_limit(service):
    client = login(service.app, "sue")
    rows = "".join(f"Client {n},+49 30 {5_000_000 + n},c{n}@example.org,anna,lead\n" for n in range(8_000))
    data = ("name,phone,email,owner,kind\n" + rows).encode()
    assert 256 * 1024 < len(data) < 5 * 1024 * 1024  # past the app's usual body limit
    answer = client.post("/api/clients/import", content=data,
                         headers={"Content-Type": "text/csv", "X-CSRF-Token": client.csrf})
    assert answer.status_code == 200 and answer.json()["created"] == 8_000
    assert client.put("/api/clients/1/owner", content=b" " * len(data), headers={
        "Content-Type": "application/json", "X-CSRF-Token": client.csrf}).status_code == 413


def test_an_oversized_or_wrong_upload_is_refused_before_anything_is_imported(service):
    client = login(service.app, "sue")
    headers = {"Content-Type": "text/csv", "X-CSRF-Token": client.csrf}
    big = b"phone\n" + b"+49 30 5550100\n" * 400_000  # 6 MB
    assert client.post("/api/clients/import", content=big, headers=headers).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(7):
            yield b"x" * (1024 * 1024)

    assert client.post("/api/clients/import", content=chunks(), headers=headers).status_code == 413
    assert client.post("/api/clients/import", content=b"{}", headers={
        "Content-Type": "application/json", "X-CSRF-Token": client.csrf}).status_code == 415
    assert client.post("/api/clients/import", content=b"name\nAnn\n", headers=headers).status_code == 422
    page = client.post("/clients/import", data={"csrf_token": client.csrf},
                       files={"file": ("big.csv", big, "text/csv")})
    assert page.status_code == 413
    assert client.get("/api/clients").json()["clients"] == []


def test_the_api_takes_bearer_tokens_without_csrf(service):
    ids = seed(service)
    user = service.user("script", permissions={"crm"})
    answer = TestClient(service.app).put(f"/api/clients/{ids['bob']}/owner", json={"owner": "anna"},
                                         headers=bearer(service.accounts.create_token(user.id, "crm script")))
    assert answer.status_code == 200 and answer.json()["owner"]["id"] == "anna"
