"""The history of calls on several Asterisk servers: the same Uniqueid on two servers
is two calls, each with its server."""

from __future__ import annotations

from sqlalchemy import text

from acd.store import Store

from .conftest import rec


def test_the_same_uniqueid_on_two_servers_is_two_calls_each_with_its_server(store: Store) -> None:
    store.apply_records([
        rec("1700000000.1", 0, "arrived", did="5000", caller_number="111", group="sales", server="berlin"),
        rec("1700000000.1@munich", 1, "arrived", did="5000", caller_number="222", group="sales", server="munich"),
        rec("1700000000.1@munich", 5, "answered", agent="max", attempt=1),
    ])
    berlin, munich = store.call("1700000000.1"), store.call("1700000000.1@munich")
    assert berlin is not None and munich is not None
    assert (berlin.server, berlin.caller_number, berlin.answered_by) == ("berlin", "111", None)
    assert (munich.server, munich.caller_number, munich.answered_by) == ("munich", "222", "max")
    assert [c.call_id for c in store.open_calls(server="munich")] == ["1700000000.1@munich"]
    assert {c.server for c in store.calls()} == {"berlin", "munich"}
    with store.engine.connect() as connection:  # each line of a call's log names its server too
        lines = connection.execute(text("SELECT call_id, server FROM call_events ORDER BY id")).all()
    assert [tuple(line) for line in lines] == [("1700000000.1", "berlin"), ("1700000000.1@munich", "munich"),
                                               ("1700000000.1@munich", "munich")]


def test_a_call_recorded_without_a_server_is_the_main_servers(store: Store) -> None:
    store.apply_records([rec("1700000000.2", 0, "arrived", did="5000", caller_number="1", group="sales")])
    call = store.call("1700000000.2")
    assert call is not None and call.server == "main"
