"""A TCP relay between one node and PostgreSQL that a test can cut: the node loses its
database (every connection dropped, new ones refused) while the other keeps it."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.engine import make_url


class DatabaseLink:
    def __init__(self, database_url: str) -> None:
        self.url = make_url(database_url)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> str:
        """The URL to give the node instead of ``database_url``."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.url.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.url.host or "127.0.0.1", self.url.port or 5432)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
        self._writers -= {writer, up_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.transport.abort()
