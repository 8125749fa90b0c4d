"""Today's figures per queue group, folded from the records the real router emits:
answered within / after the target, short and long abandons, missed calls by each
missed-call action, a forward to another group, and the service level's formula."""

from __future__ import annotations

from acd.core.commands import Record
from acd.core.events import CallArrived, CallerHungUp, MemberAnswered, MemberRinging
from acd.core.model import MissedAction, MissedCallPolicy, Mode
from acd.wallboard import DayFigures
from tests.core.harness import Harness, config, group

TARGET_S = 20.0
DAY = 0.0  # the harness's clock starts at 1,000 s: all of it is "today"


def folded(h: Harness, figures: DayFigures | None = None) -> DayFigures:
    figures = figures or DayFigures(DAY)
    for r in h.log:
        if isinstance(r, Record):
            figures.call_record(r.call_id, r.at, r.kind, r.detail, TARGET_S)
    return figures


def answered_after(h: Harness, call_id: str, seconds: float, agent: str = "anna") -> None:
    h.send(CallArrived(call_id, "5000", "15550001"))
    h.send(MemberRinging(call_id, 1, agent))
    h.now += seconds
    h.send(MemberAnswered(call_id, 1, agent))
    h.now += 30
    h.send(CallerHungUp(call_id))


def abandoned_after(h: Harness, call_id: str, seconds: float) -> None:
    h.send(CallArrived(call_id, "5000", "15550002"))
    h.send(MemberRinging(call_id, 1, "anna"))
    h.now += seconds
    h.send(CallerHungUp(call_id))


def test_answers_within_and_after_the_target_give_the_service_level_and_the_asa() -> None:
    h = Harness(config(group(Mode.ALL, rings=7, ring_seconds=10)))
    answered_after(h, "c1", 5)
    answered_after(h, "c2", 15)
    answered_after(h, "c3", 25)  # after the 20 s target
    day = folded(h).group("sales")
    assert (day.offered, day.answered, day.answered_within) == (3, 3, 2)
    assert day.service_level() == 66.7
    assert day.asa_s() == 15.0


def test_a_short_abandon_counts_in_neither_part_of_the_service_level() -> None:
    h = Harness(config(group(Mode.ALL, rings=7, ring_seconds=10)))
    answered_after(h, "c1", 5)
    abandoned_after(h, "c2", 10)  # within the target: a short abandon
    abandoned_after(h, "c3", 30)  # after the target: counts against the service level
    day = folded(h).group("sales")
    assert (day.answered, day.abandoned, day.abandoned_after_target, day.missed) == (1, 2, 1, 0)
    assert day.service_level() == 50.0  # 1 / (1 answered + 1 abandoned late)


def test_voicemail_is_missed_and_counts_against_the_service_level() -> None:
    h = Harness(config(group(Mode.ALL)))  # 3 rings of 5 s, then voicemail
    h.send(CallArrived("c1", "5000", "15550001"))
    h.send(MemberRinging("c1", 1, "anna"))
    h.advance(16)
    h.now += 20
    h.send(CallerHungUp("c1"))  # leaves the message and hangs up: still missed, not abandoned
    day = folded(h).group("sales")
    assert (day.offered, day.answered, day.abandoned, day.missed) == (1, 0, 0, 1)
    assert day.service_level() == 0.0


def test_hanging_up_while_the_forward_rings_outside_is_missed_not_abandoned() -> None:
    h = Harness(config(group(Mode.ALL, missed=MissedCallPolicy(MissedAction.FORWARD_NUMBER, number="+4930111"))))
    h.send(CallArrived("c1", "5000", "15550001"))
    h.send(MemberRinging("c1", 1, "anna"))
    h.advance(16)
    h.send(MemberAnswered("c1", 2, ""))  # answered outside: not an answer of the group
    h.send(CallerHungUp("c1"))
    day = folded(h).group("sales")
    assert (day.answered, day.abandoned, day.missed) == (0, 0, 1)


def test_a_forward_to_another_group_is_missed_by_the_first_and_answered_by_the_second() -> None:
    first = group(Mode.ALL, id="sales", members=("anna",),
                  missed=MissedCallPolicy(MissedAction.FORWARD_GROUP, group="support"))
    second = group(Mode.ALL, id="support", members=("boris",))
    h = Harness(config(first, second))
    h.send(CallArrived("c1", "5000", "15550001"))
    h.send(MemberRinging("c1", 1, "anna"))
    h.advance(16)
    h.send(MemberRinging("c1", 2, "boris"))
    h.now += 4
    h.send(MemberAnswered("c1", 2, "boris"))
    figures = folded(h)
    assert (figures.group("sales").offered, figures.group("sales").missed) == (1, 1)
    support = figures.group("support")
    assert (support.offered, support.answered, support.answered_within) == (1, 1, 1)
    rerouted_at = h.records("rerouted")[0].at
    assert support.asa_s() == round(h.now - rerouted_at, 1) < h.now - 1000  # from arrival at this group


def test_a_caller_kept_waiting_and_then_answered_is_answered_not_missed() -> None:
    h = Harness(config(group(Mode.ALL, members=("anna",),
                             missed=MissedCallPolicy(MissedAction.KEEP_WAITING, retry_s=5, max_wait_s=300))))
    h.send(CallArrived("c1", "5000", "15550001"))
    h.send(MemberRinging("c1", 1, "anna"))
    h.advance(16)  # rang out: keeps waiting, rung again
    h.advance(6)
    attempt = h.router.calls["c1"].attempt
    h.send(MemberRinging("c1", attempt, "anna"))
    h.send(MemberAnswered("c1", attempt, "anna"))
    h.send(CallerHungUp("c1"))
    day = folded(h).group("sales")
    assert (day.answered, day.missed, day.abandoned) == (1, 0, 0)
    assert day.answered_within == 0  # 22 s: after the target


def test_a_caller_kept_waiting_who_hangs_up_is_abandoned() -> None:
    h = Harness(config(group(Mode.ALL, members=("anna",),
                             missed=MissedCallPolicy(MissedAction.KEEP_WAITING, retry_s=5, max_wait_s=300))))
    h.send(CallArrived("c1", "5000", "15550001"))
    h.send(MemberRinging("c1", 1, "anna"))
    h.advance(40)
    h.send(CallerHungUp("c1"))
    day = folded(h).group("sales")
    assert (day.answered, day.missed, day.abandoned, day.abandoned_after_target) == (0, 0, 1, 1)


def test_calls_before_the_day_started_are_not_counted() -> None:
    h = Harness(config(group(Mode.ALL, rings=7, ring_seconds=10)))
    answered_after(h, "c1", 5)
    h.now += 1000
    start = h.now
    answered_after(h, "c2", 5)
    day = folded(h, DayFigures(start)).group("sales")
    assert (day.offered, day.answered) == (1, 1)


def test_no_call_counted_yet_means_no_service_level() -> None:
    assert DayFigures(DAY).group("sales").service_level() is None


def test_chats_first_response_time_is_the_mean_of_todays_first_responses() -> None:
    figures = DayFigures(DAY)
    figures.chat_record("k1", 10, "arrived", {"queue": "web"})
    figures.chat_record("k2", 12, "arrived", {"queue": "web"})
    figures.chat_record("k1", 40, "answered", {"agent": "anna", "response_s": 30.0})
    figures.chat_record("k2", 22, "answered", {"agent": "ben", "response_s": 10.0})
    figures.chat_record("k1", 41, "answered", {"agent": "anna", "response_s": 31.0})  # not a first response
    assert figures.chat("web").arrived == 2
    assert figures.chat("web").first_response_s() == 20.0
