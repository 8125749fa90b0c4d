"""Every figure of every report, against a day of history built by hand (history.py),
whether the calls come from the roll-up tables, from the calls themselves (not rolled
up yet), or from both (a call in progress holds the roll-up back)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from acd.reports.queries import NAMES, Filters, Reports, _Window
from acd.reports.rollup import STATE
from acd.reports.tables import ReportCallsRow, ReportStateRow
from acd.store import Store

from . import history as h


def run(store: Store, mode: str, filters: Filters = h.FILTERS, now: float = h.TWO_DAYS_LATER) -> dict[str, object]:
    h.fill(store)
    reports = Reports(store.engine)
    reports.create_tables()
    if mode == "live":  # nothing rolled up yet: every figure from the calls
        with Session(store.engine) as session:
            window = _Window(session, h.SITE, filters, now)
            return {name: getattr(window, name)() for name in NAMES}
    return reports.run(NAMES, h.SITE, filters, now)


@pytest.mark.parametrize("mode", ["rolled", "live"])
def test_every_figure_of_a_known_day(store: Store, mode: str) -> None:
    found = run(store, mode)
    hourly = found["hourly"].rows  # type: ignore[attr-defined]
    assert len(hourly) == 24
    for n, row in enumerate(hourly):
        assert row == h.HOURLY.get(n, h.hour(f"{n:02d}:00"))
    assert found["daily"].rows == [{"day": "2026-03-10", **{k: v for k, v in h.hour("").items() if k != "hour"},  # type: ignore[attr-defined]
                                    "answered": 2, "picked_up": 1, "transferred": 1, "abandoned": 2, "missed": 1,
                                    "voicemail": 1, "forwarded": 1, "other": 1, "total": 10}]
    assert found["groups"].rows == h.GROUPS  # type: ignore[attr-defined]
    assert found["agents"].rows == h.AGENTS  # type: ignore[attr-defined]
    assert found["queues"].rows == h.QUEUES  # type: ignore[attr-defined]
    assert found["distribution"].rows == h.DISTRIBUTION  # type: ignore[attr-defined]


def test_a_call_in_progress_holds_the_roll_up_back_and_the_rest_comes_from_the_calls(store: Store) -> None:
    found = run(store, "rolled", now=h.local(20, 30))  # c11 (12:00) still in progress
    with Session(store.engine) as session:
        state = session.get(ReportStateRow, STATE)
        assert state is not None and state.rolled_until == h.local(12, 0)
        assert session.scalar(select(func.sum(ReportCallsRow.calls))) == 10  # c10 and the nine before 12:00
    assert found["groups"].rows == h.GROUPS  # type: ignore[attr-defined]
    assert found["hourly"].rows[12] == h.HOURLY[12]  # type: ignore[attr-defined]


def test_days_are_the_sites_a_call_at_00_30_local_is_not_on_the_day_before(store: Store) -> None:
    before = run(store, "rolled", Filters(date(2026, 3, 9), date(2026, 3, 9)))
    assert [d["total"] for d in before["daily"].rows] == [1]  # type: ignore[attr-defined]  # c10 only, not c6
    assert before["hourly"].rows[12]["answered"] == 1  # type: ignore[attr-defined]


def test_filters_by_group_and_channel(store: Store) -> None:
    sales = run(store, "rolled", Filters(h.DAY, h.DAY, group="sales"))
    assert sales["groups"].rows == h.GROUPS[:1]  # type: ignore[attr-defined]
    assert sum(r["total"] for r in sales["hourly"].rows) == 6  # type: ignore[attr-defined]
    anna = next(r for r in sales["agents"].rows if r["agent"] == "Anna Berg")  # type: ignore[attr-defined]
    assert (anna["answers"], anna["talk"], anna["wrap_up"]) == (2, 160.0, 20.0)
    assert sales["queues"].rows == []  # type: ignore[attr-defined]
    with Session(store.engine) as session:  # the same database, another filter: no second fill
        chats = _Window(session, h.SITE, Filters(h.DAY, h.DAY, channel="chat"), h.TWO_DAYS_LATER)
        assert chats.groups().rows == [] and sum(r["total"] for r in chats.hourly().rows) == 0
        assert [r["queue"] for r in chats.queues().rows] == ["Website chat"]


def test_a_change_of_time_zone_rolls_everything_up_again(store: Store) -> None:
    run(store, "rolled")
    reports = Reports(store.engine)
    utc = reports.run(["daily"], h.SITE.__class__(zone="UTC"), Filters(date(2026, 3, 9), date(2026, 3, 10)),
                      h.TWO_DAYS_LATER)
    assert [d["total"] for d in utc["daily"].rows] == [2, 9]  # c6 was at 23:30 UTC on the 9th
    with Session(store.engine) as session:
        assert session.scalar(select(func.sum(ReportCallsRow.calls))) == 11


def test_a_second_refresh_adds_nothing_twice(store: Store) -> None:
    run(store, "rolled")
    Reports(store.engine).refresh(h.ZONE, h.TWO_DAYS_LATER + 60)
    with Session(store.engine) as session:
        assert session.scalar(select(func.sum(ReportCallsRow.calls))) == 11


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before"):
        Filters(date(2026, 3, 10), date(2026, 3, 9))
    with pytest.raises(ValueError, match="channel"):
        Filters(h.DAY, h.DAY, channel="fax")


@pytest.mark.parametrize("mode", ["rolled", "live"])
def test_a_range_of_whole_months_reads_the_monthly_waits_and_agrees_with_the_days(store: Store, mode: str) -> None:
    found = run(store, mode, Filters(date(2026, 2, 27), date(2026, 4, 2)))  # all of March, and days either side
    sales = found["groups"].rows[0]  # type: ignore[attr-defined]
    # c10 (answered after 4 s on the 9th) joins the day's six: 2 of 6 counted calls within 20 s
    assert (sales["offered"], sales["answered"], sales["service_level"]) == (7, 3, 33.3)
    assert [d["total"] for d in found["daily"].rows if d["total"]] == [1, 10]  # type: ignore[attr-defined]
    assert len(found["daily"].rows) == 35  # type: ignore[attr-defined]


def test_months_and_days_of_a_range() -> None:
    from acd.reports.queries import _periods

    assert _periods(date(2026, 2, 27), date(2026, 4, 2)) == (
        ["2026-03"], ["2026-02-27", "2026-02-28", "2026-04-01", "2026-04-02"])
    assert _periods(date(2026, 3, 1), date(2026, 3, 30)) == ([], [f"2026-03-{d:02d}" for d in range(1, 31)])
    assert _periods(date(2025, 12, 1), date(2026, 1, 31)) == (["2025-12", "2026-01"], [])



def test_a_roll_up_in_many_chunks_keeps_one_monthly_wait_row_per_key(store: Store,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from acd.reports import rollup
    from acd.reports.tables import ReportWaitsRow

    monkeypatch.setattr(rollup, "CHUNK", 2)  # the calls in chunks of two
    # c12 waits 12 s as c1 did, hours later: another chunk, the same monthly key
    store.apply_records(h._call("c12", "sales", h.local(13, 0), (12, "answered", {"agent": "ben", "waited_s": 12}),
                                (70, "ended", {"by": "caller"})))
    found = run(store, "rolled", Filters(date(2026, 3, 1), date(2026, 3, 31)))
    sales = found["groups"].rows[0]  # type: ignore[attr-defined]
    assert (sales["offered"], sales["answered"], sales["service_level"]) == (8, 4, 42.9)  # c1 c10 c12 of 7
    with Session(store.engine) as session:
        keys = session.execute(select(ReportWaitsRow.group_id, ReportWaitsRow.kind, ReportWaitsRow.wait_s,
                                      ReportWaitsRow.calls).where(ReportWaitsRow.period == "2026-03")).all()
    assert len(keys) == 7 and ("sales", "answered", 12, 2) in keys  # one row per key, whatever the chunks


def test_a_day_rolled_up_over_many_refreshes_is_summed_into_one_row_per_key_once_over(store: Store) -> None:
    from acd.reports.tables import ReportAgentsRow, ReportWaitsRow

    h.fill(store)
    reports = Reports(store.engine)
    reports.create_tables()
    for now in (h.local(9, 30), h.local(10, 20), h.local(20, 30)):  # c3 and c4 (sales, abandoned) apart
        reports.refresh(h.ZONE, now)
    april = h.local(12, 0, date(2026, 4, 2))  # the 10th and March are over
    found = reports.run(NAMES, h.SITE, h.FILTERS, april)
    assert found["groups"].rows == h.GROUPS and found["agents"].rows == h.AGENTS
    assert [r["total"] for r in found["hourly"].rows if r["total"]] == [1, 3, 2, 3, 1]
    with Session(store.engine) as session:
        for table, period, keys in ((ReportCallsRow, "day", ("group_id", "outcome")),
                                    (ReportAgentsRow, "day", ("agent_id", "group_id")),
                                    (ReportWaitsRow, "period", ("group_id", "kind", "wait_s"))):
            for value in ("2026-03-10", "2026-03") if table is ReportWaitsRow else ("2026-03-10",):
                rows = session.execute(select(*(getattr(table, k) for k in keys))
                                       .where(getattr(table, period) == value)).all()
                assert rows and len(rows) == len(set(rows)), (table.__tablename__, value)
        abandoned = session.scalars(select(ReportCallsRow.calls).where(
            ReportCallsRow.day == "2026-03-10", ReportCallsRow.group_id == "sales",
            ReportCallsRow.outcome == "abandoned")).all()
        assert abandoned == [2]
