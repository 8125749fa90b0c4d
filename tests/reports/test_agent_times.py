"""The agents' time clocked in and on a break, rolled up per local day (report_agent_times):
a shift across midnight splits between its days, and a range partly rolled up and partly
not gives the same figures as the lines themselves."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from acd.channels.history import Batch, ChannelHistory, Line
from acd.reports.agent_times import spent
from acd.reports.queries import Filters, Reports, _Window
from acd.reports.tables import ReportAgentTimesRow
from acd.store import Store

from . import history as h

NIGHT = date(2026, 3, 11)


def _fill(store: Store) -> None:
    h.fill(store)
    # chloé: 22:00 on the 10th to 02:00 on the 11th, a break across midnight (23:50-00:20)
    ChannelHistory(store.engine).write(Batch(lines=[
        Line("agent:chloe", h.local(22, 0), "clocked_in", {"by": "chloe"}),
        Line("agent:chloe", h.local(23, 50), "break_started", {"by": "chloe"}),
        Line("agent:chloe", h.local(0, 20, NIGHT), "break_ended", {"by": "chloe"}),
        Line("agent:chloe", h.local(2, 0, NIGHT), "clocked_out", {"by": "chloe"})]))


def _times(rows: list[dict[str, object]]) -> dict[object, tuple[object, object]]:
    return {r["agent"]: (r["clocked_in"], r["on_break"]) for r in rows}


def _live(store: Store, filters: Filters, now: float) -> dict[object, tuple[object, object]]:
    with Session(store.engine) as session:  # the lines themselves, nothing rolled up
        return _times(_Window(session, h.SITE, filters, now).agents().rows)


def _rolled(store: Store, filters: Filters, now: float) -> dict[object, tuple[object, object]]:
    return _times(Reports(store.engine).run(["agents"], h.SITE, filters, now)["agents"].rows)


@pytest.mark.parametrize(("first", "last", "chloe"), [
    (h.DAY, h.DAY, (7200.0, 600.0)), (NIGHT, NIGHT, (7200.0, 1200.0)), (h.DAY, NIGHT, (14400.0, 1800.0))])
def test_a_shift_across_midnight_splits_between_its_days(store: Store, first: date, last: date,
                                                         chloe: tuple[float, float]) -> None:
    _fill(store)
    filters = Filters(first, last)
    now = h.TWO_DAYS_LATER  # the 10th and the 11th are rolled up
    assert _rolled(store, filters, now)["Chloé Martin"] == chloe
    assert _rolled(store, filters, now) == _live(store, filters, now)
    with Session(store.engine) as session:
        rows = session.execute(select(ReportAgentTimesRow.day, ReportAgentTimesRow.agent_id,
                                      ReportAgentTimesRow.clocked_s)).all()
    assert ("2026-03-10", "chloe", 7200.0) in rows and ("2026-03-11", "chloe", 7200.0) in rows
    assert not [r for r in rows if r.day < "2026-03-10"]  # no row before an agent's first line


def test_a_range_partly_rolled_up_takes_the_rest_from_the_lines(store: Store) -> None:
    _fill(store)
    now = h.local(1, 0, NIGHT)  # the 10th is not over an hour yet: nothing rolled up; chloé is on her break
    both = Filters(h.DAY, NIGHT)
    assert _rolled(store, both, now)["Chloé Martin"] == (3 * 3600.0, 1800.0)
    later = h.local(1, 30, NIGHT)  # the 10th rolled up, the 11th from the lines
    found = _rolled(store, both, later)
    with Session(store.engine) as session:
        assert {r for r in session.scalars(select(ReportAgentTimesRow.day))} == {"2026-03-10"}
    assert found == _live(store, both, later)
    assert found["Chloé Martin"] == (3.5 * 3600.0, 1800.0)
    assert found["Anna Berg"] == (h.CLOCKED, 900.0)


def test_time_spent_per_window() -> None:
    steps = [(10.0, "clocked_in"), (15.0, "break_started"), (25.0, "break_ended"), (40.0, "clocked_out")]
    assert spent(steps, [(0.0, 20.0), (20.0, 30.0), (30.0, 50.0)]) == [(10.0, 5.0), (10.0, 5.0), (10.0, 0.0)]
    assert spent(steps, [(12.0, 13.0)]) == [(1.0, 0.0)]
