"""Open-channel chats on the pure conversation router: modes, idle time, responses."""

import pytest

from acd.core.conversation_model import (
    AgentPresenceChanged,
    AgentSettings,
    BreakStarted,
    ChannelQueue,
    ClockedIn,
    ClockedOut,
    ConversationAccepted,
    ConversationAnswered,
    ConversationClosed,
    ConversationRejected,
    ConversationTransferred,
    Offer,
    Withdraw,
)
from acd.core.model import Mode
from acd.core.work_time import WorkSchedule

from .test_conversations_harness import AGENTS, Desk, chat, offered_to, only, setup


def test_strict_offers_a_new_conversation_to_the_first_available_agent_in_list_order() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris", "clara"))))
    desk.send(AgentPresenceChanged("anna", online=False))
    out = desk.arrive("c1")
    assert only(out, Offer) == [Offer("c1", "telegram", ("boris",), 180.0)]
    considered = desk.records("considered", "c1")[0].detail
    assert considered["chosen"] == ["boris"] and considered["skipped"] == {"anna": "offline"}


def test_strict_every_conversation_starts_again_at_the_top_of_the_list() -> None:
    desk = Desk(setup(chat(Mode.STRICT)))
    firsts = []
    for n in range(3):
        firsts.append(offered_to(desk.arrive(f"c{n}"))[0])
        desk.send(ConversationAccepted(f"c{n}", firsts[-1][0]))
        desk.send(ConversationClosed(f"c{n}"))
    assert firsts == [("anna",)] * 3


def test_strict_with_a_limit_fills_agents_in_list_order() -> None:
    desk = Desk(setup(chat(Mode.STRICT, capacity=2)))
    offers = [offered_to(desk.arrive(f"c{n}"))[0][0] for n in range(6)]
    assert offers == ["anna", "anna", "boris", "boris", "clara", "clara"]


def test_evenly_offers_each_conversation_to_the_agent_least_recently_offered_in_this_queue() -> None:
    desk = Desk(setup(chat(Mode.EVENLY)))
    got = []
    for n in range(6):
        agent_id = offered_to(desk.arrive(f"c{n}"))[0][0]
        got.append(agent_id)
        desk.send(ConversationAccepted(f"c{n}", agent_id))
        desk.advance(1)
        desk.send(ConversationClosed(f"c{n}"))
    assert got == ["anna", "boris", "clara"] * 2


def test_evenly_spreads_a_burst_arriving_in_the_same_instant() -> None:
    desk = Desk(setup(chat(Mode.EVENLY)))
    got = [offered_to(desk.arrive(f"c{n}"))[0][0] for n in range(4)]
    assert got == ["anna", "boris", "clara", "anna"]


def test_evenly_counts_an_offer_nobody_answered() -> None:
    desk = Desk(setup(chat(Mode.EVENLY, idle_s=60)))
    desk.arrive("c1")  # anna
    desk.advance(60)  # anna did not respond: boris
    desk.send(ConversationAccepted("c1", "boris"))
    assert offered_to(desk.arrive("c2")) == [("clara",)]


def test_evenly_follows_members_changed_in_the_settings_and_offers_one_listed_twice_once() -> None:
    desk = Desk(setup(chat(Mode.EVENLY, members=("anna", "boris"))))
    assert [offered_to(desk.arrive(f"c{n}"))[0][0] for n in range(2)] == ["anna", "boris"]
    desk.apply(desk.router.reconfigure(setup(chat(Mode.EVENLY, members=("clara", "anna", "clara", "boris"))),
                                       desk.now))
    # clara was never offered one: first; then whoever waited longest, clara once per turn
    assert [offered_to(desk.arrive(f"c{n}"))[0][0] for n in range(2, 6)] == ["clara", "anna", "boris", "clara"]


def test_to_all_offers_every_available_agent_and_the_first_to_accept_takes_it() -> None:
    desk = Desk(setup(chat(Mode.ALL, members=("anna", "boris", "clara", "dmitri"))))
    desk.send(AgentPresenceChanged("clara", online=False))
    assert offered_to(desk.arrive("c1")) == [("anna", "boris", "dmitri")]
    out = desk.send(ConversationAccepted("c1", "boris"))
    assert only(out, Withdraw) == [Withdraw("c1", ("anna", "dmitri"), "taken by boris")]
    assert desk.holder("c1") == {"boris"}
    assert [desk.router.load(a) for a in ("anna", "boris", "dmitri")] == [0, 1, 0]
    late = desk.send(ConversationAccepted("c1", "anna"))
    assert only(late, Offer) == [] and desk.records("response_refused")[0].detail["reason"] == "taken by boris"


def test_to_all_an_agent_who_comes_online_joins_the_standing_offer() -> None:
    desk = Desk(setup(chat(Mode.ALL)))
    desk.send(AgentPresenceChanged("clara", online=False))
    desk.arrive("c1")
    out = desk.send(AgentPresenceChanged("clara", online=True))
    assert only(out, Offer) == [Offer("c1", "telegram", ("clara",), 180.0)]
    assert desk.holder("c1") == {"anna", "boris", "clara"}


def test_to_all_offer_stays_with_everyone_after_the_idle_time() -> None:
    desk = Desk(setup(chat(Mode.ALL, idle_s=60)))
    desk.arrive("c1")
    out = desk.advance(300)
    assert only(out, Offer) == [] and only(out, Withdraw) == []
    assert desk.holder("c1") == {"anna", "boris", "clara"}
    assert len(desk.records("no_response", "c1")) == 1


def test_to_all_one_agent_rejecting_leaves_the_offer_with_the_others() -> None:
    desk = Desk(setup(chat(Mode.ALL)))
    desk.arrive("c1")
    out = desk.send(ConversationRejected("c1", "anna"))
    assert only(out, Withdraw) == [Withdraw("c1", ("anna",), "rejected")]
    assert desk.holder("c1") == {"boris", "clara"}
    assert desk.records("offer_withdrawn", "c1")[0].detail == {"agents": ["anna"], "reason": "rejected"}


def test_idle_conversation_passes_to_next_agent_after_idle_time() -> None:
    desk = Desk(setup(chat(Mode.STRICT, idle_s=120)))
    desk.arrive("c1")
    assert only(desk.advance(119.9), Offer) == []
    out = desk.advance(0.1)
    assert only(out, Withdraw) == [Withdraw("c1", ("anna",), "idle timeout")]
    assert offered_to(out) == [("boris",)]
    returned = desk.records("returned_to_queue", "c1")[0].detail
    assert returned == {"agents": ["anna"], "reason": "idle timeout"}


def test_idle_time_walks_the_list_then_starts_a_new_pass() -> None:
    desk = Desk(setup(chat(Mode.STRICT, idle_s=60)))
    desk.arrive("c1")
    walked = [offered_to(desk.advance(60))[0][0] for _ in range(4)]
    assert walked == ["boris", "clara", "anna", "boris"]
    assert desk.router.conversations["c1"].passes == 1


def test_idle_time_never_keeps_the_offer_with_the_agent() -> None:
    desk = Desk(setup(chat(Mode.STRICT, idle_s=None)))
    out = desk.arrive("c1")
    assert only(out, Offer)[0].idle_s is None and desk.timers == {}
    assert desk.advance(24 * 3600) == []
    assert desk.holder("c1") == {"anna"}


def test_accepting_stops_the_idle_timer() -> None:
    desk = Desk(setup(chat(Mode.STRICT, idle_s=60)))
    desk.arrive("c1")
    desk.advance(30)
    desk.send(ConversationAccepted("c1", "anna"))
    assert desk.timers == {}
    assert desk.advance(600) == []
    assert desk.records("accepted", "c1")[0].detail == {"agent": "anna", "how": "accepted", "waited_s": 30.0}


def test_first_answer_takes_the_conversation_and_stops_the_idle_timer() -> None:
    desk = Desk(setup(chat(Mode.STRICT, idle_s=60)))
    desk.arrive("c1")
    desk.advance(20)
    desk.send(ConversationAnswered("c1", "anna"))
    desk.advance(5)
    desk.send(ConversationAnswered("c1", "anna"))  # later messages are not first answers
    assert desk.timers == {} and desk.router.conversations["c1"].agent == "anna"
    assert [r.detail["response_s"] for r in desk.records("answered", "c1")] == [20.0]


def test_idle_timeout_with_nobody_else_keeps_the_conversation_with_the_same_agent() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",), idle_s=60)))
    desk.arrive("c1")
    out = desk.advance(60)
    assert only(out, Withdraw) == [] and only(out, Offer) == []
    assert desk.records("kept", "c1")[0].detail["reason"] == "idle timeout, nobody else can take it"
    assert "conv-idle|c1|1" in desk.timers  # a new idle period runs


def test_rejected_conversation_goes_to_the_next_agent() -> None:
    desk = Desk(setup(chat(Mode.STRICT)))
    desk.arrive("c1")
    out = desk.send(ConversationRejected("c1", "anna"))
    assert only(out, Withdraw) == [Withdraw("c1", ("anna",), "rejected")]
    assert offered_to(out) == [("boris",)]
    assert desk.records("returned_to_queue", "c1")[0].detail == {"agents": ["anna"], "reason": "rejected"}


def test_a_conversation_rejected_by_the_only_agent_waits_and_comes_back_at_the_next_change() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",))))
    desk.arrive("c1")
    desk.arrive("c2")
    out = desk.send(ConversationRejected("c1", "anna"))
    assert only(out, Offer) == []  # not straight back to the agent who skipped it
    assert desk.router.waiting("telegram") == ["c1"]
    desk.send(ConversationAccepted("c2", "anna"))
    out = desk.send(ConversationClosed("c2"))
    assert offered_to(out) == [("anna",)]


def test_a_conversation_rejected_by_the_only_agent_comes_back_after_the_idle_time_if_nothing_changes() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",), idle_s=120)))
    desk.arrive("c1")
    desk.send(ConversationRejected("c1", "anna"))
    assert only(desk.advance(119), Offer) == []
    assert offered_to(desk.advance(1)) == [("anna",)]


def test_agent_going_offline_gives_back_offers_but_keeps_accepted_conversations() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris"), capacity=2)))
    desk.arrive("c1")
    desk.send(ConversationAccepted("c1", "anna"))
    desk.arrive("c2")  # offered to anna, not yet accepted
    out = desk.send(AgentPresenceChanged("anna", online=False))
    assert only(out, Withdraw) == [Withdraw("c2", ("anna",), "agent went offline")]
    assert offered_to(out) == [("boris",)]
    assert desk.holder("c1") == {"anna"} and desk.router.load("anna") == 1


def test_every_return_to_the_queue_is_logged_with_its_reason() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris", "clara", "dmitri"), idle_s=60)))
    desk.arrive("c1")
    desk.advance(60)  # anna: idle timeout -> boris
    desk.send(AgentPresenceChanged("boris", online=False))  # -> clara
    desk.send(BreakStarted("clara"))  # a pause stops even an agent whose work time is not tracked
    desk.send(ConversationRejected("c1", "dmitri"))  # -> anna
    desk.send(ConversationAccepted("c1", "anna"))
    desk.send(ConversationTransferred("c1", by="anna", to_queue="telegram"))  # -> the next of that queue
    desk.send(ClockedIn("anna"))
    reasons = [(r.detail["agents"], r.detail["reason"]) for r in desk.records("returned_to_queue", "c1")]
    assert reasons == [(["anna"], "idle timeout"), (["boris"], "agent went offline"),
                       (["clara"], "agent not working (on a break)"), (["dmitri"], "rejected"),
                       (["anna"], "transferred")]
    assert desk.holder("c1") == {"dmitri"}


def test_work_time_changes_give_back_offers_with_the_reason() -> None:
    always = WorkSchedule(hours=None)
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris", "clara")),
                      schedules={a: always for a in AGENTS}))
    for agent_id in ("anna", "boris", "clara"):
        desk.send(ClockedIn(agent_id))
    desk.arrive("c1")
    desk.send(BreakStarted("anna"))
    desk.send(ClockedOut("boris"))
    reasons = [r.detail["reason"] for r in desk.records("returned_to_queue", "c1")]
    assert reasons == ["agent not working (on a break)", "agent not working (not clocked in)"]
    assert desk.holder("c1") == {"clara"}


def test_availability_check_off_offers_to_agents_offline_or_not_working() -> None:
    desk = Desk(setup(chat(Mode.STRICT, check_availability=False)))
    desk.send(AgentPresenceChanged("anna", online=False))
    assert offered_to(desk.arrive("c1")) == [("anna",)]
    desk.send(AgentPresenceChanged("anna", online=True))
    assert only(desk.send(AgentPresenceChanged("anna", online=False)), Withdraw) == []


def test_unknown_agents_in_the_list_are_skipped() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("ghost", "anna"))))
    desk.arrive("c1")
    assert desk.records("considered", "c1")[0].detail["skipped"] == {"ghost": "unknown agent"}
    assert desk.holder("c1") == {"anna"}


def test_a_queue_rejects_settings_outside_the_allowed_ranges() -> None:
    with pytest.raises(ValueError):
        ChannelQueue("q", "Q", ("anna",), idle_s=30)  # less than a minute
    with pytest.raises(ValueError):
        ChannelQueue("q", "Q", ("anna",), idle_s=13 * 3600)
    with pytest.raises(ValueError):
        ChannelQueue("q", "Q", ("anna",), capacity=0)
    with pytest.raises(ValueError):
        AgentSettings(capacity=1001)
    assert ChannelQueue("q", "Q", ("anna",), idle_s=None).idle_s is None


def test_a_conversation_delivered_twice_is_handled_once_and_an_unknown_queue_is_logged() -> None:
    desk = Desk(setup(chat(Mode.STRICT)))
    desk.arrive("c1")
    assert desk.arrive("c1") == []
    out = desk.arrive("c2", queue="nope")
    assert only(out, Offer) == [] and desk.records("unrouted", "c2")[0].detail["queue"] == "nope"


def test_every_step_of_a_conversation_is_on_its_timeline() -> None:
    desk = Desk(setup(chat(Mode.STRICT, idle_s=60)))
    desk.arrive("c1")
    desk.advance(60)
    desk.send(ConversationAnswered("c1", "boris"))
    desk.send(ConversationClosed("c1", by="client"))
    kinds = [r.kind for r in desk.records(item="c1")]
    assert kinds == ["arrived", "considered", "offered", "no_response", "returned_to_queue", "considered",
                     "offered", "accepted", "answered", "closed"]
    assert desk.records("closed", "c1")[0].detail["by"] == "client"
    assert desk.router.load("boris") == 0
