"""A call's page reads the call and its timeline from one snapshot of the database:
an answer committed between the two SELECTs never yields a torn record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from acd.store import Store

from .conftest import arrived, rec


@pytest.fixture
def writer(db_url: str, store: Store) -> Iterator[Store]:
    """A second process on the same database (its own engine and connections)."""
    other = Store(db_url)
    yield other
    other.close()


def test_an_answer_committed_between_the_two_selects_is_seen_whole_or_not_at_all(store: Store,
                                                                                  writer: Store) -> None:
    store.apply_records([arrived("c1"), rec("c1", 0, "considered", agent="anna", decision="ring")])
    selects: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def answer_in_between(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)
        if "FROM call_events" in statement and not writer.call("c1").answered_by:  # type: ignore[union-attr]
            # the call row has been read; the writer commits the answer before the events are
            writer.apply_records([rec("c1", 5, "answered", agent="anna", waited_s=5.0)])

    detail = store.call("c1")
    event.remove(store.engine, "before_cursor_execute", answer_in_between)

    assert detail is not None
    assert len(selects) == 2  # the call, then its events: the case the snapshot must cover
    kinds = [e.kind for e in detail.events]
    assert "answered" not in kinds and detail.answered_by is None, (kinds, detail.answered_by)
    answered = store.call("c1")
    assert answered is not None and answered.answered_by == "anna"
    assert [e.kind for e in answered.events][-1] == "answered"
