"""Reader for the recorded AMI sessions in shared/ami-transcripts (format: its README).

A transcript is a list of frames: ``recv`` (bytes Asterisk sent, CRLF kept), ``sent``
(the action we sent, lines prefixed ``>>> ``) and ``note`` (what the sipp peers did).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

TRANSCRIPTS = Path(__file__).resolve().parents[2].parent / "shared" / "ami-transcripts"

_MARK = re.compile(r"^### t=([0-9.]+) (recv|sent|note: .*)$")


@dataclass
class Frame:
    t: float
    kind: str  # "recv", "sent" or "note"
    pairs: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""  # the note's text, or the raw bytes of a received frame

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.pairs:
            if k == key:
                return v
        return default

    @property
    def name(self) -> str:
        return self.get("Event") or ("Response" if self.get("Response") else self.pairs[0][0] if self.pairs else "")


@dataclass
class Transcript:
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


def read_transcript(path: Path) -> Transcript:
    raw = path.read_bytes().decode("utf-8")
    header: list[str] = []
    frames: list[Frame] = []
    current: Frame | None = None
    body: list[str] = []

    def close() -> None:
        if current is None:
            return
        if current.kind == "recv":
            text = "".join(body)
            current.text = text
            lines = text.split("\r\n")
            current.pairs = parse_pairs([ln for ln in lines if not ln.startswith("###")])
        elif current.kind == "sent":
            current.pairs = parse_pairs([ln[4:] for ln in body if ln.startswith(">>> ")])
        frames.append(current)

    for line in raw.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        m = _MARK.match(stripped)
        if m:
            close()
            kind = m.group(2)
            if kind.startswith("note: "):
                current = Frame(float(m.group(1)), "note", text=kind[6:])
                frames.append(current)
                current = None
            else:
                current = Frame(float(m.group(1)), kind)
            body = []
            continue
        if current is None:
            if stripped.startswith("###") and not frames:
                header.append(stripped[4:])
            continue
        if stripped.startswith("### ") and "connection closed" in stripped:
            continue
        body.append(line.rstrip("\n") if current.kind == "sent" else line.replace("\r\n", "\r\n"))
    close()
    return Transcript(path.stem, header, frames)


def load(name: str) -> Transcript:
    matches = sorted(TRANSCRIPTS.glob(f"{name}*.txt"))
    if not matches:
        raise FileNotFoundError(f"no transcript {name} in {TRANSCRIPTS}")
    return read_transcript(matches[0])
