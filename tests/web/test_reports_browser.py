"""The reports in a real browser (headless Chromium) at desktop and phone size, over the
known day of tests/reports/history.py: the charts draw (plotly.js from acd itself), each
report is photographed, and the figures read back from the page equal the hand-checked
ones (the same text the API's figures give)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.clock import Clock
from acd.reports.queries import NAMES, Column
from acd.web.reports import cell

from .conftest import Service
from .reports_support import QUERY, expected, with_history
from .test_browser import Served, browser, pytestmark, sign_in  # noqa: F401 - fixtures, marks

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Service, Served]]:
    service = with_history(tmp_path, clock=Clock())
    service.user("sue")
    with Served(service.app) as s:
        yield service, s
    service.store.close()


def read_table(page: Any, name: str) -> list[list[str]]:
    return page.locator(f"#report-{name} tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))")


@pytest.mark.parametrize("size", list(SIZES))
def test_each_report_is_photographed_and_its_figures_read_back(served: tuple[Service, Served], browser: Any,  # noqa: F811
                                                               tmp_path: Path, size: str) -> None:
    service, server = served
    page = browser.new_page(viewport=SIZES[size])
    sign_in(page, server.url, "sue")
    page.get_by_role("link", name="Reports").click()
    page.get_by_label("From").fill("2026-03-10")
    page.get_by_label("To").fill("2026-03-10")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/reports?{QUERY}*")
    page.wait_for_function("document.body.dataset.chartsDrawn === 'yes'")
    for chart in ("hourly", "daily", "groups", "distribution"):  # plotly drew each one as SVG
        assert page.locator(f"#chart-{chart} svg.main-svg").count() >= 1, chart
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"] + 1  # no sideways page
    for name in NAMES:
        section = page.locator(f"section.report:has(#report-{name})")
        section.screenshot(path=str(tmp_path / f"report-{name}-{size}.png"))
        columns = [Column(**c) for c in _columns(page, name)]
        found = read_table(page, name)
        if name == "daily":
            assert found[0][0] == "2026-03-10" and found[0][-1] == "10"
            continue
        want = [[cell(c, row[c.key]) for c in columns] for row in expected(name)]
        assert found == want, name
    page.close()


def _columns(page: Any, name: str) -> list[dict[str, str]]:
    """The report's columns as the API gives them (key, label, unit), fetched by the page's own session."""
    body = page.evaluate(f"fetch('/api/reports/{name}?{QUERY}').then(r => r.json())")
    return [{"key": c["key"], "label": c["label"], "unit": c["unit"]} for c in body["columns"]]
