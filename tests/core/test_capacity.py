"""One capacity across channels: calls and chats see each other's load (``acd.core.capacity``)."""

import json
from dataclasses import replace

from acd.core.capacity import Capacity
from acd.core.commands import ReportPhoneCalls, Ring
from acd.core.conversation_model import (
    ChannelKind,
    ChannelQueue,
    ConversationAccepted,
    ConversationClosed,
    ConversationConfig,
    EmailReceived,
    FormSubmitted,
    ItemClosed,
    PhoneCallsChanged,
    ReportChannelLoad,
)
from acd.core.conversations import ConversationRouter
from acd.core.events import (
    CallArrived,
    CallerHungUp,
    LiveCall,
    MemberAnswered,
    OtherChannelsLoadChanged,
    Resynced,
)
from acd.core.model import MissedAction, MissedCallPolicy, RoutingConfig

from .harness import Harness, config, group, only
from .test_conversations_harness import Desk, chat, offered_to, setup

BUDGET = Capacity()  # budget 100: a call 100, a chat 34, an e-mail 10, a form 5


def calls(cfg: RoutingConfig, capacity: Capacity | None = BUDGET) -> Harness:
    return Harness(replace(cfg, capacity=capacity))


def chats(cfg: ConversationConfig, capacity: Capacity | None = BUDGET) -> Desk:
    return Desk(replace(cfg, capacity=capacity))


def skips(h: Harness, call_id: str = "c1") -> dict[str, str]:
    return {r.detail["agent"]: r.detail["reason"] for r in h.records("considered", call_id)
            if r.detail["decision"] == "skip"}


# ---------------------------------------------------------------------- telephony
def test_a_group_that_skips_busy_agents_passes_over_an_agent_whose_chats_fill_the_budget() -> None:
    h = calls(config(group(skip_when_busy_in_other_channels=True)))
    h.send(OtherChannelsLoadChanged("anna", chats=3))
    out = h.send(CallArrived("c1", "5000", "15550001"))
    assert only(out, Ring)[0].agent_ids == ("boris",)
    assert skips(h) == {"anna": "chats take their whole capacity (3 chats: 102 of 100)"}


def test_a_group_that_does_not_skip_rings_an_agent_whose_chats_fill_the_budget() -> None:
    h = calls(config(group()))
    h.send(OtherChannelsLoadChanged("anna", chats=3))
    out = h.send(CallArrived("c1", "5000", "15550001"))
    assert only(out, Ring)[0].agent_ids == ("anna",)


def test_two_chats_leave_room_for_a_call() -> None:
    h = calls(config(group(skip_when_busy_in_other_channels=True)))
    h.send(OtherChannelsLoadChanged("anna", chats=2))
    assert only(h.send(CallArrived("c1", "5000", "15550001")), Ring)[0].agent_ids == ("anna",)


def test_an_agents_own_budget_overrides_the_default() -> None:
    h = calls(config(group(skip_when_busy_in_other_channels=True)), Capacity(budgets={"anna": 150}))
    h.send(OtherChannelsLoadChanged("anna", chats=3))
    assert only(h.send(CallArrived("c1", "5000", "15550001")), Ring)[0].agent_ids == ("anna",)


def test_the_decision_log_names_every_channel_that_fills_the_budget() -> None:
    h = calls(config(group(skip_when_busy_in_other_channels=True)))
    h.send(OtherChannelsLoadChanged("anna", chats=2, emails=4))
    h.send(CallArrived("c1", "5000", "15550001"))
    assert skips(h)["anna"] == "chats and e-mails take their whole capacity (2 chats, 4 e-mails: 108 of 100)"


def test_without_a_budget_the_group_ignores_the_other_channels() -> None:
    h = calls(config(group(skip_when_busy_in_other_channels=True)), capacity=None)
    h.send(OtherChannelsLoadChanged("anna", chats=30))
    assert only(h.send(CallArrived("c1", "5000", "15550001")), Ring)[0].agent_ids == ("anna",)


def test_a_waiting_caller_rings_the_agent_as_soon_as_a_chat_closes() -> None:
    waiting = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=600, retry_s=60)
    h = calls(config(group(members=("anna",), missed=waiting, skip_when_busy_in_other_channels=True)))
    h.send(OtherChannelsLoadChanged("anna", chats=3))
    out = h.send(CallArrived("c1", "5000", "15550001"))
    assert h.records("waiting", "c1") and not only(out, Ring)  # in music: nobody has room
    out = h.send(OtherChannelsLoadChanged("anna", chats=2))  # no timer fired: at once
    assert only(out, Ring)[0].agent_ids == ("anna",)


def test_telephony_reports_the_calls_an_agent_talks_on() -> None:
    h = calls(config(group()))
    ring = only(h.send(CallArrived("c1", "5000", "15550001")), Ring)[0]
    assert only(h.send(MemberAnswered("c1", ring.attempt, "anna")), ReportPhoneCalls) == [ReportPhoneCalls("anna", 1)]
    assert only(h.send(CallerHungUp("c1")), ReportPhoneCalls) == [ReportPhoneCalls("anna", 0)]


def test_after_a_restart_the_resync_reports_the_calls_found_talking() -> None:
    h = calls(config(group()))
    out = h.send(Resynced((LiveCall("c1", "5000", "15550001", "connected", agents=("boris",)),)))
    assert only(out, ReportPhoneCalls) == [ReportPhoneCalls("boris", 1)]
    assert only(h.send(Resynced(())), ReportPhoneCalls) == [ReportPhoneCalls("boris", 0)]


# ---------------------------------------------------------------------- chats
def test_an_agent_on_a_phone_call_is_offered_no_new_chat() -> None:
    desk = chats(setup(chat()), capacity=None)  # the rule holds with or without a budget
    desk.send(PhoneCallsChanged("anna", 1))
    assert offered_to(desk.arrive("c1")) == [("boris",)]
    assert desk.records("considered", "c1")[0].detail["skipped"] == {"anna": "on a phone call"}


def test_a_queue_that_offers_during_calls_offers_a_chat_to_an_agent_on_a_phone_call() -> None:
    desk = chats(setup(chat(offer_during_calls=True)), capacity=None)
    desk.send(PhoneCallsChanged("anna", 1))
    assert offered_to(desk.arrive("c1")) == [("anna",)]


def test_offering_during_calls_counts_the_call_by_its_weight() -> None:
    whole = chats(setup(chat(offer_during_calls=True)))  # a call takes the whole budget
    whole.send(PhoneCallsChanged("anna", 1))
    assert offered_to(whole.arrive("c1")) == [("boris",)]
    assert whole.records("considered", "c1")[0].detail["skipped"] == {
        "anna": "calls take their whole capacity (1 call: 100 of 100)"}
    half = chats(setup(chat(offer_during_calls=True)), Capacity(call=50))
    half.send(PhoneCallsChanged("anna", 1))
    assert [offered_to(half.arrive(f"c{n}"))[0] for n in range(3)] == [("anna",), ("anna",), ("boris",)]


def test_three_chats_at_weight_34_fill_the_budget_before_the_queue_limit() -> None:
    desk = chats(setup(chat(capacity=5)))
    assert [offered_to(desk.arrive(f"c{n}"))[0] for n in range(4)] == [("anna",)] * 3 + [("boris",)]
    assert desk.records("considered", "c3")[0].detail["skipped"] == {
        "anna": "chats take their whole capacity (3 chats: 102 of 100)"}


def test_the_queue_limit_still_counts_conversations_alongside_the_budget() -> None:
    desk = chats(setup(chat(capacity=2)))
    assert [offered_to(desk.arrive(f"c{n}"))[0] for n in range(3)] == [("anna",), ("anna",), ("boris",)]
    assert desk.records("considered", "c2")[0].detail["skipped"] == {"anna": "full (2 of 2)"}


def test_a_call_ending_offers_the_waiting_conversation_at_once() -> None:
    desk = chats(setup(chat(members=("anna",))))
    desk.send(PhoneCallsChanged("anna", 1))
    assert not offered_to(desk.arrive("c1"))
    assert offered_to(desk.send(PhoneCallsChanged("anna", 0))) == [("anna",)]


def test_open_emails_and_forms_draw_on_the_budget_and_closing_one_serves_the_line() -> None:
    mailbox = ChannelQueue("sales@", "Sales mailbox", ("anna",), kind=ChannelKind.EMAIL)
    form = ChannelQueue("quote", "Quote form", ("anna",), kind=ChannelKind.FORM)
    desk = chats(setup(chat(members=("anna",)), mailbox, form), Capacity(email=40, form=30))
    desk.send(EmailReceived("m1", "sales@", "ivan@example.com"))
    desk.send(FormSubmitted("f1", "quote", "olga@example.com"))
    desk.send(EmailReceived("m2", "sales@", "petr@example.com"))  # 40 + 30 + 40: full
    assert not offered_to(desk.arrive("c1"))
    assert desk.records("considered", "c1")[0].detail["skipped"] == {
        "anna": "e-mails and forms take their whole capacity (2 e-mails, 1 form: 110 of 100)"}
    assert offered_to(desk.send(ItemClosed("m1"))) == [("anna",)]


def test_the_router_reports_what_an_agent_holds_to_telephony() -> None:
    mailbox = ChannelQueue("sales@", "Sales mailbox", ("boris",), kind=ChannelKind.EMAIL)
    desk = chats(setup(chat(), mailbox))
    assert only(desk.arrive("c1"), ReportChannelLoad) == [ReportChannelLoad("anna", 1, 0, 0)]
    assert only(desk.send(ConversationAccepted("c1", "anna")), ReportChannelLoad) == []  # still one chat
    assert only(desk.send(ConversationClosed("c1")), ReportChannelLoad) == [ReportChannelLoad("anna", 0, 0, 0)]
    assert only(desk.send(EmailReceived("m1", "sales@", "ivan@example.com")), ReportChannelLoad) == [
        ReportChannelLoad("boris", 0, 1, 0)]
    assert only(desk.send(ItemClosed("m1")), ReportChannelLoad) == [ReportChannelLoad("boris", 0, 0, 0)]


def test_a_restart_keeps_open_items_and_reports_every_load_again() -> None:
    mailbox = ChannelQueue("sales@", "Sales mailbox", ("boris",), kind=ChannelKind.EMAIL)
    desk = chats(setup(chat(), mailbox))
    desk.arrive("c1")
    desk.send(EmailReceived("m1", "sales@", "ivan@example.com"))
    desk.send(PhoneCallsChanged("clara", 1))
    data = json.loads(json.dumps(desk.router.snapshot()))
    router, out = ConversationRouter.restore(desk.router.config, data, desk.now + 5)
    assert sorted(only(out, ReportChannelLoad), key=lambda r: r.agent_id) == [
        ReportChannelLoad("anna", 1, 0, 0), ReportChannelLoad("boris", 0, 1, 0)]
    assert router.availability.agent("clara").calls == 0  # telephony tells it again after its resync
    again = Desk(router.config, now=desk.now + 5, router=router)
    assert only(again.send(ItemClosed("m1")), ReportChannelLoad) == [ReportChannelLoad("boris", 0, 0, 0)]
