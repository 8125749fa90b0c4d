"""Every page, rendered over a busy picture (calls ringing, talking, missed, abandoned;
agents offline, on a break, on a call), says things in a supervisor's words: no Asterisk
device state, no raw setting value, no Python value, no pydantic text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from acd.core.commands import Ring
from acd.core.events import (
    AgentWorkChanged,
    CallArrived,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    MemberAnswered,
    MemberRinging,
)

from .conftest import Service, build, login
from .visible import visible_text

RAW = re.compile(
    r"\b(NOT_INUSE|INUSE|RINGINUSE|RINGING|UNAVAILABLE|ONHOLD|INVALID|UNKNOWN|BUSY"  # Asterisk's device states
    r"|keep_waiting|forward_group|forward_mobile|forward_number|open_channels|crm_forms|no_answer"  # raw values
    r"|waited_s|talk_s|waited s:|tried:|None|True|False)\b"  # Python values and log keys
    r"|\['|Input should|\(got "
)
PARAMS = {"group_id": "sales", "call_id": "call-2", "queue_id": "site", "client_id": "1"}


def busy(tmp_path: Path, clock: Any = None) -> Service:
    service = build(tmp_path, clock=clock)
    feed = service.distributor.feed

    def ring(call_id: str, did: str) -> Ring:
        feed(CallArrived(call_id, did, "+491700000" + call_id[-1], caller_name="Maria Lopez"))
        return next(c for c in reversed(service.pbx.commands) if isinstance(c, Ring) and c.call_id == call_id)

    first = ring("call-1", "+4930222222")  # support: chloe answers and talks
    feed(MemberRinging("call-1", first.attempt, first.agent_ids[0]))
    feed(MemberAnswered("call-1", first.attempt, first.agent_ids[0]))
    feed(DeviceStateChanged(first.agent_ids[0], DeviceState.INUSE))
    second = ring("call-2", "+4930111111")  # sales: anna rings out, ben is offline, the caller gives up
    feed(MemberRinging("call-2", second.attempt, "anna"))
    feed(DeviceStateChanged("anna", DeviceState.RINGINUSE))
    feed(DeviceStateChanged("ben", DeviceState.UNAVAILABLE))
    feed(CallerHungUp("call-2"))
    feed(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    feed(AgentWorkChanged("anna", False, "on a break"))
    feed(CallArrived("call-3", "+4930111111", "+4917000003"))  # sales again: nobody free, missed-call processing
    return service


def routes(items: list[Any]) -> list[Route]:
    """Every route, the included routers' too (acd includes them without a prefix)."""
    out: list[Route] = []
    for item in items:
        inner = getattr(item, "original_router", None)
        out.extend(routes(inner.routes) if inner is not None else [item])
    return out


def pages(service: Service) -> list[str]:
    paths = []
    for route in routes(service.app.routes):
        if not isinstance(route, Route) or "GET" not in (route.methods or ()) or route.include_in_schema:
            continue
        if route.path.startswith(("/api", "/static", "/docs", "/redoc", "/openapi")) or route.path == "/favicon.ico":
            continue
        paths.append(re.sub(r"\{(\w+)\}", lambda m: PARAMS[m[1]], route.path))
    return paths


@pytest.fixture
def busy_service(tmp_path: Path) -> Service:
    return busy(tmp_path)


def test_no_page_shows_a_device_state_a_raw_value_or_a_python_value(busy_service: Service) -> None:
    busy_service.user("root", role="admin")
    client = login(busy_service.app, "root")
    paths = pages(busy_service)
    assert {"/", "/history", "/missed", "/calls/call-2", "/groups", "/groups/sales", "/users", "/tokens"} <= set(paths)
    for path in paths:
        response = client.get(path)
        assert response.status_code != 500, path  # 503: a part this process does not run (no CRM)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue  # a script or a download served beside the pages (the reports' plotly.js)
        text = visible_text(response.text)
        found = RAW.findall(text)
        assert not found, f"{path} shows {found}"


def test_the_call_page_tells_the_busy_calls_story_in_sentences(busy_service: Service) -> None:
    busy_service.user("sup", permissions={"telephony"})
    text = visible_text(login(busy_service.app, "sup").get("/calls/call-2").text)
    assert "Call from Maria Lopez (+4917000002) on +4930111111, for queue group Sales" in text
    assert "Ben Ortiz was skipped: offline" in text or "Rang Anna Berg" in text
    assert "The caller hung up after waiting" in text and "offered to Anna Berg" in text


def test_acd_serves_its_own_favicon(busy_service: Service) -> None:
    busy_service.user("sup", permissions={"telephony"})
    client = login(busy_service.app, "sup")
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")
    assert 'rel="icon" type="image/svg+xml"' in client.get("/history").text
