"""Pause settings in the browser's forms and the API: the reasons on the Agents page
(where agents' working time is set), auto-pause on the queue group's page."""

from __future__ import annotations

import tomllib

from fastapi.testclient import TestClient

from .conftest import Service, bearer, login


def test_pause_reasons_are_set_on_the_agents_page_apply_at_once_and_are_written_back(service: Service) -> None:
    service.user("ag", permissions={"agents"})
    client = login(service.app, "ag")
    page = client.get("/agents").text
    assert "Pause reasons" in page and "lunch\ntraining\nafter-call work" in page
    form = {"csrf_token": client.csrf, "reasons": "lunch\n\n  coaching  \nmeeting"}
    assert client.post("/agents/pauses", data=form, follow_redirects=False).status_code == 303
    assert service.distributor.router.config.pause_reasons == ("lunch", "coaching", "meeting")
    assert tomllib.loads(service.config_path.read_text())["pauses"]["reasons"] == ["lunch", "coaching", "meeting"]
    too_long = client.post("/agents/pauses", data={"csrf_token": client.csrf, "reasons": "x" * 41})
    assert too_long.status_code == 422 and "Not saved" in too_long.text
    assert service.distributor.router.config.pause_reasons == ("lunch", "coaching", "meeting")


def test_the_pauses_api_twin(service: Service) -> None:
    service.user("ag", permissions={"agents"})
    service.user("tel", permissions={"telephony"})
    client = TestClient(service.app)
    auth = bearer(service.accounts.create_token(next(u for u, _ in service.accounts.users()
                                                     if u.username == "ag").id, "t"))
    assert client.get("/api/pauses", headers=auth).json()["reasons"] == ["lunch", "training", "after-call work"]
    answer = client.put("/api/pauses", json={"stuck_state_seconds": 12}, headers=auth)
    assert answer.status_code == 200 and answer.json()["stuck_state_seconds"] == 12
    assert service.distributor.router.config.stuck_after_s == 12
    assert client.put("/api/pauses", json={"stuck_state_seconds": -1}, headers=auth).status_code == 422
    other = bearer(service.accounts.create_token(next(u for u, _ in service.accounts.users()
                                                      if u.username == "tel").id, "t"))
    assert client.get("/api/pauses", headers=other).status_code == 403


def test_auto_pause_is_set_on_the_queue_groups_page(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    assert "Pause a member after this many calls in a row rang out" in client.get("/groups/sales").text
    form = {"csrf_token": client.csrf, "name": "Sales", "members": ["anna", "ben"], "mode": "strict",
            "pause_after_missed": "3", "auto_resume_minutes": "10"}
    assert client.post("/groups/sales", data=form, follow_redirects=False).status_code == 303
    group = service.distributor.router.config.groups["sales"]
    assert (group.pause_after_missed, group.auto_resume_s) == (3, 600)
    bad = client.post("/groups/sales", data={**form, "pause_after_missed": "-1"})
    assert bad.status_code == 422 and 'id="err-pause_after_missed"' in bad.text
