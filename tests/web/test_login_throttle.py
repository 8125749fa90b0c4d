"""Password guessing at /login: the throttle counts per signed-in name and per address,
keeps bounded memory, and trusts forwarded addresses only from configured proxies."""

from __future__ import annotations

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from acd.config import ServiceSettings
from acd.web.security import forwarded_headers
from acd.web.users import LoginThrottle

from .conftest import PASSWORD, Service


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(client: TestClient, username: str, times: int = 1) -> int:
    status = 0
    for _ in range(times):
        status = client.post("/login", data={"username": username, "password": "wrong-guess"},
                             follow_redirects=False).status_code
    return status


def test_a_name_with_spaces_around_it_shares_the_names_guesses(service: Service) -> None:
    service.user("root", role="admin")
    client = TestClient(service.app)
    assert fail(client, "root", 10) == 401
    # login strips the name, so " root " is root: no fresh set of guesses
    assert fail(client, " root ") == 429
    assert fail(client, "root\t") == 429


def test_huge_usernames_do_not_grow_the_throttle_past_its_cap() -> None:
    clock = Ticking()
    throttle = LoginThrottle(limit=10, window_s=900, max_entries=50, clock=clock)
    for n in range(1000):
        throttle.failed(f"{n:06d}" + "x" * 100_000, f"10.0.{n // 250}.{n % 250}")
    assert throttle.entries() <= 50
    # a name longer than any username can be is never remembered at all
    assert all(len(key) < 200 for key in throttle.keys())


def test_failures_expire_and_their_entries_go() -> None:
    clock = Ticking()
    throttle = LoginThrottle(limit=3, window_s=60, clock=clock)
    for _ in range(3):
        throttle.failed("ann", "10.0.0.1")
    assert throttle.wait_s("ann", "10.0.0.2") > 0
    clock.now += 61
    assert throttle.wait_s("ann", "10.0.0.2") == 0
    throttle.failed("bob", "10.0.0.3")  # any later failure sweeps what expired
    assert sorted(throttle.keys()) == ["addr:10.0.0.3", "user:bob"]


def test_looking_up_a_name_stores_nothing() -> None:
    throttle = LoginThrottle()
    for n in range(100):
        assert throttle.wait_s(f"user{n}", f"10.0.0.{n}") == 0
    assert throttle.entries() == 0


def test_an_oversized_login_field_is_refused(service: Service) -> None:
    client = TestClient(service.app)
    response = client.post("/login", data={"username": "a" * 1_000_000, "password": "x"}, follow_redirects=False)
    assert response.status_code == 413
    response = client.post("/login", data={"username": "a" * 20_000, "password": "x"}, follow_redirects=False)
    assert response.status_code == 413
    assert "too large" in response.text.lower()


def test_a_password_longer_than_any_allowed_is_refused_without_hashing(service: Service) -> None:
    service.user("root", role="admin")
    client = TestClient(service.app)
    assert client.post("/login", data={"username": "root", "password": PASSWORD + "x" * 5000},
                       follow_redirects=False).status_code == 401


# ------------------------------------------------------------------ forwarded addresses
def _client_address_app() -> FastAPI:
    app = FastAPI()

    @app.get("/who")
    async def who(request: Request) -> dict[str, str]:
        return {"host": request.client.host if request.client else ""}

    return app


async def _seen_address(trusted: list[str], peer: str, forwarded: str) -> str:
    settings = ServiceSettings(trusted_proxies=trusted)
    config = uvicorn.Config(_client_address_app(), **forwarded_headers(settings))
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://acd") as client:
        response = await client.get("/who", headers={"X-Forwarded-For": forwarded})
    return str(response.json()["host"])


async def test_forwarded_for_is_ignored_by_default_even_from_loopback() -> None:
    assert ServiceSettings().trusted_proxies == []
    assert await _seen_address([], "127.0.0.1", "203.0.113.9") == "127.0.0.1"


async def test_forwarded_for_is_believed_only_from_a_configured_proxy() -> None:
    assert await _seen_address(["10.0.0.5"], "10.0.0.5", "203.0.113.9") == "203.0.113.9"
    assert await _seen_address(["10.0.0.5"], "127.0.0.1", "203.0.113.9") == "127.0.0.1"
    assert await _seen_address(["10.1.0.0/16"], "10.1.2.3", "203.0.113.9") == "203.0.113.9"


@pytest.mark.parametrize("bad", ["not-an-address", "10.0.0.300", "*"])
def test_trusted_proxies_must_be_addresses_or_networks(bad: str) -> None:
    from acd.config import ConfigError, settings_from_dict

    with pytest.raises(ConfigError, match="trusted_proxies"):
        settings_from_dict({"service": {"trusted_proxies": [bad]}})
