"""History, missed calls, the live view and intercept, the outbox; users, tokens,
the first administrator. Agents see only their own."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from acd.core.commands import Ring
from acd.core.events import CallArrived, CallerHungUp, DeviceState, DeviceStateChanged, MemberAnswered, MemberRinging
from acd.crm.models import OutboxJob, create_all
from acd.web.accounts import Accounts
from acd.web.bootstrap import bootstrap_admin

from .conftest import PASSWORD, Service, bearer, login


def ring(service: Service, call_id: str, did: str) -> Ring:
    service.distributor.feed(CallArrived(call_id, did, "+4917000000" + call_id[-1]))
    ring = [c for c in service.pbx.commands if isinstance(c, Ring) and c.call_id == call_id][-1]
    service.distributor.feed(MemberRinging(call_id, ring.attempt, ring.agent_ids[0]))
    return ring


def answered(service: Service, call_id: str, did: str) -> str:
    r = ring(service, call_id, did)
    service.distributor.feed(MemberAnswered(call_id, r.attempt, r.agent_ids[0]))
    service.distributor.feed(CallerHungUp(call_id))
    return r.agent_ids[0]


def missed(service: Service, call_id: str, did: str) -> None:
    ring(service, call_id, did)
    service.distributor.feed(CallerHungUp(call_id))


def test_an_agent_sees_only_their_own_calls(service: Service) -> None:
    assert answered(service, "call-1", "+4930111111") == "anna"  # sales: anna first
    assert answered(service, "call-2", "+4930222222") == "chloe"  # support: evenly, chloe first
    service.user("ben", role="agent", agent_id="ben")
    service.user("chloe", role="agent", agent_id="chloe")
    service.user("sup", permissions={"telephony"})
    chloe = login(service.app, "chloe")
    assert [c["call_id"] for c in chloe.get("/api/calls").json()] == ["call-2"]
    assert [c["call_id"] for c in chloe.get("/api/calls?agent=anna").json()] == ["call-2"]  # no peeking
    assert chloe.get("/api/calls/call-1").status_code == 404
    assert chloe.get("/calls/call-1").status_code == 404
    assert "call-1" not in chloe.get("/history").text and "/calls/call-2" in chloe.get("/history").text
    assert login(service.app, "ben").get("/api/calls").json() == []
    sup = login(service.app, "sup")
    assert {c["call_id"] for c in sup.get("/api/calls").json()} == {"call-1", "call-2"}
    assert [c["call_id"] for c in sup.get("/api/calls?group=sales&outcome=answered").json()] == ["call-1"]
    assert [c["call_id"] for c in sup.get("/api/calls?agent=chloe").json()] == ["call-2"]


def test_a_call_page_shows_why_a_phone_did_not_ring(service: Service) -> None:
    service.distributor.feed(DeviceStateChanged("anna", DeviceState.UNAVAILABLE))
    assert answered(service, "call-1", "+4930111111") == "ben"
    service.user("sup", permissions={"telephony"})
    sup = login(service.app, "sup")
    detail = sup.get("/api/calls/call-1").json()
    considered = [e["detail"] for e in detail["events"] if e["kind"] == "considered"]
    assert {"agent": "anna", "decision": "skip", "reason": "offline"}.items() <= considered[0].items()
    page = sup.get("/calls/call-1").text
    assert "Anna Berg was skipped: offline" in page and "Rang Ben Ortiz" in page
    service.user("anna", role="agent", agent_id="anna")  # skipped, never offered: still hers to ask about
    anna = login(service.app, "anna")
    assert "Anna Berg was skipped: offline" in anna.get("/calls/call-1").text
    service.user("chloe", role="agent", agent_id="chloe")  # not in sales at all
    assert login(service.app, "chloe").get("/calls/call-1").status_code == 404


def test_a_call_in_progress_reads_as_in_progress_and_an_answered_one_is_not_called_missed(service: Service) -> None:
    service.user("sup", permissions={"telephony"})
    sup = login(service.app, "sup")
    waiting = {"name": "Sales", "members": ["anna", "ben"], "allow_pickup": True,
               "missed": {"action": "keep_waiting", "max_wait_seconds": 300, "retry_seconds": 30}}
    assert sup.put("/api/groups/sales", json=waiting, headers={"X-CSRF-Token": sup.csrf}).status_code == 200
    for agent in ("anna", "ben"):
        service.distributor.feed(DeviceStateChanged(agent, DeviceState.INUSE))
    service.distributor.feed(CallArrived("call-1", "+4930111111", "+491700001"))
    (row,) = sup.get("/api/calls").json()
    assert (row["outcome"], row["progress"]) == (None, "waiting")
    assert sup.get("/api/calls?outcome=missed").json() == []
    history = sup.get("/history").text
    assert "waiting" in history and "missed" not in history.split('id="calls"')[1]
    assert "Now</dt><dd>waiting" in sup.get("/calls/call-1").text
    service.distributor.feed(DeviceStateChanged("anna", DeviceState.NOT_INUSE))  # anna rings, still in progress
    assert "Offered to</dt><dd>Anna Berg</dd>" in sup.get("/calls/call-1").text
    service.distributor.feed(DeviceStateChanged("anna", DeviceState.INUSE))
    service.distributor.feed(DeviceStateChanged("ben", DeviceState.NOT_INUSE))
    ring = [c for c in service.pbx.commands if isinstance(c, Ring) and c.call_id == "call-1"][-1]
    service.distributor.feed(MemberAnswered("call-1", ring.attempt, "ben"))
    assert sup.get("/api/calls/call-1").json()["progress"] == "talking"
    service.distributor.feed(CallerHungUp("call-1"))
    done = sup.get("/api/calls/call-1").json()
    assert (done["outcome"], done["progress"], done["answered_by"]) == ("answered", None, "ben")
    page = sup.get("/calls/call-1").text
    assert "<dd>answered</dd>" in page and "no member available" not in page.split("Timeline")[0]


def test_the_decision_log_shows_names_and_durations_not_python_values(service: Service) -> None:
    missed(service, "call-7", "+4930111111")  # anna rings, the caller gives up
    service.user("sup", permissions={"telephony"})
    page = login(service.app, "sup").get("/calls/call-7").text
    log = page.split("Timeline")[1]
    assert "The caller hung up after waiting 0 s; offered to Anna Berg" in log
    assert "[" not in log and "tried" not in log and "waited s" not in log


def test_history_filters_by_date_and_bad_dates_are_field_errors(service: Service) -> None:
    answered(service, "call-1", "+4930111111")
    service.user("sup", permissions={"telephony"})
    sup = login(service.app, "sup")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(sup.get(f"/api/calls?since={today}&until={today}").json()) == 1
    assert sup.get("/api/calls?until=2001-01-01").json() == []
    response = sup.get("/api/calls?since=yesterday")
    assert response.status_code == 422 and response.json()["detail"][0]["item"] == "since"
    page = sup.get("/history?since=yesterday")
    assert page.status_code == 422 and "not a date" in page.text


def test_missed_calls_are_called_back(service: Service) -> None:
    missed(service, "call-7", "+4930111111")
    service.user("ben", role="agent", agent_id="ben")  # a member of sales
    service.user("chloe", role="agent", agent_id="chloe")  # not
    chloe, ben = login(service.app, "chloe"), login(service.app, "ben")
    assert chloe.get("/api/missed").json() == []
    assert chloe.post("/api/missed/call-7/called-back", headers={"X-CSRF-Token": chloe.csrf}).status_code == 404
    assert [c["call_id"] for c in ben.get("/api/missed").json()] == ["call-7"]
    assert ben.post("/api/missed/call-7/called-back").status_code == 403  # no CSRF token
    response = ben.post("/missed/call-7", data={"csrf_token": ben.csrf, "called_back": "1"}, follow_redirects=False)
    assert response.status_code == 303
    assert ben.get("/api/missed").json() == []
    (done,) = ben.get("/api/missed?called_back=true").json()
    assert done["called_back_by"] == "ben"


def test_the_live_view_offers_intercept_to_colleagues_in_a_pickup_group(service: Service) -> None:
    r = ring(service, "call-1", "+4930111111")  # sales allows pickup; anna rings
    assert r.agent_ids == ("anna",)
    ring(service, "call-2", "+4930222222")  # support: no pickup
    service.user("ben", role="agent", agent_id="ben")
    service.user("chloe", role="agent", agent_id="chloe")
    ben, chloe = login(service.app, "ben"), login(service.app, "chloe")
    calls = {c["call_id"]: c for c in ben.get("/api/live").json()["calls"]}
    assert set(calls) == {"call-1"} and calls["call-1"]["can_intercept"] and calls["call-1"]["ringing"] == ["anna"]
    assert [a["id"] for a in ben.get("/api/live").json()["agents"]] == ["ben"]
    assert ben.post("/api/live/calls/call-1/intercept").status_code == 403  # no CSRF token
    response = ben.post("/api/live/calls/call-1/intercept", headers={"X-CSRF-Token": ben.csrf})
    assert response.status_code == 200 and response.json()["accepted"] is True
    assert service.intercepts == [("call-1", "ben")]
    assert chloe.post("/api/live/calls/call-1/intercept", headers={"X-CSRF-Token": chloe.csrf}).status_code == 403
    response = chloe.post("/api/live/calls/call-2/intercept", headers={"X-CSRF-Token": chloe.csrf})
    assert response.status_code == 409 and "does not allow pickup" in response.json()["detail"]


def test_the_intercept_button_is_not_offered_to_an_agent_on_a_call(service: Service) -> None:
    first = ring(service, "call-1", "+4930111111")  # sales (pickup allowed): anna rings, then answers
    service.distributor.feed(MemberAnswered("call-1", first.attempt, "anna"))
    assert ring(service, "call-2", "+4930111111").agent_ids == ("ben",)  # the next caller rings ben
    service.user("anna-user", role="agent", agent_id="anna")
    calls = {c["call_id"]: c for c in login(service.app, "anna-user").get("/api/live").json()["calls"]}
    assert calls["call-2"]["ringing"] == ["ben"] and not calls["call-2"]["can_intercept"]


def test_an_intercept_the_service_refuses_says_why(service: Service) -> None:
    ring(service, "call-1", "+4930111111")
    service.ctx.intercept = lambda call_id, agent_id: "the call was answered meanwhile"
    service.user("ben", role="agent", agent_id="ben")
    ben = login(service.app, "ben")
    response = ben.post("/api/live/calls/call-1/intercept", headers={"X-CSRF-Token": ben.csrf})
    assert response.status_code == 409 and response.json()["detail"] == "the call was answered meanwhile"


def test_the_default_intercept_is_not_available(service: Service) -> None:
    from acd.web.app import WebContext

    ctx = WebContext(service.distributor, service.ctx.clock, service.ctx.feed)
    assert ctx.intercept("call-1", "ben") == "not available"


def test_the_crm_outbox_lists_dead_jobs_and_retries_them(service: Service) -> None:
    create_all(service.store.engine)
    now = time.time()
    with Session(service.store.engine) as s, s.begin():
        s.add(OutboxJob(idempotency_key="k1", target="bitrix", order_key="client:1", event="owner.changed",
                        payload={"owner": "anna"}, state="dead", attempts=8, next_attempt_at=now, created_at=now,
                        updated_at=now, last_status=500, last_error="server error", progress={}))
    service.ctx.crm = service.store.engine
    from acd.web.app import create_app

    app = create_app(service.ctx)
    service.user("crm", permissions={"crm"})
    service.user("tel", permissions={"telephony"})
    assert login(app, "tel").get("/api/outbox").status_code == 403
    client = login(app, "crm")
    (job,) = client.get("/api/outbox?state=dead").json()
    assert job["last_error"] == "server error" and "Retry" in client.get("/outbox").text
    assert client.post(f"/api/outbox/{job['id']}/retry", headers={"X-CSRF-Token": client.csrf}).status_code == 204
    assert client.get("/api/outbox?state=dead").json() == []
    assert [(e.username, e.action) for e in app.state.audit.entries()] == [("crm", "outbox job retried")]
    assert client.post(f"/api/outbox/{job['id']}/retry", headers={"X-CSRF-Token": client.csrf}).status_code == 409
    assert client.get("/api/outbox?state=lost").status_code == 422


def test_the_outbox_page_shows_a_clients_change_waiting_behind_its_failed_job(service: Service) -> None:
    create_all(service.store.engine)
    now = time.time()
    with Session(service.store.engine) as s, s.begin():
        for n, (event, state) in enumerate([("lead.created", "dead"), ("owner.changed", "pending")]):
            s.add(OutboxJob(idempotency_key=f"k{n}", target="bitrix", order_key="client:1", event=event,
                            payload={}, state=state, attempts=8 if state == "dead" else 0, next_attempt_at=now,
                            created_at=now, updated_at=now, progress={}))
    service.ctx.crm = service.store.engine
    from acd.web.app import create_app

    service.user("crm", permissions={"crm"})
    client = login(create_app(service.ctx), "crm")
    dead, waiting = sorted(client.get("/api/outbox").json(), key=lambda j: j["id"])
    assert (dead["waiting_behind"], waiting["waiting_behind"]) == (None, dead["id"])
    page = client.get("/outbox?state=pending").text
    assert "waiting behind failed job" in page and f'href="/outbox?state=dead#job-{dead["id"]}"' in page
    assert f'id="job-{dead["id"]}"' in client.get("/outbox?state=dead").text


def test_tokens_are_shown_once_and_act_as_their_user(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    ann = login(service.app, "ann")
    made = ann.post("/api/tokens", json={"name": "wallboard"}, headers={"X-CSRF-Token": ann.csrf})
    assert made.status_code == 201
    token = made.json()["token"]
    assert token not in ann.get("/api/tokens").text and token not in ann.get("/tokens").text
    api = TestClient(service.app)
    assert api.get("/api/groups", headers=bearer(token)).status_code == 200
    assert api.get("/api/users", headers=bearer(token)).status_code == 403
    page = ann.post("/tokens", data={"csrf_token": ann.csrf, "name": "phone"})
    assert page.status_code == 201 and "not shown again" in page.text
    (first, _) = ann.get("/api/tokens").json()
    assert ann.delete(f"/api/tokens/{first['id']}", headers={"X-CSRF-Token": ann.csrf}).status_code == 204
    assert api.get("/api/groups", headers=bearer(token)).status_code == 401


def test_nobody_grants_more_than_they_have(service: Service) -> None:
    service.user("hr", permissions={"users", "agents"})
    hr = login(service.app, "hr")
    csrf = {"X-CSRF-Token": hr.csrf}
    new = {"username": "eve", "password": PASSWORD, "role": "supervisor"}
    assert hr.post("/api/users", json={**new, "permissions": ["telephony"]}, headers=csrf).status_code == 403
    assert hr.post("/api/users", json={**new, "role": "admin"}, headers=csrf).status_code == 403
    made = hr.post("/api/users", json={**new, "permissions": ["agents"]}, headers=csrf)
    assert made.status_code == 201 and made.json()["permissions"] == ["agents"]
    bad = hr.post("/api/users", json={**new, "username": "x", "permissions": ["flying"]}, headers=csrf)
    assert bad.status_code == 403  # not held, so not grantable either
    agent = hr.post("/api/users", json={**new, "username": "a1", "role": "agent"}, headers=csrf)
    assert agent.status_code == 422 and agent.json()["detail"][0]["item"] == "agent_id"
    actions = [e.action for e in service.app.state.audit.entries()]
    assert actions == ["user created"]
    boss = service.user("boss", permissions={"telephony", "users"})
    demote = {"role": "supervisor", "permissions": []}
    assert hr.put(f"/api/users/{boss.id}", json=demote, headers=csrf).status_code == 403
    assert TestClient(service.app).post("/login", data={"username": "eve", "password": PASSWORD},
                                        follow_redirects=False).status_code == 303


def test_the_last_administrator_stays_one(service: Service) -> None:
    root = service.user("root", role="admin")
    client = login(service.app, "root")
    response = client.put(f"/api/users/{root.id}", json={"role": "supervisor"}, headers={"X-CSRF-Token": client.csrf})
    assert response.status_code == 409


def test_locking_a_user_ends_their_sessions(service: Service) -> None:
    service.user("root", role="admin")
    ann = service.user("ann", permissions={"telephony"})
    root, ann_client = login(service.app, "root"), login(service.app, "ann")
    assert ann_client.get("/api/me").status_code == 200
    body = {"role": "supervisor", "permissions": ["telephony"], "active": False}
    assert root.put(f"/api/users/{ann.id}", json=body, headers={"X-CSRF-Token": root.csrf}).status_code == 200
    assert ann_client.get("/api/me").status_code == 401


def test_sign_out_ends_the_session(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    assert client.post("/logout", data={"csrf_token": client.csrf}, follow_redirects=False).status_code == 303
    assert client.get("/api/me").status_code == 401


def test_login_redirects_only_within_the_site(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = TestClient(service.app)
    for target, expected in (("/groups", "/groups"), ("//evil.example/x", "/"), ("https://evil.example", "/")):
        response = client.post("/login", data={"username": "ann", "password": PASSWORD, "next": target},
                               follow_redirects=False)
        assert response.headers["location"] == expected


def test_the_first_administrator_comes_from_the_environment() -> None:
    accounts, said = Accounts.in_memory(), []
    user = bootstrap_admin(accounts, env={"ACD_ADMIN_USER": "boss", "ACD_ADMIN_PASSWORD": "from-env-pw"},
                           out=said.append)
    assert user is not None and user.username == "boss" and user.is_admin
    assert accounts.authenticate("boss", "from-env-pw") is not None
    assert "from-env-pw" not in " ".join(said)
    assert bootstrap_admin(accounts, env={}, out=said.append) is None  # only on the first start


def test_without_a_password_one_is_made_and_printed_once(caplog) -> None:  # type: ignore[no-untyped-def]
    accounts, said = Accounts.in_memory(), []
    user = bootstrap_admin(accounts.engine, env={}, out=said.append)
    assert user is not None and user.username == "admin"
    (line,) = said
    password = line.split("password ")[1].split()[0]
    assert accounts.authenticate("admin", password) is not None
    assert password not in caplog.text


def test_the_users_page_shows_problems_next_to_the_fields(service: Service) -> None:
    root = service.user("root", role="admin")
    client = login(service.app, "root")
    page = client.post("/users", data={"csrf_token": client.csrf, "action": "create", "username": "",
                                       "password": PASSWORD, "role": "agent"})
    assert page.status_code == 422 and "required, at most 64 characters" in page.text
    page = client.post("/users", data={"csrf_token": client.csrf, "action": "update", "user_id": str(root.id),
                                       "role": "admin", "password": "short", "active": "on"})
    assert page.status_code == 422 and "at least 8 characters" in page.text
    assert [u.username for u, _ in service.accounts.users()] == ["root"]


def test_password_guessing_is_slowed_down(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = TestClient(service.app)
    for _ in range(10):
        assert client.post("/login", data={"username": "ann", "password": "guess-guess"}).status_code == 401
    response = client.post("/login", data={"username": "ann", "password": PASSWORD})
    assert response.status_code == 429 and "Too many failed sign-ins" in response.text
    assert "acd_session" not in client.cookies


def test_pages_cannot_be_framed(service: Service) -> None:
    response = TestClient(service.app).get("/login")
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Content-Type-Options"] == "nosniff"


def test_users_change_their_own_password(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    ann = login(service.app, "ann")
    wrong = ann.post("/account/password", data={"csrf_token": ann.csrf, "current": "nope-nope", "new": "new-password"})
    assert wrong.status_code == 422 and "not your current password" in wrong.text
    done = ann.post("/account/password", data={"csrf_token": ann.csrf, "current": PASSWORD, "new": "new-password"},
                    follow_redirects=False)
    assert done.status_code == 303 and ann.get("/api/me").status_code == 401
    assert login(service.app, "ann", "new-password").get("/api/me").json()["username"] == "ann"
    assert [e.action for e in service.app.state.audit.entries()] == ["password changed"]


def test_a_bad_request_body_is_a_422_naming_the_field_without_echoing_it(service: Service) -> None:
    root = service.user("root", role="admin")
    token = bearer(service.accounts.create_token(root.id, "t"))
    response = TestClient(service.app).post("/api/users", json={"username": "x", "password": "tiny-pw"},
                                            headers=token)
    assert response.status_code == 422 and "tiny-pw" not in response.text
    assert response.json()["detail"][0]["item"] == "password"
    assert TestClient(service.app).get("/api/calls?limit=0", headers=token).json()["detail"][0]["item"] == "query.limit"


def test_the_live_view_shows_open_chats_and_an_agent_only_their_own(service: Service) -> None:
    open_chats = [
        {"id": "chat-1", "queue": "telegram", "queue_name": "Telegram", "client": "telegram:1", "phase": "offered",
         "agent": None, "offered": ["ben"], "waited_s": 4.0},
        {"id": "chat-2", "queue": "telegram", "queue_name": "Telegram", "client": "telegram:2", "phase": "active",
         "agent": "chloe", "offered": [], "waited_s": 30.0},
    ]
    service.ctx.conversations = lambda: [dict(c) for c in open_chats]
    service.user("sup", permissions={"open_channels", "telephony"})
    service.user("ben", role="agent", agent_id="ben")
    supervisor, ben = login(service.app, "sup"), login(service.app, "ben")
    assert [c["id"] for c in supervisor.get("/api/live").json()["conversations"]] == ["chat-1", "chat-2"]
    assert [c["id"] for c in ben.get("/api/live").json()["conversations"]] == ["chat-1"]
