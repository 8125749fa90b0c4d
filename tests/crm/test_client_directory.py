"""The clients as a person handles them: search by any identity, the card with its
history, owner changes with their outbox jobs, identities, merge, CSV import."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from acd.channels.history import Batch, ChannelHistory, NewItem
from acd.clients import (
    ClientNotFound,
    IdentityTaken,
    ImportRefused,
    MergeRefused,
    StaleClient,
    add_identity,
    card_for,
    change_owner,
    client_card,
    import_clients,
    merge_clients,
    remove_identity,
    search_clients,
)
from acd.core.commands import Record
from acd.crm import Activity, Client, ClientIdentity, ExternalRef, Identity, OutboxJob, add_client
from acd.crm.outbox import DEAD, DELIVERED
from acd.store.models import Base as StoreBase

from .support import tx

NOW = 1_700_000_000.0
TARGETS = ["hook"]


@pytest.fixture
def engine(engine: Engine) -> Engine:
    """The CRM's tables with the history of calls and channels beside them, as in the service."""
    StoreBase.metadata.create_all(engine)
    ChannelHistory(engine).create_all()
    return engine


def ann(session: Session, **kw) -> Client:
    ids = [Identity.phone("+49 30 1234567"), Identity.email("Ann <Ann@Example.org>"),
           Identity.messenger("telegram", "4242")]
    return add_client(session, ids, owner=kw.pop("owner", "anna"), name=kw.pop("name", "Ann Lee"), now=NOW, **kw)


def jobs(session: Session) -> list[OutboxJob]:
    return list(session.scalars(select(OutboxJob).order_by(OutboxJob.id)))


@pytest.mark.parametrize("typed", ["030 1234567", "+49 30 1234567", "0049301234567", "tel:+49301234567",
                                   "ANN@example.org", "mailto:ann@example.org", "tg:4242", "telegram:4242",
                                   "ann l", "1234567"])
def test_a_client_is_found_by_any_identity_as_typed_or_by_name(session, typed):
    with tx(session):
        client = ann(session)
        add_client(session, [Identity.phone("+49 30 7654321")], name="Bob Stone", now=NOW)
    found = search_clients(session, typed, region="DE")
    assert [c.id for c in found.clients] == [client.id]


def test_search_is_paged_and_bounded(session):
    with tx(session):
        for n in range(5):
            add_client(session, [Identity.phone(f"+49 30 100000{n}")], name=f"Client {n}", now=NOW)
    first = search_clients(session, "client", limit=2)
    second = search_clients(session, "client", limit=2, offset=2)
    last = search_clients(session, "client", limit=2, offset=4)
    assert [c.name for c in first.clients] == ["Client 0", "Client 1"] and first.more
    assert [c.name for c in second.clients] == ["Client 2", "Client 3"] and second.more
    assert [c.name for c in last.clients] == ["Client 4"] and not last.more
    assert search_clients(session, "x" * 10_000).clients == []  # long text cut, no error
    assert search_clients(session, "100%_").clients == []  # LIKE wildcards are plain text


def test_the_card_shows_calls_chats_emails_and_forms_by_the_clients_identities_newest_first(engine, session):
    from acd.store.history import write

    with tx(session):
        client = ann(session)
        write(session, [Record("c1", NOW + 1, "arrived", {"caller_number": "0301234567", "did": "+4930111111"}),
                        Record("c2", NOW + 2, "arrived", {"caller_number": "+49301234567", "did": "+4930111111"}),
                        Record("c3", NOW + 3, "arrived", {"caller_number": "+49307654321", "did": "+4930111111"})])
    ChannelHistory(engine).write(Batch(items=[
        NewItem("chat-1", "chat", "web", "tg:4242", NOW + 4),
        NewItem("chat-2", "chat", "web", "telegram:9999", NOW + 5),
        NewItem("email:m1", "email", "info", "ann@example.org", NOW + 6, {"subject": "Offer"}),
        NewItem("form-1", "form", "contact", "+49 30 1234567", NOW + 7),
    ]))
    card = client_card(session, client.id, agents={"anna": "Anna Berg"})
    assert card["owner"] == {"id": "anna", "name": "Anna Berg"}
    assert card["kind"] == "contact" and card["name"] == "Ann Lee"
    assert [c["call_id"] for c in card["calls"]] == ["c2", "c1"]
    assert [c["id"] for c in card["chats"]] == ["chat-1"]
    assert [(e["id"], e["subject"]) for e in card["emails"]] == [("email:m1", "Offer")]
    assert [f["id"] for f in card["forms"]] == ["form-1"]
    assert client_card(session, 999) is None
    # the agent workspace has a conversation's client string, not an id
    assert card_for(session, "tg:4242", region="DE")["id"] == client.id
    assert card_for(session, "+49 (30) 123-4567", region="DE")["calls"] == card["calls"]
    assert card_for(session, "tg:1", region="DE") is None and card_for(session, "", region="DE") is None


def test_an_owner_change_is_logged_and_its_outbox_job_commits_with_it(session):
    with tx(session):
        client = ann(session)
    with tx(session):
        change = change_owner(session, client.id, "ben", revision=0, by="sue", targets=TARGETS, now=NOW + 1)
    assert change is not None and (change.previous, change.owner, change.revision) == ("anna", "ben", 1)
    [job] = jobs(session)
    assert (job.event, job.client_id, job.payload["owner"], job.payload["previous_owner"]) == (
        "owner.changed", client.id, "ben", "anna")
    assert job.payload["reason"] == "changed_by_hand" and job.payload["by"] == "sue"
    log = session.scalars(select(Activity).where(Activity.kind == "owner_changed")).one()
    assert (log.agent, log.detail["from"], log.detail["to"]) == ("sue", "anna", "ben")


def test_an_owner_change_that_fails_leaves_neither_the_owner_nor_a_job(session, monkeypatch):
    import acd.clients.changes as changes

    with tx(session):
        client = ann(session)

    def broken(*a, **kw):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(changes, "enqueue", broken)
    with pytest.raises(RuntimeError), tx(session):
        change_owner(session, client.id, "ben", revision=0, by="sue", targets=TARGETS, now=NOW + 1)
    session.expire_all()
    assert session.get(Client, client.id).owner == "anna" and jobs(session) == []


def test_an_owner_change_over_a_newer_one_is_refused(session):
    with tx(session):
        client = ann(session)
    with tx(session):
        change_owner(session, client.id, "ben", revision=0, by="sue", targets=TARGETS, now=NOW + 1)
    with pytest.raises(StaleClient) as refused, tx(session):
        change_owner(session, client.id, "chloe", revision=0, by="tom", targets=TARGETS, now=NOW + 2)
    assert (refused.value.revision, refused.value.owner) == (1, "ben")
    session.expire_all()
    assert session.get(Client, client.id).owner == "ben" and len(jobs(session)) == 1
    with pytest.raises(ClientNotFound), tx(session):
        change_owner(session, 999, "ben", revision=None, by="sue", targets=TARGETS, now=NOW)


def test_setting_the_same_owner_pushes_nothing(session):
    with tx(session):
        client = ann(session)
    with tx(session):
        assert change_owner(session, client.id, "anna", revision=0, by="sue", targets=TARGETS, now=NOW) is None
    assert jobs(session) == []


def test_identities_are_added_and_removed_and_another_clients_is_refused_naming_it(session):
    with tx(session):
        client = ann(session)
        bob = add_client(session, [Identity.phone("+49 30 7654321")], name="Bob Stone", now=NOW)
    with tx(session):
        assert add_identity(session, client.id, Identity.phone("0170 1234567"), by="sue", now=NOW)
        assert not add_identity(session, client.id, Identity.phone("+49 170 1234567"), by="sue", now=NOW)
    with pytest.raises(IdentityTaken, match=rf"phone number \+49307654321 already belongs to client {bob.id} "
                                            r"\(Bob Stone\)"), tx(session):
        add_identity(session, client.id, Identity.phone("030 7654321"), by="sue", now=NOW)
    mobile = session.scalars(select(ClientIdentity).where(ClientIdentity.value == "+491701234567")).one()
    with tx(session):
        assert remove_identity(session, client.id, mobile.id, by="sue", now=NOW) == Identity("phone", "+491701234567")
    assert search_clients(session, "0170 1234567").clients == []
    with pytest.raises(LookupError), tx(session):
        remove_identity(session, bob.id, mobile.id, by="sue", now=NOW)


def test_a_merge_moves_identities_history_and_log_and_tells_the_crm(engine, session):
    from acd.store.history import write

    with tx(session):
        keep = ann(session, owner="anna")
        other = add_client(session, [Identity.phone("+49 170 5550001"), Identity.email("lee@work.example")],
                           kind="lead", owner="ben", name="", now=NOW)
        session.add(ExternalRef(client_id=other.id, target="hook", entity="LEAD", external_id="77"))
        write(session, [Record("c9", NOW + 9, "arrived", {"caller_number": "01705550001", "did": "+4930111111"})])
    keep_id, other_id = keep.id, other.id
    with tx(session):
        merged = merge_clients(session, keep_id, other_id, owner="ben", revision=0, other_revision=0, by="sue",
                               targets=TARGETS, now=NOW + 10)
    assert (merged.identities, merged.change.owner, merged.change.previous) == (2, "ben", "anna")
    session.expire_all()
    assert session.get(Client, other_id) is None
    kept = session.get(Client, keep_id)
    assert kept.kind == "contact" and kept.name == "Ann Lee" and kept.owner == "ben"
    assert {i.value for i in kept.identities} >= {"+491705550001", "lee@work.example"}
    assert session.scalars(select(Activity.client_id).where(Activity.kind == "lead_created")).all() == [keep_id]
    card = client_card(session, keep_id)
    assert [c["call_id"] for c in card["calls"]] == ["c9"]
    assert [s.id for s in search_clients(session, "lee@work.example").clients] == [keep_id]
    [job] = jobs(session)
    assert (job.event, job.client_id, job.payload["owner"], job.payload["reason"]) == (
        "owner.changed", keep_id, "ben", "merge")
    assert job.payload["merged_from"]["id"] == other_id
    assert job.payload["merged_from"]["refs"] == {"hook": {"entity": "LEAD", "id": "77"}}
    assert "+491705550001" in job.payload["client"]["phones"]


def test_a_merge_that_would_lose_data_is_refused_and_changes_nothing(session):
    with tx(session):
        keep = ann(session)
        other = add_client(session, [Identity.phone("+49 170 5550001")], name="Bob Stone", now=NOW)
    with pytest.raises(MergeRefused, match="both clients have a name"), tx(session):
        merge_clients(session, keep.id, other.id, owner="ben", by="sue", targets=TARGETS, now=NOW)
    with pytest.raises(MergeRefused, match="itself"), tx(session):
        merge_clients(session, keep.id, keep.id, owner="ben", by="sue", targets=TARGETS, now=NOW)
    with tx(session):
        session.add(OutboxJob(idempotency_key="k1", target="hook", order_key=f"client:{other.id}",
                              client_id=other.id, event="lead.created", payload={}, state=DEAD, attempts=5,
                              next_attempt_at=NOW, created_at=NOW, updated_at=NOW, progress={}))
    with pytest.raises(MergeRefused, match="1 change"), tx(session):
        merge_clients(session, keep.id, other.id, owner="ben", name="Ann Lee", by="sue", targets=TARGETS, now=NOW)
    with pytest.raises(StaleClient), tx(session):
        merge_clients(session, keep.id, other.id, owner="ben", name="Ann Lee", revision=5, by="sue",
                      targets=TARGETS, now=NOW)
    session.expire_all()
    assert session.get(Client, other.id) is not None and len(session.get(Client, keep.id).identities) == 3
    with tx(session):
        session.get(OutboxJob, 1).state = DELIVERED
    with tx(session):
        merge_clients(session, keep.id, other.id, owner="ben", name="Ann Lee", by="sue", targets=TARGETS, now=NOW)
    assert session.get(OutboxJob, 1).client_id == keep.id  # the delivered job stays in the client's history


MIXED = """name;phone;email;owner;kind
Carl Diaz;030 5550100;carl@example.org;anna;lead
Dora;+49 30 5550101;;zed;contact
Eve;12;;anna;
Fay;030 5550100;;ben;
Ann again;+49 30 1234567;;ben;
;;;anna;
Gus;030 5550102;gus@example.org;;Customer
Hal;030 5550103;;ben;contact
Both;;ann@example.org|bob@example.org;ben;
"""


def test_a_csv_import_takes_good_lines_and_refuses_bad_ones_with_line_and_reason(session):
    with tx(session):
        existing = ann(session, owner="anna")
        bob = add_client(session, [Identity.email("bob@example.org")], name="Bob Stone", now=NOW)
    with tx(session):
        report = import_clients(session, MIXED.encode(), agents={"anna", "ben", "chloe"}, region="DE", by="sue",
                                targets=TARGETS, now=NOW + 1)
    refused = {r.line: r.reason for r in report.refused()}
    assert set(refused) == {3, 4, 5, 7, 8, 10}
    assert "unknown agent 'zed'" in refused[3]
    assert refused[4] == '"12" is not a phone number a client can be reached at'
    assert "also on line 2" in refused[5]
    assert refused[7] == "no phone number, e-mail address or messenger id"
    assert "kind must be lead or contact" in refused[8]
    assert f"client {existing.id} (Ann Lee)" in refused[10] and f"client {bob.id} (Bob Stone)" in refused[10]
    outcomes = {r.line: r.outcome for r in report.lines if r.outcome != "refused"}
    assert outcomes == {2: "created", 6: "updated", 9: "created"}
    assert report.to_json()["created"] == 2 and report.to_json()["refused"] == 6
    carl = session.scalars(select(Client).where(Client.name == "Carl Diaz")).one()
    assert (carl.kind, carl.owner) == ("lead", "anna")
    session.expire_all()
    assert session.get(Client, existing.id).owner == "ben"
    pushed = [(j.client_id, j.payload["owner"], j.payload["reason"]) for j in jobs(session)]
    assert sorted(pushed) == sorted([(carl.id, "anna", "import"), (existing.id, "ben", "import"),
                                     (report.lines[7].client_id, "ben", "import")])


def test_a_file_that_cannot_be_read_is_refused_whole(session):
    for data, problem in [(b"\xff\xfe\x00", "not UTF-8"), (b"", "empty"), (b"name,owner\nAnn,anna\n", "phone"),
                          (("phone\n" + "030 5550100\n" * 50_002).encode(), "more than 50,000 lines")]:
        with pytest.raises(ImportRefused, match=problem):
            import_clients(session, data, agents=None, region="DE", by="sue", targets=TARGETS, now=NOW)
    assert session.scalars(select(Client)).all() == []


async def test_routing_follows_a_persons_changes_at_once(engine, session):
    """The feed's owner index (what routing asks on every call): an owner change, a
    removed identity and a merge are seen as soon as ``apply`` returns."""
    from functools import partial

    from acd.crm import CrmFeed

    with tx(session):
        client = ann(session, owner="anna")
        other = add_client(session, [Identity.phone("+49 170 5550001")], owner="chloe", now=NOW)
    feed = CrmFeed(engine, targets=TARGETS, now=lambda: NOW)
    await feed.reload_owners()
    phone, mobile = Identity.phone("030 1234567"), Identity.phone("0170 5550001")
    assert await feed.owner_for(phone) == "anna"
    await feed.apply(partial(change_owner, client_id=client.id, owner="ben", revision=0, by="sue",
                             targets=TARGETS, now=NOW))
    assert await feed.owner_for(phone) == "ben"
    phone_row = next(i for i in client.identities if i.value == phone.value)
    await feed.apply(partial(remove_identity, client_id=client.id, identity_id=phone_row.id, by="sue", now=NOW))
    assert await feed.owner_for(phone) is None
    await feed.apply(partial(merge_clients, keep_id=client.id, other_id=other.id, owner="ben", by="sue",
                             targets=TARGETS, now=NOW))
    assert await feed.owner_for(mobile) == "ben"
