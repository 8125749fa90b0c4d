"""A call's history records go to the history's child process pickled
(acd/store/history_process.py), from the interpreted core and the compiled one alike."""

import pickle

from acd.core.commands import Record


def test_a_record_arrives_in_the_child_as_it_left() -> None:
    sent = [Record("c1", 12.5, "offered", {"agents": ["a1", "a2"], "group": "g"}), Record("c2", 13.0, "answered")]
    received = pickle.loads(pickle.dumps(sent))
    assert received == sent
    assert [r.detail for r in received] == [{"agents": ["a1", "a2"], "group": "g"}, {}]
    assert all(type(r) is Record for r in received)
