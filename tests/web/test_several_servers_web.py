"""Calls of several Asterisk servers in the API and pages: an id that carries its
server (``<Uniqueid>@<server>``) is an address like any other, and the plain
Uniqueids of the first server (and of the time before) still are."""

from __future__ import annotations

from acd.core.commands import Ring
from acd.core.events import CallArrived, CallerHungUp, MemberAnswered, MemberRinging

from .conftest import Service, login


def answered(service: Service, call_id: str, server: str) -> None:
    service.distributor.feed(CallArrived(call_id, "+4930111111", "+491700000001", server=server))
    ring = [c for c in service.pbx.commands if isinstance(c, Ring) and c.call_id == call_id][-1]
    service.distributor.feed(MemberRinging(call_id, ring.attempt, ring.agent_ids[0]))
    service.distributor.feed(MemberAnswered(call_id, ring.attempt, ring.agent_ids[0]))
    service.distributor.feed(CallerHungUp(call_id))


def test_the_same_uniqueid_on_two_servers_is_two_calls_each_at_its_own_address(service: Service) -> None:
    answered(service, "1700000000.1", "main")
    answered(service, "1700000000.1@munich", "munich")
    service.user("sup", permissions={"telephony"})
    sup = login(service.app, "sup")
    assert {(c["call_id"], c["server"]) for c in sup.get("/api/calls").json()} == {
        ("1700000000.1", "main"), ("1700000000.1@munich", "munich")}
    assert sup.get("/api/calls/1700000000.1@munich").json()["server"] == "munich"
    assert sup.get("/api/calls/1700000000.1").json()["server"] == "main"
    history = sup.get("/history").text
    assert 'href="/calls/1700000000.1@munich"' in history and 'href="/calls/1700000000.1"' in history
    page = sup.get("/calls/1700000000.1@munich")
    assert page.status_code == 200 and "Asterisk server munich" in page.text
    assert "Asterisk server" not in sup.get("/calls/1700000000.1").text  # the only server's calls, as before
