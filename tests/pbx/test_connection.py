"""The AMI link against a tiny AMI server: login, resync before live events, keepalive,
reconnect with back-off after Asterisk goes away, and no replay of stale actions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from panoramisk.message import Message

from acd.core.commands import Hold, Ring
from acd.core.events import Event, LiveCall, Resynced
from acd.core.model import Agent, RoutingConfig
from acd.pbx.asterisk import AsteriskPbx
from acd.pbx.connection import AmiConnection, Timing, backoff

SECRET = "s3cret-never-logged"
FAST = Timing(connect_timeout_s=1, action_timeout_s=1, list_timeout_s=1, ping_interval_s=30,
              backoff_first_s=0.05, backoff_max_s=0.2)


def frame(**fields: str) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"


WAITING_CALLER = dict(Channel="PJSIP/trunk-00000001", ChannelState="6", ChannelStateDesc="Up",
                      CallerIDNum="15550001", CallerIDName="Ann", Context="acd-hold", Exten="s", Priority="2",
                      Uniqueid="1795573831.0", Linkedid="1795573831.0", ChanVariable="ACD_DID=5000",
                      Application="MusicOnHold", ApplicationData="default", Duration="00:00:01", BridgeId="")


class FakeAsterisk:
    """Speaks just enough AMI: banner, Login, the two lists, Ping, and Success for the rest."""

    def __init__(self) -> None:
        self.port = 0
        self.server: asyncio.Server | None = None
        self.sessions: list[list[dict[str, str]]] = []  # actions received, per connection
        self.writers: list[asyncio.StreamWriter] = []
        self.answer_pings = True
        self.silent: set[str] = set()  # actions left unanswered
        self.event_during_resync: dict[str, str] | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Asterisk goes away: no more listening, every connection dropped."""
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    def push(self, **event: str) -> None:
        self.writers[-1].write(frame(**event))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        actions: list[dict[str, str]] = []
        self.sessions.append(actions)
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buffer = b""
        try:
            while data := await reader.read(4096):
                buffer += data
                while b"\r\n\r\n" in buffer:
                    raw, buffer = buffer.split(b"\r\n\r\n", 1)
                    action = dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line)
                    actions.append(action)
                    self._answer(action, writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _answer(self, action: dict[str, str], writer: asyncio.StreamWriter) -> None:
        name, aid = action.get("Action", ""), action.get("ActionID", "")
        if name in self.silent or (name == "Ping" and not self.answer_pings):
            return
        if name == "Login":
            if action.get("Secret") == SECRET:
                writer.write(frame(Response="Success", ActionID=aid, Message="Authentication accepted"))
                writer.write(frame(Event="FullyBooted", Privilege="system,all", Status="Fully Booted"))
            else:
                writer.write(frame(Response="Error", ActionID=aid, Message="Authentication failed"))
        elif name == "CoreShowChannels":
            if self.event_during_resync:  # a live event overtaking the list (sent before it)
                writer.write(frame(**self.event_during_resync))
            writer.write(frame(Response="Success", ActionID=aid, EventList="start", Message="Channels will follow"))
            writer.write(frame(Event="CoreShowChannel", ActionID=aid, **WAITING_CALLER))
            writer.write(frame(Event="CoreShowChannelsComplete", ActionID=aid, EventList="Complete", ListItems="1"))
        elif name == "DeviceStateList":
            writer.write(frame(Response="Success", ActionID=aid, EventList="start", Message="Devices will follow"))
            writer.write(frame(Event="DeviceStateChange", ActionID=aid, Device="PJSIP/101", State="NOT_INUSE"))
            writer.write(frame(Event="DeviceStateChange", ActionID=aid, Device="Queue:q_avail", State="INUSE"))
            writer.write(frame(Event="DeviceStateListComplete", ActionID=aid, EventList="Complete", ListItems="2"))
        elif name == "Ping":
            writer.write(frame(Response="Success", ActionID=aid, Ping="Pong", Timestamp="1.0"))
        else:
            writer.write(frame(Response="Success", ActionID=aid, Message=f"{name} done"))


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    async def on_event(self, message: Message) -> None:
        if message.get("Event") != "FullyBooted":  # it follows Login (README 2), not our business here
            self.log.append(("event", message.get("Event")))

    async def on_resync(self, channels: list[Message], devices: list[Message]) -> None:
        self.log.append(("resync", ([c["Uniqueid"] for c in channels], [d["Device"] for d in devices])))

    def resyncs(self) -> int:
        return sum(1 for kind, _ in self.log if kind == "resync")


def connect(fake: FakeAsterisk, rec: Recorder, secret: str = SECRET, timing: Timing = FAST) -> AmiConnection:
    return AmiConnection("127.0.0.1", fake.port, "acd", secret, on_event=rec.on_event,
                         on_resync=rec.on_resync, timing=timing)


async def running(conn: AmiConnection, body: Callable[[], Awaitable[None]]) -> None:
    """Run the link inside a TaskGroup, as the service does, and close it after ``body``."""
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(conn.run())
        try:
            await body()
        finally:
            conn.close()


async def test_reconnects_with_growing_back_off_resyncs_first_and_never_replays_a_stale_action(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="acd.pbx")
    fake, rec = FakeAsterisk(), Recorder()
    await fake.start()
    conn = connect(fake, rec)

    async def body() -> None:
        await until(lambda: conn.ready)
        assert rec.log == [("resync", (["1795573831.0"], ["PJSIP/101", "Queue:q_avail"]))]
        assert [a["Action"] for a in fake.sessions[0]] == ["Login", "CoreShowChannels", "DeviceStateList"]
        fake.push(Event="Newchannel", Uniqueid="1.5", Channel="PJSIP/trunk-00000005")
        fake.push(Event="Hangup", Uniqueid="1.5", Channel="PJSIP/trunk-00000005")
        await until(lambda: len(rec.log) == 3)
        assert rec.log[1:] == [("event", "Newchannel"), ("event", "Hangup")]

        fake.silent = {"Redirect"}
        stale = conn.send_nowait({"Action": "Redirect", "Channel": "PJSIP/trunk-00000001", "Context": "acd-dial",
                                  "Exten": "1", "Priority": "1"})
        assert stale is not None
        await until(lambda: any(a["Action"] == "Redirect" for a in fake.sessions[0]))

        await fake.stop()  # Asterisk restarts: the link drops and connecting is refused
        assert (await stale)["Message"] == "connection lost"  # failed, not queued for later
        reply = await conn.send({"Action": "Ping"})
        assert not conn.ready and (reply["Response"], reply["Message"]) == ("Error", "not connected")
        await asyncio.sleep(0.6)
        fake.silent = set()
        fake.event_during_resync = {"Event": "Newstate", "Uniqueid": "1.6", "Channel": "PJSIP/trunk-00000006"}
        await fake.start()
        await until(lambda: conn.ready and rec.resyncs() == 2 and len(rec.log) == 5)

        # the event sent before the list answer is handled after the resync callback
        assert rec.log[3:] == [("resync", (["1795573831.0"], ["PJSIP/101", "Queue:q_avail"])),
                               ("event", "Newstate")]
        assert [a["Action"] for a in fake.sessions[-1]] == ["Login", "CoreShowChannels", "DeviceStateList"]
        assert all(a["Action"] != "Redirect" for s in fake.sessions[1:] for a in s)

    await running(conn, body)
    delays = [r.__dict__["ami_delay_s"] for r in caplog.records if r.getMessage() == "ami reconnect"]
    assert len(delays) >= 3
    for n, delay in enumerate(delays):  # 0.05 doubling to 0.2, each in the upper half of its step
        step = min(0.2, 0.05 * 2**n)
        assert step / 2 - 1e-3 <= delay <= step + 1e-3
    assert SECRET not in caplog.text and SECRET not in repr(conn)
    await fake.stop()


async def test_a_silent_link_is_found_dead_by_the_keepalive_and_reopened() -> None:
    fake, rec = FakeAsterisk(), Recorder()
    await fake.start()
    fake.answer_pings = False
    conn = connect(fake, rec, timing=Timing(action_timeout_s=1, ping_interval_s=0.05, ping_timeout_s=0.05,
                                            backoff_first_s=0.01, backoff_max_s=0.02))

    async def body() -> None:
        await until(lambda: len(fake.sessions) >= 2 and rec.resyncs() >= 2)

    await running(conn, body)
    assert any(a["Action"] == "Ping" for a in fake.sessions[0])
    await fake.stop()


async def test_a_refused_login_backs_off_and_never_logs_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake, rec = FakeAsterisk(), Recorder()
    await fake.start()
    wrong = "wrong-" + SECRET
    conn = connect(fake, rec, secret=wrong)

    async def body() -> None:
        await until(lambda: len(fake.sessions) >= 3)

    await running(conn, body)
    assert rec.log == [] and "ami login refused" in caplog.text
    assert wrong not in caplog.text and SECRET not in caplog.text
    await fake.stop()


async def test_an_unanswered_action_times_out_as_an_error_response() -> None:
    fake, rec = FakeAsterisk(), Recorder()
    await fake.start()
    conn = connect(fake, rec, timing=Timing(action_timeout_s=0.1, ping_interval_s=30))

    async def body() -> None:
        await until(lambda: conn.ready)
        fake.silent = {"Setvar"}
        reply = await conn.send({"Action": "Setvar", "Channel": "x", "Variable": "A", "Value": "1"})
        assert reply["Response"] == "Error" and reply["Message"] == "timeout"
        assert (await conn.send({"Action": "Redirect", "Channel": "x"}))["Message"] == "Redirect done"

    await running(conn, body)
    await fake.stop()


def test_back_off_doubles_up_to_the_ceiling_with_jitter() -> None:
    import random

    rng = random.Random(1)
    timing = Timing(backoff_first_s=0.5, backoff_max_s=30)
    delays = [backoff(n, timing, rng) for n in range(12)]
    for n, delay in enumerate(delays):
        step = min(30.0, 0.5 * 2**n)
        assert step / 2 <= delay <= step
    assert len(set(delays)) == len(delays)  # jitter


async def test_the_pbx_port_resyncs_the_core_and_sends_a_ring_as_setvar_setvar_redirect() -> None:
    fake = FakeAsterisk()
    await fake.start()
    config = RoutingConfig(agents={"anna": Agent("anna", "Anna", "PJSIP/101", "101")})
    fed: list[Event] = []
    pbx = AsteriskPbx(config, host="127.0.0.1", port=fake.port, username="acd", secret=SECRET, feed=fed.append,
                      timing=FAST)

    async def body() -> None:
        await until(lambda: pbx.connection.ready)
        assert fed[-1] == Resynced((LiveCall("1795573831.0", "5000", "15550001", "waiting", (), "Ann", 0),))
        pbx.execute(Ring("1795573831.0", 1, ("anna",), 25))
        pbx.execute(Hold("1795573831.0"))
        await until(lambda: len(fake.sessions[0]) == 7)
        sent = [(a["Action"], a.get("Variable") or a.get("Context"), a.get("Value") or a.get("Exten"))
                for a in fake.sessions[0][3:]]
        assert sent == [("Setvar", "ACD_DIALSTRING", "PJSIP/101"), ("Setvar", "ACD_TIMEOUT", "25"),
                        ("Redirect", "acd-dial", "1"), ("Redirect", "acd-hold", "s")]
        assert all(a["Channel"] == "PJSIP/trunk-00000001" for a in fake.sessions[0][3:])

    await running(pbx.connection, body)
    await fake.stop()
