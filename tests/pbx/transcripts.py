"""Reader for the recorded AMI sessions in ../shared/ami-transcripts (README there).

Each ``### t=<s> recv`` block holds the exact bytes of one frame Asterisk sent; each
``### t=<s> sent`` block holds our action as ``>>> `` lines. Frames are parsed with
panoramisk's own ``Message.from_line`` so repeated keys become lists as in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panoramisk.message import Message

from acd.pbx.framing import parse

DIR = Path(__file__).resolve().parents[2].parent / "shared" / "ami-transcripts"

_MARK = re.compile(r"^### t=(?P<t>[0-9.]+) (?P<kind>recv|sent)\s*$")


@dataclass(frozen=True)
class Frame:
    t: float
    sent: bool
    message: Any  # a live event's dict, or a panoramisk Message for action answers


def path(name: str) -> Path:
    """The transcript whose file name starts with ``name`` (e.g. "02")."""
    matches = sorted(DIR.glob(f"{name}*.txt"))
    if len(matches) != 1:
        raise FileNotFoundError(f"no single transcript named {name!r} in {DIR}")
    return matches[0]


def frames(name: str) -> list[Frame]:
    """Every frame of one transcript, in order; the banner (no Event/Response) is skipped."""
    text = path(name).read_bytes().decode("utf-8", "replace")
    out: list[Frame] = []
    t, sent, body = 0.0, False, []  # type: float, bool, list[str]
    in_block = False

    def flush() -> None:
        if not in_block:
            return
        raw = "".join(body)
        if sent:  # our action: "Key: Value" lines behind ">>> "
            lines = [line.removeprefix(">>>").strip() for line in raw.splitlines()]
            message: Message | None = Message(dict(line.split(": ", 1) for line in lines if ": " in line))
        else:  # exactly as the live link parses it (acd.pbx.framing)
            raw_frame = raw.replace("\r\n", "\n").replace("\n", "\r\n").strip("\r\n")
            message = parse(raw_frame)
        if message is not None:
            out.append(Frame(t, sent, message))

    for line in text.splitlines(keepends=True):
        if line.startswith("###"):
            flush()
            body = []
            m = _MARK.match(line.rstrip("\r\n"))
            in_block = m is not None
            if m:
                t, sent = float(m["t"]), m["kind"] == "sent"
            continue
        if in_block:
            body.append(line)
    flush()
    return out


def received(name: str) -> list[Any]:
    return [f.message for f in frames(name) if not f.sent]
