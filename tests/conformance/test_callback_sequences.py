"""Conformance of the callback path (recordings 14 and 15) under the project's dialplan.

Recording 15 ran the recording set-up's [acd-callback] (agent first, then the customer
through 'carrier-out'); the simulator runs the project's [acd-callback], which differs
only in where the dial string and ring time come from (Variables). The comparison is per
channel, by role (the n-th member leg, the n-th customer leg, the failed stand-in), over
the events that say what happens to a channel: Newchannel, Newstate, Dial*, Bridge
enter/leave, HangupRequest, SoftHangupRequest, Hangup, our UserEvents, with their
DialStatus, UserEvent name and Cause. Recorded events less than 2 ms apart may come in any
order (README "Out-of-order events").

Assumed without a recording, and so not compared: VarSet/Newexten (the dialplans differ
by design), NewCallerid/NewConnectedLine, the OriginateResponse's position among the leg's
events (it varies between runs, README 22; only its Response and Reason are compared),
the first-run-only DeviceStateChange of OutgoingSpoolFailed (README 24), and the
DTMFBegin/DTMFEnd headers beyond Digit, DurationMs and Direction (14).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from acd.clock import Clock
from acd.sim import Answer, Busy, ManagerUser, NeverAnswer, Simulator
from acd.sim.recordings import Recording

from .replay import AmiClient, Event, Pairs, compare
from .transcripts import load

REPO_DIALPLAN = Path(__file__).resolve().parents[2] / "asterisk" / "extensions.conf"

KEPT = {"Newchannel", "Newstate", "DialBegin", "DialState", "DialEnd", "UserEvent", "BridgeEnter", "BridgeLeave",
        "HangupRequest", "SoftHangupRequest", "Hangup", "DTMFBegin", "DTMFEnd"}
DETAIL = ("DialStatus", "UserEvent", "Cause", "Digit", "DurationMs", "Direction", "ChannelStateDesc")
CUSTOMER = "15559990001"


def role_of(name: str, member: str, trunk: str, seen: dict[str, str], counts: Counter[str]) -> str | None:
    if name in seen:
        return seen[name]
    if name == "OutgoingSpoolFailed":
        kind = "failed"
    elif name.startswith(f"PJSIP/{member}-"):
        kind = "member"
    elif name.startswith(f"PJSIP/{trunk}-"):
        kind = "customer"
    else:
        return None
    counts[kind] += 1
    seen[name] = f"{kind}#{counts[kind]}"
    return seen[name]


def channel_events(frames: list[tuple[float, Pairs]], member: str, trunk: str) -> list[Event]:
    seen: dict[str, str] = {}
    counts: Counter[str] = Counter()
    out = []
    for t, pairs in frames:
        keys = dict(pairs)
        name = keys.get("Event", "")
        if name not in KEPT:
            continue
        streams = [r for r in (role_of(keys.get(k, ""), member, trunk, seen, counts)
                               for k in ("Channel", "DestChannel")) if r]
        if streams:
            items = (("Event", name), *((k, keys[k]) for k in DETAIL if k in keys))
            out.append(Event(round(t, 3), name, items, sorted(set(streams))))
    return out


def originate_results(frames: list[tuple[float, Pairs]]) -> list[tuple[str, str]]:
    return [(dict(p)["Response"], dict(p)["Reason"]) for _, p in frames if dict(p).get("Event") == "OriginateResponse"]


def recorded(rec: Recording) -> list[tuple[float, Pairs]]:
    return [(f.t, list(f.pairs)) for f in rec.received]


async def simulate_15(rec: Recording) -> list[tuple[float, Pairs]]:
    clock = Clock(20)
    sim = Simulator(dialplan=REPO_DIALPLAN, clock=clock, channelvars=("ACD_DID", "ACD_CALLBACK"),
                    manager_users={"acd": ManagerUser(secret="s")}, trunk="carrier-out")
    member = sim.add_phone("agent102", Answer(after=2), callerid=("102", "Agent 102"))
    await sim.start()
    client = AmiClient(sim)
    try:
        await client.connect()
        client.send([("Action", "Login"), ("Username", "acd"), ("Secret", "s")])
        sent = [f for f in rec.frames if f.kind == "sent" and dict(f.pairs).get("Action") == "Originate"]
        parts = [(Answer(after=2), Answer(after=3, hangup_after=4)), (Answer(after=2), NeverAnswer()),
                 (Busy(), NeverAnswer())]
        for n, (frame, (member_does, customer_does)) in enumerate(zip(sent, parts, strict=True), start=1):
            await clock.sleep(frame.t - (clock.now() - client.t0))
            member.behaviour = member_does
            sim.trunk.customer(CUSTOMER, customer_does)
            client.send([("Action", "Originate"), ("ActionID", f"cb-{n}"), ("Channel", "PJSIP/agent102"),
                         ("Context", "acd-callback"), ("Exten", CUSTOMER), ("Priority", "1"), ("Timeout", "15000"),
                         ("CallerID", '"ACD Callback" <5000>'), ("Async", "true"),
                         ("Variable", f"__ACD_CALLBACK=cb-{n},ACD_CALLBACK_TRY=1,"
                                      f"ACD_DIALSTRING=PJSIP/{CUSTOMER}@carrier-out,ACD_TIMEOUT=10")])
        await clock.sleep(max(f.t for f in rec.received) + 1 - (clock.now() - client.t0))
        assert not sim.errors, sim.errors
    finally:
        await sim.stop()
    return client.frames


async def test_15_member_first_then_the_customer_as_recorded() -> None:
    rec = load("15-callback-originate")
    simulated = await simulate_15(rec)
    want = channel_events(recorded(rec), "agent102", "carrier-out")
    got = channel_events(simulated, "agent102", "carrier-out")
    problems = compare(want, got)
    assert not problems, "\n\n".join(problems[:4])
    assert originate_results(simulated) == originate_results(recorded(rec)) == [
        ("Success", "4"), ("Success", "4"), ("Failure", "0")]


async def test_14_a_key_in_music_gives_dtmf_begin_and_end_and_nothing_else() -> None:
    rec = load("14-dtmf-in-moh")
    clock = Clock(20)
    sim = Simulator(dialplan=REPO_DIALPLAN, clock=clock, manager_users={"acd": ManagerUser(secret="s")})
    await sim.start()
    client = AmiClient(sim)
    try:
        await client.connect()
        client.send([("Action", "Login"), ("Username", "acd"), ("Secret", "s")])
        call = await sim.call("5000", "15550000015")
        await clock.sleep(3)
        await call.press("1")
        await clock.sleep(2)
        await call.press("2")
        await clock.sleep(1)
        await call.hangup()
        await clock.sleep(0.5)
    finally:
        await sim.stop()

    def keys(frames: list[tuple[float, Pairs]]) -> list[tuple[str, ...]]:
        out = []
        for _, pairs in frames:
            d = dict(pairs)
            if d.get("Event", "").startswith("DTMF"):
                out.append((d["Event"], d["Privilege"], d["Context"], d["Digit"], d.get("DurationMs", ""),
                            d["Direction"]))
        return out

    assert keys(client.frames) == keys(recorded(rec))
    # README 20: music on hold goes on: no MusicOnHoldStop between the keys and the hang-up
    names = [dict(p).get("Event") for _, p in client.frames]
    first_key = names.index("DTMFBegin")
    assert "MusicOnHoldStart" not in names[first_key:] and names[first_key:].count("MusicOnHoldStop") <= 1
