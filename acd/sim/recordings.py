"""Reader for recorded AMI sessions (the format of tests/fixtures/ami/README.md).

One reader for the tests and the benchmarks, so a quirk of the format (a note right
after a frame, a banner with no blank line) is handled once:

    ### t=2.625 sent          our action, its lines behind '>>> '
    ### t=2.626 recv          the exact bytes Asterisk sent, CRLF kept, up to the blank line
    ### t=5.1 note: sipp: ... a remark (what the SIP peers did)

Lines starting with '### ' before the first mark are the header; other '### ' lines
(e.g. "connection closed") are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_MARK_LINE = re.compile(rb"^### ([^\n]*)\n?", re.M)
_TIMED = re.compile(r"^t=([0-9.]+) (recv|sent|note: .*)$")


@dataclass
class Frame:
    t: float
    kind: str  # "recv", "sent" or "note"
    pairs: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes = b""  # recv: exactly the bytes Asterisk sent for this frame
    text: str = ""  # recv: ``raw`` decoded; note: the remark

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.pairs:
            if k == key:
                return v
        return default

    @property
    def name(self) -> str:
        return self.get("Event") or ("Response" if self.get("Response") else self.pairs[0][0] if self.pairs else "")

    @property
    def is_event(self) -> bool:
        return self.kind == "recv" and self.raw.startswith(b"Event: ")


@dataclass
class Recording:
    name: str
    header: list[str]
    frames: list[Frame]

    @property
    def received(self) -> list[Frame]:
        return [f for f in self.frames if f.kind == "recv"]

    @property
    def notes(self) -> list[Frame]:
        return [f for f in self.frames if f.kind == "note"]


def parse_pairs(lines: list[str]) -> list[tuple[str, str]]:
    """``Key: Value`` lines in order (repeated keys kept); a line with no colon is a key."""
    pairs = []
    for line in lines:
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            pairs.append((line, ""))
            continue
        pairs.append((key, value[1:] if value.startswith(" ") else value))
    return pairs


def read(path: Path) -> Recording:
    data = path.read_bytes()
    header: list[str] = []
    frames: list[Frame] = []
    marks = list(_MARK_LINE.finditer(data))
    for i, mark in enumerate(marks):
        line = mark.group(1).decode("utf-8").rstrip("\r")
        body = data[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else len(data)]
        timed = _TIMED.match(line)
        if timed is None:
            if not frames:
                header.append(line)
            continue
        t, kind = float(timed.group(1)), timed.group(2)
        if kind.startswith("note: "):
            frames.append(Frame(t, "note", text=kind[6:]))
        elif kind == "sent":
            lines = [ln[4:] for ln in body.decode("utf-8").split("\n") if ln.startswith(">>> ")]
            frames.append(Frame(t, "sent", parse_pairs(lines)))
        else:
            # a frame ends with its blank line (the banner with its single CRLF)
            end = body.find(b"\r\n\r\n")
            raw = body[: end + 4] if end >= 0 else body
            text = raw.decode("utf-8", "replace")
            frames.append(Frame(t, "recv", parse_pairs(text.split("\r\n")), raw=raw, text=text))
    return Recording(path.stem, header, frames)


def find(directory: Path, name: str) -> Path:
    """The one recording in ``directory`` whose file name starts with ``name`` (e.g. "02")."""
    matches = sorted(directory.glob(f"{name}*.txt"))
    if len(matches) != 1:
        raise FileNotFoundError(f"no single recording named {name!r} in {directory}")
    return matches[0]
