"""The call history written by a child process (acd serve): what the thread wrote, the
same retries when the database is away or the child dies, the same halving when the
database refuses a record."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from acd.store import HistoryWriter, Store
from acd.store.history_process import HistoryProcess
from acd.store.writer import HistoryRefused

from .conftest import T0, arrived, rec


@pytest.fixture
async def child(db_url: str) -> AsyncIterator[HistoryProcess]:
    history = HistoryProcess(db_url)
    yield history
    await history.close()


def writer_for(store: Store, history: HistoryProcess) -> HistoryWriter:
    writer = HistoryWriter(store, batch_delay_s=0.05, retry_delays_s=(0.05, 0.1))
    writer.write_with(history.apply)
    return writer


async def test_what_the_child_writes_is_the_calls_history(store: Store, child: HistoryProcess) -> None:
    async with writer_for(store, child) as writer:
        writer.add([arrived("c1"), rec("c1", 2, "considered", agent="anna", decision="ring"),
                    rec("c1", 5, "answered", agent="anna", waited_s=5.0)])
        writer.offered("sales", ("anna",), T0 + 2)
        await writer.flush(timeout_s=30)  # the first batch waits for the child to start
        writer.add([rec("c1", 60, "ended", by="caller")])
        await writer.flush(timeout_s=10)
    call = store.call("c1")
    assert call is not None and call.outcome == "answered" and call.answered_by == "anna"
    assert call.ended_at == T0 + 60 and call.waited_s == 5.0
    assert [e.kind for e in call.events] == ["arrived", "considered", "answered", "ended"]
    assert store.load_offers() == {("sales", "anna"): T0 + 2}
    assert writer.written == 4 and writer.dropped == 0


async def test_a_child_that_dies_is_replaced_and_nothing_is_lost(
    store: Store, child: HistoryProcess, caplog: pytest.LogCaptureFixture
) -> None:
    async with writer_for(store, child) as writer:
        writer.add([arrived("c1")])
        await writer.flush(timeout_s=30)
        pool = child._pool
        assert pool is not None
        for pid in list(pool._processes):  # the child goes, as after the kernel's OOM killer
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        writer.add([rec("c1", 5, "answered", agent="anna", waited_s=5.0), arrived("c2", at=6)])
        await writer.flush(timeout_s=30)
    assert [r for r in caplog.records if r.message == "history write failed, will retry"]
    first, second = store.call("c1"), store.call("c2")
    assert first is not None and first.answered_by == "anna" and second is not None
    assert [e.kind for e in first.events] == ["arrived", "answered"]


async def test_a_database_away_is_retried_through_the_child(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "not-yet"  # SQLite cannot open a file in a folder that is not there
    url = f"sqlite:///{folder / 'history.db'}"
    history = HistoryProcess(url)
    writer = HistoryWriter(Store(url), batch_delay_s=0.01, retry_delays_s=(0.2,))
    writer.write_with(history.apply)
    try:
        async with writer:
            writer.add([arrived("c1")])
            while not [r for r in caplog.records if r.message == "history write failed, will retry"]:
                await asyncio.sleep(0.05)
            folder.mkdir()
            Store(url).create_all()
            await writer.flush(timeout_s=30)
    finally:
        await history.close()
    call = Store(url).call("c1")
    assert call is not None and [e.kind for e in call.events] == ["arrived"]
    assert writer.dropped == 0


def refuse_call(store: Store, call_id: str) -> None:
    """The database refuses the call's history lines: a trigger, as a constraint would.
    (A record the schema refuses by itself, such as one without a time, cannot even be
    made with the compiled core: acd/hot_path.py.)"""
    with store.engine.begin() as db:
        if store.engine.dialect.name == "postgresql":
            db.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION refuse_call() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.call_id = '{call_id}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ "
                "LANGUAGE plpgsql")
            db.exec_driver_sql("CREATE TRIGGER refuse_call BEFORE INSERT ON call_events "
                               "FOR EACH ROW EXECUTE FUNCTION refuse_call()")
        else:
            db.exec_driver_sql(f"CREATE TRIGGER refuse_call BEFORE INSERT ON call_events WHEN NEW.call_id = "
                               f"'{call_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END")


async def test_a_record_the_database_refuses_is_dropped_loudly_and_the_others_written(
    store: Store, child: HistoryProcess, caplog: pytest.LogCaptureFixture
) -> None:
    refuse_call(store, "c3")
    bad = arrived("c3", at=3)
    async with writer_for(store, child) as writer:
        writer.add([arrived(f"c{n}", at=n) for n in range(3)])
        writer.add([bad])
        writer.add([arrived(f"d{n}", at=10 + n) for n in range(3)])
        await writer.flush(timeout_s=30)
    assert writer.dropped == 1 and writer.written == 6
    assert len(store.open_calls()) == 6 and store.call("c3") is None
    [dropped] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert '"call_id": "c3"' in dropped.getMessage()
    assert dropped.exc_info is not None and dropped.exc_info[0] is HistoryRefused  # decided in the child


def test_an_in_memory_database_keeps_its_history_on_a_thread() -> None:
    assert HistoryProcess.for_url("sqlite://") is None
    assert HistoryProcess.for_url("sqlite:///:memory:") is None
    assert HistoryProcess.for_url("sqlite:////var/lib/acd/acd.db") is not None


async def test_ctrl_c_and_systemds_stop_leave_the_child_to_acd(store: Store, child: HistoryProcess) -> None:
    """A terminal's Ctrl-C and systemd's stop signal every process of the service: the
    child stays until acd has written its last batch and shuts it down."""
    async with writer_for(store, child) as writer:
        writer.add([arrived("c1")])
        await writer.flush(timeout_s=30)
        assert child._pool is not None
        [pid] = list(child._pool._processes)
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        await asyncio.sleep(0.2)
        writer.add([rec("c1", 60, "ended", by="caller")])  # the last batch, written at shutdown
    call = store.call("c1")
    assert call is not None and [e.kind for e in call.events] == ["arrived", "ended"]
    assert writer.written == 2 and [pid] == list(child._pool._processes)  # the same child wrote both


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # ended, not yet reaped
    except FileNotFoundError:
        return True


def test_the_child_leaves_when_acd_is_killed(tmp_path: Path) -> None:
    """kill -9 or a crash gives acd no time to shut the pool down: the child notices that
    its parent is gone and ends, rather than wait for batches for ever."""
    url = f"sqlite:///{tmp_path / 'history.db'}"
    Store(url).create_all()
    acd = f"""
import asyncio, os, signal
from acd.core.commands import Record
from acd.store.history_process import HistoryProcess

async def main():
    history = HistoryProcess({url!r})
    await history.apply([Record("c1", 1.0, "arrived", {{}})], [])
    print(*history._pool._processes, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", acd], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    [child] = [int(pid) for pid in done.stdout.split()]
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(child)
    assert Store(url).call("c1") is not None  # what it wrote before stays
