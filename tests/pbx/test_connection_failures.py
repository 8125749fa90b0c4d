"""Why a try to reach Asterisk failed, in one log line an operator can act on: refused,
not an Asterisk manager, no greeting, authentication failed (check ACD_AMI_SECRET).
The secret is never in the log; the link keeps trying."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from acd.pbx.connection import AmiConnection, Timing
from acd.sim import ManagerUser, Simulator

DIALPLAN = Path(__file__).resolve().parents[2] / "asterisk" / "extensions.conf"
SECRET = "right-secret-never-logged"
FAST = Timing(connect_timeout_s=0.3, action_timeout_s=1, list_timeout_s=1, ping_interval_s=30,
              backoff_first_s=0.01, backoff_max_s=0.02)


async def _nothing(*_: object) -> None:
    return None


async def failed_tries(port: int, caplog: pytest.LogCaptureFixture, secret: str = SECRET,
                       tries: int = 2) -> list[logging.LogRecord]:
    """Run the link until it has failed ``tries`` times; those log records."""
    caplog.set_level(logging.INFO, logger="acd.pbx.connection")
    conn = AmiConnection("127.0.0.1", port, "acd", secret, on_event=_nothing, on_resync=_nothing, timing=FAST)

    def failures() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage() in ("ami link down", "ami login refused")]

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(conn.run())
        try:
            await until(lambda: len(failures()) >= tries)
        finally:
            conn.close()
    return failures()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@asynccontextmanager
async def server(greeting: bytes | None) -> AsyncIterator[int]:
    """Something that listens: says ``greeting`` (None: nothing) and waits."""
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if greeting is not None:
            writer.write(greeting)
        await reader.read()
        writer.close()

    srv = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield srv.sockets[0].getsockname()[1]
    finally:
        srv.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_nothing_listening_is_connection_refused_at_host_and_port(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    for record in await failed_tries(port, caplog):
        assert record.levelname == "WARNING"
        assert record.__dict__["reason"].startswith(f"connection refused at 127.0.0.1:{port}")


async def test_a_server_that_is_not_asterisk_is_named_by_its_greeting(caplog: pytest.LogCaptureFixture) -> None:
    async with server(b"SSH-2.0-OpenSSH_9.2p1\r\n") as port:
        records = await failed_tries(port, caplog)
    assert all("not an Asterisk manager" in r.__dict__["reason"] and "SSH-2.0-OpenSSH_9.2p1" in r.__dict__["reason"]
               for r in records)
    assert not any(r.getMessage() == "ami logged in" for r in caplog.records)


async def test_a_server_that_says_nothing_gets_no_login(caplog: pytest.LogCaptureFixture) -> None:
    async with server(None) as port:
        records = await failed_tries(port, caplog)
    assert all("no greeting within 0.3 s" in r.__dict__["reason"] for r in records)


@pytest.mark.parametrize("secret", ["a-wrong-secret", ""])
async def test_a_refused_login_says_authentication_failed_not_connection_lost(
        caplog: pytest.LogCaptureFixture, secret: str) -> None:
    # Asterisk answers "Authentication failed" and hangs up at once (the simulator too)
    sim = Simulator(dialplan=DIALPLAN, manager_users={"acd": ManagerUser(secret=SECRET)})
    port = await sim.start()
    try:
        records = await failed_tries(port, caplog, secret=secret, tries=3)
    finally:
        await sim.stop()
    for record in records:
        assert record.levelname == "ERROR" and record.getMessage() == "ami login refused"
        reason = record.__dict__["reason"]
        assert reason.startswith(f"authentication failed for AMI user 'acd' at 127.0.0.1:{port}")
        assert "check ACD_AMI_SECRET" in reason
        assert ("(it is not set)" in reason) == (secret == "")
    assert SECRET not in caplog.text and (not secret or secret not in caplog.text)
