"""Calls on several Asterisk servers: each known by (server, Uniqueid), and one
server's resync touches only its own calls."""

from acd.core.call_keys import call_key, split_call_key
from acd.core.commands import Record, Ring
from acd.core.events import CallArrived, CallerHungUp, LiveCall, Resynced

from .harness import Harness, config, group, only


def test_the_first_server_keeps_plain_uniqueids_and_the_others_carry_their_name() -> None:
    assert call_key("main", "1700000000.1", "main") == "1700000000.1"
    assert call_key("b", "1700000000.1", "main") == "1700000000.1@b"
    assert split_call_key("1700000000.1@b", "main") == ("b", "1700000000.1")
    assert split_call_key("1700000000.1", "main") == ("main", "1700000000.1")  # an id from before several servers
    assert split_call_key("pbx1-1700000000.1", "main") == ("main", "pbx1-1700000000.1")


def test_the_same_uniqueid_on_two_servers_is_two_calls() -> None:
    h = Harness(config(group(members=("anna", "boris"))))
    first = only(h.send(CallArrived("1700000000.1", "5000", "1", server="main")), Ring)
    second = only(h.send(CallArrived("1700000000.1@b", "5000", "2", server="b")), Ring)
    assert [r.agent_ids for r in first + second] == [("anna",), ("boris",)]
    h.send(CallerHungUp("1700000000.1@b"))
    assert set(h.router.calls) == {"1700000000.1"}


def test_a_servers_resync_ends_only_its_own_calls_it_no_longer_has() -> None:
    h = Harness(config(group(members=("anna", "boris", "clara"))))
    h.send(CallArrived("7.1", "5000", "1", server="main"))
    h.send(CallArrived("7.1@b", "5000", "2", server="b"))
    h.send(CallArrived("7.2@b", "5000", "3", server="b"))
    out = h.send(Resynced((LiveCall("7.2@b", "5000", "3", "waiting"),), server="b", callbacks=None))
    assert set(h.router.calls) == {"7.1", "7.2@b"}  # main's call goes on
    assert [r.call_id for r in only(out, Record) if r.kind == "ended"] == ["7.1@b"]


def test_a_call_found_on_a_server_after_a_restart_belongs_to_it() -> None:
    h = Harness(config(group(members=("anna",))))
    h.send(Resynced((LiveCall("9.9@b", "5000", "1", "waiting"),), server="b", callbacks=None))
    assert h.router.calls["9.9@b"].server == "b"
    h.send(Resynced((), server="main"))
    assert "9.9@b" in h.router.calls
