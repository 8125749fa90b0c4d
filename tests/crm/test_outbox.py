"""Delivery through the outbox to a real HTTP server on 127.0.0.1."""

import asyncio
import logging
import time

import httpx
import pytest
from sqlalchemy.orm import Session

from acd.core.commands import ReportManualTransfer
from acd.crm import (
    DEAD,
    DEFAULT_OPTIONS,
    DELIVERED,
    PENDING,
    Backoff,
    CrmFeed,
    Identity,
    Interaction,
    OutboxJob,
    OutboxSender,
    WebhookConnector,
    create_all,
    create_lead,
    enqueue,
    list_outbox,
    make_engine,
    on_answered,
    on_manual_transfer,
    retry,
    verify,
)
from acd.crm.outbox import due, waiting_behind

from .crm_server import CrmServer, Reply
from .support import FakeClock, fast_sender, running, tx, until

SECRET = "s3cret-signing-key"
NOW = 1_700_000_000.0


def hook(url: str, name: str = "hook") -> WebhookConnector:
    return WebhookConnector(name, f"{url}/acd/events", SECRET)


def lead(session: Session, number: str = "030 1234567", owner: str = "anna") -> int:
    with tx(session):
        return create_lead(session, [Identity.phone(number, "DE")], owner, now=NOW).id


def change(session: Session, client_id: int, owner: str, target: str = "hook", now: float = NOW) -> OutboxJob:
    with tx(session):
        [job] = enqueue(session, "owner.changed", {"owner": owner, "client_id": client_id}, targets=[target],
                        now=now, client_id=client_id)
    return job


def states(engine) -> list[tuple[int, str, int]]:
    with Session(engine) as s:
        return [(j.id, j.state, j.attempts) for j in sorted(list_outbox(s), key=lambda j: j.id)]


async def test_an_owner_change_on_transfer_reaches_the_crm_once_signed(engine, session):
    lead(session)
    async with CrmServer() as server:
        sender = fast_sender(engine, [hook(server.url)])
        feed = CrmFeed(engine, region="DE", targets=["hook"], sender=sender)
        async with running(feed, sender):
            feed.manual_transfer(ReportManualTransfer("call-1", "+49 30 1234567", "anna", "boris", "attended"))
            await until(lambda: server.delivered())
            await asyncio.sleep(0.2)  # nothing more follows
        [request] = server.requests
    body = request.json()
    assert (request.method, request.path) == ("POST", "/acd/events")
    assert verify(SECRET, request.body, request.headers["x-acd-signature"])
    assert body["event"] == "owner.changed" and body["owner"] == "boris" and body["previous_owner"] == "anna"
    assert body["client"]["phones"] == ["+49301234567"]
    assert body["idempotency_key"] == request.headers["x-acd-idempotency-key"]
    assert str(body["sent_at"]) == request.headers["x-acd-timestamp"]
    with Session(engine) as s:
        [job] = list_outbox(s)
        assert (job.state, job.attempts, job.idempotency_key) == (DELIVERED, 1, body["idempotency_key"])


async def test_a_crm_down_for_a_while_gets_the_change_once_after_back_off(engine, session, caplog):
    caplog.set_level(logging.INFO, logger="acd.crm")
    change(session, lead(session), "boris")
    server = CrmServer()  # not listening yet: connections are refused
    sender = fast_sender(engine, [hook(server.url)])
    async with running(sender):
        await until(lambda: states(engine)[0][2] >= 3)
        async with server:
            await until(lambda: server.delivered())
            await asyncio.sleep(0.2)
    assert len(server.requests) == 1
    [(_, state, attempts)] = states(engine)
    assert state == DELIVERED and attempts >= 4
    delays = [r.delay_s for r in caplog.records if r.msg == "outbox.retry"]
    assert len(delays) == attempts - 1
    assert delays[2] > delays[0]  # exponential: 0.04-0.08 s after the third failure vs 0.01-0.02 after the first
    assert all(0 < d <= 0.3 for d in delays)


async def test_a_restarted_sender_delivers_exactly_once_with_the_same_key(db_url, engine, session):
    change(session, lead(session), "boris")
    with Session(engine) as s:
        [before] = list_outbox(s)
    server = CrmServer()
    async with running(fast_sender(engine, [hook(server.url)])):  # the CRM is down; acd stops
        await until(lambda: states(engine)[0][2] >= 2)
    assert states(engine)[0][1] == PENDING

    restarted = make_engine(db_url)  # a new process: new engine, same database
    create_all(restarted)
    async with server, running(fast_sender(restarted, [hook(server.url)])):
        await until(lambda: server.delivered())
        await asyncio.sleep(0.2)
    [request] = server.requests
    assert request.headers["x-acd-idempotency-key"] == before.idempotency_key
    assert states(restarted)[0][1] == DELIVERED


async def test_a_repeat_after_a_lost_answer_carries_the_same_key(engine, session):
    change(session, lead(session), "boris")
    async with CrmServer() as server:
        server.script = [Reply(hang=True)]  # the CRM got it but its answer never comes
        async with running(fast_sender(engine, [hook(server.url)], deadline_s=0.3)):
            await until(lambda: server.delivered())
    first, second = server.requests
    assert first.headers["x-acd-idempotency-key"] == second.headers["x-acd-idempotency-key"]
    assert first.json()["attempt"] == 1 and second.json()["attempt"] == 2


@pytest.mark.parametrize("reply", [Reply(500), Reply(502), Reply(503), Reply(429), Reply(garbage=True),
                                   Reply(hang=True)], ids=["500", "502", "503", "429", "garbage", "timeout"])
async def test_server_errors_rate_limits_garbage_and_timeouts_are_retried(engine, session, reply):
    change(session, lead(session), "boris")
    async with CrmServer() as server:
        server.script = [reply, reply]
        async with running(fast_sender(engine, [hook(server.url)], timeout=httpx.Timeout(0.3))):
            await until(lambda: states(engine)[0][1] == DELIVERED)
    assert len(server.requests) == 3
    assert states(engine)[0][1:] == (DELIVERED, 3)


async def test_retry_after_is_honoured(engine, session):
    clock = FakeClock(NOW)
    change(session, lead(session), "boris", now=NOW)
    async with CrmServer() as server:
        server.script = [Reply(429, headers={"Retry-After": "120"})]
        sender = fast_sender(engine, [hook(server.url)], now=clock.now)
        async with running(sender):
            await until(lambda: states(engine)[0][2] == 1)
            with Session(engine) as s:
                job = list_outbox(s)[0]
                assert (job.state, job.next_attempt_at, job.last_status) == (PENDING, NOW + 120, 429)
            clock.advance(119)
            sender.wake()
            await asyncio.sleep(0.2)
            assert len(server.requests) == 1  # not before the CRM asked
            clock.advance(1)
            sender.wake()
            await until(lambda: server.delivered())


async def test_a_4xx_answer_is_dead_at_once_with_the_answer_noted_and_can_be_retried(engine, session):
    change(session, lead(session), "boris")
    async with CrmServer() as server:
        server.script = [Reply(422, b'{"error":"unknown owner boris"}')]
        sender = fast_sender(engine, [hook(server.url)])
        feed = CrmFeed(engine, sender=sender)
        async with running(sender):
            await until(lambda: states(engine)[0][1] == DEAD)
            with Session(engine) as s:
                [job] = list_outbox(s, DEAD)
                assert job.attempts == 1 and job.last_status == 422
                assert "unknown owner boris" in job.last_error
                key = job.idempotency_key
            await feed.retry(job.id)  # the CRM's user was fixed: try again
            await until(lambda: states(engine)[0][1] == DELIVERED)
    assert [r.headers["x-acd-idempotency-key"] for r in server.requests] == [key, key]


async def test_a_job_is_dead_after_the_configured_number_of_attempts(engine, session):
    change(session, lead(session), "boris")
    async with CrmServer(responder=lambda r: Reply(503)) as server:
        async with running(fast_sender(engine, [hook(server.url)], max_attempts=3)):
            await until(lambda: states(engine)[0][1] == DEAD)
            await asyncio.sleep(0.2)
    assert len(server.requests) == 3 and states(engine)[0][2] == 3


def test_only_a_dead_job_can_be_retried(engine, session):
    job = change(session, lead(session), "boris")
    with pytest.raises(ValueError, match="only a dead job"):
        retry(session, job.id, now=NOW)
    with pytest.raises(LookupError):
        retry(session, 999, now=NOW)


async def test_changes_of_one_client_arrive_in_order_and_others_do_not_wait(engine, session):
    ann, bob = lead(session, "030 1111111"), lead(session, "030 2222222")
    for owner in ("boris", "clara", "dmitri"):
        change(session, ann, owner)
    change(session, bob, "clara")
    failed_once: set[str] = set()

    def responder(request):  # every first try of one of ann's changes fails
        owner = request.json()["owner"]
        if request.json()["client_id"] == ann and owner not in failed_once:
            failed_once.add(owner)
            return Reply(503)
        return Reply()

    async with CrmServer(responder=responder) as server:
        async with running(fast_sender(engine, [hook(server.url)])):
            await until(lambda: len(server.delivered()) == 4)
    ann_seen = [(r.json()["owner"], r.answered) for r in server.requests if r.json()["client_id"] == ann]
    assert ann_seen == [("boris", 503), ("boris", 200), ("clara", 503), ("clara", 200), ("dmitri", 503),
                        ("dmitri", 200)]
    bob_at = next(i for i, r in enumerate(server.requests) if r.json()["client_id"] == bob)
    ann_delivered_at = next(i for i, r in enumerate(server.requests)
                            if r.json()["client_id"] == ann and r.answered == 200)
    assert bob_at < ann_delivered_at  # bob went out while ann's first change backed off


def made_by_calls(session: Session, number: str, *owners: str) -> list[OutboxJob]:
    """A caller answered by ``owners[0]`` (a new lead) and transferred to each next owner:
    the jobs the service makes for that, in order (lead.created, owner.changed...)."""
    made: list[OutboxJob] = []
    with tx(session):
        on_answered(session, Interaction.call("c1", number, NOW, region="DE"), owners[0], DEFAULT_OPTIONS,
                    targets=["hook"], now=NOW)
        made += list_outbox(session)[:1]
    for previous, owner in zip(owners, owners[1:], strict=False):
        with tx(session):
            made += on_manual_transfer(session, ReportManualTransfer("c1", number, previous, owner, "blind"),
                                       DEFAULT_OPTIONS, region="DE", targets=["hook"], now=NOW)
    return made


async def test_a_clients_later_changes_wait_behind_its_dead_job_and_follow_its_retry(engine, session):
    lead_created, owner_changed = made_by_calls(session, "030 1111111", "anna", "boris")
    [other] = made_by_calls(session, "030 2222222", "clara")
    refused: list[int] = []

    def responder(request):  # the CRM refuses the first lead (say, an unmapped user): dead at once
        if request.json()["event"] == "lead.created" and request.json()["client"]["phones"] == ["+49301111111"] \
                and not refused:
            refused.append(1)
            return Reply(400, b'{"error":"unknown user anna"}')
        return Reply()

    def line() -> list[str]:
        return [s for _, s, _ in states(engine)]

    async with CrmServer(responder=responder) as server:
        sender = fast_sender(engine, [hook(server.url)])
        feed = CrmFeed(engine, sender=sender)
        async with running(sender):
            await until(lambda: line() == [DEAD, PENDING, DELIVERED])  # the other client did not wait
            with Session(engine) as s:
                assert due(s, NOW + 3600, limit=10) == []  # the owner change waits, however long
                assert waiting_behind(s, list_outbox(s)) == {owner_changed.id: lead_created.id}
            await feed.retry(lead_created.id)
            await until(lambda: line() == [DELIVERED] * 3)
    ann = [r.json() for r in server.delivered() if r.json()["client"]["phones"] == ["+49301111111"]]
    assert [(b["event"], b["owner"]) for b in ann] == [("lead.created", "boris"), ("owner.changed", "boris")]
    assert other.id not in waiting_behind(session, list_outbox(session))


async def test_a_retried_old_owner_change_never_puts_back_a_stale_owner(engine, session):
    # as the old rule left it: the change to boris died, the later one to clara went out
    _, to_boris, to_clara = made_by_calls(session, "030 1234567", "anna", "boris", "clara")
    with tx(session):
        session.get(OutboxJob, to_boris.id).state = DEAD
        for job_id in (_.id, to_clara.id):
            session.get(OutboxJob, job_id).state = DELIVERED
    async with CrmServer() as server:
        sender = fast_sender(engine, [hook(server.url)])
        async with running(sender):
            await CrmFeed(engine, sender=sender).retry(to_boris.id)
            await until(lambda: server.delivered())
    [request] = server.requests
    body = request.json()
    assert (body["owner"], body["revision"], body["client"]["owner"]) == ("clara", 2, "clara")
    assert body["idempotency_key"] == to_boris.idempotency_key


async def test_a_hanging_crm_delays_nothing_else(engine, session):
    """Call routing goes on while a CRM accepts connections and never answers."""
    for number in ("030 1111111", "030 2222222", "030 3333333"):
        change(session, lead(session, number), "boris", target="stuck")
        change(session, lead(session, "0" + number[1:4] + " 9" + number[5:]), "boris", target="fine")
    async with CrmServer(responder=lambda r: Reply(hang=True)) as stuck, CrmServer() as fine:
        sender = OutboxSender(engine, [hook(stuck.url, "stuck"), hook(fine.url, "fine")], poll_s=0.05,
                              timeout=httpx.Timeout(30.0), deadline_s=30.0,
                              backoff=Backoff(base_s=0.02, cap_s=0.3))
        feed = CrmFeed(engine, targets=["stuck", "fine"], sender=sender)
        gaps: list[float] = []

        async def routing() -> None:  # stands in for the distributor handling events
            last = time.monotonic()
            for _ in range(50):
                await asyncio.sleep(0.01)
                started = time.monotonic()
                feed.manual_transfer(ReportManualTransfer("c", "030 1111111", "boris", "anna", "blind"))
                # reporting to the CRM never waits: a wait would last the CRM's 30 s timeout,
                # so a bound far above scheduling noise on a loaded machine still catches it
                assert time.monotonic() - started < 1.0
                gaps.append(started - last)
                last = started

        async with running(feed, sender):
            await routing()
            await until(lambda: len(fine.delivered()) == 3)
        assert len(stuck.requests) >= 3 and not stuck.delivered()
    assert max(gaps) < 1.0  # the loop was never held for the hanging CRM's 30 s


def test_back_off_doubles_with_jitter_up_to_the_cap():
    import random

    backoff = Backoff(base_s=2.0, factor=2.0, cap_s=60.0, jitter=0.5)
    rng = random.Random(7)
    for attempts, full in [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (20, 60.0)]:
        delays = [backoff.delay(attempts, rng) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1  # spread, so an outage's jobs do not return together
    assert backoff.delay(3, rng, retry_after=120) == 120
    assert backoff.delay(3, rng, retry_after=10**9) == backoff.max_retry_after_s


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    from email.utils import formatdate

    from acd.crm.connectors import retry_after

    def answer(value: str) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": value})

    assert retry_after(answer("30")) == 30.0
    assert retry_after(answer(formatdate(NOW + 90, usegmt=True)), now=NOW) == 90.0
    assert retry_after(answer("soon")) is None
    assert retry_after(httpx.Response(503)) is None


async def test_the_senders_http_client_is_made_off_the_event_loop(engine, monkeypatch):
    """Making it reads the system's certificates and imports httpx's transport: 100 ms
    the event loop (calls, chats: the first answers after a start) waited for."""
    import threading

    import acd.crm.sender

    made_in: list[threading.Thread] = []
    make = httpx.AsyncClient

    def spy(*args, **kwargs):
        made_in.append(threading.current_thread())
        return make(*args, **kwargs)

    monkeypatch.setattr(acd.crm.sender.httpx, "AsyncClient", spy)
    sender = fast_sender(engine, [])
    async with running(sender):
        await until(lambda: bool(made_in))
    assert made_in and made_in[0] is not threading.main_thread()
