"""The recorded AMI sessions (tests/fixtures/ami), as the live link parses them.

Each received frame goes through ``acd.pbx.framing.parse`` exactly as on the live link
(a handled event becomes a plain dict, an answer panoramisk's ``Message`` with repeated
keys as lists); each action we sent becomes a ``Message`` of its lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panoramisk.message import Message

from acd.pbx.framing import parse
from acd.sim.recordings import find, read

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "ami"


@dataclass(frozen=True)
class Frame:
    t: float
    sent: bool
    message: Any  # a live event's dict, or a panoramisk Message for action answers


def path(name: str) -> Path:
    """The transcript whose file name starts with ``name`` (e.g. "02")."""
    return find(DIR, name)


def frames(name: str) -> list[Frame]:
    """Every frame of one transcript, in order; the banner (no Event/Response) is skipped."""
    out: list[Frame] = []
    for frame in read(path(name)).frames:
        if frame.kind == "sent":
            out.append(Frame(frame.t, True, Message(dict(frame.pairs))))
        elif frame.kind == "recv":
            message = parse(frame.text.strip("\r\n"))
            if message is not None:
                out.append(Frame(frame.t, False, message))
    return out


def received(name: str) -> list[Any]:
    return [f.message for f in frames(name) if not f.sent]
