"""A chat queue's own options on the pure router: working hours and what the customer
is told (``TellCustomer``), and whether a hand transfer moves the CRM owner."""

from acd.core.conversation_model import (
    ConversationAccepted,
    ConversationTransferred,
    Offer,
    ReportConversationTransfer,
    TellCustomer,
)
from acd.core.model import Mode
from acd.core.work_time import WorkSchedule

from .test_conversations_harness import Desk, at, chat, only, setup

OFFICE = WorkSchedule.weekly("mon-fri", "09:00-18:00", time_zone="Europe/Berlin", clock_in_required=False)


def test_a_conversation_outside_the_channels_hours_gets_the_auto_reply_and_still_enters_the_queue() -> None:
    queue = chat(Mode.STRICT, hours=OFFICE, auto_reply="We are closed; we answer from 9:00.")
    desk = Desk(setup(queue), now=at("2024-03-04 20:00", "Europe/Berlin"))  # Monday evening
    out = desk.arrive("c1")
    assert only(out, TellCustomer) == [TellCustomer("c1", "We are closed; we answer from 9:00.", "outside_hours")]
    assert only(out, Offer) == [Offer("c1", "telegram", ("anna",), 180.0)]
    assert desk.records("outside_hours", "c1")[0].detail == {"queue": "telegram", "auto_reply": True}
    assert desk.router.conversations["c1"].outside_hours


def test_inside_the_channels_hours_the_customer_gets_the_waiting_message_not_the_auto_reply() -> None:
    queue = chat(Mode.STRICT, hours=OFFICE, auto_reply="Closed.", waiting_message="An agent will answer shortly.")
    desk = Desk(setup(queue), now=at("2024-03-04 10:00", "Europe/Berlin"))
    out = desk.arrive("c1")
    assert only(out, TellCustomer) == [TellCustomer("c1", "An agent will answer shortly.", "waiting")]
    assert not desk.records("outside_hours") and not desk.router.conversations["c1"].outside_hours


def test_outside_hours_without_an_auto_reply_the_conversation_is_marked_and_nothing_is_sent() -> None:
    desk = Desk(setup(chat(Mode.STRICT, hours=OFFICE)), now=at("2024-03-09 11:00", "Europe/Berlin"))  # Saturday
    out = desk.arrive("c1")
    assert only(out, TellCustomer) == []
    assert desk.records("outside_hours", "c1")[0].detail == {"queue": "telegram", "auto_reply": False}


def test_a_channel_without_hours_is_always_open() -> None:
    desk = Desk(setup(chat(Mode.STRICT, auto_reply="Closed.")), now=at("2024-03-09 23:00"))
    assert only(desk.arrive("c1"), TellCustomer) == []


def test_a_hand_transfer_moves_the_owner_when_the_queue_says_so() -> None:
    desk = Desk(setup(chat(Mode.STRICT)))
    desk.arrive("c1")
    desk.send(ConversationAccepted("c1", "anna"))
    out = desk.send(ConversationTransferred("c1", by="anna", to_agent="boris"))
    assert only(out, ReportConversationTransfer) == [ReportConversationTransfer("c1", "tg:c1", "anna", "boris", "anna")]


def test_a_hand_transfer_leaves_the_owner_alone_when_the_queue_says_not_to() -> None:
    desk = Desk(setup(chat(Mode.STRICT, owner_follows_transfer=False)))
    desk.arrive("c1")
    desk.send(ConversationAccepted("c1", "anna"))
    out = desk.send(ConversationTransferred("c1", by="anna", to_agent="boris"))
    assert only(out, ReportConversationTransfer) == []
    assert only(out, Offer) == [Offer("c1", "telegram", ("boris",), 180.0)]
    assert desk.records("transferred", "c1")[0].detail["owner_follows"] is False


def test_the_outside_hours_mark_survives_a_restart() -> None:
    from acd.core.conversations import ConversationRouter

    config = setup(chat(Mode.STRICT, hours=OFFICE))
    now = at("2024-03-04 20:00", "Europe/Berlin")
    desk = Desk(config, now=now)
    desk.arrive("c1")
    router, _ = ConversationRouter.restore(config, desk.router.snapshot(), now + 5)
    assert router.conversations["c1"].outside_hours
