"""The security contract other routers rely on: current_user, require, tokens, CSRF."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from acd.web.accounts import AccountError, Accounts
from acd.web.security import PERMISSIONS, SignedIn, User, require, use_accounts


@pytest.fixture
def accounts() -> Accounts:
    return Accounts.in_memory()


@pytest.fixture
def client(accounts: Accounts) -> TestClient:
    app = FastAPI()
    use_accounts(app, accounts)

    @app.get("/me")
    async def me(user: SignedIn) -> dict[str, object]:
        return {"username": user.username, "role": user.role}

    @app.post("/phones")
    async def phones(user: Annotated[User, Depends(require("telephony"))]) -> dict[str, str]:
        return {"ok": user.username}

    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_credentials_is_401(client: TestClient) -> None:
    assert client.get("/me").status_code == 401
    assert client.get("/me", headers=bearer("acd_nonsense")).status_code == 401
    assert client.get("/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_token_signs_in_and_permissions_decide(client: TestClient, accounts: Accounts) -> None:
    ann = accounts.create_user("ann", "secret-pw", role="supervisor", permissions={"telephony"})
    bob = accounts.create_user("bob", "secret-pw", role="supervisor", permissions={"crm"})
    ann_token, bob_token = accounts.create_token(ann.id, "ci"), accounts.create_token(bob.id, "ci")
    assert client.get("/me", headers=bearer(ann_token)).json() == {"username": "ann", "role": "supervisor"}
    assert client.post("/phones", headers=bearer(ann_token)).json() == {"ok": "ann"}
    assert client.post("/phones", headers=bearer(bob_token)).status_code == 403


def test_admin_can_everything(accounts: Accounts) -> None:
    root = accounts.create_user("root", "secret-pw", role="admin")
    assert all(root.can(p) for p in PERMISSIONS)
    agent = accounts.create_user("a101", "secret-pw", role="agent", agent_id="101")
    assert not any(agent.can(p) for p in PERMISSIONS)


def test_tokens_are_stored_hashed_and_can_be_revoked(client: TestClient, accounts: Accounts) -> None:
    ann = accounts.create_user("ann", "secret-pw", role="admin")
    token = accounts.create_token(ann.id, "ci")
    with accounts.engine.connect() as db:
        stored = [tuple(r) for r in db.exec_driver_sql("select * from web_tokens")]
    assert token not in repr(stored)
    (info,) = accounts.tokens(ann.id)
    assert accounts.revoke_token(info.id)
    assert client.get("/me", headers=bearer(token)).status_code == 401


def test_passwords_are_argon2_and_checked(accounts: Accounts) -> None:
    accounts.create_user("ann", "secret-pw", role="admin")
    assert accounts.authenticate("ann", "secret-pw") is not None
    assert accounts.authenticate("ann", "wrong-pw!") is None
    assert accounts.authenticate("nobody", "secret-pw") is None
    with accounts.engine.connect() as db:
        (hash_,) = db.exec_driver_sql("select password_hash from web_users").one()
    assert hash_.startswith("$argon2")


def test_bad_accounts_are_refused_with_the_field(accounts: Accounts) -> None:
    with pytest.raises(AccountError) as e:
        accounts.create_user("ann", "short")
    assert e.value.field == "password"
    with pytest.raises(AccountError) as e:
        accounts.create_user("ann", "secret-pw", role="supervisor", permissions={"fly"})
    assert e.value.field == "permissions"
    with pytest.raises(AccountError) as e:
        accounts.create_user("ann", "secret-pw", role="agent")
    assert e.value.field == "agent_id"


def test_cookie_session_needs_the_csrf_token_for_changes(client: TestClient, accounts: Accounts) -> None:
    ann = accounts.create_user("ann", "secret-pw", role="supervisor", permissions={"telephony"})
    login = accounts.start_session(ann)
    client.cookies.set("acd_session", login.key)
    assert client.get("/me").json()["username"] == "ann"
    assert client.post("/phones").status_code == 403
    assert client.post("/phones", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/phones", headers={"X-CSRF-Token": login.csrf}).status_code == 200
    assert client.post("/phones", data={"csrf_token": login.csrf}).status_code == 200
    accounts.end_session(login.key)
    assert client.get("/me").status_code == 401


def test_the_api_documents_bearer_tokens(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_a_throw_away_accounts_database_serves_concurrent_request_threads() -> None:
    # request threads check tokens at the same time; with SQLite's ":memory:" they shared
    # one connection and one thread's COMMIT ended another's transaction
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    accounts = Accounts.in_memory()
    user = accounts.create_user("many", "correct horse battery", role="supervisor")
    token = accounts.create_token(user.id, "load")
    ticks = itertools.count(1_800_000_000, 61)  # every check is a minute later: each one writes
    accounts._now = lambda: float(next(ticks))  # type: ignore[method-assign]
    with ThreadPoolExecutor(16) as pool:
        found = list(pool.map(lambda _: accounts.token_user(token), range(1000)))
    assert all(u is not None and u.username == "many" for u in found)


async def test_a_token_check_begun_before_the_tokens_were_forgotten_is_not_shared_after() -> None:
    """Requests with the same token share the check under way (``Accounts.check_token``),
    but not one begun before a revocation or any change to users: its answer may be
    the old one."""
    import asyncio
    import threading

    accounts = Accounts.in_memory()
    user = accounts.create_user("many", "correct horse battery", role="supervisor")
    token = accounts.create_token(user.id, "load")
    arrived, release, checks = threading.Event(), threading.Event(), []
    check, now = accounts.token_user, accounts._now

    def counted(token: str) -> Any:
        checks.append(token)
        return check(token)

    def slow_now() -> float:  # a check's answer is read, and is late to come back
        if threading.current_thread() is not threading.main_thread():
            arrived.set()
            release.wait(10)
        return float(now())

    accounts.token_user = counted  # type: ignore[method-assign]
    accounts._now = slow_now  # type: ignore[method-assign]
    first, second = (asyncio.ensure_future(accounts.check_token(token)) for _ in range(2))
    assert await asyncio.to_thread(arrived.wait, 10)
    accounts.revoke_token(accounts.tokens()[0].id)
    third = asyncio.ensure_future(accounts.check_token(token))
    release.set()
    assert [u is not None for u in await asyncio.gather(first, second)] == [True, True]  # begun before
    assert await third is None
    assert len(checks) == 2
    assert accounts.cached_token_user(token) is None  # the old answer is not kept either


def test_a_token_checked_while_it_is_being_revoked_is_not_trusted_after() -> None:
    """A check that reads the token after the revocation began but before it is
    committed sees it still valid: its answer must not be kept once the revocation is in."""
    accounts = Accounts.in_memory()
    user = accounts.create_user("racer", "correct horse battery", role="supervisor")
    token = accounts.create_token(user.id, "load")
    seen: list[object] = []
    # runs inside the revoking transaction, before its delete is committed
    accounts.change_listeners.append(lambda session: seen.append(accounts.token_user(token)))
    assert accounts.revoke_token(accounts.tokens()[0].id)
    assert seen and seen[0] is not None  # the check did read the token as valid meanwhile
    assert accounts.cached_token_user(token) is None
    assert accounts.token_user(token) is None
