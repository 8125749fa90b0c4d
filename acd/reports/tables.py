"""The reports' aggregate (roll-up) tables, beside the call history on the store's base.

They hold the call history summed per local day of the site's time zone, with the
calls per local hour in 24 columns (``report_calls``: a year is some 30,000 rows), the
waits of answered and abandoned calls per whole second (``report_waits``: the service
level for any target), per day and again per month (a long range reads whole months),
and per agent and day (``report_agents``); the chats, e-mails and forms per local month
(``report_items``: a month is rebuilt whenever an item created in it changes, see
items.py); the agents' time clocked in and on a break per day (``report_agent_times``,
see agent_times.py). ``report_state`` says up to when each is summed and in which zone:
report_calls, report_waits and report_agents get rows at each refresh (a key may have
several rows; the queries sum them), summed into one row per key once their day (or
month) is over; a change of zone sums everything again.
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base, EventId


class ReportStateRow(Base):
    __tablename__ = "report_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    rolled_until: Mapped[float]  # calls that arrived before this are in the roll-up tables


HOURS = tuple(f"h{hour:02d}" for hour in range(24))  # report_calls' columns: calls per local hour


class ReportCallsRow(Base):
    __tablename__ = "report_calls"
    __table_args__ = (Index("ix_report_calls_day_group", "day", "group_id"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    day: Mapped[str] = mapped_column(String(10))  # local date, YYYY-MM-DD
    group_id: Mapped[str] = mapped_column(String(64))  # '' for a call that reached no group
    outcome: Mapped[str] = mapped_column(String(16))  # acd.reports.rollup.OUTCOMES
    calls: Mapped[int] = mapped_column(Integer)
    waited_n: Mapped[int] = mapped_column(Integer)
    waited_sum: Mapped[float]
    waited_max: Mapped[float]
    talk_n: Mapped[int] = mapped_column(Integer)
    talk_sum: Mapped[float]
    for _column in HOURS:  # calls that arrived in each local hour (a day with a DST change: as the clock read)
        locals()[_column] = mapped_column(Integer, nullable=False)
    del _column


class ReportWaitsRow(Base):
    __tablename__ = "report_waits"
    # the service level reads a range's rows from the index alone
    __table_args__ = (Index("ix_report_waits_period_group", "period", "group_id", "kind", "wait_s", "calls"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(10))  # a local date (YYYY-MM-DD) or a whole month (YYYY-MM)
    group_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # answered | abandoned
    wait_s: Mapped[int] = mapped_column(Integer)  # the wait rounded up to a whole second, at most WAIT_CAP_S
    calls: Mapped[int] = mapped_column(Integer)


class ReportAgentsRow(Base):
    __tablename__ = "report_agents"
    __table_args__ = (Index("ix_report_agents_day_agent", "day", "agent_id"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    day: Mapped[str] = mapped_column(String(10))
    agent_id: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[str] = mapped_column(String(64))
    offers: Mapped[int] = mapped_column(Integer)
    answers: Mapped[int] = mapped_column(Integer)
    rang_out: Mapped[int] = mapped_column(Integer)
    talk_s: Mapped[float]
    pickups: Mapped[int] = mapped_column(Integer)
    transfers_made: Mapped[int] = mapped_column(Integer)
    transfers_taken: Mapped[int] = mapped_column(Integer)


class ReportItemsRow(Base):
    __tablename__ = "report_items"
    __table_args__ = (Index("ix_report_items_month", "month"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))  # local month of creation, YYYY-MM
    kind: Mapped[str] = mapped_column(String(8))  # chat | email | form
    queue_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64))  # '' for nobody yet
    items: Mapped[int] = mapped_column(Integer)
    responded: Mapped[int] = mapped_column(Integer)
    response_sum: Mapped[float]  # seconds from creation to the first response, summed
    response_max: Mapped[float | None]


class ReportAgentTimesRow(Base):
    __tablename__ = "report_agent_times"
    __table_args__ = (Index("ix_report_agent_times_day", "day"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    day: Mapped[str] = mapped_column(String(10))  # local date, YYYY-MM-DD
    agent_id: Mapped[str] = mapped_column(String(64))
    clocked_s: Mapped[float]  # clocked in, within the day
    break_s: Mapped[float]  # on a break, within the day


TABLES = (ReportStateRow, ReportCallsRow, ReportWaitsRow, ReportAgentsRow, ReportItemsRow, ReportAgentTimesRow)
