"""Bitrix24's portal status in the API and the application's install handler."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from acd.crm import create_all
from acd.crm.bitrix24_portal import AppAuth, Bitrix24Error, Bitrix24Portal, PortalStore, TokenCipher, WebhookAuth
from acd.event_loop import new_event_loop
from tests.crm.fake_bitrix24 import FakeBitrix24

from .conftest import Service, login


@pytest.fixture
def fake() -> Iterator[FakeBitrix24]:
    """The fake portal on its own event loop in a thread (the test client has its own)."""
    loop = new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    portal = FakeBitrix24()
    asyncio.run_coroutine_threadsafe(portal.start(), loop).result(5)
    yield portal
    asyncio.run_coroutine_threadsafe(portal.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def with_portal(service: Service, portal: Bitrix24Portal) -> None:
    service.ctx.crm = SimpleNamespace(engine=service.store.engine,
                                      sender=SimpleNamespace(connectors={"bitrix24": SimpleNamespace(portal=portal)}))


def test_the_api_names_what_the_portal_refused_and_the_fix_never_the_token(service: Service) -> None:
    from acd.web.app import create_app

    portal = Bitrix24Portal("bitrix24", WebhookAuth("https://acme.bitrix24.de/rest/1/wh00kSECRET77/"))
    portal._note_problem("telephony.externalcall.register",
                         Bitrix24Error("WRONG_AUTH_TYPE", "Current authorization type is denied", 401))
    with_portal(service, portal)
    app = create_app(service.ctx)
    service.user("crm", permissions={"crm"})
    service.user("tel", permissions={"telephony"})
    assert login(app, "tel").get("/api/bitrix24").status_code == 403
    response = login(app, "crm").get("/api/bitrix24")
    [status] = response.json()
    assert status["auth"] == "webhook" and status["state"] == "problem"
    assert status["problems"][0]["code"] == "WRONG_AUTH_TYPE" and "local application" in status["problems"][0]["fix"]
    assert "wh00kSECRET77" not in response.text and status["portal"] == "https://acme.bitrix24.de/rest/1/****/"


def test_the_install_handler_stores_tokens_the_portal_accepts_and_refuses_forged_ones(service: Service,
                                                                                      fake: FakeBitrix24) -> None:
    from acd.web.app import create_app

    create_all(service.store.engine)
    auth = AppAuth(fake.origin, fake.client_id, fake.client_secret, oauth_url=f"{fake.origin}/oauth/token/")
    portal = Bitrix24Portal("bitrix24", auth, store=PortalStore(service.store.engine, "bitrix24",
                                                                TokenCipher(Fernet.generate_key().decode())))
    with_portal(service, portal)
    client = TestClient(create_app(service.ctx))  # Bitrix24 calls it: nobody signs in
    forged = client.post("/api/bitrix24/install", data={"event": "ONAPPINSTALL", "auth[access_token]": "forged",
                                                    "auth[refresh_token]": "forged"})
    assert forged.status_code == 403 and portal.status()["installed"] is False
    access, refresh = fake.app_tokens()
    page = client.post("/api/bitrix24/install", data={"AUTH_ID": access, "REFRESH_ID": refresh, "AUTH_EXPIRES": "3600",
                                                  "member_id": "fake-member"})
    assert page.status_code == 200 and page.json() == {"installed": True, "portal": "bitrix24"}
    assert portal.status()["installed"] is True
    assert client.post("/api/bitrix24/install", data={"event": "ONAPPINSTALL"}).status_code == 400


def test_the_outbox_page_says_what_the_portal_refuses_and_how_to_fix_it(service: Service) -> None:
    from acd.web.app import create_app

    create_all(service.store.engine)
    portal = Bitrix24Portal("bitrix24", WebhookAuth("https://acme.bitrix24.de/rest/1/wh00kSECRET77/"))
    portal._note_problem("telephony.externalcall.register",
                         Bitrix24Error("insufficient_scope", "The request requires higher privileges", 403))
    with_portal(service, portal)
    service.user("crm", permissions={"crm"})
    page = login(create_app(service.ctx), "crm").get("/outbox").text
    assert "Bitrix24 (bitrix24) refuses" in page and "give it the scopes crm, telephony and user" in page
    assert "wh00kSECRET77" not in page
