"""Agents' work time: hours per weekday in a time zone, clock in/out, breaks."""

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from acd.core.work_time import WorkSchedule, WorkTime

BERLIN = "Europe/Berlin"


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


OFFICE = WorkSchedule.weekly("mon-fri", "09:00-18:00", breaks="13:00-14:00", time_zone=BERLIN)


def clocked_in(schedule: WorkSchedule = OFFICE) -> WorkTime:
    work = WorkTime({"anna": schedule})
    work.clock_in("anna")
    return work


def test_an_agent_without_a_schedule_is_not_tracked_and_works_unless_paused() -> None:
    work = WorkTime({"anna": None})
    work.clock_out("anna")
    assert work.is_working("anna", at("2024-03-09 03:00")) and not work.tracked("anna")
    assert work.next_change("anna", at("2024-03-09 03:00")) is None
    work.start_break("anna", "lunch")  # a pause stops every agent
    assert work.why_not_working("anna", at("2024-03-09 03:00")) == "on a break: lunch"
    work.end_break("anna")
    assert work.is_working("anna", at("2024-03-09 03:00"))


def test_working_hours_are_read_in_the_agents_time_zone() -> None:
    work = clocked_in()
    assert work.why_not_working("anna", at("2024-03-04 08:59", BERLIN)) == "outside working hours"
    assert work.is_working("anna", at("2024-03-04 09:00", BERLIN))  # 08:00 UTC, Monday
    assert work.is_working("anna", at("2024-03-04 17:59", BERLIN))
    assert work.why_not_working("anna", at("2024-03-04 18:00", BERLIN)) == "outside working hours"
    assert work.why_not_working("anna", at("2024-03-09 10:00", BERLIN)) == "outside working hours"  # Saturday


def test_an_agent_in_hours_who_has_not_clocked_in_does_not_work() -> None:
    work = WorkTime({"anna": OFFICE})
    assert work.why_not_working("anna", at("2024-03-04 10:00", BERLIN)) == "not clocked in"
    work.clock_in("anna")
    work.clock_out("anna")
    assert work.why_not_working("anna", at("2024-03-04 10:00", BERLIN)) == "not clocked in"


def test_clocking_in_can_be_made_optional() -> None:
    work = WorkTime({"anna": WorkSchedule.weekly("mon-fri", "09:00-18:00", clock_in_required=False)})
    assert work.is_working("anna", at("2024-03-04 10:00"))


def test_breaks_by_hand_recurring_and_one_off() -> None:
    work = clocked_in()
    work.start_break("anna")
    assert work.why_not_working("anna", at("2024-03-04 10:00", BERLIN)) == "on a break"
    work.end_break("anna")
    assert work.why_not_working("anna", at("2024-03-04 13:30", BERLIN)) == "on a scheduled break"
    work.schedule_break("anna", at("2024-03-04 15:00", BERLIN), at("2024-03-04 15:15", BERLIN))
    assert work.why_not_working("anna", at("2024-03-04 15:10", BERLIN)) == "on a scheduled break"
    assert work.is_working("anna", at("2024-03-04 15:15", BERLIN))


def test_next_change_is_the_next_moment_the_answer_flips() -> None:
    work = clocked_in()
    assert work.next_change("anna", at("2024-03-04 08:00", BERLIN)) == at("2024-03-04 09:00", BERLIN)
    assert work.next_change("anna", at("2024-03-04 10:00", BERLIN)) == at("2024-03-04 13:00", BERLIN)
    assert work.next_change("anna", at("2024-03-04 13:00", BERLIN)) == at("2024-03-04 14:00", BERLIN)
    assert work.next_change("anna", at("2024-03-04 14:00", BERLIN)) == at("2024-03-04 18:00", BERLIN)
    assert work.next_change("anna", at("2024-03-08 18:00", BERLIN)) == at("2024-03-11 09:00", BERLIN)  # Fri->Mon
    work.schedule_break("anna", at("2024-03-04 11:00", BERLIN), at("2024-03-04 11:30", BERLIN))
    assert work.next_change("anna", at("2024-03-04 10:00", BERLIN)) == at("2024-03-04 11:00", BERLIN)


def test_nothing_changes_by_the_clock_for_an_agent_who_has_not_clocked_in() -> None:
    work = WorkTime({"anna": OFFICE})
    assert work.next_change("anna", at("2024-03-04 08:00", BERLIN)) is None


def test_a_night_shift_runs_past_midnight() -> None:
    work = clocked_in(WorkSchedule.weekly("mon", "22:00-06:00", time_zone=BERLIN))
    assert work.is_working("anna", at("2024-03-04 23:00", BERLIN))
    assert work.is_working("anna", at("2024-03-05 05:59", BERLIN))  # Tuesday morning, Monday's shift
    assert not work.is_working("anna", at("2024-03-05 06:00", BERLIN))
    assert not work.is_working("anna", at("2024-03-05 23:00", BERLIN))


def test_a_span_with_equal_ends_is_the_whole_day() -> None:
    work = clocked_in(WorkSchedule(hours={6: ((time(0), time(0)),)}))
    assert work.is_working("anna", at("2024-03-10 00:00")) and work.is_working("anna", at("2024-03-10 23:59"))
    assert not work.is_working("anna", at("2024-03-11 00:00"))


def test_daylight_saving_moves_the_shift_start_in_utc() -> None:
    ny = WorkSchedule.weekly("mon-sun", "09:00-17:00", time_zone="America/New_York")
    work = clocked_in(ny)
    # 2024-03-10 is the day clocks go forward: 09:00 is 13:00 UTC, the day before 14:00 UTC
    assert work.next_change("anna", at("2024-03-09 23:00")) == at("2024-03-10 13:00")
    assert work.next_change("anna", at("2024-03-08 23:00")) == at("2024-03-09 14:00")


def test_weekly_reads_day_ranges_and_lists() -> None:
    schedule = WorkSchedule.weekly("mon-wed, fri, sat-sun", "08:00-12:00, 13:00-17:00")
    assert sorted(schedule.hours or {}) == [0, 1, 2, 4, 5, 6]
    assert (schedule.hours or {})[0] == ((time(8), time(12)), (time(13), time(17)))
    assert sorted(WorkSchedule.weekly("fri-mon").hours or {}) == [0, 4, 5, 6]


def test_an_unknown_time_zone_is_refused_at_configuration() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        WorkSchedule(time_zone="Mars/Olympus")


def test_what_agents_did_survives_a_restart() -> None:
    work = clocked_in()
    work.start_break("anna")
    work.schedule_break("anna", at("2024-03-04 15:00", BERLIN), at("2024-03-04 15:15", BERLIN))
    again = WorkTime({"anna": OFFICE})
    again.restore(work.snapshot())
    assert again.snapshot() == work.snapshot()
    assert again.why_not_working("anna", at("2024-03-04 10:00", BERLIN)) == "on a break"
