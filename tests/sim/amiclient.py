"""A tiny AMI client for the simulator's tests: real TCP, raw frames kept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

Pairs = list[tuple[str, str]]


class Frame:
    def __init__(self, pairs: Pairs, raw: bytes) -> None:
        self.pairs = pairs
        self.raw = raw

    def get(self, key: str) -> str | None:
        for k, v in self.pairs:
            if k == key:
                return v
        return None

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]

    @property
    def event(self) -> str | None:
        return self.get("Event")

    def __repr__(self) -> str:
        return f"Frame({self.pairs!r})"


class AmiClient:
    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.banner = b""
        self._changed = asyncio.Condition()
        self._ids = 0
        self.eof = asyncio.Event()

    @classmethod
    async def connect(cls, port: int) -> AmiClient:
        self = cls()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.banner = await self.reader.readline()
        self._task = asyncio.create_task(self._read())
        return self

    async def login(self, username: str = "acd", secret: str = "s", **extra: str) -> Frame:
        return await self.action("Login", Username=username, Secret=secret, **extra)

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
                    key, _, value = line.partition(": ")
                    pairs.append((key, value))
                async with self._changed:
                    self.frames.append(Frame(pairs, raw + b"\r\n\r\n"))
                    self._changed.notify_all()
        self.eof.set()
        async with self._changed:
            self._changed.notify_all()

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def action(self, name: str, **headers: str) -> Frame:
        self._ids += 1
        action_id = headers.pop("ActionID", f"{name.lower()}-{self._ids}")
        lines = [f"Action: {name}", f"ActionID: {action_id}"] + [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return await self.wait(lambda f: f.get("ActionID") == action_id and f.get("Response") is not None)

    async def wait(self, match: Callable[[Frame], bool], timeout: float = 5.0, start: int = 0) -> Frame:
        async def find() -> Frame:
            async with self._changed:
                while True:
                    for frame in self.frames[start:]:
                        if match(frame):
                            return frame
                    if self.eof.is_set():
                        raise EOFError("connection closed")
                    await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def event(self, name: str, timeout: float = 5.0, **headers: str) -> Frame:
        return await self.wait(
            lambda f: f.event == name and all(f.get(k) == v for k, v in headers.items()), timeout
        )

    def events(self, name: str, **headers: str) -> list[Frame]:
        return [f for f in self.frames if f.event == name and all(f.get(k) == v for k, v in headers.items())]

    async def close(self) -> None:
        self.writer.close()
        self._task.cancel()
