"""Bitrix24 says who is responsible: a known caller rings Bitrix24's responsible person
first, through the whole service (AMI simulator, router, a real HTTP fake portal), and
acd's own record follows; Bitrix24 down, acd's own owner rings first."""

from __future__ import annotations

from pathlib import Path

import pytest
from crm.fake_bitrix24 import FakeBitrix24  # tests/crm: the stateful fake portal
from crm.fake_bitrix24_crm import CONTACT, FakeCrm
from sqlalchemy.orm import Session

from acd.crm import Identity, add_client, find_client
from acd.sim import Answer, NeverAnswer

from .stack import running

SALES = {"id": "sales", "members": ["anna", "boris", "clara"], "mode": "strict", "rings": 2}
NUMBER = "+12025550123"


def bitrix24(**extra: object) -> dict[str, object]:
    return {"crm": {"region": "US", "bitrix24": {"webhook_url_env": "E2E_B24_WEBHOOK",
                                                 "users": {"anna": 11, "boris": 12}, **extra}}}


async def test_a_known_caller_rings_bitrix24s_responsible_person_first(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    crm = FakeCrm()
    crm.add_user(31, phone_inner="103")  # clara: no user id configured, found by her extension
    crm.add(CONTACT, phones=("(202) 555-0123",), assigned=31)
    async with FakeBitrix24(crm=crm) as fake:
        monkeypatch.setenv("E2E_B24_WEBHOOK", fake.webhook())
        phones = {"clara": NeverAnswer(), "anna": Answer(after=1)}
        async with running(tmp_path, [SALES], phones, **bitrix24()) as s:
            with Session(s.acd.crm_feed.engine) as session, session.begin():  # acd's record says boris
                add_client(session, [Identity.phone(NUMBER, "US")], owner="boris", now=s.clock.now())
            await s.acd.crm_feed.reload_owners()
            await s.acd.crm.check_bitrix24_users()  # as at start
            call = await s.sim.call(did="5000", caller="2025550123")
            await s.until(call.answered.is_set, 30)
            assert [p.started for p in s.rings("clara")] < [p.started for p in s.rings("anna")]
            history = await s.history(call.uniqueid)
            first = next(e.detail for e in history.events if e.kind == "considered")
            assert first["agent"] == "clara" and first["reason"] == "client's owner"
            await s.acd.crm_feed.drained()
            with Session(s.acd.crm_feed.engine) as session:
                assert find_client(session, Identity.phone(NUMBER, "US")).owner == "clara"  # acd agrees


async def test_bitrix24_down_the_caller_rings_acds_own_owner_first(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeBitrix24(crm=FakeCrm())  # never started: the portal does not answer
    monkeypatch.setenv("E2E_B24_WEBHOOK", fake.webhook())
    phones = {"boris": Answer(after=1)}
    async with running(tmp_path, [SALES], phones, **bitrix24(responsible_budget_ms=200)) as s:
        with Session(s.acd.crm_feed.engine) as session, session.begin():
            add_client(session, [Identity.phone(NUMBER, "US")], owner="boris", now=s.clock.now())
        await s.acd.crm_feed.reload_owners()
        call = await s.sim.call(did="5000", caller="2025550123")
        await s.until(call.answered.is_set, 30)
        assert call.answered_by == "102" and s.rings("anna") == []
