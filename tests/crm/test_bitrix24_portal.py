"""The Bitrix24 portal transport against the stateful fake: auth (webhook and application),
the rate limit, batch, redirects after a rename, and auth problems named with their fix."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from acd.crm.bitrix24_portal import (
    AppAuth,
    Bitrix24Error,
    Bitrix24Portal,
    PortalStore,
    TokenCipher,
    WebhookAuth,
)
from acd.crm.models import Bitrix24PortalState

from .fake_bitrix24 import FakeBitrix24

REGISTER = {"USER_ID": 11, "PHONE_NUMBER": "+493012345678", "TYPE": 2, "SHOW": 0,
            "CALL_START_DATE": "2026-11-30T10:00:00+00:00", "EXTERNAL_CALL_ID": "1700000000.1"}


def webhook_portal(fake: FakeBitrix24, **kw) -> Bitrix24Portal:
    token = kw.pop("token", "wh00kTOKEN42")
    scopes = kw.pop("scopes", ("crm", "telephony", "user"))
    return Bitrix24Portal("b24", WebhookAuth(fake.webhook(token, scopes=scopes)), **kw)


def app_portal(fake: FakeBitrix24, engine, key: str, **kw) -> Bitrix24Portal:
    auth = AppAuth(fake.origin, fake.client_id, fake.client_secret, oauth_url=f"{fake.origin}/oauth/token/")
    return Bitrix24Portal("b24", auth, store=PortalStore(engine, "b24", TokenCipher(key)), **kw)


async def test_a_call_returns_the_result_and_an_unknown_method_is_named_not_retried():
    async with FakeBitrix24() as fake:
        portal = webhook_portal(fake)
        result = await portal.call("telephony.externalcall.register", REGISTER)
        assert result["CALL_ID"] in fake.calls
        with pytest.raises(Bitrix24Error) as refused:
            await portal.call("crm.nothing.here", {})
        await portal.aclose()
    assert (refused.value.code, refused.value.status) == ("ERROR_METHOD_NOT_FOUND", 404)
    assert not refused.value.retryable


async def test_register_and_finish_go_in_one_batch_request():
    async with FakeBitrix24() as fake:
        portal = webhook_portal(fake)
        answer = await portal.batch({
            "register": ("telephony.externalcall.register", REGISTER),
            "finish": ("telephony.externalcall.finish",
                       {"CALL_ID": "$result[register][CALL_ID]", "USER_ID": 11, "DURATION": 3}),
        }, halt=True)
        await portal.aclose()
    assert fake.requests() == 1 and fake.requests("batch") == 1
    assert answer["finish"]["CALL_ID"] == answer["register"]["CALL_ID"]
    assert [f.duration for f in fake.finished] == [3] and not fake.calls


async def test_a_failed_command_in_a_batch_comes_back_as_its_error():
    async with FakeBitrix24() as fake:
        portal = webhook_portal(fake)
        answer = await portal.batch({"finish": ("telephony.externalcall.finish",
                                                {"CALL_ID": "externalCall.gone", "USER_ID": 11})})
        await portal.aclose()
    assert isinstance(answer["finish"], Bitrix24Error)
    assert answer["finish"].code == "ERROR_CORE" and "Call is not found" in answer["finish"].description


@pytest.mark.parametrize(("setup", "code", "fix"), [
    ({"scopes": ("crm", "user")}, "insufficient_scope", "telephony"),
    ({"telephony_app_only": True}, "WRONG_AUTH_TYPE", "local application"),
])
async def test_an_auth_refusal_is_logged_once_and_shown_with_its_fix_never_the_token(setup, code, fix, caplog):
    async with FakeBitrix24(telephony_app_only=setup.get("telephony_app_only", False)) as fake:
        portal = webhook_portal(fake, scopes=setup.get("scopes", ("crm", "telephony", "user")))
        caplog.set_level(logging.INFO)
        for _ in range(2):
            with pytest.raises(Bitrix24Error) as refused:
                await portal.call("telephony.externalcall.register", REGISTER)
        status = portal.status()
        await portal.aclose()
    assert refused.value.auth_problem and not refused.value.retryable
    assert status["state"] == "problem"
    [problem] = status["problems"]
    assert problem["code"] == code and problem["method"] == "telephony.externalcall.register"
    assert fix in problem["fix"]
    refusals = [r for r in caplog.records if r.getMessage() == "bitrix24.refused"]
    assert len(refusals) == 1 and refusals[0].fix == problem["fix"]
    assert "wh00kTOKEN42" not in str(status) + caplog.text
    assert "wh00kTOKEN42" not in str(refused.value) + repr(portal)


async def test_a_problem_clears_when_the_method_succeeds_again():
    async with FakeBitrix24() as fake:
        portal = webhook_portal(fake)
        fake.answer_error["telephony.externalcall.register"] = (403, "INVALID_CREDENTIALS")
        with pytest.raises(Bitrix24Error):
            await portal.call("telephony.externalcall.register", REGISTER)
        assert portal.status()["problems"][0]["code"] == "INVALID_CREDENTIALS"
        del fake.answer_error["telephony.externalcall.register"]
        await portal.call("telephony.externalcall.register", REGISTER)
        assert portal.status()["state"] == "ok"
        await portal.aclose()


async def test_the_throttle_keeps_a_burst_within_the_portals_bucket():
    """70 requests at once against a bucket of 10 draining 50/s: the portal paces them,
    Bitrix24 never has to refuse one, and they go one at a time."""
    async with FakeBitrix24(rate=50, burst=10) as fake:
        portal = webhook_portal(fake, rate=50, burst=10)
        started = time.monotonic()
        await asyncio.gather(*(portal.call("user.get", {}) for _ in range(70)))
        took = time.monotonic() - started
        await portal.aclose()
    assert fake.refused == 0 and fake.requests("user.get") == 70
    assert took >= (70 - 10) / 50 * 0.9  # the bucket's drain, not faster


async def test_query_limit_exceeded_pauses_everyone_and_is_never_the_callers_failure():
    """Another application on the same address spends the bucket: Bitrix24 refuses with
    503 QUERY_LIMIT_EXCEEDED; the portal waits and sends again, every call succeeds."""
    async with FakeBitrix24(rate=40, burst=5) as fake:
        portal = webhook_portal(fake, rate=1000, burst=1000)  # believes there is room
        results = await asyncio.gather(*(portal.call("user.get", {}) for _ in range(30)))
        await portal.aclose()
    assert fake.refused > 0  # the portal did refuse...
    assert len(results) == 30 and fake.requests("user.get") - fake.refused == 30  # ...and all went through
    assert fake.refused <= 10  # one shared pause, not a storm of repeats


async def test_waiting_longer_than_allowed_raises_rate_limited():
    async with FakeBitrix24(rate=0.1, burst=1) as fake:
        portal = webhook_portal(fake, rate=0.1, burst=1, max_wait_s=0.3)
        await portal.call("user.get", {})
        with pytest.raises(Bitrix24Error) as refused:
            await portal.call("user.get", {})
        await portal.aclose()
    assert refused.value.rate_limited and refused.value.retry_at is not None


async def test_operation_time_limit_waits_for_the_reset_time_of_that_method_only():
    async with FakeBitrix24() as fake:
        portal = webhook_portal(fake, max_wait_s=1.0)
        await portal.call("user.get", {})  # its answer says when the oldest basket resets
        fake.operation_limit["user.get"] = fake.now() + 600
        with pytest.raises(Bitrix24Error) as refused:
            await portal.call("user.get", {})
        sent = fake.requests()
        with pytest.raises(Bitrix24Error) as again:
            await portal.call("user.get", {})
        assert fake.requests() == sent  # blocked here, not sent again
        await portal.call("telephony.externalcall.register", REGISTER)  # other methods go on
        await portal.aclose()
    assert refused.value.code == "OPERATION_TIME_LIMIT" and refused.value.rate_limited
    assert refused.value.retry_at == pytest.approx(time.time() + 600, abs=5)
    assert again.value.rate_limited


@pytest.mark.parametrize("code", ["OVERLOAD_LIMIT", "PORTAL_DELETED"])
async def test_overload_and_a_deleted_portal_are_not_repeated_blindly(code):
    async with FakeBitrix24() as fake:
        portal = webhook_portal(fake, max_wait_s=0.5)
        fake.answer_error["user.get"] = (503 if code == "OVERLOAD_LIMIT" else 500, code)
        with pytest.raises(Bitrix24Error) as refused:
            await portal.call("user.get", {})
        with pytest.raises(Bitrix24Error):
            await portal.call("user.get", {})
        status = portal.status()
        await portal.aclose()
    assert fake.requests("user.get") == 1  # the second call was not sent
    assert refused.value.advice and status["problems"][0]["code"] == code
    if code == "PORTAL_DELETED":
        assert not refused.value.retryable


async def test_a_renamed_portal_is_followed_and_remembered(engine):
    async with FakeBitrix24() as fake:
        url = fake.webhook()
        portal = Bitrix24Portal("b24", WebhookAuth(url), store=PortalStore(engine, "b24"))
        await fake.rename()
        result = await portal.call("telephony.externalcall.register", REGISTER)
        assert result["CALL_ID"] in fake.calls  # the POST went on to the new address
        assert fake.requests("redirect") == 1
        await portal.call("user.get", {})
        await portal.aclose()
        again = Bitrix24Portal("b24", WebhookAuth(url), store=PortalStore(engine, "b24"))  # after a restart
        await again.call("user.get", {})
        await again.aclose()
    assert fake.requests("redirect") == 1
    assert again.status()["portal"].startswith(fake.origin)


async def test_the_application_installs_refreshes_before_expiry_and_keeps_tokens_encrypted(engine, caplog):
    key = Fernet.generate_key().decode()
    async with FakeBitrix24(telephony_app_only=True) as fake:
        portal = app_portal(fake, engine, key)
        with pytest.raises(Bitrix24Error) as not_yet:
            await portal.call("telephony.externalcall.register", REGISTER)
        assert not_yet.value.code == "NOT_INSTALLED" and "install" in not_yet.value.advice
        access, refresh = fake.app_tokens(expires_in=120)
        caplog.set_level(logging.DEBUG)
        await portal.install({"event": "ONAPPINSTALL", "auth[access_token]": access,
                              "auth[refresh_token]": refresh, "auth[expires_in]": "120",
                              "auth[member_id]": "fake-member"})
        assert (await portal.call("telephony.externalcall.register", REGISTER))["CALL_ID"]
        renewed = portal._tokens
        assert renewed.access != access and refresh not in fake.refresh_tokens  # refreshed before expiry
        with Session(engine) as session:
            row = session.get(Bitrix24PortalState, "b24")
            assert renewed.access not in row.access_token and renewed.refresh not in row.refresh_token
        later = app_portal(fake, engine, key)  # a restart: the tokens come from the database
        await later.call("telephony.externalcall.register", REGISTER)
        assert later._tokens == renewed and later.status()["installed"] is True
        texts = [renewed.access, renewed.refresh]
        await portal.aclose()
        await later.aclose()
    for secret in (access, refresh, *texts, fake.client_secret):
        assert secret not in caplog.text


async def test_an_expired_access_token_is_refreshed_and_the_call_goes_through(engine):
    async with FakeBitrix24() as fake:
        portal = app_portal(fake, engine, Fernet.generate_key().decode())
        access, refresh = fake.app_tokens()
        await portal.install({"auth[access_token]": access, "auth[refresh_token]": refresh,
                              "auth[expires_in]": "3600"})
        fake.tokens[access].expires_at = fake.now() - 1  # the portal thinks otherwise
        assert await portal.call("user.get", {})
        await portal.aclose()


async def test_an_install_event_with_a_made_up_token_is_refused_and_not_stored(engine):
    async with FakeBitrix24() as fake:
        portal = app_portal(fake, engine, Fernet.generate_key().decode())
        with pytest.raises(Bitrix24Error):
            await portal.install({"auth[access_token]": "forged", "auth[refresh_token]": "forged-too"})
        await portal.aclose()
    with Session(engine) as session:
        assert session.get(Bitrix24PortalState, "b24") is None
