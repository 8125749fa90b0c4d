"""What the history writes reads back the same, whatever the text: on PostgreSQL the
rows go by COPY (``ChannelHistory.write``), whose text format has escapes of its own
(tabs, new lines, backslashes, ``\\N`` for NULL)."""

from __future__ import annotations

from acd.channels.history import Batch, ChannelHistory, ConversationState, Line, NewItem
from acd.store import make_engine

AWKWARD = 'tab\there\nnew line \\ backslash \\N not null "quoted" Grüße 👋 \x01'


def test_awkward_text_reads_back_as_written(history_url: str) -> None:
    engine = make_engine(history_url)
    history = ChannelHistory(engine)
    history.create_all()
    item_id = f"form:contact:{AWKWARD}"
    history.write(Batch(
        items=[NewItem(item_id, "form", "contact", AWKWARD, 10.5, {"fields": {AWKWARD: AWKWARD}})],
        lines=[Line(item_id, 11.25, "message", {"text": AWKWARD, "none": None}), Line(item_id, 12.0, "closed")],
        alerts=[Line("contact", 13.0, "nobody_available", {"why": AWKWARD})],
        conversations={"chat-1": ConversationState(1, f"web|{AWKWARD}", {"id": "chat-1", "client": AWKWARD})},
        snapshot={"version": 1, "router": {}}))
    item = history.item(item_id)
    assert item is not None
    assert (item["client"], item["detail"], item["status"], item["closed_at"]) == (
        AWKWARD, {"fields": {AWKWARD: AWKWARD}}, "closed", 12.0)
    assert history.timeline(item_id) == [{"at": 11.25, "kind": "message", "text": AWKWARD, "none": None},
                                         {"at": 12.0, "kind": "closed"}]
    assert history.alerts() == [{"queue": "contact", "at": 13.0, "kind": "nobody_available", "why": AWKWARD}]
    saved = history.snapshot()
    assert saved is not None and saved["open"] == {f"web|{AWKWARD}": "chat-1"}
    assert saved["router"]["conversations"] == [{"id": "chat-1", "client": AWKWARD}]
    engine.dispose()
