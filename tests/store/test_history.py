"""Records become the calls table and the timeline (the table in acd/store/history.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event

from acd.store import Store, history
from acd.store.history import Offer
from acd.store.models import Base, CallRow

from .conftest import T0, arrived, rec


def test_an_answered_call_keeps_who_answered_after_how_long_and_who_hung_up(store: Store) -> None:
    store.apply_records([
        arrived("c1"),
        rec("c1", 0, "considered", agent="anna", decision="ring", attempt=1),
        rec("c1", 1, "ringing", agent="anna", attempt=1),
        rec("c1", 16, "no_answer", agent="anna", rings=3),
        rec("c1", 16, "considered", agent="ben", decision="skip", reason="busy"),
        rec("c1", 16, "considered", agent="chloe", decision="ring", attempt=2),
        rec("c1", 17, "ringing", agent="chloe", attempt=2),
        rec("c1", 20, "answered", agent="chloe", waited_s=20.0, attempt=2),
        rec("c1", 80, "ended", by="caller", talk_s=60.0),
    ])
    call = store.call("c1")
    assert call is not None
    assert (call.did, call.caller_number, call.caller_name, call.group_id) == (
        "+4930111111", "+4915100000001", "Caller", "sales")
    assert call.arrived_at == T0  # epoch seconds, as in the core
    assert call.answered_at == T0 + 20
    assert call.ended_at == T0 + 80
    assert (call.outcome, call.answered_by, call.waited_s, call.hung_up_by) == ("answered", "chloe", 20.0, "caller")
    assert not call.missed
    assert [e.kind for e in call.events] == [
        "arrived", "considered", "ringing", "no_answer", "considered", "considered", "ringing", "answered", "ended"]
    assert call.events[4].detail == {"agent": "ben", "decision": "skip", "reason": "busy"}  # the decision log


def test_a_missed_call_sent_to_voicemail_is_on_the_call_back_list(store: Store) -> None:
    store.apply_records([
        arrived("c1"),
        rec("c1", 0, "considered", agent="anna", decision="ring", attempt=1),
        rec("c1", 15, "no_answer", agent="anna"),
        rec("c1", 15, "considered", agent="ben", decision="ring", attempt=2),
        rec("c1", 30, "missed", reason="nobody answered", tried=["anna", "ben"], waited_s=30.0),
        rec("c1", 30, "voicemail", mailbox="101@default"),
        rec("c1", 70, "ended", by="caller", phase="voicemail"),
    ])
    [missed] = store.missed_calls()
    assert missed.call_id == "c1" and missed.caller_number == "+4915100000001" and missed.group_id == "sales"
    assert (missed.tried, missed.waited_s, missed.missed_reason) == (("anna", "ben"), 30.0, "nobody answered")
    assert (missed.outcome, missed.mailbox, missed.called_back) == ("voicemail", "101@default", False)

    assert store.mark_called_back("c1", by="anna", at=T0 + 3600)
    assert store.missed_calls() == []
    [done] = store.missed_calls(called_back=True)
    assert done.called_back and done.called_back_by == "anna"
    assert done.called_back_at == T0 + 3600
    assert len(store.missed_calls(called_back=None)) == 1
    assert not store.mark_called_back("no-such-call")


def test_a_caller_who_hangs_up_while_ringing_is_abandoned_and_missed(store: Store) -> None:
    store.apply_records([
        arrived("c1"),
        rec("c1", 0, "considered", agent="anna", decision="ring", attempt=1),
        rec("c1", 9, "abandoned", waited_s=9.0, tried=["anna"]),
        rec("c1", 9, "missed", reason="caller hung up while waiting", tried=["anna"], waited_s=9.0),
    ])
    call = store.call("c1")
    assert call is not None
    assert (call.outcome, call.hung_up_by, call.waited_s, call.tried) == ("abandoned", "caller", 9.0, ("anna",))
    assert call.ended_at is not None
    assert [c.call_id for c in store.missed_calls()] == ["c1"]
    assert store.open_calls() == []


def test_a_caller_who_kept_waiting_and_was_answered_is_not_to_be_called_back(store: Store) -> None:
    store.apply_records([
        arrived("c1"),
        rec("c1", 15, "missed", reason="nobody answered", tried=["anna"], waited_s=15.0),
        rec("c1", 15, "waiting", max_wait_s=120),
        rec("c1", 40, "considered", agent="ben", decision="ring", attempt=3),
        rec("c1", 45, "answered", agent="ben", waited_s=45.0, attempt=3),
        rec("c1", 99, "ended", by="agent"),
    ])
    call = store.call("c1")
    assert call is not None and call.missed and call.outcome == "answered" and call.waited_s == 45.0
    assert store.missed_calls() == []


def test_a_forward_answered_outside_stays_forwarded(store: Store) -> None:
    store.apply_records([
        arrived("c1"),
        rec("c1", 15, "missed", reason="nobody answered", tried=["anna"], waited_s=15.0),
        rec("c1", 15, "forwarded", number="+4915112345602", attempt=2),
        rec("c1", 20, "answered", number="+4915112345602", waited_s=20.0, attempt=2),
        rec("c1", 90, "ended", by="caller"),
    ])
    call = store.call("c1")
    assert call is not None
    assert (call.outcome, call.forwarded_to, call.answered_by) == ("forwarded", "+4915112345602", None)
    assert store.missed_calls() == []  # somebody took it


def test_an_unrouted_number_is_missed_and_hung_up(store: Store) -> None:
    store.apply_records([
        arrived("c1", group=""),
        rec("c1", 0, "missed", reason="number not routed to a queue group", tried=[], waited_s=0.0),
        rec("c1", 0, "hangup", message=""),
        rec("c1", 1, "ended", by="system", phase="hanging_up"),
    ])
    call = store.call("c1")
    assert call is not None and call.group_id is None and call.outcome == "hangup"


def test_a_rerouted_call_belongs_to_the_group_it_ended_in_and_keeps_everyone_tried(store: Store) -> None:
    store.apply_records([
        arrived("c1", group="hotline"),
        rec("c1", 20, "missed", reason="nobody answered", tried=["anna", "ben"], waited_s=20.0),
        rec("c1", 20, "rerouted", group="support"),
        rec("c1", 40, "missed", reason="nobody answered", tried=["ben", "dev"], waited_s=40.0),
        rec("c1", 40, "voicemail", mailbox="104@default"),
        rec("c1", 60, "ended", by="caller"),
    ])
    [missed] = store.missed_calls()
    assert missed.group_id == "support" and missed.tried == ("anna", "ben", "dev") and missed.waited_s == 40.0


def test_a_transfer_is_the_outcome_and_the_target_takes_part(store: Store) -> None:
    store.apply_records([
        arrived("c1"),
        rec("c1", 5, "answered", agent="anna", waited_s=5.0, attempt=1),
        rec("c1", 30, "transferred", from_agent="anna", to_agent="dev", kind="blind"),
        rec("c1", 90, "ended", by="caller"),
    ])
    call = store.call("c1")
    assert call is not None
    assert (call.outcome, call.answered_by, call.transferred_to) == ("transferred", "anna", "dev")
    assert [c.call_id for c in store.calls(agent="dev")] == ["c1"]


def test_a_pickup_keeps_whose_phone_rang(store: Store) -> None:
    store.apply_records([
        arrived("c1"),
        rec("c1", 3, "pickup", by="ben", from_agent="anna"),
        rec("c1", 3, "answered", agent="ben", picked_up_from="anna", waited_s=3.0, attempt=1),
    ])
    call = store.call("c1")
    assert call is not None and (call.answered_by, call.picked_up_from) == ("ben", "anna")


def test_unknown_kinds_and_calls_without_arrival_are_still_stored(store: Store) -> None:
    store.apply_records([
        rec("c9", 5, "something_new", value=1, nested={"a": [1, 2]}),
        rec("c9", 6, "ended", by="unknown", reason="ended while the ACD could not see the PBX"),
    ])
    call = store.call("c9")
    assert call is not None and call.arrived_at == T0 + 5
    assert call.outcome == "ended" and call.hung_up_by == "unknown"
    assert call.events[0].kind == "something_new" and call.events[0].detail == {"value": 1, "nested": {"a": [1, 2]}}


def test_a_recovered_call_gets_a_row_and_stays_open(store: Store) -> None:
    store.apply_records([rec("c2", 0, "recovered", state="ringing", did="+4930222222",
                             caller_number="+491700000", group="support")])
    [open_call] = store.open_calls()
    assert (open_call.call_id, open_call.did, open_call.group_id) == ("c2", "+4930222222", "support")


def test_detail_values_that_are_not_json_are_kept_as_text(store: Store) -> None:
    store.apply_records([arrived("c1"), rec("c1", 1, "note", when=datetime(2024, 1, 1, tzinfo=UTC), ids=("a", "b"))])
    call = store.call("c1")
    assert call is not None and call.events[1].detail == {"when": "2024-01-01 00:00:00+00:00", "ids": ["a", "b"]}


def test_records_for_one_call_may_arrive_over_several_batches(store: Store) -> None:
    store.apply_records([arrived("c1"), rec("c1", 1, "considered", agent="anna", decision="ring")])
    store.apply_records([rec("c1", 2, "ringing", agent="anna")])  # anna is already linked: no duplicate
    store.apply_records([rec("c1", 5, "answered", agent="anna", waited_s=5.0)])
    call = store.call("c1")
    assert call is not None and call.answered_by == "anna" and len(call.events) == 4


def test_a_call_in_progress_has_no_outcome_yet_only_its_final_one_counts(store: Store) -> None:
    # keep waiting: the core records "missed" as the caller goes back to music
    store.apply_records([
        arrived("c1"),
        rec("c1", 0, "missed", reason="no member available", tried=[], waited_s=0.0),
        rec("c1", 0, "waiting", max_wait_s=120),
    ])
    waiting = store.call("c1")
    assert waiting is not None and waiting.outcome is None and waiting.ended_at is None
    assert store.calls(outcome="missed") == []
    store.apply_records([rec("c1", 30, "answered", agent="ben", waited_s=30.0, attempt=2)])
    talking = store.call("c1")
    assert talking is not None and talking.outcome is None and talking.answered_by == "ben"
    store.apply_records([rec("c1", 90, "ended", by="caller")])
    done = store.call("c1")
    assert done is not None and (done.outcome, done.waited_s) == ("answered", 30.0)


def test_a_caller_who_waited_to_the_maximum_and_reached_voicemail_waited_that_long(store: Store) -> None:
    store.apply_records([
        arrived("c1"),
        rec("c1", 0, "missed", reason="no member available", tried=[], waited_s=0.0),
        rec("c1", 0, "waiting", max_wait_s=120),
        rec("c1", 120, "voicemail", mailbox="101@default", waited_s=120.0),
        rec("c1", 150, "ended", by="caller", phase="voicemail"),
    ])
    [missed] = store.missed_calls()
    assert (missed.outcome, missed.waited_s) == ("voicemail", 120.0)


def test_a_call_that_ended_unseen_after_missed_processing_is_missed(store: Store) -> None:
    store.apply_records([
        arrived("c1"),
        rec("c1", 15, "missed", reason="nobody answered", tried=["anna"], waited_s=15.0),
        rec("c1", 15, "waiting", max_wait_s=120),
        rec("c1", 40, "ended", by="unknown", reason="ended while the ACD could not see the PBX"),
    ])
    call = store.call("c1")
    assert call is not None and call.outcome == "missed"


def test_a_batch_is_written_by_statements_without_orm_objects(store: Store) -> None:
    """The history's batches run on a worker thread that shares the GIL with call routing
    (bench/first_ring.py): the calls rows are read as tuples and written by INSERT and
    UPDATE statements, not built or loaded as ORM objects for the unit of work."""
    store.apply_records([arrived("c1"), rec("c1", 1, "considered", agent="anna", decision="ring")],
                        [Offer("sales", "anna", T0)])
    objects: list[object] = []
    def note(target: object, *_: object) -> None:
        objects.append(target)
    event.listen(Base, "init", note, propagate=True)
    event.listen(Base, "load", note, propagate=True)
    try:
        store.apply_records([
            rec("c1", 5, "answered", agent="anna", waited_s=5.0),
            arrived("c2", at=6), rec("c2", 6, "considered", agent="ben", decision="ring"),
        ], [Offer("sales", "anna", T0 + 1), Offer("sales", "ben", T0 + 6)])
    finally:
        event.remove(Base, "init", note)
        event.remove(Base, "load", note)
    assert objects == []
    c1, c2 = store.call("c1"), store.call("c2")
    assert c1 is not None and (c1.answered_by, c1.answered_at, c1.waited_s) == ("anna", T0 + 5, 5.0)
    assert c2 is not None and (c2.did, c2.caller_name, c2.group_id) == ("+4930111111", "Caller", "sales")
    assert store.load_offers() == {("sales", "anna"): T0 + 1, ("sales", "ben"): T0 + 6}


def test_a_batch_updates_only_the_columns_its_records_change(store: Store) -> None:
    """A supervisor's tick on the call-back list, committed between the history's read of
    a call and its write, is not written back over by the call's next record."""
    store.apply_records([arrived("c1"), rec("c1", 15, "missed", reason="nobody answered", tried=["anna"],
                                                waited_s=15.0)])
    updates: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: updates.append(statement)
                 if statement.startswith("UPDATE calls") else None)
    store.apply_records([rec("c1", 40, "ended", by="caller")])
    [update] = updates
    assert "ended_at" in update and "outcome" in update and "called_back" not in update and "did" not in update


def test_the_batch_s_call_has_every_column_of_the_calls_table() -> None:
    """A column added to models.CallRow is read and written by the history's batches too."""
    assert history.CALL_COLUMNS == tuple(column.key for column in CallRow.__table__.columns)
