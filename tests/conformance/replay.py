"""Replay a recorded AMI session against the simulator and compare what comes back.

The simulator is configured like the recording (asterisk-etc/: the recording dialplan,
endpoints agent101..105 with agent105 qualified, the carrier trunk, voicemail boxes
101..105@default, manager user with read=all). The replay sends the recorded actions
at their (scaled) times and drives the phones and callers as the transcript's notes
say; the comparison rules are in test_transcripts.py's docstring.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from acd.clock import Clock
from acd.sim import Answer, Busy, ManagerUser, NeverAnswer, Simulator, Unreachable
from acd.sim.phones import Absent

from .transcripts import TRANSCRIPTS, Frame, Transcript

SPEED = 20.0
# README timing: sipp start -> Newchannel is about 105 ms
SIPP_START = 0.105
# how long (real seconds) an action may wait for the sim to catch up with the recording
GATE_TIMEOUT = 3.0  # generous: on a loaded machine the sim falls behind in real time

Pairs = list[tuple[str, str]]


# ---------------------------------------------------------------- the sim under test
def recording_simulator(clock: Clock) -> Simulator:
    sim = Simulator(
        dialplan=TRANSCRIPTS / "asterisk-etc" / "extensions.conf",
        clock=clock,
        manager_users={"acd": ManagerUser(secret="acdsecret")},
        channelvars=("ACD_DID",),
        agents_context="agents",
        trunk_context="from-carrier",
        trunk="carrier",
        mailboxes={f"{n}@default": f"Agent {n}" for n in range(101, 106)},
    )
    for n in range(101, 106):
        # no sipp listens until a note says so: a static contact nobody answers
        sim.add_phone(f"agent{n}", Absent(), callerid=(str(n), f"Agent {n}"), qualify=(n == 105))
    sim.phone("agent105").behaviour = Unreachable()
    return sim


class AmiClient:
    """A plain AMI client that keeps every frame with the sim time it arrived."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.frames: list[tuple[float, Pairs]] = []
        self.t0 = 0.0
        self.closed = asyncio.Event()

    async def connect(self) -> None:
        assert self.sim.port is not None
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.sim.port)
        self.t0 = self.sim.clock.now()
        banner = await self.reader.readline()
        self.frames.append((0.0, [(banner.decode().strip(), "")]))
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        buf = b""
        while True:
            data = await self.reader.read(65536)
            if not data:
                break
            buf += data
            while b"\r\n\r\n" in buf:
                raw, buf = buf.split(b"\r\n\r\n", 1)
                pairs = []
                for line in raw.decode().split("\r\n"):
                    key, _, value = line.partition(":")
                    pairs.append((key, value[1:] if value.startswith(" ") else value))
                self.frames.append((self.sim.clock.now() - self.t0, pairs))
        self.closed.set()

    def send(self, pairs: Pairs) -> None:
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n")


# ---------------------------------------------------------------- normalisation
NOISE_EVENTS = {
    "VarSet", "RTCPSent", "RTCPReceived", "QueueMemberStatus", "QueueCallerJoin", "QueueCallerLeave",
    "AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "QueueParams", "QueueMember",
    "QueueSummary", "QueueStatusComplete", "QueueSummaryComplete",
}
APP_QUEUE_ACTIONS = ("queuestatus-", "queuesummary-")
IGNORED_KEYS = {
    "EventTV", "SessionID", "LocalAddress", "RemoteAddress", "SessionTV", "Uptime", "LastReload", "Timestamp",
    "Duration", "Seconds", "RoundtripUsec", "Output", "Nativeformats", "Readformat", "Readtrans", "Writeformat",
    "Writetrans", "Challenge",
}
# listings the sim reproduces only in part: compare these keys
SELECTED_KEYS = {
    "EndpointList": ("ObjectName", "DeviceState", "ActiveChannels"),
    "EndpointDetail": ("ObjectName", "Context", "DeviceState", "ActiveChannels", "Callerid"),
    "TransportDetail": ("ObjectName",),
    "AorDetail": ("ObjectName", "MaxContacts", "QualifyFrequency", "Contacts"),
    "AorList": ("ObjectName", "MaxContacts", "QualifyFrequency", "Contacts"),
    "ContactStatusDetail": ("AOR", "URI", "Status"),
    "VoicemailUserEntry": ("VMContext", "VoiceMailbox", "Fullname", "NewMessageCount", "OldMessageCount"),
}
SNAPSHOT_PREFIXES = ("", "Dest", "Transferer", "Transferee", "Target", "LocalOne", "LocalTwo", "OrigTransferer",
                     "SecondTransferer", "TransferTarget")
CHANNEL_RE = re.compile(r"(?:PJSIP|Local)/[\w@.+*]+?(?:-[\w@.+*]+?)*-[0-9a-f]{8}(?:;[12])?")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UID_RE = re.compile(r"\b\d{9,11}\.\d+\b")


@dataclass
class Event:
    t: float
    name: str
    items: tuple[tuple[str, str], ...]
    streams: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        shown = " ".join(f"{k}={v}" for k, v in self.items if k not in ("Event",))
        return f"{self.t:7.3f} {self.name}: {shown}"


class Roles:
    """Recorded and simulated names differ; both sides name channels by role:
    '<device>#<n>' (the n-th channel of that device), bridges 'bridge#<n>'."""

    def __init__(self) -> None:
        self.channels: dict[str, str] = {}
        self.per_device: Counter[str] = Counter()
        self.uids: dict[str, str] = {}
        self.bridges: dict[str, str] = {}

    def channel(self, name: str) -> str:
        if name not in self.channels:
            base, _, half = name.partition(";")
            if base not in self.channels:
                device = base.rsplit("-", 1)[0]
                self.per_device[device] += 1
                self.channels[base] = f"{device}#{self.per_device[device]}"
            self.channels[name] = self.channels[base] + (f";{half}" if half else "")
        return self.channels[name]

    def learn(self, pairs: Pairs) -> None:
        keys = dict(pairs)
        for p in SNAPSHOT_PREFIXES:
            chan, uid = keys.get(p + "Channel"), keys.get(p + "Uniqueid")
            if chan and uid and CHANNEL_RE.fullmatch(chan):
                self.uids.setdefault(uid, self.channel(chan))

    def value(self, value: str) -> str:
        value = CHANNEL_RE.sub(lambda m: self.channel(m.group(0)), value)
        value = UUID_RE.sub(lambda m: self.bridges.setdefault(m.group(0), f"bridge#{len(self.bridges) + 1}"), value)
        return UID_RE.sub(lambda m: self.uids.get(m.group(0), "uid?"), value)


def is_noise(pairs: Pairs, keep_agent105: bool) -> bool:
    keys = dict(pairs)
    name = keys.get("Event", "")
    if not pairs or pairs[0][0].startswith("Asterisk Call Manager"):
        return True
    if name in NOISE_EVENTS:
        return True
    if keys.get("ActionID", "").startswith(APP_QUEUE_ACTIONS):
        return True
    if name == "RequestBadFormat" and keys.get("RequestType", "").startswith(("Action: Queue",)):
        return True
    if name == "DeviceStateChange" and keys.get("Device", "").startswith("Queue:"):
        return True
    if not keep_agent105 and "ActionID" not in keys:
        if name in ("PeerStatus", "ContactStatus") and "agent105" in (keys.get("Peer", "") + keys.get("AOR", "")):
            return True
        if name == "DeviceStateChange" and keys.get("Device") == "PJSIP/agent105":
            return True
    return False


def normalise(frames: list[tuple[float, Pairs]], keep_agent105: bool) -> list[Event]:
    roles = Roles()
    events: list[Event] = []
    for t, pairs in frames:
        if is_noise(pairs, keep_agent105):
            continue
        roles.learn(pairs)
        name = dict(pairs).get("Event") or "Response:" + dict(pairs).get("Response", "?")
        selected = SELECTED_KEYS.get(name)
        items = []
        streams: list[str] = []
        for key, value in pairs:
            if key in IGNORED_KEYS or key.endswith("BridgeTechnology") or key.endswith("Uniqueid") and not (
                key.endswith("BridgeUniqueid")
            ):
                if not (name == "OriginateResponse" and key == "Uniqueid"):
                    continue
            if selected is not None and key not in selected and key not in ("Event", "ActionID", "EventList"):
                continue
            if name == "DeviceStateListComplete" and key == "ListItems":
                continue  # the recording also lists app_queue's Queue:... devices
            if name == "DialState" and key in ("DestChannelState", "DestChannelStateDesc"):
                continue  # published in a race with the leg's Newstate: Down or Ringing (README)
            items.append((roles.value(key), roles.value(value)))
        keys = dict(pairs)
        if "ActionID" in keys:
            streams.append("action:" + keys["ActionID"])
        else:
            for p in SNAPSHOT_PREFIXES:
                chan = keys.get(p + "Channel")
                if chan and CHANNEL_RE.fullmatch(chan):
                    streams.append(roles.channel(chan))
            for key, value in pairs:
                if key.endswith("BridgeUniqueid") and not key.startswith("Dest"):
                    streams.append(roles.value(value))
            if name == "DeviceStateChange":
                streams.append("device:" + keys.get("Device", ""))
            if not streams:
                streams.append("session")
        events.append(Event(round(t, 3), name, tuple(items), sorted(set(streams))))
    return events


# ---------------------------------------------------------------- comparison
def compare(recorded: list[Event], simulated: list[Event], window: float = 0.002) -> list[str]:
    """Per-stream comparison. Inside a stream, recorded events less than ``window`` apart
    may come in any order (Asterisk's order within a millisecond varies, README)."""
    rec_streams: dict[str, list[Event]] = defaultdict(list)
    sim_streams: dict[str, list[Event]] = defaultdict(list)
    for ev in recorded:
        for s in ev.streams:
            rec_streams[s].append(ev)
    for ev in simulated:
        for s in ev.streams:
            sim_streams[s].append(ev)
    problems: list[str] = []
    for stream in sorted(set(rec_streams) | set(sim_streams)):
        rec, sim = rec_streams.get(stream, []), sim_streams.get(stream, [])
        i = 0
        problem = None
        while i < len(rec):
            j = i
            while j + 1 < len(rec) and rec[j + 1].t - rec[i].t <= window + 1e-6:
                j += 1
            group = rec[i : j + 1]
            got = sim[i : j + 1]
            if Counter(e.items for e in group) != Counter(e.items for e in got):
                problem = i
                break
            i = j + 1
        if problem is None and len(sim) > len(rec):
            problem = len(rec)
        if problem is not None:
            lo = max(0, problem - 2)
            lines = [f"stream {stream}: first difference at event {problem}"]
            lines += ["  recorded:"] + [f"    {e}" for e in rec[lo : problem + 4]]
            lines += ["  simulated:"] + [f"    {e}" for e in sim[lo : problem + 4]]
            problems.append("\n".join(lines))
    return problems


# ---------------------------------------------------------------- the replay
NOTE_PHONE = re.compile(r"sipp: (agent\d+) phone started \((\w+)(?:, (.*))?\)")
NOTE_CALL = re.compile(r"sipp: (\S+) calls (\S+) from \S+, hangs up after (\d+) ms")


@dataclass
class Replay:
    transcript: Transcript
    speed: float = SPEED
    keep_agent105: bool = False
    client_frames: list[tuple[float, Pairs]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def recorded_events(self) -> list[Event]:
        return normalise([(f.t, f.pairs) for f in self.transcript.received], self.keep_agent105)

    async def run(self) -> list[Event]:
        clock = Clock(self.speed)
        sim = recording_simulator(clock)
        await sim.start()
        client = AmiClient(sim)
        recorded = self.transcript.received
        rec_roles = Roles()
        for f in recorded:
            rec_roles.learn(f.pairs)
        rec_norm = [f.t for f in recorded if not is_noise(f.pairs, self.keep_agent105)]
        sim_roles = Roles()
        try:
            await client.connect()
            background: list[asyncio.Task[None]] = []
            for item in self.transcript.frames:
                if item.kind == "recv":
                    continue
                await self._until(clock, client, item.t)
                if item.kind == "sent":
                    await self._gate(client, sum(1 for t in rec_norm if t < item.t))
                    for _, pairs in client.frames:
                        sim_roles.learn(pairs)
                    client.send(self._translate(item, rec_roles, sim_roles))
                else:
                    background += self._note(sim, clock, client, item)
            last = max(f.t for f in recorded)
            await self._until(clock, client, last + 0.3)
            await asyncio.wait_for(client.closed.wait(), 2.0)
            for task in background:
                task.cancel()
        finally:
            self.errors = list(sim.errors)
            await sim.stop()
        self.client_frames = client.frames
        return normalise(client.frames, self.keep_agent105)

    @staticmethod
    async def _until(clock: Clock, client: AmiClient, t: float) -> None:
        delay = client.t0 + t - clock.now()
        if delay > 0:
            await clock.sleep(delay)

    async def _gate(self, client: AmiClient, wanted: int) -> None:
        """Do not act before the sim has shown as much as Asterisk had at that moment."""
        loop = asyncio.get_running_loop()
        end = loop.time() + GATE_TIMEOUT
        while loop.time() < end:
            have = sum(1 for _, p in client.frames if not is_noise(p, self.keep_agent105))
            if have >= wanted:
                return
            await asyncio.sleep(0.002)

    @staticmethod
    def _translate(item: Frame, rec_roles: Roles, sim_roles: Roles) -> Pairs:
        by_role = {role: name for name, role in sim_roles.channels.items()}
        out = []
        for key, value in item.pairs:
            if value == "********":
                value = "acdsecret"
            elif CHANNEL_RE.fullmatch(value) and value in rec_roles.channels:
                value = by_role.get(rec_roles.channels[value], value)
            out.append((key, value))
        return out

    def _note(self, sim: Simulator, clock: Clock, client: AmiClient, note: Frame) -> list[asyncio.Task[None]]:
        m = NOTE_PHONE.search(note.text)
        if m:
            name, kind, params = m.group(1), m.group(2), dict(
                p.split("=", 1) for p in (m.group(3) or "").split(", ") if "=" in p)
            phone = sim.phone(name)
            answer_s = int(params.get("answer_ms", "0")) / 1000
            if name == "agent105" and kind == "answer":
                return [asyncio.create_task(self._qualify_later(sim, clock, client, note.t))]
            phone.behaviour = {"answer": Answer(after=answer_s), "refer": Answer(after=answer_s),
                               "noanswer": NeverAnswer(), "busy": Busy()}[kind]
            if kind == "refer":
                talk = int(params["talk_ms"]) / 1000
                return [asyncio.create_task(self._refer(sim, clock, name, talk, params["refer_to"]))]
            return []
        m = NOTE_CALL.search(note.text)
        if m:
            who, exten, hangup_ms = m.group(1), m.group(2), int(m.group(3)) / 1000
            return [asyncio.create_task(self._call(sim, clock, who, exten, hangup_ms))]
        return []

    async def _qualify_later(self, sim: Simulator, clock: Clock, client: AmiClient, since: float) -> None:
        # the qualify phase is arbitrary: use the moment Asterisk's next OPTIONS found it
        times = [f.t for f in self.transcript.received if f.get("Event") == "ContactStatus" and f.t >= since]
        await self._until(clock, client, times[0] if times else since)
        sim.phone("agent105").set_reachable(True)

    async def _call(self, sim: Simulator, clock: Clock, who: str, exten: str, hangup_s: float) -> None:
        await clock.sleep(SIPP_START)
        if who.startswith("agent"):
            await sim.phone(who).dial(exten, hangup_after=hangup_s)
        else:
            # 12: that caller streams RTP, which makes Answer() fast (README 17)
            media = any("streaming" in line for line in self.transcript.header)
            await sim.call(exten, who, hangup_after=hangup_s, media=media)

    @staticmethod
    async def _refer(sim: Simulator, clock: Clock, name: str, talk: float, target: str) -> None:
        phone = sim.phone(name)
        while phone.current_call is None:
            await clock.sleep(0.01)
        await clock.sleep(talk)
        await phone.transfer_blind(target)
