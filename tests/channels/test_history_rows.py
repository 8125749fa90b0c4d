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


def test_a_write_keeps_its_lines_in_order_and_the_stored_items_current(history_url: str) -> None:
    """Lines of several items, interleaved, read back in the order written (the ids
    given on insert follow it), and the lines of an item stored by an earlier write
    keep its row current (who has it, its first response, its closing)."""
    engine = make_engine(history_url)
    history = ChannelHistory(engine)
    history.create_all()
    history.write(Batch(items=[NewItem("chat-a", "chat", "web", "telegram:1", 1.0),
                               NewItem("form:f:1", "form", "contact", "x@example.com", 1.0)]))
    lines = [Line(item, 2.0 + n, "message", {"n": n}) for n in range(300) for item in ("chat-a", "agent:a1")]
    history.write(Batch(lines=[*lines, Line("chat-a", 400.0, "accepted", {"agent": "a1"}),
                               Line("chat-a", 401.0, "answered", {"agent": "a1"}),
                               Line("form:f:1", 402.0, "closed", {"by": "a2"})],
                        alerts=[Line("web", 403.0 + n, "nobody_available", {"n": n}) for n in range(5)]))
    assert [line["n"] for line in history.timeline("chat-a")[:300]] == list(range(300))
    assert [line["n"] for line in history.timeline("agent:a1")] == list(range(300))
    chat, form = history.item("chat-a"), history.item("form:f:1")
    assert chat is not None and form is not None
    assert (chat["agent"], chat["status"], chat["updated_at"]) == ("a1", "open", 401.0)
    assert (form["status"], form["closed_at"]) == ("closed", 402.0)
    assert [alert["n"] for alert in history.alerts()] == [4, 3, 2, 1, 0]  # newest first
    engine.dispose()


def test_a_write_replaces_changed_conversations_and_removes_closed_ones(history_url: str) -> None:
    engine = make_engine(history_url)
    history = ChannelHistory(engine)
    history.create_all()

    def state(rank: int, cid: str, text: str) -> ConversationState:
        return ConversationState(rank, f"web|{cid}", {"id": cid, "text": text})

    history.write(Batch(snapshot={"version": 1, "router": {"seq": 1}}, snapshot_at=1.0,
                        conversations={c: state(n, c, "first") for n, c in enumerate(("c1", "c2", "c3"), 1)}))
    history.write(Batch(snapshot={"version": 1, "router": {"seq": 2}}, snapshot_at=2.0,
                        conversations={"c1": state(1, "c1", "changed"), "c2": None, "c4": state(4, "c4", "new")}))
    saved = history.snapshot()
    assert saved is not None and saved["router"]["seq"] == 2
    assert saved["router"]["conversations"] == [{"id": "c1", "text": "changed"}, {"id": "c3", "text": "first"},
                                                {"id": "c4", "text": "new"}]
    assert saved["open"] == {"web|c1": "c1", "web|c3": "c3", "web|c4": "c4"}
    engine.dispose()
