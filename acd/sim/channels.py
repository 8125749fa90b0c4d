"""Channels and bridges, and the header blocks AMI events carry for them.

A channel snapshot is always the same 14 headers in the same order, then one
``ChanVariable`` line per manager ``channelvars`` entry (transcripts README, 02). Events
about two channels repeat the block with a prefix (``DestChannel``, ``TransfererChannel``...).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .protocol import Pairs

if TYPE_CHECKING:
    import asyncio

DOWN, RING, RINGING, UP = 0, 4, 5, 6
STATE_DESC = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}

CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
}

UNKNOWN = "<unknown>"


@dataclass
class Variable:
    value: str
    # 2 for "__NAME" (every descendant), 1 for "_NAME" (one generation), 0 for plain
    inherit: int = 0


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    seq: int  # the uniqueid's global sequence number: orders channels by age
    linkedid: str
    tech: str = "PJSIP"
    endpoint: str | None = None  # PJSIP endpoint name; None for Local channels
    state: int = DOWN
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "en"
    accountcode: str = ""
    context: str = ""
    exten: str = "s"
    priority: int = 1
    variables: dict[str, Variable] = field(default_factory=dict)
    app: str = ""
    appdata: str = ""
    dnid: str = ""
    created: float = 0.0
    answered_at: float | None = None
    hangupcause: int = 0
    techcause: int | None = None
    callgroup: int = 0
    pickupgroup: int = 0
    bridge: Bridge | None = None
    hungup: bool = False
    # set when the far end (a phone's BYE) or the PBX asked this channel to go
    hangup_requested: bool = False
    # Redirect / transfer target waiting to be taken by the dialplan loop
    pending_goto: tuple[str, str, int] | None = None
    # the location last published with a Newexten (Newexten fires on location changes)
    published_location: tuple[str, str, int] | None = None
    media: bool = False  # does the far end send RTP? (Answer() timing, README 17)
    pbx_task: asyncio.Task[Any] | None = None
    wake: asyncio.Event | None = None
    # what the channel is doing, for the sim's own bookkeeping
    dial: Any = None  # the Dial operation this channel runs (caller side)
    dialled_by: Any = None  # the Dial operation that created this leg
    owner: Any = None  # the scripted phone or caller on the far end
    in_app: bool = False
    local_peer: Channel | None = None  # the other half of a Local channel pair
    on_hangup: list[Any] = field(default_factory=list)
    held: bool = False
    hangup_source: str | None = None  # who ended it: "caller", an endpoint name, "ami", "dialplan"
    soft_emitted: bool = False
    moh_active: bool = False
    pulled: bool = False  # taken out of its dialplan into a bridge (Bridge action, 08)
    keys: list[str] | None = None  # the keys a running Read() has not taken yet (None: no Read runs)
    pending_callerid: tuple[str, str] | None = None  # a Local ;2 caller id Asterisk shows late

    @property
    def state_desc(self) -> str:
        return STATE_DESC.get(self.state, "Unknown")

    @property
    def device(self) -> str:
        if not self.tech:
            return self.name  # 15: the stand-in "OutgoingSpoolFailed" is its own device
        if self.tech == "Local":
            # 10: Local/103@agents-00000001;1 -> device Local/103@agents
            return self.name.rsplit("-", 1)[0]
        return f"{self.tech}/{self.endpoint}"

    # ---- variables
    def get_var(self, name: str) -> str | None:
        var = self.variables.get(name.lstrip("_"))
        return None if var is None else var.value

    def set_var(self, name: str, value: str) -> None:
        inherit = 2 if name.startswith("__") else 1 if name.startswith("_") else 0
        self.variables[name.lstrip("_")] = Variable(value, inherit)

    def inheritable(self) -> list[tuple[str, str]]:
        """Variables a dialled or Local channel gets, with the prefix they are set with."""
        out = []
        for name, var in self.variables.items():
            if var.inherit == 2:
                out.append(("__" + name, var.value))
            elif var.inherit == 1:
                out.append((name, var.value))
        return out

    # ---- AMI header blocks
    def snapshot(self, channelvars: tuple[str, ...], prefix: str = "") -> Pairs:
        p = prefix
        pairs: Pairs = [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", self.state_desc),
            (f"{p}CallerIDNum", self.caller_num or UNKNOWN),
            (f"{p}CallerIDName", self.caller_name or UNKNOWN),
            (f"{p}ConnectedLineNum", self.connected_num or UNKNOWN),
            (f"{p}ConnectedLineName", self.connected_name or UNKNOWN),
            (f"{p}Language", self.language),
            (f"{p}AccountCode", self.accountcode),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]
        for var in channelvars:
            pairs.append((f"{p}ChanVariable", f"{var}={self.get_var(var) or ''}"))
        return pairs

    def __repr__(self) -> str:
        return f"<Channel {self.name} {self.state_desc} {self.context},{self.exten},{self.priority}>"


def cause_pairs(chan: Channel, with_text: bool) -> Pairs:
    pairs: Pairs = [("Cause", str(chan.hangupcause))]
    if with_text:
        pairs.append(("Cause-txt", CAUSE_TEXT.get(chan.hangupcause, "Unknown")))
    if chan.techcause is not None:
        pairs.append(("TechCause", str(chan.techcause)))
    return pairs


@dataclass(eq=False)
class Bridge:
    uniqueid: str = field(default_factory=lambda: str(uuid.uuid4()))
    type: str = "basic"
    technology: str = "simple_bridge"
    channels: list[Channel] = field(default_factory=list)
    # who decides what happens when a member leaves: a Dial, the Bridge action...
    owner: Any = None

    def headers(self, prefix: str = "Bridge") -> Pairs:
        p = prefix
        return [
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Type", self.type),
            (f"{p}Technology", self.technology),
            (f"{p}Creator", UNKNOWN),
            (f"{p}Name", UNKNOWN),
            (f"{p}NumChannels", str(len(self.channels))),
            (f"{p}VideoSourceMode", "none"),
        ]

    def others(self, chan: Channel) -> list[Channel]:
        return [c for c in self.channels if c is not chan]
