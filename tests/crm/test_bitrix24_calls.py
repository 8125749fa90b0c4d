"""Calls in Bitrix24's telephony against the stateful fake portal: the live call card as
ringing moves, the call in the timeline at the end, and each step's lost answer."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session

from acd.core.commands import Record, Ring
from acd.crm import DEAD, DELIVERED, CrmFeed, Interaction, list_outbox
from acd.crm.bitrix24 import Bitrix24Connector
from acd.crm.bitrix24_portal import Bitrix24Portal, WebhookAuth
from acd.crm.bitrix24_telephony import CallCards, duration_of

from .fake_bitrix24 import WINDOW_S, FakeBitrix24
from .support import fast_sender, running, until

NOW = float(int(time.time()))  # the fake's re-registration window counts from the calls' start
USERS = {"anna": 11, "boris": 12, "chris": 13, "dora": 14}
NUMBER = "+49301234567"


class Stack:
    """Feed -> outbox -> connector -> portal -> fake Bitrix24, and the live card."""

    def __init__(self, engine, fake: FakeBitrix24, *, cards: bool = True, rate: float = 100.0, burst: int = 50,
                 **sender_kw) -> None:
        self.engine, self.fake = engine, fake
        self.portal = Bitrix24Portal("bitrix", WebhookAuth(fake.webhook()), rate=rate, burst=burst, max_wait_s=0.5)
        users = {agent: str(user) for agent, user in USERS.items()}
        self.cards = CallCards(self.portal, users) if cards else None
        connector = Bitrix24Connector("bitrix", self.portal, USERS, responsibles={"sales": "dora"}, cards=self.cards)
        self.sender = fast_sender(engine, [connector], **sender_kw)
        self.feed = CrmFeed(engine, targets=["bitrix"], sender=self.sender)

    def arrive(self, call_id: str = "1764500000.17", at: float = NOW) -> None:
        assert self.cards is not None
        self.cards(None, [Record(call_id, at, "arrived", {"caller_number": NUMBER, "did": "+4930555",
                                                          "group": "sales"})])

    def ring(self, *agents: str, call_id: str = "1764500000.17", attempt: int = 1) -> None:
        assert self.cards is not None
        self.cards(None, [Ring(call_id, attempt, agents, 15.0)])

    def answered(self, agent: str, call_id: str = "1764500000.17") -> None:
        assert self.cards is not None
        self.cards(None, [Record(call_id, NOW + 10, "answered", {"agent": agent})])

    def jobs(self, state: str | None = None):
        with Session(self.engine) as session:
            return list_outbox(session, state)

    def settled(self, count: int) -> bool:
        jobs = self.jobs()
        return len(jobs) == count and all(j.state in (DEAD, DELIVERED) for j in jobs)


def call(call_id: str = "1764500000.17") -> Interaction:
    return Interaction.call(call_id, NUMBER, NOW, region="DE", line="+4930555", queue="sales")


def test_an_answered_call_lasts_at_least_a_second_and_a_missed_one_none():
    assert duration_of({"answered": True, "duration_s": 0.4}) == 1  # Bitrix24: answered when DURATION > 0
    assert duration_of({"answered": True, "duration_s": 93.6}) == 94  # rounded, not cut
    assert duration_of({"answered": False, "duration_s": 0.0}) == 0


async def test_without_the_card_the_call_is_registered_and_finished_in_one_request(engine):
    async with FakeBitrix24() as fake:
        stack = Stack(engine, fake, cards=False)
        async with running(stack.feed, stack.sender):
            stack.feed.call_finished(call(), "anna", 0.4)
            await until(lambda: stack.settled(1))
        await stack.portal.aclose()
    assert [j.state for j in stack.jobs()] == [DELIVERED]
    assert fake.requests() == 1 and fake.requests("batch") == 1
    [done] = fake.finished
    assert done.call.external_id == "1764500000.17"  # the Asterisk call id
    assert (done.user_id, done.duration, done.status_code) == (11, 1, "200")
    assert done.call.line == "+4930555" and not fake.calls  # finish deleted the call


async def test_a_missed_call_is_finished_for_the_groups_responsible_person(engine):
    async with FakeBitrix24() as fake:
        stack = Stack(engine, fake, cards=False)
        async with running(stack.feed, stack.sender):
            stack.feed.missed(call(), None)  # nobody was even offered the call
            await until(lambda: fake.finished)
        await stack.portal.aclose()
    [done] = fake.finished
    assert (done.user_id, done.duration, done.status_code) == (14, 0, "304")  # dora, the group's responsible


async def test_the_card_follows_the_ringing_member_to_member_and_stays_with_who_answers(engine):
    async with FakeBitrix24() as fake:
        stack = Stack(engine, fake)
        stack.arrive()
        stack.ring("anna")
        await stack.cards.settled()
        [call_id] = fake.calls
        assert fake.cards[call_id] == {11}
        stack.ring("boris", attempt=2)
        await stack.cards.settled()
        assert fake.cards[call_id] == {12}  # anna's card hidden as the call moved on
        stack.ring("chris", attempt=3)
        stack.answered("chris")
        await stack.cards.settled()
        assert fake.cards[call_id] == {13}
        async with running(stack.feed, stack.sender):
            stack.feed.call_finished(call(), "chris", 42.0)
            await until(lambda: stack.settled(1))
        await stack.portal.aclose()
    assert [(a, u) for a, _, u in fake.card_log] == [("show", (11,)), ("hide", (11,)), ("show", (12,)),
                                                     ("hide", (12,)), ("show", (13,))]
    assert len(fake.registered) == 1 and [f.user_id for f in fake.finished] == [13]
    assert fake.finished[0].call.call_id == call_id and not fake.cards.get(call_id)
    # requests per call: register, one per move (hide + show in a batch), finish
    assert fake.requests() == 4


async def test_ringing_everyone_at_once_shows_the_card_to_all_and_hides_it_from_the_others_on_answer(engine):
    async with FakeBitrix24() as fake:
        stack = Stack(engine, fake)
        stack.arrive()
        stack.ring("anna", "boris", "chris")
        await stack.cards.settled()
        [call_id] = fake.calls
        assert fake.cards[call_id] == {11, 12, 13}
        stack.answered("boris")
        await stack.cards.settled()
        assert fake.cards[call_id] == {12}
        async with running(stack.feed, stack.sender):
            stack.feed.call_finished(call(), "boris", 5.0)
            await until(lambda: stack.settled(1))
        await stack.portal.aclose()
    assert fake.requests() == 3  # register + show (a batch), hide, finish


async def test_a_missed_call_with_the_card_is_hidden_from_everyone_and_finished_once(engine):
    async with FakeBitrix24() as fake:
        stack = Stack(engine, fake)
        stack.arrive()
        stack.ring("anna", "boris")
        await stack.cards.settled()
        [call_id] = fake.calls
        async with running(stack.feed, stack.sender):
            stack.feed.missed(call(), "anna")  # a lead for anna, and the missed call
            await until(lambda: stack.settled(2))
        await stack.portal.aclose()
    assert ("hide", call_id, (12,)) in fake.card_log  # boris's card hidden with the finish, anna's closed by it
    assert [(f.user_id, f.status_code) for f in fake.finished] == [(11, "304")]
    assert [m for m, _ in fake.log if not m.startswith("crm.")] == ["batch", "batch"]  # card; hide + finish


@pytest.mark.parametrize("method", ["telephony.externalcall.register", "telephony.externalcall.show",
                                    "telephony.externalcall.hide", "telephony.externalcall.finish"])
async def test_a_lost_answer_to_each_card_step_is_sent_again_without_a_second_call(engine, method):
    async with FakeBitrix24() as fake:
        stack = Stack(engine, fake)
        fake.lose_answer(method)
        stack.arrive()
        stack.ring("anna")
        stack.ring("boris", attempt=2)
        stack.ring("anna", "boris", "chris", attempt=3)
        stack.answered("chris")
        await stack.cards.settled()
        async with running(stack.feed, stack.sender):
            stack.feed.call_finished(call(), "chris", 30.0)
            await until(lambda: stack.settled(1))
        await stack.portal.aclose()
    assert [j.state for j in stack.jobs()] == [DELIVERED]
    assert len(fake.registered) == 1 and len(fake.finished) == 1
    assert fake.finished[0].user_id == 13 and not fake.cards.get(fake.registered[0].call_id)


async def test_a_lost_answer_to_finish_after_a_long_call_is_delivered_not_duplicated(engine):
    """The call lasted 40 minutes: past Bitrix24's re-registration window, a second
    register would make a second call. The card registered at the first ring and the
    finish is repeated with that CALL_ID: 'Call is not found' means it went through."""
    clock = [NOW]
    async with FakeBitrix24(now=lambda: clock[0]) as fake:
        stack = Stack(engine, fake)
        stack.arrive()
        stack.ring("anna")
        await stack.cards.settled()
        clock[0] += WINDOW_S + 600
        fake.lose_answer("telephony.externalcall.finish")
        async with running(stack.feed, stack.sender):
            stack.feed.call_finished(call(), "anna", 2400.0)
            await until(lambda: stack.settled(1))
        await stack.portal.aclose()
    [job] = stack.jobs()
    assert job.state == DELIVERED and "Call is not found" in job.last_error
    assert len(fake.registered) == 1 and [f.duration for f in fake.finished] == [2400]
    assert fake.requests("telephony.externalcall.finish") == 2


async def test_a_lost_answer_to_register_and_finish_is_looked_up_not_registered_again(engine):
    """No card (or acd restarted): the end of a 40-minute call registers and finishes in
    one batch; its answer is lost. Registering again would make a second call (outside
    the 30-minute window): the next attempt finds the call by EXTERNAL_CALL_ID first."""
    clock = [NOW + WINDOW_S + 600]
    async with FakeBitrix24(now=lambda: clock[0]) as fake:
        stack = Stack(engine, fake, cards=False)
        fake.lose_answer("batch")
        async with running(stack.feed, stack.sender):
            stack.feed.call_finished(call(), "anna", 2400.0)
            await until(lambda: stack.settled(1))
        await stack.portal.aclose()
    assert [j.state for j in stack.jobs()] == [DELIVERED]
    assert len(fake.registered) == 1 and len(fake.finished) == 1
    assert fake.requests("voximplant.statistic.get") == 1


async def test_a_finish_that_saved_no_activity_is_not_a_success(engine):
    async with FakeBitrix24() as fake:
        fake.activity_error = True
        stack = Stack(engine, fake, cards=False)
        async with running(stack.feed, stack.sender):
            stack.feed.call_finished(call(), "anna", 12.0)
            await until(lambda: stack.settled(1))
        await stack.portal.aclose()
    [job] = stack.jobs()
    assert job.state == DEAD and "not its activity" in job.last_error and "ACTIVITY_CREATION" in job.last_error


async def test_a_recording_is_attached_in_the_same_request(engine):
    async with FakeBitrix24() as fake:
        stack = Stack(engine, fake, cards=False)
        connector = stack.sender.connectors["bitrix"]
        from acd.crm.outbox import Envelope
        payload = {"call": {"id": "c9", "number": NUMBER, "started_at": NOW, "duration_s": 20.0, "answered": True,
                            "agent": "anna", "queue": "sales", "line": "",
                            "recording_url": "https://pbx.example.com/rec/c9.mp3"}}
        outcome = await connector.deliver(None, Envelope(1, "k", "bitrix", "call:c9", None, "call.finished", payload,
                                                         0, {}, None))
        await stack.portal.aclose()
    assert outcome.state == DELIVERED and fake.requests() == 1
    assert fake.finished[0].record == "https://pbx.example.com/rec/c9.mp3"


async def test_rate_limit_refusals_never_use_up_a_jobs_attempts(engine):
    """A portal that keeps refusing for its rate limit: the jobs wait, however often,
    and all go through; none goes dead for it."""
    async with FakeBitrix24(rate=4, burst=2) as fake:
        stack = Stack(engine, fake, cards=False, rate=1000, burst=1000, max_attempts=2)
        async with running(stack.feed, stack.sender):
            for n in range(8):
                stack.feed.call_finished(call(f"c{n}"), "anna", 3.0)
            await until(lambda: stack.settled(8), timeout=20)
        await stack.portal.aclose()
    assert [j.state for j in stack.jobs()] == [DELIVERED] * 8
    assert fake.refused > 0 and len(fake.finished) == 8
