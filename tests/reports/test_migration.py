"""Migration 0008 fills the reports' new facts from the history so far: the calls an
agent's phone rang out on (from the decision log) and each item's first response."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from acd.store import make_engine, schema


def test_the_upgrade_takes_rang_out_calls_and_first_responses_from_the_history_so_far(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with schema._transaction(engine) as connection:
        command.upgrade(schema._config(connection), "0006_web_audit")
    with engine.begin() as c:
        c.execute(text("INSERT INTO calls (call_id, did, caller_number, caller_name, arrived_at, missed, tried,"
                       " called_back) VALUES ('c1', '', '', '', 100, 0, '[]', 0)"))
        c.execute(text("""INSERT INTO call_events (call_id, at, kind, detail) VALUES
                          ('c1', 101, 'ringing', '{"agent": "ben"}'), ('c1', 116, 'no_answer', '{"agent": "ben"}')"""))
        c.execute(text("""INSERT INTO channel_items (item_id, kind, queue_id, client, status, created_at, updated_at,
                          detail) VALUES ('chat-1', 'chat', 'web', 'x', 'open', 100, 100, '{}'),
                          ('form:f:1', 'form', 'f', 'y', 'closed', 100, 700, '{}')"""))
        c.execute(text("""INSERT INTO channel_events (item_id, at, kind, detail) VALUES
                          ('chat-1', 130, 'answered', '{"agent": "anna"}'), ('form:f:1', 700, 'closed', '{}')"""))
    schema.upgrade(engine)
    with engine.connect() as c:
        assert c.execute(text("SELECT agent_id, role FROM call_agents")).all() == [("ben", "rang_out")]
        assert dict(c.execute(text("SELECT item_id, first_response_at FROM channel_items")).all()) == {
            "chat-1": 130.0, "form:f:1": 700.0}
    engine.dispose()
