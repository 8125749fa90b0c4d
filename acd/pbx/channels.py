"""Asterisk's channels, bridges and Local channel pairs as AMI reports them.

A pure picture, no telephony meaning: the tracker decides which channel is a
caller or an agent's leg. Keyed by Uniqueid, the one identifier that is stable for
a channel's life (names change with Rename, Linkedid changes when an originated
or picking-up channel is bridged: transcripts README 3, 08, 09).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

UNKNOWN = "<unknown>"  # Asterisk's placeholder value (transcripts README, edge cases)


def text(msg: Mapping[str, Any], key: str) -> str:
    """One header as a string: the first of repeated keys (the channel's own header
    comes before a UserEvent body key of the same name), "" when absent."""
    value = msg.get(key)
    if value.__class__ is str:  # nearly always: the rest of the checks are for the odd frame
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return value if isinstance(value, str) else str(value)


def values(msg: Mapping[str, Any], key: str) -> list[str]:
    """Every value of a header that may repeat (panoramisk turns repeats into a list)."""
    value = msg.get(key)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [v if isinstance(v, str) else str(v) for v in value]
    return [value if isinstance(value, str) else str(value)]


_COUNT = re.compile(r"[0-9]{1,9}", re.ASCII)
_HMS = re.compile(r"([0-9]{1,9}):([0-5][0-9]):([0-5][0-9])", re.ASCII)


def count(value: str) -> int | None:
    """A small whole number as Asterisk writes one (an attempt in an extension), else
    None: ASCII digits only, at most nine (``str.isdigit`` accepts "²", which ``int``
    refuses; ``int`` also refuses 4,300 digits)."""
    return int(value) if _COUNT.fullmatch(value) else None


def hms_seconds(value: str) -> int | None:
    """CoreShowChannel's ``Duration`` (``00:00:07``: whole seconds since the channel was
    made, cut, not rounded: 01, 14) in seconds; None for anything else."""
    found = _HMS.fullmatch(value)
    if found is None:
        return None
    hours, minutes, seconds = (int(part) for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def chan_variables(msg: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``ChanVariable: NAME=value`` lines (``DestChanVariable`` etc. with a prefix)."""
    out: dict[str, str] = {}
    for item in values(msg, f"{prefix}ChanVariable"):
        name, sep, val = item.partition("=")
        if sep:
            out[name.strip()] = val
    return out


@functools.lru_cache(maxsize=4096)  # asked for the same live channels' names again and again
def endpoint_of(name: str) -> str:
    """``PJSIP/101-00000002`` -> ``PJSIP/101``; ``Local/103@ctx-0000abcd;1`` ->
    ``Local/103@ctx``. The suffix after the last dash is the channel's sequence number."""
    base = name.split(";", 1)[0]
    head, sep, tail = base.rpartition("-")
    if sep and head and tail and all(c in "0123456789abcdefABCDEF" for c in tail):
        return head
    return base


def is_local(name: str) -> bool:
    return name.startswith("Local/")


def local_partner(name: str) -> str | None:
    """The other half of a Local pair: ``…;1`` <-> ``…;2`` (12: attended transfer chain)."""
    if not is_local(name):
        return None
    if name.endswith(";1"):
        return name[:-1] + "2"
    if name.endswith(";2"):
        return name[:-1] + "1"
    return None


@dataclass(frozen=True, slots=True)
class _SnapshotKeys:
    """The headers of one channel snapshot in an event: ``Uniqueid`` for the channel the
    event is about, ``DestUniqueid`` for its Dest channel (README 3)..."""

    uid: str
    channel: str
    linkedid: str
    state: str
    context: str
    exten: str
    caller_number: str
    caller_name: str
    variables: str


_KEYS: dict[str, _SnapshotKeys] = {}


def _snapshot_keys(prefix: str) -> _SnapshotKeys:
    """Built once per prefix: observe() runs for nearly every event, often twice."""
    keys = _KEYS.get(prefix)
    if keys is None:
        keys = _KEYS[prefix] = _SnapshotKeys(*(prefix + key for key in (
            "Uniqueid", "Channel", "Linkedid", "ChannelStateDesc", "Context", "Exten", "CallerIDNum",
            "CallerIDName", "ChanVariable")))
    return keys


@dataclass(slots=True)
class Channel:
    uid: str
    name: str
    linkedid: str = ""
    state: str = ""  # ChannelStateDesc: Down, Ring, Ringing, Up...
    context: str = ""
    exten: str = ""
    application: str = ""  # only CoreShowChannel items carry it
    age_s: int | None = None  # likewise: their Duration, the channel's age in whole seconds
    caller_number: str = ""
    caller_name: str = ""
    variables: dict[str, str] | None = None
    bridge: str | None = None
    far_end_hung_up: bool = False  # HangupRequest seen: the far end hung up (README 7)
    hanging_up: bool = False  # HangupRequest or SoftHangupRequest seen
    # the last ChanVariable header(s) read into ``variables``; Any, as "object" stops the
    # compiled module from loading (mypyc 2.4: KeyError: 'object' on import)
    variable_lines: Any = None

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.name)

    def variable(self, name: str) -> str:
        return (self.variables or {}).get(name, "")


class Picture:
    """Live channels by Uniqueid, their names, and bridge membership."""

    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.by_name: dict[str, str] = {}
        self.bridges: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ channels
    def get(self, uid: str) -> Channel | None:
        return self.channels.get(uid)

    def named(self, name: str) -> Channel | None:
        uid = self.by_name.get(name)
        return self.channels.get(uid) if uid else None

    def observe(self, msg: Mapping[str, Any], prefix: str = "") -> Channel | None:
        """Create or refresh the channel whose snapshot ``msg`` carries under ``prefix``
        (``Dest``, ``Transferee``, ``Target``...). Returns None without a usable one.

        It runs for nearly every event, often twice: each header is read once with
        ``msg.get`` and taken as it is when it is a string (a repeated or odd one goes
        through ``text``), and the channel variables are read again only when their
        lines differ from the last ones seen."""
        keys = _KEYS.get(prefix) or _snapshot_keys(prefix)
        get = msg.get
        uid = get(keys.uid)
        name = get(keys.channel)
        if uid.__class__ is not str or name.__class__ is not str:
            uid, name = text(msg, keys.uid), text(msg, keys.channel)
        uid, name = uid.strip(), name.strip()
        if not uid or uid == UNKNOWN or not name:
            return None
        ch = self.channels.get(uid)
        if ch is None:
            ch = self.channels[uid] = Channel(uid, name)
            self.by_name[name] = uid
        elif ch.name != name:
            self._rename(ch, name)
        else:
            self.by_name[name] = uid
        linkedid = get(keys.linkedid)
        if linkedid is not None and linkedid != ch.linkedid:
            linkedid = text(msg, keys.linkedid)
            if linkedid and linkedid != UNKNOWN and linkedid != ch.linkedid:
                if ch.linkedid:
                    # 08/09: an originated or picking-up channel adopts the older Linkedid
                    log.debug("linkedid changed", extra={"ami_uniqueid": uid, "ami_from": ch.linkedid,
                                                         "ami_to": linkedid})
                ch.linkedid = linkedid
        value = get(keys.state)
        if value is not None:
            ch.state = value if value.__class__ is str else text(msg, keys.state)
        value = get(keys.context)
        if value is not None:
            ch.context = value if value.__class__ is str else text(msg, keys.context)
        value = get(keys.exten)
        if value is not None:
            ch.exten = value if value.__class__ is str else text(msg, keys.exten)
        value = get(keys.caller_number)
        if value is not None:
            value = value if value.__class__ is str else text(msg, keys.caller_number)
            ch.caller_number = "" if value == UNKNOWN else value
        value = get(keys.caller_name)
        if value is not None:
            value = value if value.__class__ is str else text(msg, keys.caller_name)
            ch.caller_name = "" if value == UNKNOWN else value
        value = get(keys.variables)
        if value is not None and value != ch.variable_lines:
            ch.variable_lines = value
            variables = chan_variables(msg, prefix)
            if variables:
                ch.variables = {**(ch.variables or {}), **variables}
        return ch

    def rename(self, uid: str, new_name: str) -> None:
        ch = self.channels.get(uid)
        if ch is not None and new_name:
            self._rename(ch, new_name)

    def _rename(self, ch: Channel, new_name: str) -> None:
        if self.by_name.get(ch.name) == ch.uid:
            del self.by_name[ch.name]
        ch.name = new_name
        self.by_name[new_name] = ch.uid

    def remove(self, uid: str) -> Channel | None:
        ch = self.channels.pop(uid, None)
        if ch is None:
            return None
        if self.by_name.get(ch.name) == uid:
            del self.by_name[ch.name]
        self.leave(uid, ch.bridge)
        return ch

    # ------------------------------------------------------------------ bridges
    def enter(self, uid: str, bridge_id: str) -> None:
        ch = self.channels.get(uid)
        if ch is None or not bridge_id:
            return
        if ch.bridge and ch.bridge != bridge_id:
            self.leave(uid, ch.bridge)
        ch.bridge = bridge_id
        self.bridges.setdefault(bridge_id, set()).add(uid)

    def leave(self, uid: str, bridge_id: str | None) -> None:
        if not bridge_id:
            return
        members = self.bridges.get(bridge_id)
        if members is not None:
            members.discard(uid)
            if not members:
                del self.bridges[bridge_id]
        ch = self.channels.get(uid)
        if ch is not None and ch.bridge == bridge_id:
            ch.bridge = None

    def destroy(self, bridge_id: str) -> None:
        for uid in list(self.bridges.get(bridge_id, ())):
            self.leave(uid, bridge_id)
        self.bridges.pop(bridge_id, None)

    def merge(self, from_id: str, to_id: str) -> None:
        """BridgeMerge: everyone in ``from_id`` is now in ``to_id`` (12: attended transfer)."""
        for uid in list(self.bridges.get(from_id, ())):
            self.enter(uid, to_id)
        self.bridges.pop(from_id, None)

    def peers(self, uid: str) -> Iterator[Channel]:
        ch = self.channels.get(uid)
        if ch is None or not ch.bridge:
            return
        for other in sorted(self.bridges.get(ch.bridge, ())):
            if other != uid and other in self.channels:
                yield self.channels[other]

    def partner(self, ch: Channel) -> Channel | None:
        name = local_partner(ch.name)
        return self.named(name) if name else None

    def reachable(self, uid: str, accept: Callable[[Channel], bool]) -> Channel | None:
        """The first channel ``accept``-ed that ``uid`` talks to, following bridges and
        Local pairs: caller -> bridge -> Local;1 -> Local;2 -> bridge -> agent (README 12:
        the Local pair of an attended transfer is not optimised away)."""
        seen = {uid}
        frontier = [uid]
        while frontier:
            nxt: list[str] = []
            for current in frontier:
                for peer in self.peers(current):
                    if peer.uid in seen:
                        continue
                    seen.add(peer.uid)
                    if is_local(peer.name):
                        other = self.partner(peer)
                        if other is not None and other.uid not in seen:
                            seen.add(other.uid)
                            nxt.append(other.uid)
                    elif accept(peer):
                        return peer
            frontier = nxt
        return None

    def clear(self) -> None:
        self.channels.clear()
        self.by_name.clear()
        self.bridges.clear()
