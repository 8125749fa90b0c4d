"""The open conversations are stored one row each: a write carries only the
conversations it changed (its cost does not grow with the open ones), and a restart
reads them back, also from a snapshot written before the rows existed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from acd.channels.history import Batch, ConversationRow, RouterStateRow

from .support import FakeClock, Service, chat, settings

CONFIG = settings(chat(idle_seconds=120))


def watch_writes(svc: Service) -> list[Batch]:
    writes: list[Batch] = []
    write = svc.desk.history.write

    def spy(batch: Batch) -> None:
        writes.append(batch)
        write(batch)

    svc.desk.history.write = spy  # type: ignore[method-assign]
    return writes


async def test_a_new_chat_writes_its_own_conversation_not_every_open_one(history_url: str) -> None:
    async with Service(CONFIG, history_url, FakeClock()) as svc:
        for n in range(30):
            await svc.chat(f"telegram:{n}")
        writes = watch_writes(svc)
        cid = await svc.chat("telegram:new")
        await svc.chat("telegram:new", "and again")  # a line only: no conversation changed
        assert [set(w.conversations) for w in writes if w.conversations] == [{cid}]
        assert all("conversations" not in w.snapshot["router"] for w in writes if w.snapshot)
        await svc.post(f"/conversations/{cid}/close", as_="boss", expect=200)
        assert writes[-1].conversations == {cid: None}  # closed: its row goes
        saved = svc.desk.history.snapshot()
        assert saved is not None and len(saved["router"]["conversations"]) == 30
        assert cid not in saved["open"].values() and len(saved["open"]) == 30


async def test_a_restart_reads_the_rows_back_in_order_with_whose_chat_each_is(history_url: str) -> None:
    clock = FakeClock()
    async with Service(CONFIG, history_url, clock) as svc:
        ids = [await svc.chat(f"telegram:{n}") for n in range(6)]
        await svc.post(f"/conversations/{ids[0]}/accept", {}, as_="anna", expect=200)
        before = svc.desk.router.snapshot()
    async with Service(CONFIG, history_url, clock) as svc:
        assert {**svc.desk.router.snapshot(), "seq": 0} == {**before, "seq": 0}
        assert await svc.chat("telegram:3", "still there?") == ids[3]


async def test_a_snapshot_from_before_the_rows_is_read_and_then_written_as_rows(history_url: str) -> None:
    clock = FakeClock()
    async with Service(CONFIG, history_url, clock) as svc:
        ids = [await svc.chat(f"telegram:{n}") for n in range(4)]
        before = svc.desk.router.snapshot()
        legacy: dict[str, Any] = {"version": 1, "router": before, "open": dict(svc.desk._open)}
        with Session(svc.engine) as session, session.begin():  # as the acd before the rows wrote it
            session.execute(update(RouterStateRow).values(data=legacy))
            session.query(ConversationRow).delete()
    async with Service(CONFIG, history_url, clock) as svc:
        assert {**svc.desk.router.snapshot(), "seq": 0} == {**before, "seq": 0}
        assert await svc.chat("telegram:2", "hello again") == ids[2]
        with Session(svc.engine) as session:
            assert {r.conversation_id for r in session.query(ConversationRow)} == set(ids)
            state = session.get(RouterStateRow, "conversations")
            assert state is not None and "conversations" not in state.data["router"]


async def test_a_downgrade_folds_the_rows_back_into_the_snapshot_the_acd_before_reads(tmp_path: object) -> None:
    from alembic import command

    from acd.store import make_engine, schema

    url = f"sqlite:///{tmp_path}/acd.db"
    engine = make_engine(url)
    schema.ensure_current(engine)
    async with Service(CONFIG, url, FakeClock()) as svc:
        ids = [await svc.chat(f"telegram:{n}") for n in range(3)]
        before = svc.desk.history.snapshot()
    with schema._transaction(engine) as connection:
        command.downgrade(schema._config(connection), "0012_bitrix24_portal")
    with Session(engine) as session:
        state = session.get(RouterStateRow, "conversations")
        assert state is not None and before is not None
        assert [c["id"] for c in state.data["router"]["conversations"]] == ids
        assert state.data["open"] == before["open"] and state.data["router"] == before["router"]
    engine.dispose()


async def test_new_conversations_ids_grow_in_arrival_order(history_url: str) -> None:
    """The tables' indexes on the conversation id take each new chat at their end (a
    random id touched a page of every index anywhere: SQLite's commits wrote 2.8x the
    pages), and the ids stay unguessable and unique across restarts."""
    async with Service(CONFIG, history_url, FakeClock()) as svc:
        ids = [await svc.chat(f"telegram:{n}") for n in range(40)]
    async with Service(CONFIG, history_url, FakeClock()) as svc:
        ids += [await svc.chat(f"telegram:later-{n}") for n in range(10)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(len(cid) == len("chat-") + 32 and int(cid.removeprefix("chat-"), 16) for cid in ids)
