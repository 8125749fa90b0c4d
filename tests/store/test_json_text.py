"""JSON columns are written by orjson (``acd.store.database.json_text``) and read back
as the json module wrote them before: the same values, whatever the database."""

from __future__ import annotations

import json

from sqlalchemy import insert, select

from acd.channels.history import Base as ChannelTables
from acd.channels.history import ChannelHistory, EventRow
from acd.store import make_engine
from acd.store.database import json_text

DETAIL = {"text": "Grüße, 你好 👋", "agents": ["a1", "a2"], 3: "a number's key", "nested": {"none": None, "x": 1.5},
          "big": 2**70}  # past 64 bits: orjson refuses it, the json module writes it


def test_a_detail_reads_back_as_the_json_module_wrote_it(db_url: str) -> None:
    engine = make_engine(db_url)
    ChannelHistory(engine).create_all()
    try:
        with engine.begin() as db:
            db.execute(insert(EventRow), [{"item_id": "chat-1", "at": 1.0, "kind": "message", "detail": DETAIL}])
        with engine.connect() as db:
            stored = db.scalar(select(EventRow.detail).where(EventRow.item_id == "chat-1"))
        assert stored == json.loads(json.dumps(DETAIL))
    finally:
        ChannelTables.metadata.drop_all(engine)  # the channels' tables are not the store's to keep
        engine.dispose()


def test_the_text_is_json_of_the_same_values() -> None:
    assert json.loads(json_text(DETAIL)) == json.loads(json.dumps(DETAIL))
    assert json_text({"a": [1, 2]}) == '{"a":[1,2]}'
