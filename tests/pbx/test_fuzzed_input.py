"""Whatever Asterisk sends, live or in a resync, acd keeps running and keeps its calls.

Frames of the shapes the tracker reads (CoreShowChannel and DeviceStateChange list
items, every live event it handles) get random values in the headers it reads: huge
numbers, unicode digits ("²" passes ``str.isdigit`` and fails ``int``), 4,300 digits
(``int`` refuses them), empty values, missing keys. A seeded generator keeps every run
the same and the number of examples bounded.
"""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from acd.clock import Clock
from acd.core.commands import Record
from acd.core.events import CallArrived, MemberRinging, Resynced
from acd.core.model import Agent, QueueGroup, RoutingConfig
from acd.core.router import Router
from acd.distributor import Distributor
from acd.pbx.asterisk import AsteriskPbx
from acd.pbx.tracker import Tracker

from .fakeami import FAST, SECRET, FakeAsterisk, until

AGENTS = {a.id: a for a in (
    Agent("anna", "Anna", "PJSIP/101", "101"),
    Agent("boris", "Boris", "PJSIP/102", "102"),
    # never named by a fuzzed frame: a call for them is routed whatever the noise did to the others
    Agent("yuri", "Yuri", "PJSIP/198", "198"),
    Agent("zoe", "Zoe", "PJSIP/199", "199"),
)}
CONFIG = RoutingConfig(
    agents=AGENTS,
    groups={"sales": QueueGroup("sales", "Sales", ("anna", "boris")),
            "early": QueueGroup("early", "Early", ("yuri",)),
            "late": QueueGroup("late", "Late", ("zoe",))},
    numbers={"5000": "sales", "7000": "early", "6000": "late"},
)

# the headers the tracker (and the channel picture under it) reads, with their prefixes
READ = ("Exten", "Priority", "Duration", "Uniqueid", "Linkedid", "ChannelState", "ChannelStateDesc", "DialStatus",
        "Cause", "Seconds", "Context", "Channel", "BridgeId", "BridgeUniqueid", "ChanVariable", "Application",
        "CallerIDNum", "CallerIDName", "UserEvent", "ACDDID", "ACDAttempt", "ACDTarget", "Device", "State",
        "Newname", "Result", "DestUniqueid", "DestChannel", "DestExten", "DestContext", "DestLinkedid",
        "DestChannelStateDesc", "TargetUniqueid", "TargetChannel", "TransfereeUniqueid", "TransfereeChannel",
        "FromBridgeUniqueid", "ToBridgeUniqueid", "OrigBridgeUniqueid", "SecondBridgeUniqueid")
JUNK = ["", " ", "²", "³³", "٣", "१२", "4" * 4300, "9" * 40, "-1", "+1", "1.5", "1e309", "nan", "inf", "0x10",
        " 7 ", "1_000", "00:00:", "::", "99:99:99", "-00:00:05", "²:00:00", "00:00:0²", "9" * 30 + ":00:00",
        "<unknown>", "é\x00", "Local/;", ";1", ";2", "PJSIP/", "-", "x" * 5000, "\u202e", "ACD_DID=", "=",
        "acd-dial", "acd-hold", "acd-inbound", "Ringing", "Up", "Down", "5", "6", "ANSWER", "NOANSWER", "Success"]
ALPHABET = "0123456789²³¹٠١٢٣४५:;-/.=<> \tabcé"


def junk(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(JUNK)
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def mutated(fields: dict[str, str], rng: random.Random) -> dict[str, str]:
    """Some of the headers (and maybe one it lacked) junk, or gone."""
    out = dict(fields)
    keys = [k for k in out if k != "Event"] + [rng.choice(READ)]
    for key in rng.sample(keys, k=rng.randint(1, min(4, len(keys)))):
        if rng.random() < 0.2:
            out.pop(key, None)
        else:
            out[key] = junk(rng)
    return out


def channel(uid: str, name: str, context: str, exten: str, state: str = "Up", linkedid: str = "",
            did: str = "5000", duration: str = "00:00:05", bridge: str = "", app: str = "") -> dict[str, str]:
    """A CoreShowChannel item's fields in 01's order."""
    return {"Channel": name, "ChannelState": {"Up": "6", "Ringing": "5"}.get(state, "0"), "ChannelStateDesc": state,
            "CallerIDNum": "15550001", "CallerIDName": "Ann", "Context": context, "Exten": exten, "Priority": "1",
            "Uniqueid": uid, "Linkedid": linkedid or uid, "ChanVariable": f"ACD_DID={did}", "Application": app,
            "ApplicationData": "", "Duration": duration, "BridgeId": bridge}


def listed_calls(n: int) -> list[dict[str, str]]:
    """Call ``n`` as CoreShowChannels would list it: waiting, ringing (caller and agent leg)
    or talking (both in one bridge)."""
    uid, leg = f"1700000000.{n}0", f"1700000000.{n}1"
    kind = n % 3
    if kind == 0:
        return [channel(uid, f"PJSIP/trunk-{n:08x}", "acd-hold", "s", app="MusicOnHold")]
    if kind == 1:
        return [channel(uid, f"PJSIP/trunk-{n:08x}", "acd-dial", "2", duration="00:00:09", app="Dial"),
                channel(leg, f"PJSIP/101-{n:08x}", "acd-agents", "s", "Ringing", uid, duration="00:00:04",
                        app="AppDial")]
    return [channel(uid, f"PJSIP/trunk-{n:08x}", "acd-dial", "1", bridge=f"b-{n}", app="Dial"),
            channel(leg, f"PJSIP/102-{n:08x}", "acd-agents", "s", "Up", uid, bridge=f"b-{n}", app="AppDial")]


def live_frames(n: int) -> list[dict[str, str]]:
    """One frame of every event the tracker handles, about call ``n``, in a plausible order."""
    uid, leg, name, leg_name = f"1800000000.{n}0", f"1800000000.{n}1", f"PJSIP/trunk-{n:08x}", f"PJSIP/101-{n:08x}"
    me = {"Channel": name, "Uniqueid": uid, "Linkedid": uid, "Context": "acd-dial", "Exten": "1",
          "ChannelStateDesc": "Up", "ChanVariable": "ACD_DID=5000", "CallerIDNum": "15550001"}
    dest = {"DestChannel": leg_name, "DestUniqueid": leg, "DestLinkedid": uid, "DestContext": "acd-agents",
            "DestExten": "s", "DestChannelStateDesc": "Ringing"}
    return [
        {"Event": "Newchannel", **me, "Context": "acd-inbound", "Exten": "5000", "ChannelState": "4"},
        {"Event": "UserEvent", **me, "Context": "acd-hold", "UserEvent": "ACDCallWaiting", "ACDDID": "5000"},
        {"Event": "DialBegin", **me, **dest},
        {"Event": "DialState", **me, **dest, "DialStatus": "RINGING"},
        {"Event": "Newstate", "Channel": leg_name, "Uniqueid": leg, "Linkedid": uid, "ChannelState": "5",
         "ChannelStateDesc": "Ringing"},
        {"Event": "Rename", "Uniqueid": leg, "Channel": leg_name, "Newname": leg_name + "<ZOMBIE>"},
        {"Event": "Pickup", "Channel": "PJSIP/102-00000fff", "Uniqueid": "1.fff", "TargetChannel": leg_name,
         "TargetUniqueid": leg},
        {"Event": "DialEnd", **me, **dest, "DialStatus": "NOANSWER"},
        {"Event": "UserEvent", **me, "UserEvent": "ACDDialResult", "ACDAttempt": "1", "DialStatus": "NOANSWER"},
        {"Event": "UserEvent", "Channel": "PJSIP/102-00000fff", "Uniqueid": "1.fff", "Context": "acd-agents",
         "UserEvent": "ACDPickupRequest", "ACDTarget": "101"},
        {"Event": "BridgeEnter", **me, "BridgeUniqueid": f"b-{n}"},
        {"Event": "BlindTransfer", "Result": "Success", "TransfereeChannel": name, "TransfereeUniqueid": uid,
         "BridgeUniqueid": f"b-{n}"},
        {"Event": "AttendedTransfer", "Result": "Success", "OrigBridgeUniqueid": f"b-{n}",
         "SecondBridgeUniqueid": f"c-{n}"},
        {"Event": "BridgeMerge", "FromBridgeUniqueid": f"c-{n}", "ToBridgeUniqueid": f"b-{n}"},
        {"Event": "UserEvent", **me, "UserEvent": "ACDTransferFailed"},
        {"Event": "BridgeLeave", **me, "BridgeUniqueid": f"b-{n}"},
        {"Event": "BridgeDestroy", "BridgeUniqueid": f"b-{n}"},
        {"Event": "DeviceStateChange", "Device": "PJSIP/101", "State": "RINGING"},
        {"Event": "HangupRequest", "Channel": leg_name, "Uniqueid": leg, "Cause": "16"},
        {"Event": "SoftHangupRequest", **me, "Cause": "16"},
        {"Event": "Hangup", **me, "Cause": "16", "Cause-txt": "Normal Clearing"},
    ]


DEVICES = [{"Device": "PJSIP/101", "State": "NOT_INUSE"}, {"Device": "PJSIP/102", "State": "INUSE"}]
# the callers every test expects to survive the noise around them
WITNESS = channel("1900000000.1", "PJSIP/trunk-0000ffff", "acd-hold", "s", did="7000", app="MusicOnHold")
NEWCOMER = "1900000000.2"


def fuzzed_listing(rng: random.Random, calls: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    items: list[dict[str, str]] = []
    for n in range(calls):
        items += [mutated(item, rng) if rng.random() < 0.7 else item for item in listed_calls(n)]
    # the two items of the report: an attempt of "²" and one of 4,300 digits
    items.append(channel("1700000001.1", "PJSIP/trunk-0000aaaa", "acd-dial", "²"))
    items.append(channel("1700000001.2", "PJSIP/trunk-0000aaab", "acd-dial", "4" * 4300))
    rng.shuffle(items)
    items.insert(rng.randrange(len(items) + 1), WITNESS)
    devices = [mutated(d, rng) for d in DEVICES for _ in range(3)] + DEVICES
    return items, devices


def newcomer_frames() -> list[dict[str, str]]:
    me = {"Channel": "PJSIP/trunk-0000fffe", "Uniqueid": NEWCOMER, "Linkedid": NEWCOMER, "CallerIDNum": "15559999",
          "ChanVariable": "ACD_DID=6000"}
    return [{"Event": "Newchannel", **me, "Context": "acd-inbound", "Exten": "6000"},
            {"Event": "UserEvent", **me, "Context": "acd-hold", "Exten": "s", "UserEvent": "ACDCallWaiting",
             "ACDDID": "6000"}]


# ---------------------------------------------------------------- the tracker alone: many examples
@pytest.mark.parametrize("seed", range(12))
def test_fuzzed_listings_and_live_frames_are_survived_and_lose_no_other_call(
        seed: int, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(seed)
    tracker = Tracker(CONFIG)
    for _ in range(8):
        items, devices = fuzzed_listing(rng, 12)
        resynced = tracker.resync(items, devices)[-1]
        assert isinstance(resynced, Resynced)
        assert WITNESS["Uniqueid"] in [c.call_id for c in resynced.calls]
        with caplog.at_level(logging.ERROR, logger="acd.pbx"):
            for n in range(6):
                for msg in live_frames(n):
                    tracker.handle(mutated(msg, rng) if rng.random() < 0.6 else msg)
    # every bad value is met by the code itself, not by the last-resort catch-all
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    # and the next ordinary call is followed as ever
    arrived = [e for msg in newcomer_frames() for e in tracker.handle(msg)]
    assert arrived == [CallArrived(NEWCOMER, "6000", "15559999", "")]
    tracker.note_attempt(NEWCOMER, 1, ("zoe",))
    assert tracker.handle({"Event": "DialBegin", "Channel": "PJSIP/trunk-0000fffe", "Uniqueid": NEWCOMER,
                           "Context": "acd-dial", "Exten": "1", "DestChannel": "PJSIP/199-0000fffd",
                           "DestUniqueid": "1900000000.3", "DestLinkedid": NEWCOMER,
                           "DestChannelStateDesc": "Ringing"}) == [MemberRinging(NEWCOMER, 1, "zoe")]


def test_an_attempt_that_is_no_number_is_logged_once_and_the_call_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    tracker = Tracker(CONFIG)
    secret_ish = "ACD_TOKEN=hunter2"
    items = [
        {**channel("1.1", "PJSIP/trunk-00000001", "acd-dial", "²", did="5000"), "ChanVariable": secret_ish},
        channel("1.2", "PJSIP/trunk-00000002", "acd-dial", "4" * 4300),
        channel("1.3", "PJSIP/101-00000003", "acd-agents", "s", "Ringing", "1.2"),
        channel("1.4", "PJSIP/trunk-00000004", "acd-hold", "s"),
    ]
    with caplog.at_level(logging.INFO, logger="acd.pbx"):
        resynced = tracker.resync(items)[-1]
    assert isinstance(resynced, Resynced)
    # the bad attempts read as "not known" (0); everything else about the calls stands
    assert [(c.call_id, c.state, c.agents, c.attempt) for c in resynced.calls] == [
        ("1.1", "ringing", (), 0), ("1.2", "ringing", ("anna",), 0), ("1.4", "waiting", (), 0)]
    bad = [r for r in caplog.records if r.getMessage() == "ami value not understood"]
    assert [(r.__dict__["ami_field"], r.__dict__["ami_uniqueid"]) for r in bad] == [("Exten", "1.1"), ("Exten", "1.2")]
    assert all(len(r.__dict__["ami_value"]) <= 40 for r in bad)  # a 4,300-digit value is not logged whole
    assert "hunter2" not in caplog.text


# ---------------------------------------------------------------- the service: AMI link, tracker, router
class NoHistory:
    def add(self, records: list[Record]) -> None:
        pass

    def offered(self, group_id: str, agent_ids: tuple[str, ...], at: float) -> None:
        pass


def redirected(fake: FakeAsterisk, channel_name: str) -> bool:
    return any(a.get("Channel") == channel_name and a.get("Context") == "acd-dial" for a in fake.actions("Redirect"))


@pytest.mark.parametrize("seed", range(3))
async def test_the_service_survives_a_fuzzed_resync_and_fuzzed_live_events_and_routes_the_next_call(
        seed: int) -> None:
    rng = random.Random(1000 + seed)
    fake = FakeAsterisk()
    fake.channels, fake.devices = fuzzed_listing(rng, 30)
    await fake.start()
    pbx = AsteriskPbx(CONFIG, host="127.0.0.1", port=fake.port, username="acd", secret=SECRET, timing=FAST)
    distributor = Distributor(Router(CONFIG), Clock(), pbx, NoHistory())
    pbx.attach(distributor.feed)

    async def body() -> None:
        await until(lambda: pbx.connection.ready)
        await until(lambda: redirected(fake, WITNESS["Channel"]))  # the resync routed the caller it found
        for n in range(10):
            for msg in live_frames(n):
                fake.push(mutated(msg, rng) if rng.random() < 0.6 else msg)
        fake.push_raw("Event: Newchannel\r\nUniqueid: ²\r\nChannel\r\n: \r\n\r\n\r\n".encode())
        for msg in newcomer_frames():
            fake.push(msg)
        await until(lambda: redirected(fake, "PJSIP/trunk-0000fffe"))
        assert pbx.connection.ready and len(fake.sessions) == 1  # one session all along: nothing crashed

    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(pbx.run())
            try:
                await body()
            finally:
                pbx.close()
    finally:
        distributor.timers.cancel_all()
        await fake.stop()
