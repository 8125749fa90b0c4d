"""The API answers what its OpenAPI description says: schemathesis generates requests
for every operation (valid and invalid ones), signed in as an administrator, and
checks every answer: no 5xx, a documented status, a body of the documented shape.

Bounded (``EXAMPLES`` per operation) so the run stays well under a minute."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from acd.channels import Desk
from acd.crm.models import create_all
from acd.web.accounts import Accounts
from acd.web.app import create_app
from acd.web.channels_api import channels_router
from acd.web.limits import FORM_FIELD_MAX
from acd.web.workspace import install_workspace

from .conftest import PASSWORD, SETTINGS, Service, bearer, build

EXAMPLES = 25

DATA: dict[str, Any] = {**SETTINGS, "channels": [
    {"id": "webchat", "kind": "chat", "members": ["anna", "ben"]},
    {"id": "mail", "kind": "email", "members": ["chloe"]},
    {"id": "contact", "kind": "form", "members": ["ben"]},
]}


class Admin:
    """An administrator's token that stays valid whatever the generated requests do to
    users and tokens (they may revoke it, demote or delete its user)."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.user_id = accounts.create_user("schemathesis", PASSWORD, role="admin").id
        self.token = accounts.create_token(self.user_id, "schemathesis")

    def headers(self) -> dict[str, str]:
        found = self.accounts.user_any(self.user_id)
        if found is None:
            self.user_id = self.accounts.create_user("schemathesis", PASSWORD, role="admin").id
        elif not found[0].is_admin or not found[1]:
            self.accounts.update_user(self.user_id, role="admin", permissions=(), agent_id=None, active=True)
        if self.accounts.token_user(self.token) is None:
            self.token = self.accounts.create_token(self.user_id, "schemathesis")
        return bearer(self.token)


def with_channels(service: Service) -> Desk:
    """The service's app with the channels' API too, as ``acd serve`` has it."""
    desk = Desk.from_settings(service.settings, service.store.engine, service.ctx.clock)
    service.app = create_app(service.ctx, routers=[channels_router(desk)])
    install_workspace(service.app, desk)
    return desk


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Admin]]:
    """One service for the whole run: the generated requests change it as they go."""
    service = build(tmp_path_factory.mktemp("api"), DATA)
    create_all(service.store.engine)
    service.ctx.crm = service.store.engine  # the outbox's pages read the CRM's tables
    desk = with_channels(service)
    yield service, Admin(service.accounts)
    desk.timers.cancel_all()
    service.distributor.timers.cancel_all()
    service.store.close()


# the description is the same for every app: read once from one, each test then calls
# its own fresh app (schemathesis's lazy fixture loader does not run on pytest 9)
_described = build(None, DATA)
_described.ctx.crm = _described.store.engine
with_channels(_described)
# an invalid request may also be refused for its size (413): a schema-valid body of
# long texts written as JSON escapes can pass MAX_BODY
CONFIG = schemathesis.config.SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422]}}})
# the live streams never end, so a request/response client cannot read them: their
# description is checked below
schema = schemathesis.openapi.from_asgi("/openapi.json", _described.app, config=CONFIG).exclude(
    path="/api/live/stream").exclude(path="/api/workspace/stream")
current: list[Admin] = []  # the running test's administrator


@schema.auth(refresh_interval=None)
class AdminToken:
    """Signs every generated request in (schemathesis leaves it out where it tests that
    a request without credentials is refused)."""

    def get(self, case: Any, context: Any) -> str:
        return current[-1].headers()["Authorization"] if current else ""  # "" while collecting

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, print_blob=True,
          suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_described(case: Any, api: tuple[Service, Admin]) -> None:
    service, admin = api
    current[:] = [admin]
    # positive_data_acceptance is left out: the configuration's references (a group's
    # members must be known agents, a password change needs the current password)
    # are checked against the data, beyond what any schema can say
    case.call_and_validate(app=service.app, excluded_checks=[schemathesis.checks.positive_data_acceptance])


def test_the_422_answer_is_described_as_the_app_gives_it(service: Service) -> None:
    client = TestClient(service.app)
    described = client.get("/openapi.json").json()
    operation = described["paths"]["/api/calls"]["get"]
    ref = operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    shape = described["components"]["schemas"][ref.rsplit("/", 1)[1]]
    problem = shape["properties"]["detail"]["items"]
    assert set(described["components"]["schemas"][problem["$ref"].rsplit("/", 1)[1]]["properties"]) == {
        "item", "problem"}
    assert "HTTPValidationError" not in described["components"]["schemas"]


def test_errors_are_described_where_they_happen(service: Service) -> None:
    paths = TestClient(service.app).get("/openapi.json").json()["paths"]
    assert {"401", "403", "404", "422"} <= set(paths["/api/users/{user_id}"]["put"]["responses"])
    assert {"401", "403", "413", "422"} <= set(paths["/api/groups/{group_id}"]["put"]["responses"])
    assert "409" in paths["/api/live/calls/{call_id}/intercept"]["post"]["responses"]
    assert "401" in paths["/api/me"]["get"]["responses"]
    assert "application/json" in paths["/api/live/stream"]["get"]["responses"]["401"]["content"]
    assert FORM_FIELD_MAX  # the same limits module describes and enforces
