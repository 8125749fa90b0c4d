"""Mailboxes and CRM web forms: assigned at once, in turn, and turned into leads."""

from acd.core.conversation_model import (
    AssignItem,
    BreakStarted,
    ChannelKind,
    ChannelQueue,
    ClockedIn,
    CreateLead,
    EmailReceived,
    FormSubmitted,
    Offer,
)
from acd.core.work_time import WorkSchedule

from .test_conversations_harness import AGENTS, Desk, at, only, setup

MAILBOX = ChannelQueue("sales@", "Sales mailbox", ("anna", "boris", "clara"), kind=ChannelKind.EMAIL)
FORM = ChannelQueue("quote", "Quote request form", ("anna", "boris", "clara"), kind=ChannelKind.FORM)
OFFICE = WorkSchedule.weekly("mon-fri", "09:00-18:00", breaks="13:00-14:00")


def assignees(desk: Desk) -> list[str | None]:
    return [c.agent_id for c in only(desk.log, AssignItem)]


def test_an_email_from_a_known_client_goes_to_the_clients_owner_without_a_new_lead() -> None:
    desk = Desk(setup(MAILBOX))
    out = desk.send(EmailReceived("m1", "sales@", "ivan@example.com", owner_agent="dmitri"))
    assert only(out, AssignItem) == [AssignItem("m1", "sales@", "dmitri", "client's owner")]
    assert only(out, CreateLead) == [] and only(out, Offer) == []


def test_an_email_from_a_known_client_goes_to_the_owner_even_off_shift() -> None:
    desk = Desk(setup(MAILBOX, schedules={"dmitri": OFFICE}))  # dmitri has not clocked in
    desk.send(EmailReceived("m1", "sales@", "ivan@example.com", owner_agent="dmitri"))
    assert assignees(desk) == ["dmitri"]


def test_emails_from_new_senders_go_in_turn_down_the_list_and_become_leads() -> None:
    desk = Desk(setup(MAILBOX))
    for n in range(4):
        desk.send(EmailReceived(f"m{n}", "sales@", f"new{n}@example.com"))
    assert assignees(desk) == ["anna", "boris", "clara", "anna"]
    leads = only(desk.log, CreateLead)
    assert leads[1] == CreateLead("m1", "sales@", ChannelKind.EMAIL, "new1@example.com", "boris")


def test_a_known_client_does_not_move_the_turn() -> None:
    desk = Desk(setup(MAILBOX))
    desk.send(EmailReceived("m1", "sales@", "new@example.com"))
    desk.send(EmailReceived("m2", "sales@", "ivan@example.com", owner_agent="clara"))
    desk.send(EmailReceived("m3", "sales@", "other@example.com"))
    assert assignees(desk) == ["anna", "clara", "boris"]


def test_a_known_client_whose_owner_is_not_an_agent_goes_in_turn_without_a_lead() -> None:
    desk = Desk(setup(MAILBOX))
    out = desk.send(EmailReceived("m1", "sales@", "ivan@example.com", owner_agent="left-the-company"))
    assert [c.agent_id for c in only(out, AssignItem)] == ["anna"] and only(out, CreateLead) == []


def test_with_owner_first_off_every_email_goes_in_turn() -> None:
    mailbox = ChannelQueue("sales@", "Sales", ("anna", "boris"), kind=ChannelKind.EMAIL, owner_first=False)
    desk = Desk(setup(mailbox))
    desk.send(EmailReceived("m1", "sales@", "ivan@example.com", owner_agent="boris"))
    assert assignees(desk) == ["anna"]


def test_form_submissions_become_leads_for_the_next_in_turn() -> None:
    desk = Desk(setup(FORM))
    for n in range(5):
        desk.send(FormSubmitted(f"f{n}", "quote", f"+4930{n}"))
    assert assignees(desk) == ["anna", "boris", "clara", "anna", "boris"]
    assert [c.owner_agent for c in only(desk.log, CreateLead)] == assignees(desk)
    assert only(desk.log, CreateLead)[0] == CreateLead("f0", "quote", ChannelKind.FORM, "+49300", "anna")


def test_forms_skip_people_not_clocked_in_or_on_a_scheduled_break() -> None:
    schedules = {a: OFFICE for a in AGENTS}
    desk = Desk(setup(FORM, schedules=schedules), now=at("2024-03-04 10:00"))
    desk.send(ClockedIn("anna"))
    desk.send(ClockedIn("clara"))  # boris has not clocked in
    desk.send(FormSubmitted("f1", "quote", "a"))
    desk.send(FormSubmitted("f2", "quote", "b"))
    assert assignees(desk) == ["anna", "clara"]
    assert desk.records("assigned", "f2")[0].detail["skipped"] == {"boris": "not working (not clocked in)"}
    desk.send(ClockedIn("boris"))
    desk.send(BreakStarted("anna"))
    desk.send(FormSubmitted("f3", "quote", "c"))
    desk.send(FormSubmitted("f4", "quote", "d"))
    assert assignees(desk)[2:] == ["boris", "clara"]


def test_forms_assign_in_turn_regardless_when_nobody_works() -> None:
    desk = Desk(setup(FORM, schedules={a: OFFICE for a in AGENTS}), now=at("2024-03-04 13:30"))  # lunch
    for who in ("anna", "boris", "clara"):
        desk.send(ClockedIn(who))
    desk.send(FormSubmitted("f1", "quote", "a"))
    desk.send(FormSubmitted("f2", "quote", "b"))
    assert assignees(desk) == ["anna", "boris"]
    assert desk.records("assigned", "f1")[0].detail["rule"] == "next in turn (nobody is working)"


def test_forms_assign_in_turn_when_work_time_is_not_tracked_or_not_checked() -> None:
    unchecked = ChannelQueue("quote", "Quote", ("anna", "boris"), kind=ChannelKind.FORM, check_availability=False)
    desk = Desk(setup(unchecked, schedules={a: OFFICE for a in AGENTS}))  # nobody clocked in
    desk.send(FormSubmitted("f1", "quote", "a"))
    desk.send(FormSubmitted("f2", "quote", "b"))
    assert assignees(desk) == ["anna", "boris"]


def test_a_form_without_responsible_people_still_makes_a_lead_without_owner() -> None:
    empty = ChannelQueue("quote", "Quote", ("ghost",), kind=ChannelKind.FORM)
    desk = Desk(setup(empty))
    out = desk.send(FormSubmitted("f1", "quote", "a"))
    assert only(out, CreateLead)[0].owner_agent is None
    assert only(out, AssignItem)[0].rule == "no responsible person"


def test_items_sent_to_the_wrong_kind_of_queue_are_logged_as_unrouted() -> None:
    desk = Desk(setup(FORM, MAILBOX))
    desk.send(FormSubmitted("f1", "sales@", "a"))
    desk.send(EmailReceived("m1", "quote", "x@example.com"))
    assert [r.item_id for r in desk.records("unrouted")] == ["f1", "m1"]
    assert only(desk.log, CreateLead) == []
