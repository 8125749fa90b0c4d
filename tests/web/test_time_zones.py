"""Pages show times in the site's time zone ([service] time_zone), or in the user's own
when they chose one (their account page, or the API)."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from acd.core.events import CallArrived, CallerHungUp

from .conftest import SETTINGS, StillClock, build, login
from .visible import visible_text

# 2026-11-30 09:15:00 UTC: 10:15 in Berlin, 18:15 in Tokyo
ARRIVED = datetime(2026, 11, 30, 9, 15, tzinfo=ZoneInfo("UTC")).timestamp()


class At(StillClock):
    def now(self) -> float:
        return ARRIVED


def site(tmp_path: Path, zone: str):  # type: ignore[no-untyped-def]
    data = copy.deepcopy(SETTINGS)
    data["service"] = {**data["service"], "time_zone": zone}
    service = build(tmp_path, data, clock=At())
    service.distributor.feed(CallArrived("call-1", "+4930111111", "+4917000001"))
    service.distributor.feed(CallerHungUp("call-1"))
    return service


def test_pages_show_times_in_the_sites_zone_and_name_it(tmp_path: Path) -> None:
    service = site(tmp_path, "Europe/Berlin")
    service.user("sup", permissions={"telephony"})
    page = visible_text(login(service.app, "sup").get("/history").text)
    assert "2026-11-30 10:15:00" in page and "Arrived (Europe/Berlin)" in page
    call = visible_text(login(service.app, "sup").get("/calls/call-1").text)
    assert "2026-11-30 10:15:00 (Europe/Berlin)" in call and "10:15:00" in call


def test_a_user_chooses_their_own_zone_on_their_page_and_over_the_api(tmp_path: Path) -> None:
    service = site(tmp_path, "Europe/Berlin")
    service.user("sup", permissions={"telephony"})
    client = login(service.app, "sup")
    response = client.post("/account/time-zone", data={"csrf_token": client.csrf, "time_zone": "Asia/Tokyo"},
                           follow_redirects=False)
    assert response.status_code == 303
    assert "2026-11-30 18:15:00" in client.get("/history").text
    assert client.get("/api/me").json()["time_zone"] == "Asia/Tokyo"
    bad = client.put("/api/me/time-zone", json={"time_zone": "Mars/Olympus"}, headers={"X-CSRF-Token": client.csrf})
    assert bad.status_code == 422 and bad.json()["detail"][0]["problem"].startswith("Time zone: unknown")
    page = client.post("/account/time-zone", data={"csrf_token": client.csrf, "time_zone": "Mars/Olympus"})
    assert page.status_code == 422 and 'id="err-time_zone"' in page.text
    back = client.put("/api/me/time-zone", json={"time_zone": ""}, headers={"X-CSRF-Token": client.csrf})
    assert back.status_code == 200 and back.json()["time_zone"] is None
    assert "2026-11-30 10:15:00" in client.get("/history").text  # the site's again
    assert [e.action for e in service.app.state.audit.entries()][:2] == ["time zone changed", "time zone changed"]


def test_an_administrator_sets_a_users_zone_through_the_users_api(tmp_path: Path) -> None:
    service = site(tmp_path, "UTC")
    admin = service.user("root", role="admin")
    ann = service.user("ann", permissions={"telephony"})
    client = login(service.app, "root")
    response = client.put(f"/api/users/{ann.id}", headers={"X-CSRF-Token": client.csrf},
                          json={"role": "supervisor", "permissions": ["telephony"], "time_zone": "America/New_York"})
    assert response.status_code == 200 and response.json()["time_zone"] == "America/New_York"
    assert "2026-11-30 04:15:00" in login(service.app, "ann").get("/history").text
    assert admin.time_zone is None
