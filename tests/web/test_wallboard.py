"""The wallboard's API and page over a real router and history: who may see it, the
figures after calls, the thresholds, a restart that keeps the day, and the group's
service-level target in the group API and page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from acd.core.events import CallArrived, CallerHungUp, MemberAnswered, MemberRinging
from acd.wallboard import Wallboard
from acd.web.wallboard import install_wallboard

from .conftest import Service, StillClock, bearer, build, login


class ManualClock(StillClock):
    def __init__(self, start: float) -> None:
        super().__init__()
        self.t = start

    def now(self) -> float:
        return self.t


NOON_UTC = datetime(2026, 11, 18, 12, tzinfo=UTC).timestamp()


@pytest.fixture
def board(tmp_path: Path) -> Iterator[tuple[Service, ManualClock]]:
    clock = ManualClock(NOON_UTC)
    service = build(tmp_path, clock=clock)
    install_wallboard(service.app)
    service.user("sue", permissions={"telephony", "agents", "open_channels"})
    service.user("tom", permissions={"telephony"})
    service.user("ben", role="agent", agent_id="ben")
    yield service, clock
    service.store.close()


def call(service: Service, clock: ManualClock, call_id: str, *, answer_after: float | None,
         hang_up_after: float = 30, did: str = "+4930111111", agent: str = "anna") -> None:
    feed = service.distributor.feed
    feed(CallArrived(call_id, did, "15550001"))
    attempt = service.distributor.router.calls[call_id].attempt
    feed(MemberRinging(call_id, attempt, agent))
    if answer_after is not None:
        clock.t += answer_after
        feed(MemberAnswered(call_id, attempt, agent))
    clock.t += hang_up_after
    feed(CallerHungUp(call_id))


def tile(data: dict[str, Any], group: str) -> dict[str, Any]:
    return next(g for g in data["groups"] if g["id"] == group)


def test_only_supervisors_see_the_wallboard(board: tuple[Service, ManualClock]) -> None:
    service, _ = board
    assert login(service.app, "ben").get("/api/wallboard").status_code == 403
    assert login(service.app, "ben").get("/wallboard").status_code == 403
    from fastapi.testclient import TestClient
    assert TestClient(service.app).get("/api/wallboard").status_code == 401
    sue = login(service.app, "sue")
    page = sue.get("/wallboard")
    assert page.status_code == 200 and 'href="/wallboard"' in page.text
    assert 'data-can-pause="true"' in page.text
    assert login(service.app, "tom").get("/api/wallboard").json()["can_pause"] is False
    assert 'href="/wallboard"' not in login(service.app, "ben").get("/").text


def test_tiles_count_todays_answered_and_abandoned_calls_with_service_level_and_asa(
        board: tuple[Service, ManualClock]) -> None:
    service, clock = board
    call(service, clock, "c1", answer_after=5)
    call(service, clock, "c2", answer_after=30)  # after the 20 s target
    call(service, clock, "c3", answer_after=None, hang_up_after=25)  # abandoned after the target
    call(service, clock, "c4", answer_after=None, hang_up_after=3)  # a short abandon
    data = login(service.app, "sue").get("/api/wallboard").json()
    sales = tile(data, "sales")
    assert (sales["offered"], sales["answered"], sales["abandoned"], sales["missed"]) == (4, 2, 2, 0)
    assert sales["service_level_percent"] == pytest.approx(33.3)  # 1 / (2 answered + 1 late abandon)
    assert sales["asa_s"] == 17.5
    assert (sales["goal_percent"], sales["answer_within_s"]) == (80, 20)
    assert sales["level"] == "red" and "service level under the goal of 80 %" in sales["alerts"]
    support = tile(data, "support")
    assert (support["offered"], support["service_level_percent"], support["level"]) == (0, None, "ok")


def test_a_caller_waiting_past_the_target_turns_the_tile_amber_then_red(board: tuple[Service, ManualClock]) -> None:
    service, clock = board
    sue = login(service.app, "sue")
    service.distributor.feed(CallArrived("w1", "+4930222222", "15550009"))
    clock.t += 10
    support = tile(sue.get("/api/wallboard").json(), "support")
    assert (support["waiting"], support["longest_wait_s"], support["level"]) == (1, 10.0, "ok")
    clock.t += 15
    assert tile(sue.get("/api/wallboard").json(), "support")["level"] == "amber"
    clock.t += 40
    support = tile(sue.get("/api/wallboard").json(), "support")
    assert support["level"] == "red" and support["alerts"] == ["a caller has waited over 60 s"]


def test_agents_states_are_counted_per_group(board: tuple[Service, ManualClock]) -> None:
    service, _ = board
    service.distributor.feed(CallArrived("r1", "+4930111111", "15550009"))
    attempt = service.distributor.router.calls["r1"].attempt
    service.distributor.feed(MemberRinging("r1", attempt, "anna"))
    data = login(service.app, "sue").get("/api/wallboard").json()
    assert tile(data, "sales")["agents"] == {"available": 1, "on a call": 0, "ringing": 1, "wrap-up": 0,
                                             "on a break": 0, "offline": 0}
    service.distributor.feed(MemberAnswered("r1", attempt, "anna"))
    data = login(service.app, "sue").get("/api/wallboard").json()
    assert tile(data, "support")["agents"]["on a call"] == 1  # anna is in both groups
    assert {a["id"]: a["state"] for a in data["agents"]}["anna"] == "on a call"


def test_after_a_restart_the_days_figures_are_rebuilt_from_the_history(board: tuple[Service, ManualClock]) -> None:
    service, clock = board
    call(service, clock, "c1", answer_after=5)
    call(service, clock, "c2", answer_after=None, hang_up_after=25)
    before = tile(login(service.app, "sue").get("/api/wallboard").json(), "sales")
    restarted = Wallboard(lambda: service.distributor.router, lambda: service.settings, clock.now)
    assert restarted.snapshot()["groups"][0]["answered"] == 0  # a new process starts empty...
    restarted.rebuild(service.store.engine)  # ...and reads the day again
    after = tile(restarted.snapshot(), "sales")
    keys = ("offered", "answered", "abandoned", "missed", "service_level_percent", "asa_s")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys} and after["answered"] == 1


def test_yesterdays_calls_are_not_todays(board: tuple[Service, ManualClock]) -> None:
    service, clock = board
    call(service, clock, "c1", answer_after=5)
    clock.t += 24 * 3600
    call(service, clock, "c2", answer_after=5)
    wallboard: Wallboard = service.app.state.wallboard
    assert tile(wallboard.snapshot(), "sales")["answered"] == 1
    wallboard.rebuild(service.store.engine)
    assert tile(wallboard.snapshot(), "sales")["answered"] == 1


def test_today_starts_at_midnight_in_the_sites_time_zone(tmp_path: Path) -> None:
    from .conftest import SETTINGS
    clock = ManualClock(NOON_UTC - 11.5 * 3600)  # 00:30 UTC = 09:30 in Tokyo, 19:30 the day before in New York
    for zone, midnight in (("Asia/Tokyo", NOON_UTC - 21 * 3600), ("America/New_York", NOON_UTC - 31 * 3600)):
        service = build(tmp_path, {**SETTINGS, "service": {"time_zone": zone}}, clock=clock)
        assert install_wallboard(service.app).snapshot()["day_start"] == midnight
        service.store.close()


def test_the_service_level_target_is_a_group_setting_in_the_api_and_the_page(
        board: tuple[Service, ManualClock]) -> None:
    service, _ = board
    sue = login(service.app, "sue")
    group = sue.get("/api/groups/sales").json()
    assert group["service_level"] == {"answer_within_seconds": 20, "goal_percent": 80,
                                      "longest_wait_alert_seconds": 60}
    group["service_level"] = {"answer_within_seconds": 30, "goal_percent": 90}
    saved = sue.put("/api/groups/sales", json=group, headers={"X-CSRF-Token": sue.csrf})  # type: ignore[attr-defined]
    assert saved.status_code == 200, saved.text
    assert tile(sue.get("/api/wallboard").json(), "sales")["answer_within_s"] == 30
    group["service_level"] = {"goal_percent": 101}
    refused = sue.put("/api/groups/sales", json=group, headers={"X-CSRF-Token": sue.csrf})  # type: ignore[attr-defined]
    assert refused.status_code == 422 and "goal_percent" in refused.text
    page = sue.get("/groups/sales").text
    assert 'name="service_level.goal_percent"' in page and 'value="90"' in page
    form = {"csrf_token": sue.csrf, "name": "Sales", "members": ["anna", "ben"], "mode": "strict",  # type: ignore[attr-defined]
            "missed.action": "voicemail", "service_level.answer_within_seconds": "15",
            "service_level.goal_percent": "70", "service_level.longest_wait_alert_seconds": "45",
            "version": ""}
    done = sue.post("/groups/sales", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert service.settings.group("sales").service_level.answer_within_seconds == 15
    form["service_level.goal_percent"] = "0"
    bad = sue.post("/groups/sales", data=form)
    assert bad.status_code == 422 and 'id="err-service_level-goal_percent"' in bad.text


def test_the_stream_sends_the_wallboard(board: tuple[Service, ManualClock]) -> None:
    service, _ = board
    token = service.accounts.create_token(service.user("wall", permissions={"agents"}).id, "wall screen")
    from fastapi.testclient import TestClient
    with TestClient(service.app).stream("GET", "/api/wallboard/stream", headers=bearer(token)) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                assert '"groups"' in line and '"sales"' in line
                break


def test_the_history_downloads_as_a_queue_log_for_supervisors_only(board: tuple[Service, ManualClock]) -> None:
    service, clock = board
    call(service, clock, "c1", answer_after=5)
    call(service, clock, "c2", answer_after=None, hang_up_after=25)
    sue = login(service.app, "sue")
    assert 'id="queue-log"' in sue.get("/history").text
    day = datetime.fromtimestamp(NOON_UTC, UTC).date().isoformat()
    got = sue.get(f"/api/queue-log?since={day}&until={day}")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
    assert got.headers["content-disposition"] == f'attachment; filename="queue_log_{day}_{day}.txt"'
    events = [(line.split("|")[1], line.split("|")[3], line.split("|")[4]) for line in got.text.splitlines()]
    assert events == [("c1", "NONE", "ENTERQUEUE"), ("c1", "PJSIP/101", "CONNECT"),
                      ("c1", "PJSIP/101", "COMPLETECALLER"), ("c2", "NONE", "ENTERQUEUE"), ("c2", "NONE", "ABANDON")]
    assert sue.get("/api/queue-log?since=2020-01-01&until=2020-01-02").text == ""
    assert sue.get("/api/queue-log?since=yesterday").status_code == 422
    ben = login(service.app, "ben")
    assert ben.get("/api/queue-log").status_code == 403
    assert 'id="queue-log"' not in ben.get("/history").text
