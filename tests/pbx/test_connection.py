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

from .fakeami import FAST, SECRET, FakeAsterisk, frame, until


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    async def on_event(self, message: Message) -> None:
        if message.get("Event") != "FullyBooted":  # it follows Login (README 2), not our business here
            self.log.append(("event", message.get("Event")))

    async def on_resync(self, channels: list[Message], devices: list[Message], listed_at: float) -> None:
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


async def test_a_plain_function_handler_gets_each_live_event_in_the_callback_that_read_it() -> None:
    """No task woken later and no other callback in between: a ring decided on an event
    is written before the loop does anything else (bench/first_ring.py). What came during
    the resync is still handled first, after the resync, in order."""
    fake = FakeAsterisk()
    fake.event_during_resync = {"Event": "Newstate", "Uniqueid": "1.6", "Channel": "PJSIP/trunk-00000006"}
    await fake.start()
    handled: list[tuple[str, bool]] = []  # (event, handled inside a task)
    resynced: list[str] = []

    def on_event(message: Message) -> None:
        if message.get("Event") != "FullyBooted":
            handled.append((message.get("Event"), asyncio.current_task() is not None))

    async def on_resync(channels: list[Message], devices: list[Message], listed_at: float) -> None:
        resynced.append(f"resync after {len(handled)} events")

    conn = AmiConnection("127.0.0.1", fake.port, "acd", SECRET, on_event=on_event, on_resync=on_resync, timing=FAST)

    async def body() -> None:
        await until(lambda: conn.ready and len(handled) == 1)
        fake.push(Event="Newchannel", Uniqueid="1.5", Channel="PJSIP/trunk-00000005")
        fake.push(Event="Hangup", Uniqueid="1.5", Channel="PJSIP/trunk-00000005")
        await until(lambda: len(handled) == 3)

    await running(conn, body)
    assert resynced == ["resync after 0 events"]
    # the one held during the resync by the link's task; the live ones right where they were read
    assert handled == [("Newstate", True), ("Newchannel", False), ("Hangup", False)]
    await fake.stop()


async def test_nothing_read_after_asterisk_s_shutdown_is_handled_on_that_link() -> None:
    fake = FakeAsterisk()
    await fake.start()
    handled: list[str] = []
    conn = AmiConnection("127.0.0.1", fake.port, "acd", SECRET, on_event=lambda m: handled.append(m.get("Event")),
                         on_resync=Recorder().on_resync, timing=FAST)

    async def body() -> None:
        await until(lambda: conn.ready)
        fake.push_raw(frame(Event="Newstate", Uniqueid="1.4") + frame(Event="Shutdown", Shutdown="Cleanly")
                      + frame(Event="Newchannel", Uniqueid="1.5"))  # one read
        await until(lambda: len(fake.sessions) == 2 and conn.ready)

    await running(conn, body)
    assert [e for e in handled if e != "FullyBooted"] == ["Newstate"]
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
                      timing=FAST, now=lambda: 1795573840.5)

    async def body() -> None:
        await until(lambda: pbx.connection.ready)
        # stamped with the ACD's clock when the list came: the ages in it are as of then
        assert fed[-1] == Resynced((LiveCall("1795573831.0", "5000", "15550001", "waiting", (), "Ann", 0),),
                                   listed_at=1795573840.5)
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


async def test_a_resync_handler_that_fails_is_logged_and_the_link_delivers_live_events_on(
        caplog: pytest.LogCaptureFixture) -> None:
    fake, rec = FakeAsterisk(), Recorder()
    await fake.start()

    async def broken(channels: list[Message], devices: list[Message], listed_at: float) -> None:
        raise RuntimeError("a bug met by one odd channel")

    conn = AmiConnection("127.0.0.1", fake.port, "acd", SECRET, on_event=rec.on_event, on_resync=broken, timing=FAST)

    async def body() -> None:
        await until(lambda: conn.ready)
        fake.push(Event="Newchannel", Uniqueid="1.5", Channel="PJSIP/trunk-00000005")
        await until(lambda: rec.log == [("event", "Newchannel")])
        assert conn.ready and len(fake.sessions) == 1

    await running(conn, body)  # the link's task did not die with the handler
    assert "ami resync handler failed" in caplog.text
    await fake.stop()


async def test_an_event_the_core_fails_on_does_not_cost_the_events_after_it(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeAsterisk()
    await fake.start()
    config = RoutingConfig(agents={"anna": Agent("anna", "Anna", "PJSIP/101", "101")})
    fed: list[Event] = []

    def feed(event: Event) -> None:
        fed.append(event)
        if len(fed) == 1:
            raise RuntimeError("a bug behind the first event")

    pbx = AsteriskPbx(config, host="127.0.0.1", port=fake.port, username="acd", secret=SECRET, feed=feed,
                      timing=FAST)

    async def body() -> None:
        await until(lambda: pbx.connection.ready)
        # the resync gives anna's device state, then Resynced: the second is not lost
        assert [type(e).__name__ for e in fed] == ["DeviceStateChanged", "Resynced"]

    await running(pbx.connection, body)
    assert "pbx event not handled" in caplog.text
    await fake.stop()


class CountingWrites:
    """A transport that notes every write, then passes it on."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def pbx_for(fake: FakeAsterisk) -> AsteriskPbx:
    config = RoutingConfig(agents={"anna": Agent("anna", "Anna", "PJSIP/101", "101")})
    return AsteriskPbx(config, host="127.0.0.1", port=fake.port, username="acd", secret=SECRET,
                       feed=lambda event: None, timing=FAST)


async def test_a_ring_attempt_s_three_actions_leave_together_in_order_without_waiting_for_answers() -> None:
    fake = FakeAsterisk()
    fake.answer_delay_s = 0.05  # Asterisk answers each action 50 ms late
    await fake.start()
    pbx = pbx_for(fake)

    async def body() -> None:
        await until(lambda: pbx.connection.ready)
        protocol = pbx.connection._protocol
        assert protocol is not None
        counting = CountingWrites(protocol.transport)
        protocol.transport = counting  # uvloop's transport takes no attribute: it is wrapped
        seen = len(fake.arrivals)
        pbx.execute(Ring("1795573831.0", 1, ("anna",), 25))
        await until(lambda: len(fake.arrivals) == seen + 3)
        (t0, first), (_, second), (t2, third) = fake.arrivals[seen:]
        assert [first["Action"], second["Action"], third["Action"]] == ["Setvar", "Setvar", "Redirect"]
        assert t2 - t0 < 0.01  # the Redirect did not wait for the Setvars' answers (50 ms each)
        # one write: one TCP segment, which Asterisk's session reads and runs in order
        assert len(counting.writes) == 1 and counting.writes[0].count(b"\r\n\r\n") == 3
        protocol.transport = counting.transport

    await running(pbx.connection, body)
    await fake.stop()


async def test_in_a_burst_the_actions_the_events_decide_share_writes_and_a_few_events_write_at_once() -> None:
    """Events read together, an action decided on each. Many (a burst): the actions
    decided while HOLD_WHILE_QUEUED or more events still wait leave with the later ones,
    in order, in far fewer writes, all made before the loop runs anything else. A few
    (a PBX that is not flooding us): each action is written at once (bench/first_ring.py)."""
    from acd.pbx.connection import HOLD_WHILE_QUEUED

    fake = FakeAsterisk()
    await fake.start()
    counting: list[CountingWrites] = []
    writes_when_the_loop_went_on: list[int] = []

    def on_event(message: Message) -> None:
        if message.get("Event") == "UserEvent":
            conn.send_all([{"Action": "Setvar", "Channel": "x", "Variable": "N", "Value": message["N"]}])
            asyncio.get_running_loop().call_soon(lambda: writes_when_the_loop_went_on.append(len(counting[0].writes)))

    async def on_resync(channels: list[Message], devices: list[Message], listed_at: float) -> None:
        pass

    conn = AmiConnection("127.0.0.1", fake.port, "acd", SECRET, on_event=on_event, on_resync=on_resync, timing=FAST)

    async def body() -> None:
        await until(lambda: conn.ready)
        protocol = conn._protocol
        assert protocol is not None
        counting.append(CountingWrites(protocol.transport))
        protocol.transport = counting[0]  # uvloop's transport takes no attribute: it is wrapped
        seen = len(fake.arrivals)
        fake.push_raw(frame(Event="UserEvent", N="1") + frame(Event="UserEvent", N="2"))
        await until(lambda: len(fake.arrivals) == seen + 2)
        assert len(counting[0].writes) == 2  # a few events: each action at once
        burst = 3 * HOLD_WHILE_QUEUED
        fake.push_raw(b"".join(frame(Event="UserEvent", N=str(n)) for n in range(burst)))
        await until(lambda: len(fake.arrivals) == seen + 2 + burst)
        assert [action["Value"] for _, action in fake.arrivals[seen + 2:]] == [str(n) for n in range(burst)]
        assert 3 <= len(counting[0].writes) <= 2 + HOLD_WHILE_QUEUED + 1  # not one write per action
        assert set(writes_when_the_loop_went_on[2:]) == {len(counting[0].writes)}  # all within the read's callback
        protocol.transport = counting[0].transport

    await running(conn, body)
    await fake.stop()


async def test_actions_held_for_one_write_are_withheld_when_the_node_stops_being_active_meanwhile() -> None:
    """Fencing is asked at the write itself: actions decided while this node was active
    but written once its lease ran out never leave (acd/ha), and say why."""
    from acd.pbx.connection import HOLD_WHILE_QUEUED, _AmiProtocol

    class Transport:
        def __init__(self) -> None:
            self.written: list[bytes] = []
            self.aborted = False

        def write(self, data: bytes) -> None:
            self.written.append(data)

        def abort(self) -> None:
            self.aborted = True

        def close(self) -> None:
            pass

    active = [True]
    protocol = _AmiProtocol()
    transport = Transport()
    protocol.connection_made(transport)
    protocol.may_send = lambda: active[0]
    protocol.events.extend(["Event: Newexten"] * HOLD_WHILE_QUEUED)  # a burst waits to be handled
    protocol.hold_writes()
    (held,) = protocol.send_actions([{"Action": "Redirect", "Channel": "x"}])
    assert transport.written == []  # held until released
    active[0] = False
    protocol.release_writes()
    assert transport.written == [] and transport.aborted
    assert held.future.result()["Message"] == "not active"
    protocol.hold_writes()
    active[0] = True
    protocol.send_actions([{"Action": "Setvar", "Channel": "x"}])
    protocol.send_actions([{"Action": "Redirect", "Channel": "x"}])
    protocol.release_writes()
    assert len(transport.written) == 1 and transport.written[0].count(b"\r\n\r\n") == 2


async def test_a_refused_action_of_a_ring_attempt_is_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeAsterisk()
    fake.answer_delay_s = 0.01
    fake.refused = {"Redirect": "Channel does not exist: PJSIP/trunk-00000001"}  # 01: the caller hung up meanwhile
    await fake.start()
    pbx = pbx_for(fake)

    async def body() -> None:
        await until(lambda: pbx.connection.ready)
        with caplog.at_level(logging.INFO, logger="acd.pbx"):
            pbx.execute(Ring("1795573831.0", 1, ("anna",), 25))
            await until(lambda: any(r.getMessage() == "ami action failed" for r in caplog.records))
        (failed,) = [r for r in caplog.records if r.getMessage() == "ami action failed"]
        assert (failed.__dict__["ami_action"], failed.__dict__["ami_message"]) == (
            "Redirect", "Channel does not exist: PJSIP/trunk-00000001")

    await running(pbx.connection, body)
    await fake.stop()


async def test_the_answer_to_an_action_nobody_awaits_is_reported_in_the_callback_that_read_it() -> None:
    """A ring's actions (send_reported): each answer, a refusal or a lost link's error
    goes to the report right where it is known, with the action it answers; nothing
    is left for the loop to run later."""
    from acd.pbx.connection import _AmiProtocol

    class Transport:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

    protocol = _AmiProtocol()
    protocol.connection_made(Transport())  # type: ignore[arg-type]
    reported: list[tuple[str, str, str]] = []

    def report(fields: Any, answer: Message) -> None:
        reported.append((fields["Action"], answer["Response"], answer["Message"]))

    setvar, redirect = protocol.send_actions([{"Action": "Setvar", "Channel": "x"},
                                              {"Action": "Redirect", "Channel": "x"}], report)
    protocol.data_received(b"Asterisk Call Manager/11.0.0\r\n")
    protocol.data_received(f"Response: Success\r\nActionID: {setvar.id}\r\nMessage: Variable Set\r\n\r\n"
                           f"Response: Error\r\nActionID: {redirect.id}\r\nMessage: Channel does not exist\r\n"
                           "\r\n".encode())
    assert reported == [("Setvar", "Success", "Variable Set"), ("Redirect", "Error", "Channel does not exist")]
    assert not protocol.responses and setvar.future.done()
    (lost,) = protocol.send_actions([{"Action": "Redirect", "Channel": "y"}], report)
    protocol.connection_lost(None)
    assert reported[-1] == ("Redirect", "Error", "connection lost") and lost.future.done()


@pytest.mark.parametrize("fields, answers", [
    ({"Action": "Setvar"}, ["Response: Success\r\nMessage: Variable Set"]),
    ({"Action": "Redirect"}, ["Response: Error\r\nMessage: Channel does not exist: PJSIP/trunk-00000001"]),
    ({"Action": "Originate", "Async": "true"},  # 15: queued, then the OriginateResponse event
     ["Response: Success\r\nMessage: Originate successfully queued",
      "Event: OriginateResponse\r\nResponse: Failure\r\nReason: 0"]),
    ({"Action": "CoreShowChannels"},
     ["Response: Success\r\nEventList: start\r\nMessage: Channels will follow",
      "Event: CoreShowChannel\r\nChannel: PJSIP/101-00000001",
      "Event: CoreShowChannelsComplete\r\nEventList: Complete\r\nListItems: 1"]),
    ({"Action": "QueueAdd"}, ["Response: Success\r\nMessage: Added interface to queue",
                              "Event: QueueMemberAdded\r\nQueue: q", "Event: QueueAddComplete"]),
])
async def test_an_action_ends_on_the_same_answers_as_panoramisk_s(fields: dict[str, str], answers: list[str]) -> None:
    from panoramisk.actions import Action

    from acd.pbx.connection import _Action
    from acd.pbx.framing import parse_answer

    ours = _Action(fields, asyncio.get_running_loop().create_future())
    theirs = Action(dict(fields, ActionID=ours.id))
    for answer in answers:
        frame = f"{answer}\r\nActionID: {ours.id}"
        message = parse_answer(frame) if frame.startswith("Response: ") else Message.from_line(frame)
        assert ours.add_message(message) == theirs.add_message(Message.from_line(frame))
        assert ours.future.done() == theirs.future.done()
    result, expected = ours.future.result(), theirs.future.result()
    assert type(result) is type(expected)
    if isinstance(result, list):
        assert [list(m.items()) for m in result] == [list(m.items()) for m in expected]
    else:
        assert list(result.items()) == list(expected.items())


async def test_an_action_is_written_as_panoramisk_writes_it_with_acd_s_own_action_id() -> None:
    from panoramisk.actions import Action

    from acd.pbx.connection import _Action

    future = asyncio.get_running_loop().create_future()
    for fields in ({"Action": "Setvar", "Channel": "PJSIP/trunk-00000001", "Variable": "ACD_TIMEOUT", "Value": "25"},
                   {"Action": "Originate", "Channel": "PJSIP/101", "Variable": ["A=1", "B=2"], "Async": "true"},
                   {"Action": "Redirect", "Channel": "PJSIP/trunk-00000001", "Priority": 1}):  # not a string
        ours = _Action(fields, future)
        theirs = Action(dict(fields, ActionID=ours.id))
        assert ours.id.startswith("acd/") and ours.action_id == ours.id
        # the same lines (panoramisk sorts them; Asterisk reads them in any order), one blank line after
        assert sorted(ours.wire().split("\r\n")) == sorted(str(theirs).split("\r\n")[:-1] + [""])
        assert ours.wire().endswith("\r\n\r\n") and ours.wire().count("\r\n\r\n") == 1
        assert ours["action"] == fields["Action"] and ours["ActionID"] == ours.id  # read as a dict too


async def test_actions_written_at_different_times_each_time_out_at_their_own_deadline() -> None:
    fake, rec = FakeAsterisk(), Recorder()
    await fake.start()
    conn = connect(fake, rec, timing=Timing(action_timeout_s=0.2, ping_interval_s=30))

    async def body() -> None:
        await until(lambda: conn.ready)
        protocol = conn._protocol
        assert protocol is not None
        fake.silent = {"Setvar"}
        loop = asyncio.get_running_loop()
        first = conn.send_all([{"Action": "Setvar", "Channel": "x", "Variable": "A", "Value": "1"},
                               {"Action": "Redirect", "Channel": "x"}])  # the Redirect is answered
        await asyncio.sleep(0.1)
        second = conn.send_all([{"Action": "Setvar", "Channel": "x", "Variable": "B", "Value": "2"}])
        started = loop.time()
        assert (await first[1])["Message"] == "Redirect done"
        assert (await first[0])["Message"] == "timeout"
        first_out = loop.time() - started
        assert (await second[0])["Message"] == "timeout"
        second_out = loop.time() - started
        # each batch at its own deadline (never before it), in the order they were written
        assert second_out >= 0.19 and first_out < second_out
        assert not protocol.responses and not protocol._deadlines and protocol._expiry is None

    await running(conn, body)
    await fake.stop()


async def test_a_lost_link_fails_its_unanswered_actions_at_once_and_leaves_no_timer_behind() -> None:
    fake, rec = FakeAsterisk(), Recorder()
    await fake.start()
    conn = connect(fake, rec, timing=Timing(action_timeout_s=30, ping_interval_s=30))

    async def body() -> None:
        await until(lambda: conn.ready)
        protocol = conn._protocol
        assert protocol is not None
        fake.silent = {"Setvar"}
        (pending,) = conn.send_all([{"Action": "Setvar", "Channel": "x", "Variable": "A", "Value": "1"}])
        assert protocol._expiry is not None
        protocol.transport.abort()
        assert (await asyncio.wait_for(pending, 1))["Message"] == "connection lost"
        assert protocol._expiry is None and not protocol._deadlines

    await running(conn, body)
    await fake.stop()
