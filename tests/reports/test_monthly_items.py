"""The chats, e-mails and forms rolled up per local month (report_items): a range of whole
months reads them, the days at either end come from the items, and a month is rebuilt
when one of its items changes after the roll-up."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from acd.channels.history import Batch, ChannelHistory, Line, NewItem
from acd.reports.items import months_between, next_month
from acd.reports.queries import Filters, Reports, _Window
from acd.reports.tables import ReportItemsRow
from acd.store import Store

from . import history as h

# all of March (whole: from report_items) and days of February and April either side (from the items)
AROUND_MARCH = Filters(date(2026, 2, 27), date(2026, 4, 2))
NAMES = ("queues", "distribution", "agents")


def _fill(store: Store) -> ChannelHistory:
    h.fill(store)
    channels = ChannelHistory(store.engine)
    feb, apr = h.local(10, 0, date(2026, 2, 28)), h.local(10, 0, date(2026, 4, 1))
    channels.write(Batch(items=[NewItem("chat-feb", "chat", "web", "+4915100000006", feb),
                                NewItem("chat-apr", "chat", "web", "+4915100000007", apr),
                                NewItem("chat-may", "chat", "web", "+4915100000008", h.local(10, 0, date(2026, 5, 4)))],
                         lines=[Line("chat-feb", feb + 5, "accepted", {"agent": "ben"}),
                                Line("chat-feb", feb + 20, "answered", {"agent": "ben"})]))
    return channels


def _live(store: Store, filters: Filters, now: float) -> dict[str, object]:
    with Session(store.engine) as session:  # the items themselves, nothing rolled up
        window = _Window(session, h.SITE, filters, now)
        return {name: getattr(window, name)().rows for name in NAMES}


def _rolled(store: Store, filters: Filters, now: float) -> dict[str, object]:
    return {name: report.rows for name, report in Reports(store.engine).run(NAMES, h.SITE, filters, now).items()}


def test_a_range_of_whole_months_and_partial_ones_gives_the_items_own_figures(store: Store) -> None:
    _fill(store)
    live = _live(store, AROUND_MARCH, h.TWO_DAYS_LATER)
    rolled = _rolled(store, AROUND_MARCH, h.TWO_DAYS_LATER)
    assert rolled == live
    chat = next(r for r in rolled["queues"] if r["queue"] == "Website chat")  # type: ignore[attr-defined]
    # the day's three, chat-0 (9 March), chat-feb (answered after 20 s) and chat-apr; not chat-may
    assert (chat["items"], chat["responded"], chat["response_avg"], chat["response_max"]) == (6, 3, 46.7, 90.0)
    web = [(r["agent"], r["items"]) for r in rolled["distribution"] if r["queue"] == "Website chat"]  # type: ignore[attr-defined]
    assert web == [("nobody yet", 2), ("Anna Berg", 2), ("Ben Ortiz", 2)]
    with Session(store.engine) as session:  # March was read from its monthly rows
        by_month = dict(session.execute(select(ReportItemsRow.month, func.sum(ReportItemsRow.items))
                                        .group_by(ReportItemsRow.month)).all())
    assert by_month == {"2026-02": 1, "2026-03": 6, "2026-04": 1, "2026-05": 1}


def test_an_item_changed_after_the_roll_up_rebuilds_its_month(store: Store) -> None:
    channels = _fill(store)
    march = Filters(date(2026, 3, 1), date(2026, 3, 31))
    before = _rolled(store, march, h.TWO_DAYS_LATER)
    ben = next(r for r in before["agents"] if r["agent"] == "Ben Ortiz")  # type: ignore[attr-defined]
    assert (ben["chats"], ben["chat_response_avg"]) == (1, None)
    later = h.TWO_DAYS_LATER + 60  # ben answers chat-3 two days on, and anna takes chat-0
    channels.write(Batch(lines=[Line("chat-3", later, "answered", {"agent": "ben"}),
                                Line("chat-0", later, "accepted", {"agent": "anna"})]))
    after = _rolled(store, march, later + 60)
    assert after == _live(store, march, later + 60)
    ben = next(r for r in after["agents"] if r["agent"] == "Ben Ortiz")  # type: ignore[attr-defined]
    assert (ben["chats"], ben["chat_response_avg"]) == (1, later - h.local(9, 6))
    web = [(r["agent"], r["items"]) for r in after["distribution"] if r["queue"] == "Website chat"]  # type: ignore[attr-defined]
    assert web == [("Anna Berg", 3), ("Ben Ortiz", 1)]


def test_a_change_of_time_zone_rolls_the_items_up_again(store: Store) -> None:
    _fill(store)
    _rolled(store, AROUND_MARCH, h.TWO_DAYS_LATER)
    utc = h.SITE.__class__(zone="UTC", queues=h.SITE.queues)
    feb = Filters(date(2026, 2, 1), date(2026, 2, 28))
    found = Reports(store.engine).run(["queues"], utc, feb, h.TWO_DAYS_LATER)["queues"].rows
    assert [(r["queue"], r["items"]) for r in found] == [("Website chat", 1)]
    with Session(store.engine) as session:
        assert session.scalar(select(func.sum(ReportItemsRow.items))) == 9


@pytest.mark.parametrize(("first", "last", "months"), [
    ("2025-11", "2026-02", ["2025-11", "2025-12", "2026-01", "2026-02"]), ("2026-03", "2026-03", ["2026-03"])])
def test_months_between(first: str, last: str, months: list[str]) -> None:
    assert months_between(first, last) == months
    assert next_month("2025-12") == "2026-01"
