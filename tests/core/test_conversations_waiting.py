"""Limits, the waiting line, supervisor alerts, recognised clients and hand transfers."""

from acd.core.conversation_model import (
    AgentPresenceChanged,
    AgentSettings,
    AlertSupervisors,
    BreakEnded,
    BreakStarted,
    ClockedIn,
    ConversationAccepted,
    ConversationClosed,
    ConversationConfig,
    ConversationRejected,
    ConversationTransferred,
    Offer,
    ReportConversationTransfer,
    Withdraw,
)
from acd.core.model import Mode
from acd.core.work_time import WorkSchedule

from .test_conversations_harness import AGENTS, Desk, chat, offered_to, only, setup


def test_when_everyone_is_full_conversations_wait_in_arrival_order_until_someone_frees_up() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris"), capacity=1)))
    for n in range(1, 5):
        desk.arrive(f"c{n}")
    assert desk.router.waiting("telegram") == ["c3", "c4"]
    assert desk.records("waiting", "c4")[0].detail == {"queue": "telegram", "ahead": 1}
    desk.send(ConversationAccepted("c2", "boris"))
    out = desk.send(ConversationClosed("c2"))
    assert only(out, Offer) == [Offer("c3", "telegram", ("boris",), 180.0)]
    assert desk.router.waiting("telegram") == ["c4"]


def test_an_offer_not_yet_accepted_counts_against_the_limit() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",), capacity=2)))
    desk.arrive("c1")
    desk.arrive("c2")
    assert only(desk.arrive("c3"), Offer) == []
    assert desk.router.load("anna") == 2


def test_an_agents_own_limit_overrides_the_queue_default() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris"), capacity=5), capacity={"anna": 1}))
    got = [offered_to(desk.arrive(f"c{n}"))[0][0] for n in range(3)]
    assert got == ["anna", "boris", "boris"]
    assert desk.records("considered", "c2")[0].detail["skipped"] == {"anna": "full (1 of 1)"}


def test_the_limit_counts_conversations_of_every_queue() -> None:
    desk = Desk(setup(chat(id="telegram", members=("anna", "boris")), chat(id="whatsapp", members=("anna", "boris")),
                      capacity={"anna": 1}))
    desk.arrive("c1", queue="telegram")
    assert offered_to(desk.arrive("c2", queue="whatsapp")) == [("boris",)]


def test_raising_a_limit_assigns_waiting_conversations_at_once() -> None:
    cfg = setup(chat(Mode.STRICT, members=("anna",), capacity=1))
    desk = Desk(cfg)
    desk.arrive("c1")
    desk.arrive("c2")
    raised = ConversationConfig(agents={**cfg.agents, "anna": AgentSettings(capacity=3)}, queues=cfg.queues)
    out = desk.router.reconfigure(raised, desk.now)
    desk.apply(out)
    assert only(out, Offer) == [Offer("c2", "telegram", ("anna",), 180.0)]


def test_clocking_in_or_ending_a_break_assigns_waiting_conversations_at_once() -> None:
    always = WorkSchedule(hours=None)
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",)), schedules={a: always for a in AGENTS}))
    desk.arrive("c1")
    assert desk.router.waiting("telegram") == ["c1"]
    assert desk.records("considered", "c1")[0].detail["skipped"] == {"anna": "not working (not clocked in)"}
    assert offered_to(desk.send(ClockedIn("anna"))) == [("anna",)]
    desk.send(BreakStarted("anna"))  # gives c1 back: nobody else, so it waits
    assert desk.router.waiting("telegram") == ["c1"]
    assert offered_to(desk.send(BreakEnded("anna"))) == [("anna",)]


def test_a_new_conversation_does_not_jump_the_line() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",), capacity=1)))
    desk.arrive("c1")
    desk.arrive("c2")
    desk.send(ConversationClosed("c1"))  # anna frees up: c2 goes first
    desk.arrive("c3")
    assert desk.holder("c2") == {"anna"} and desk.router.waiting("telegram") == ["c3"]


def test_a_conversation_given_back_goes_to_the_head_of_the_line() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris"), capacity=1)))
    desk.arrive("c1")  # anna
    desk.arrive("c2")  # boris
    desk.arrive("c3")  # waits
    desk.send(ConversationAccepted("c2", "boris"))
    desk.send(AgentPresenceChanged("anna", online=False))  # c1 comes back: boris is full
    assert desk.router.waiting("telegram") == ["c1", "c3"]


def test_closing_a_waiting_conversation_takes_it_out_of_the_line() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",), capacity=1)))
    desk.arrive("c1")
    desk.arrive("c2")
    desk.arrive("c3")
    desk.send(ConversationClosed("c2", by="client"))
    assert desk.router.waiting("telegram") == ["c3"]
    out = desk.send(ConversationClosed("c1"))
    assert offered_to(out) == [("anna",)] and only(out, Offer)[0].conversation_id == "c3"


def test_supervisors_are_alerted_once_when_nobody_can_take_waiting_conversations_and_once_when_it_recovers() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris"), capacity=1)))
    desk.send(AgentPresenceChanged("boris", online=False))
    desk.arrive("c1")
    assert only(desk.log, AlertSupervisors) == []  # anna took it: nobody waits
    for n in range(2, 6):
        desk.arrive(f"c{n}")
    alerts = only(desk.log, AlertSupervisors)
    assert [a.kind for a in alerts] == ["nobody_available"]
    assert alerts[0].detail == {"waiting": 1, "members": {"anna": "full (1 of 1)", "boris": "offline"}}
    desk.send(ConversationClosed("c1"))  # anna takes c2 at once: still nobody for c3..c5
    assert len(only(desk.log, AlertSupervisors)) == 1
    desk.send(AgentPresenceChanged("boris", online=True))  # boris takes c3; c4, c5 wait
    assert len(only(desk.log, AlertSupervisors)) == 1
    desk.send(ConversationClosed("c2"))
    desk.send(ConversationClosed("c3"))
    assert [a.kind for a in only(desk.log, AlertSupervisors)] == ["nobody_available", "recovered"]


def test_a_recognised_client_goes_to_the_owner_first_even_if_not_in_the_queue() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris"))))
    out = desk.arrive("c1", owner="dmitri")
    assert offered_to(out) == [("dmitri",)]
    assert desk.records("considered", "c1")[0].detail == {"rule": "client's owner", "chosen": ["dmitri"]}


def test_an_unavailable_owner_falls_back_to_the_queue_distribution() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris"))))
    desk.send(AgentPresenceChanged("dmitri", online=False))
    assert offered_to(desk.arrive("c1", owner="dmitri")) == [("anna",)]
    detail = desk.records("considered", "c1")[0].detail
    assert detail["owner"] == {"agent": "dmitri", "skipped": "offline"}


def test_an_owner_who_does_not_respond_passes_the_client_to_the_queue() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris"), idle_s=60)))
    desk.arrive("c1", owner="boris")
    assert offered_to(desk.advance(60)) == [("anna",)]
    assert offered_to(desk.advance(60)) == [("boris",)]  # the list, in order, skipping no one


def test_an_owner_serves_their_client_even_while_others_wait() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",), capacity=1)))
    desk.arrive("c1")
    desk.arrive("c2")
    assert offered_to(desk.arrive("c3", owner="clara")) == [("clara",)]


def test_with_owner_first_off_a_recognised_client_is_distributed_like_anyone() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris"), owner_first=False)))
    assert offered_to(desk.arrive("c1", owner="boris")) == [("anna",)]


def test_a_hand_transfer_to_an_agent_offers_it_to_them_and_reports_it_for_the_crm() -> None:
    desk = Desk(setup(chat(Mode.STRICT)))
    desk.arrive("c1", client="tg:42")
    desk.send(ConversationAccepted("c1", "anna"))
    out = desk.send(ConversationTransferred("c1", by="anna", to_agent="clara"))
    assert only(out, Withdraw) == [Withdraw("c1", ("anna",), "transferred")]
    assert offered_to(out) == [("clara",)]
    assert only(out, ReportConversationTransfer) == [ReportConversationTransfer("c1", "tg:42", "anna", "clara", "anna")]
    assert desk.router.load("anna") == 0
    out = desk.send(ConversationAccepted("c1", "clara"))
    assert desk.router.conversations["c1"].agent == "clara"


def test_a_hand_transfer_ignores_the_targets_limit_and_availability_but_notes_them() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna", "boris")), capacity={"boris": 1}))
    desk.arrive("c1")
    desk.send(ConversationAccepted("c1", "anna"))
    desk.arrive("c2", owner="boris")
    desk.send(ConversationTransferred("c1", by="supervisor", to_agent="boris"))
    assert desk.holder("c1") == {"boris"} and desk.router.load("boris") == 2
    assert desk.records("transfer_note", "c1")[0].detail == {"agent": "boris", "note": "full (1 of 1)"}


def test_a_transferred_conversation_nobody_answers_returns_to_its_queue() -> None:
    desk = Desk(setup(chat(Mode.STRICT, idle_s=60)))
    desk.arrive("c1")
    desk.send(ConversationAccepted("c1", "anna"))
    desk.send(ConversationTransferred("c1", by="anna", to_agent="dmitri"))
    out = desk.advance(60)
    assert only(out, Withdraw) == [Withdraw("c1", ("dmitri",), "idle timeout")]
    assert offered_to(out) == [("boris",)]  # anna already had it in this pass


def test_a_transfer_to_another_queue_goes_to_that_queues_distribution() -> None:
    desk = Desk(setup(chat(id="telegram", members=("anna", "boris")), chat(id="vip", members=("anna", "clara"))))
    desk.arrive("c1")
    desk.send(ConversationAccepted("c1", "anna"))
    out = desk.send(ConversationTransferred("c1", by="anna", to_queue="vip"))
    assert offered_to(out) == [("clara",)]  # not straight back to anna
    assert only(out, ReportConversationTransfer) == []
    assert only(out, Offer)[0].queue_id == "vip"
    assert desk.records("returned_to_queue", "c1")[0].detail == {"agents": ["anna"], "reason": "transferred",
                                                                  "queue": "vip"}


def test_a_transfer_to_an_unknown_target_is_refused_and_changes_nothing() -> None:
    desk = Desk(setup(chat(Mode.STRICT)))
    desk.arrive("c1")
    assert only(desk.send(ConversationTransferred("c1", to_agent="ghost")), Withdraw) == []
    assert only(desk.send(ConversationTransferred("c1", to_queue="nope")), Withdraw) == []
    assert only(desk.send(ConversationTransferred("c1", to_agent="boris", to_queue="telegram")), Withdraw) == []
    assert [r.detail["reason"] for r in desk.records("transfer_refused")] == [
        "unknown agent", "no such chat queue", "name one target: an agent or a queue"]
    assert desk.holder("c1") == {"anna"}


def test_a_waiting_conversation_can_be_transferred_to_an_agent_by_a_supervisor() -> None:
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",), capacity=1)))
    desk.arrive("c1")
    desk.arrive("c2")
    out = desk.send(ConversationTransferred("c2", by="supervisor", to_agent="boris"))
    assert offered_to(out) == [("boris",)] and desk.router.waiting("telegram") == []
    assert only(out, ReportConversationTransfer)[0].from_agent is None


def test_to_all_with_a_limit_offers_the_next_waiting_conversation_when_one_is_taken() -> None:
    desk = Desk(setup(chat(Mode.ALL, members=("anna", "boris"), capacity=1)))
    desk.arrive("c1")
    desk.arrive("c2")  # everyone holds c1's offer: c2 waits
    assert desk.router.waiting("telegram") == ["c2"]
    out = desk.send(ConversationAccepted("c1", "anna"))
    assert only(out, Withdraw) == [Withdraw("c1", ("boris",), "taken by anna")]
    assert only(out, Offer) == [Offer("c2", "telegram", ("boris",), 180.0)]


def test_a_rejection_by_one_agent_of_many_moves_on_without_the_line_noticing() -> None:
    desk = Desk(setup(chat(Mode.EVENLY, members=("anna", "boris"), capacity=1)))
    desk.arrive("c1")  # anna
    desk.arrive("c2")  # boris
    desk.arrive("c3")  # waits
    out = desk.send(ConversationRejected("c1", "anna"))
    # c1 cannot go to boris (full); anna is free again but just skipped c1: she gets c3
    assert only(out, Offer) == [Offer("c3", "telegram", ("anna",), 180.0)]
    assert desk.router.waiting("telegram") == ["c1"]


def test_closing_a_conversation_offered_to_all_withdraws_it_from_everyone() -> None:
    desk = Desk(setup(chat(Mode.ALL)))
    desk.arrive("c1")
    out = desk.send(ConversationClosed("c1", by="client"))
    assert only(out, Withdraw) == [Withdraw("c1", ("anna", "boris", "clara"), "closed")]
    assert all(desk.router.load(a) == 0 for a in AGENTS) and desk.timers == {}


def test_an_agent_removed_from_the_configuration_gives_back_their_offers() -> None:
    cfg = setup(chat(Mode.STRICT, members=("anna", "boris")))
    desk = Desk(cfg)
    desk.arrive("c1")
    smaller = ConversationConfig(agents={a: s for a, s in cfg.agents.items() if a != "anna"},
                                 queues={"telegram": chat(Mode.STRICT, members=("boris",))})
    out = desk.router.reconfigure(smaller, desk.now)
    desk.apply(out)
    assert only(out, Withdraw) == [Withdraw("c1", ("anna",), "agent removed from the configuration")]
    assert desk.holder("c1") == {"boris"}
