"""AMI server basics over real TCP: framing, login, responses, lists, event classes."""

from __future__ import annotations

import asyncio
import hashlib

from panoramisk import Manager

from acd.sim import Simulator

from .amiclient import AmiClient


async def test_banner_is_a_bare_line_without_blank_line(sim: Simulator) -> None:
    assert sim.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    first = await asyncio.wait_for(reader.read(100), 1)
    assert first == b"Asterisk Call Manager/11.0.0\r\n"
    writer.close()


async def test_plain_login_then_fully_booted(sim: Simulator) -> None:
    assert sim.port is not None
    client = await AmiClient.connect(sim.port)
    response = await client.login()
    assert response.pairs[:3] == [("Response", "Success"), ("ActionID", "login-1"),
                                  ("Message", "Authentication accepted")]
    booted = await client.event("FullyBooted")
    assert booted.get("Privilege") == "system,all" and booted.get("Status") == "Fully Booted"
    await client.close()


async def test_bad_secret_is_refused_and_the_session_ends(sim: Simulator) -> None:
    # Asterisk answers "Authentication failed" and hangs up (main/manager.c: action_login returns -1)
    assert sim.port is not None
    client = await AmiClient.connect(sim.port)
    response = await client.login(secret="wrong")
    assert response.get("Response") == "Error"
    assert response.get("Message") == "Authentication failed"
    await asyncio.wait_for(client.eof.wait(), 5)
    await client.close()


async def test_an_action_before_login_is_denied(sim: Simulator) -> None:
    assert sim.port is not None
    client = await AmiClient.connect(sim.port)
    denied = await client.action("Ping")
    assert denied.get("Response") == "Error" and denied.get("Message") == "Permission denied"
    await client.close()


async def test_md5_login_with_challenge(sim: Simulator) -> None:
    assert sim.port is not None
    client = await AmiClient.connect(sim.port)
    challenge = await client.action("Challenge", AuthType="MD5")
    assert challenge.get("Response") == "Success"
    key = hashlib.md5((challenge.get("Challenge") or "").encode() + b"s").hexdigest()
    response = await client.action("Login", AuthType="MD5", Username="acd", Key=key)
    assert response.get("Message") == "Authentication accepted"
    bad = await AmiClient.connect(sim.port)
    await bad.action("Challenge", AuthType="MD5")
    refused = await bad.action("Login", AuthType="MD5", Username="acd", Key="0" * 32)
    assert refused.get("Message") == "Authentication failed"
    await asyncio.wait_for(bad.eof.wait(), 5)
    await client.close()
    await bad.close()


async def test_ping_events_and_logoff(ami: AmiClient) -> None:
    pong = await ami.action("Ping")
    assert pong.get("Ping") == "Pong" and pong.get("Timestamp")
    off = await ami.action("Events", EventMask="off")
    assert off.pairs == [("Response", "Success"), ("ActionID", off.get("ActionID") or ""), ("Events", "Off")]
    on = await ami.action("Events", EventMask="on")
    assert on.get("Events") == "On" and on.get("Message") is None
    bye = await ami.action("Logoff")
    assert bye.get("Response") == "Goodbye"
    await asyncio.wait_for(ami.eof.wait(), 1)


async def test_unknown_action_gives_error_and_security_event(ami_all: AmiClient) -> None:
    response = await ami_all.action("NoSuchAction")
    assert response.get("Response") == "Error"
    assert response.get("Message") == (
        "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands.")
    bad = await ami_all.event("RequestBadFormat")
    assert bad.get("RequestType") == "Action: NoSuchAction" and bad.get("Privilege") == "security,all"


async def test_frames_use_crlf_and_split_writes_are_reassembled(sim: Simulator) -> None:
    assert sim.port is not None
    client = await AmiClient.connect(sim.port)
    await client.login()
    client.send_raw(b"Action: Ping\r\nAction")
    await asyncio.sleep(0.01)
    client.send_raw(b"ID: split-1\n\n")  # bare LF line ends are accepted too
    pong = await client.wait(lambda f: f.get("ActionID") == "split-1")
    assert pong.raw.endswith(b"\r\n\r\n") and b"\r\nPing: Pong\r\n" in pong.raw
    await client.close()


async def test_list_actions_follow_the_eventlist_shape(sim: Simulator, ami: AmiClient) -> None:
    call = await sim.call("5000", "15550001")
    await ami.event("MusicOnHoldStart", Channel=call.channel_name)
    start = await ami.action("CoreShowChannels", ActionID="csc-1")
    assert start.pairs == [("Response", "Success"), ("ActionID", "csc-1"), ("EventList", "start"),
                           ("Message", "Channels will follow")]
    item = await ami.event("CoreShowChannel", ActionID="csc-1")
    assert item.get("Channel") == call.channel_name and item.get("Application") == "MusicOnHold"
    assert item.get("ChanVariable") == "ACD_DID=5000"
    done = await ami.event("CoreShowChannelsComplete", ActionID="csc-1")
    assert done.get("EventList") == "Complete" and done.get("ListItems") == "1"

    await ami.action("DeviceStateList", ActionID="dsl-1")
    states = await ami.event("DeviceStateListComplete", ActionID="dsl-1")
    items = ami.events("DeviceStateChange", ActionID="dsl-1")
    assert len(items) == int(states.get("ListItems") or 0)
    assert {(f.get("Device"), f.get("State")) for f in items} >= {("PJSIP/101", "NOT_INUSE"),
                                                                   ("PJSIP/carrier", "INUSE")}

    await ami.action("PJSIPShowEndpoints", ActionID="eps")
    await ami.event("EndpointListComplete", ActionID="eps")
    names = [f.get("ObjectName") for f in ami.events("EndpointList", ActionID="eps")]
    assert names == ["101", "102", "103", "carrier"]
    detail = await ami.action("PJSIPShowEndpoint", Endpoint="101", ActionID="ep")
    assert detail.get("EventList") == "start"
    ep = await ami.event("EndpointDetail", ActionID="ep")
    assert ep.get("Context") == "acd-agents" and ep.get("DeviceState") == "Not in use"

    status = await ami.action("Status", Channel=call.channel_name, Variables="ACD_DID", ActionID="st")
    assert status.get("EventList") == "start"
    st = await ami.event("Status", ActionID="st")
    assert st.get("Privilege") == "Call" and st.all("Variable") == ["ACD_DID=5000"]
    assert st.pairs[-1] == ("ActionID", "st")  # 01: ActionID comes last in Status


async def test_read_classes_decide_which_events_are_sent(sim: Simulator, ami: AmiClient,
                                                         ami_all: AmiClient) -> None:
    call = await sim.call("5000", "15550001")
    waiting = await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    assert waiting.get("Privilege") == "user,all" and waiting.get("ACDDID") == "5000"
    await ami_all.event("UserEvent", UserEvent="ACDCallWaiting")
    # read=system,call,user: no dialplan class (Newexten, VarSet)
    assert ami_all.events("Newexten") and ami_all.events("VarSet")
    assert not ami.events("Newexten") and not ami.events("VarSet")
    newchannel = ami.events("Newchannel")[0]
    assert newchannel.get("Privilege") == "call,all"
    assert [k for k, _ in newchannel.pairs][2:17] == [
        "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
        "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid",
        "ChanVariable"]
    assert newchannel.get("ConnectedLineNum") == "<unknown>"
    uid = newchannel.get("Uniqueid") or ""
    assert uid.split(".")[1] == "0" and call.uniqueid == uid


async def test_filter_action_keeps_only_matching_events(sim: Simulator, ami: AmiClient) -> None:
    response = await ami.action("Filter", Operation="Add", Filter="Event: UserEvent")
    assert response.get("Message") == "Filter Added Successfully"
    start = len(ami.frames)
    await sim.call("5000", "15550001")
    await ami.event("UserEvent")
    assert all(f.event in (None, "UserEvent") for f in ami.frames[start:])


async def test_write_classes_are_enforced(sim: Simulator, ami: AmiClient) -> None:
    denied = await ami.action("Command", Command="core show channels")  # user acd lacks 'command'
    assert denied.get("Message") == "Permission denied"


async def test_command_returns_output_lines(sim: Simulator, ami_all: AmiClient) -> None:
    await sim.call("5000", "15550001")
    await ami_all.event("MusicOnHoldStart")
    response = await ami_all.action("Command", Command="core show channels")
    assert response.get("Message") == "Command output follows"
    assert response.all("Output")[-2] == "1 active call"


async def test_drop_clients_closes_connections(sim: Simulator, ami: AmiClient) -> None:
    await sim.drop_clients()
    await asyncio.wait_for(ami.eof.wait(), 1)
    assert sim.port is not None
    again = await AmiClient.connect(sim.port)
    assert (await again.login()).get("Response") == "Success"
    await again.close()


async def test_panoramisk_manager_logs_in_and_receives_events(sim: Simulator) -> None:
    got: list[str] = []
    arrived = asyncio.Event()
    manager = Manager(host="127.0.0.1", port=sim.port, username="acd", secret="s", ping_delay=0,
                      loop=asyncio.get_running_loop())

    def on_user_event(_manager: Manager, message: object) -> None:
        got.append(message.UserEvent)  # type: ignore[attr-defined]
        arrived.set()

    manager.register_event("UserEvent", on_user_event)
    await manager.connect()
    pong = await manager.send_action({"Action": "Ping"})
    assert pong.Ping == "Pong"
    await sim.call("5000", "15550001")
    await asyncio.wait_for(arrived.wait(), 2)
    assert got == ["ACDCallWaiting"]
    manager.close()
