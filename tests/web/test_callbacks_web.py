"""Callback requests on the live view and in the API: place in line, attempts, and a
supervisor's cancel and move; agents see their groups' requests and change nothing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from acd.core.commands import CallBack
from acd.core.events import (
    CallArrived,
    CallbackAgentAnswered,
    CallbackEnded,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    DigitPressed,
)

from .conftest import SETTINGS, Service, build, login


def settings() -> dict[str, Any]:
    data = copy.deepcopy(SETTINGS)
    data["groups"][0].update({"missed": {"action": "keep_waiting", "retry_seconds": 60},
                              "callback": {"enabled": True, "attempts": 2, "spacing_seconds": 120}})
    return data


def everyone_busy(service: Service) -> None:
    for agent in ("anna", "ben"):
        service.distributor.feed(DeviceStateChanged(agent, DeviceState.INUSE))


def request(service: Service, call_id: str, number: str) -> None:
    service.distributor.feed(CallArrived(call_id, "+4930111111", number))
    service.distributor.feed(DigitPressed(call_id, "1"))
    service.distributor.feed(CallerHungUp(call_id))


def test_the_live_view_lists_requests_in_line_and_a_supervisor_moves_and_cancels_them(tmp_path: Path) -> None:
    service = build(tmp_path, settings())
    everyone_busy(service)
    request(service, "call-1", "+4917000001")
    request(service, "call-2", "+4917000002")
    service.user("sam", permissions={"telephony"})
    sam = login(service.app, "sam")
    live = sam.get("/api/live").json()
    assert [(c["request_id"], c["position"], c["state_words"]) for c in live["callbacks"]] == [
        ("call-1", 1, "waiting for a free member"), ("call-2", 2, "waiting for a free member")]
    assert live["me"]["manages_callbacks"]
    headers = {"X-CSRF-Token": sam.csrf}
    assert sam.post("/api/callbacks/call-2/move", json={"position": 1}, headers=headers).status_code == 204
    assert [c["request_id"] for c in sam.get("/api/live").json()["callbacks"]] == ["call-2", "call-1"]
    assert sam.post("/api/callbacks/call-1/cancel", headers=headers).status_code == 204
    assert sam.post("/api/callbacks/call-1/cancel", headers=headers).status_code == 404
    assert sam.post("/api/callbacks/call-2/move", json={"position": 0}, headers=headers).status_code == 422
    listed = {c["request_id"]: c for c in sam.get("/api/callbacks?show=all").json()}
    assert listed["call-1"]["state"] == "cancelled" and listed["call-1"]["live"] is None
    assert listed["call-2"]["state"] == "waiting" and listed["call-2"]["live"]["position"] == 1
    history = sam.get("/api/calls/call-1").json()
    assert [e["kind"] for e in history["events"] if e["kind"].startswith("callback_")][-1] == "callback_cancelled"


def test_a_request_under_way_cannot_be_cancelled_and_its_attempts_show(tmp_path: Path) -> None:
    service = build(tmp_path, settings())
    everyone_busy(service)
    request(service, "call-1", "+4917000001")
    service.distributor.feed(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    attempt = next(c for c in service.pbx.commands if isinstance(c, CallBack)).attempt
    service.distributor.feed(CallbackAgentAnswered("call-1", attempt))
    service.user("sam", permissions={"telephony"})
    sam = login(service.app, "sam")
    response = sam.post("/api/callbacks/call-1/cancel", headers={"X-CSRF-Token": sam.csrf})
    assert response.status_code == 409 and "under way" in response.json()["detail"]
    service.distributor.feed(CallbackEnded("call-1", attempt, "NOANSWER"))
    (live,) = sam.get("/api/live").json()["callbacks"]
    assert (live["attempts"], live["max_attempts"], live["outcomes"]) == (1, 2, ["no answer"])
    assert live["next_try_in_s"] > 100


def test_an_agent_sees_their_groups_requests_but_changes_nothing(tmp_path: Path) -> None:
    service = build(tmp_path, settings())
    everyone_busy(service)
    request(service, "call-1", "+4917000001")
    service.user("chloe", role="agent", agent_id="chloe")  # support only
    service.user("ben", role="agent", agent_id="ben")  # sales
    chloe, ben = login(service.app, "chloe"), login(service.app, "ben")
    assert chloe.get("/api/live").json()["callbacks"] == []
    assert [c["request_id"] for c in ben.get("/api/live").json()["callbacks"]] == ["call-1"]
    assert ben.post("/api/callbacks/call-1/cancel", headers={"X-CSRF-Token": ben.csrf}).status_code == 403
    assert chloe.get("/api/callbacks").json() == []


def test_the_group_page_turns_the_callback_on_and_refuses_a_bad_value(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    assert 'id="callback.enabled"' in client.get("/groups/sales").text
    form = {"csrf_token": client.csrf, "name": "Sales", "members": ["anna", "ben"], "mode": "strict",
            "missed.action": "keep_waiting", "callback.shown": "1", "callback.enabled": "on",
            "callback.attempts": "4", "callback.spacing_seconds": "90"}
    assert client.post("/groups/sales", data=form, follow_redirects=False).status_code == 303
    policy = service.distributor.router.config.groups["sales"].callback
    assert policy is not None and (policy.attempts, policy.spacing_s) == (4, 90)
    response = client.post("/groups/sales", data={**form, "callback.attempts": "50"})
    assert response.status_code == 422 and 'id="err-callback-attempts"' in response.text
    assert client.post("/groups/sales", data={k: v for k, v in form.items() if k != "callback.enabled"},
                       follow_redirects=False).status_code == 303
    assert service.distributor.router.config.groups["sales"].callback is None


def test_the_group_page_sets_which_number_is_called_back_and_refuses_a_bad_pattern(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    assert 'id="callback.ask_number"' in client.get("/groups/sales").text
    form = {"csrf_token": client.csrf, "name": "Sales", "members": ["anna", "ben"], "mode": "strict",
            "missed.action": "keep_waiting", "callback.shown": "1", "callback.enabled": "on",
            "callback.ask_number": "when_unknown", "callback.number_tries": "2",
            "callback.number_pattern": "0[1-9][0-9]{6,12}"}
    assert client.post("/groups/sales", data=form, follow_redirects=False).status_code == 303
    policy = service.distributor.router.config.groups["sales"].callback
    assert policy is not None
    assert (policy.ask_number.value, policy.number_tries, policy.number_pattern) == \
        ("when_unknown", 2, "0[1-9][0-9]{6,12}")
    assert 'value="when_unknown" selected' in client.get("/groups/sales").text
    response = client.post("/groups/sales", data={**form, "callback.number_pattern": "0[1-9"})
    assert response.status_code == 422 and 'id="err-callback-number_pattern"' in response.text
    response = client.post("/groups/sales", data={**form, "callback.ask_number": "sometimes"})
    assert response.status_code == 422 and 'id="err-callback-ask_number"' in response.text
