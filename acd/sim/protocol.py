"""AMI framing: the banner, reading actions, writing responses and events.

AMI is line based: ``Key: Value`` lines ending in CRLF, a frame ends with an empty
line. Keys may repeat inside one frame (``Output:``, ``Variable:``), so a frame is an
ordered list of pairs, never a plain dict (transcripts README, "Repeated keys").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

# 01: the first bytes of every session; no empty line follows the banner.
BANNER = b"Asterisk Call Manager/11.0.0\r\n"

Pairs = list[tuple[str, str]]


class Message:
    """One frame as ordered ``(key, value)`` pairs; lookups ignore the key's case."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self.pairs: Pairs = list(pairs)

    def get(self, key: str, default: str | None = None) -> str | None:
        k = key.lower()
        for name, value in self.pairs:
            if name.lower() == k:
                return value
        return default

    def get_all(self, key: str) -> list[str]:
        k = key.lower()
        return [value for name, value in self.pairs if name.lower() == k]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __repr__(self) -> str:
        return f"Message({self.pairs!r})"


def encode(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Serialise one frame: CRLF after every line and one empty line at the end."""
    out = [f"{key}: {value}\r\n" for key, value in pairs]
    out.append("\r\n")
    return "".join(out).encode("utf-8", "replace")


def parse_line(line: str) -> tuple[str, str] | None:
    """``Key: Value`` -> pair. Asterisk takes the first colon and strips the blanks after it."""
    if ":" not in line:
        return None
    key, _, value = line.partition(":")
    return key.strip(), value.lstrip(" ")


class FrameReader:
    """Incremental parser for what a client sends: frames end with an empty line.

    Clients may end lines with CRLF or a bare LF; both are accepted, as Asterisk does.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._current: Pairs = []

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        frames: list[Message] = []
        while True:
            idx = self._buffer.find(b"\n")
            if idx < 0:
                break
            raw, self._buffer = self._buffer[:idx], self._buffer[idx + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if line == "":
                if self._current:
                    frames.append(Message(self._current))
                    self._current = []
                continue
            pair = parse_line(line)
            if pair is not None:
                self._current.append(pair)
        return frames
