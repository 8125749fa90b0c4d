"""The reports page and its API over the known day of tests/reports/history.py: the API
gives the hand-checked figures, each CSV holds exactly the page's figures, and only
supervisors and admins see them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from acd.reports.queries import NAMES, Column
from acd.web.reports import cell, csv_label

from .conftest import PASSWORD, Service, bearer, login
from .reports_support import QUERY, expected, page_tables, with_history


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    s = with_history(tmp_path)
    s.user("sue")
    s.user("ben", role="agent", agent_id="ben")
    yield s
    s.store.close()


@pytest.mark.parametrize("name", [n for n in NAMES if n != "daily"])
def test_the_api_gives_the_hand_checked_figures(service: Service, name: str) -> None:
    found = login(service.app, "sue").get(f"/api/reports/{name}?{QUERY}")
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["time_zone"] == "Europe/Berlin" and body["filters"]["first"] == "2026-03-10"
    assert body["rows"] == expected(name)


def test_each_csv_holds_exactly_the_figures_of_the_page(service: Service) -> None:
    client = login(service.app, "sue")
    page = client.get(f"/reports?{QUERY}")
    assert page.status_code == 200
    tables = page_tables(page.text)
    assert set(tables) == set(NAMES)
    for name in NAMES:
        api = client.get(f"/api/reports/{name}?{QUERY}").json()
        columns = [Column(c["key"], c["label"], c["unit"]) for c in api["columns"]]
        download = client.get(f"/api/reports/{name}.csv?{QUERY}")
        assert download.headers["content-type"].startswith("text/csv")
        assert f"acd-{name}-2026-03-10-2026-03-10.csv" in download.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(download.text)))
        assert rows[0] == [csv_label(c) for c in columns]
        assert tables[name]["head"] == [c.label for c in columns]
        shown = [[cell(c, _number(c, v)) for c, v in zip(columns, row, strict=True)] for row in rows[1:]]
        assert tables[name]["rows"] == shown, name
        assert len(shown) == len(api["rows"]) > 0


def _number(column: Column, text: str) -> object:
    if text == "":
        return None
    if column.unit == "text":
        return text
    value = float(text)
    return int(value) if column.unit == "count" else value


def test_the_page_names_its_figures_in_words_and_says_what_they_mean(service: Service) -> None:
    page = login(service.app, "sue").get(f"/reports?{QUERY}").text
    tables = page_tables(page)
    sales = dict(zip(tables["groups"]["head"], tables["groups"]["rows"][0], strict=True))
    assert sales["Queue group"] == "Sales" and sales["Service level"] == "20.0 %" and sales["ASA"] == "18 s"
    anna = dict(zip(tables["agents"]["head"], tables["agents"]["rows"][0], strict=True))
    assert anna["Clocked in"] == "9 h 00 min" and anna["Talk time"] == "6 min 00 s"
    assert "Calls abandoned within the target count in neither part" in page
    assert 'src="/reports/plotly.min.js"' in page and "cdn" not in page.lower()


def test_the_charting_library_is_served_by_acd_itself(service: Service) -> None:
    client = login(service.app, "sue")
    js = client.get("/reports/plotly.min.js")
    assert js.status_code == 200 and "plotly" in js.text[:2000].lower() and len(js.content) > 1_000_000
    assert client.get("/reports/plotly.min.js", headers={"If-None-Match": js.headers["etag"]}).status_code == 304


def test_only_supervisors_and_admins_see_the_reports(service: Service) -> None:
    agent = login(service.app, "ben")
    assert agent.get(f"/api/reports/groups?{QUERY}").status_code == 403
    assert agent.get("/reports").status_code == 403
    assert 'href="/reports"' not in agent.get("/").text
    assert 'href="/reports"' in login(service.app, "sue").get("/").text
    sue = service.accounts.authenticate("sue", PASSWORD)
    assert sue is not None
    token = service.accounts.create_token(sue.id, "reports")
    assert TestClient(service.app).get(f"/api/reports/hourly?{QUERY}", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(("query", "item", "says"), [
    ("first=10.03.2026", "query.first", "a date as YYYY-MM-DD"),
    ("first=2026-03-10&last=2026-03-01", "query.last", "ends before it starts"),
    ("first=2000-01-01&last=2026-03-01", "query.last", "longer than"),
    ("channel=fax", "query.channel", "channel: one of"),
])
def test_bad_filters_get_a_422_naming_the_item(service: Service, query: str, item: str, says: str) -> None:
    for path in ("/api/reports/groups", "/api/reports/groups.csv"):
        found = login(service.app, "sue").get(f"{path}?{query}")
        assert found.status_code == 422
        [problem] = found.json()["detail"]
        assert problem["item"] == item and says in problem["problem"]


def test_an_unknown_report_is_a_404_naming_the_reports(service: Service) -> None:
    found = login(service.app, "sue").get("/api/reports/weather.csv")
    assert found.status_code == 404 and "hourly" in found.json()["detail"]
