"""The AMI server: TCP sessions, authentication, event delivery and action dispatch.

Delivery honours the manager user's ``read`` classes (an event goes out only when its
class is in the list, or the list says ``all``), the session's ``Events``/EventMask
setting and its ``Filter`` regular expressions.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .pbx import Pbx
from .protocol import BANNER, FrameReader, Message, Pairs, encode

log = logging.getLogger("acd.sim.ami")

ALL_CLASSES = ("system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
               "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
               "message")


@dataclass(frozen=True)
class ManagerUser:
    """One [user] of manager.conf."""

    secret: str
    read: tuple[str, ...] = ("all",)
    write: tuple[str, ...] = ("all",)

    def can_read(self, cls: str) -> bool:
        return "all" in self.read or cls in self.read

    def can_write(self, classes: tuple[str, ...]) -> bool:
        return not classes or "all" in self.write or any(c in self.write for c in classes)


class Session:
    def __init__(self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.username: str | None = None
        self.user: ManagerUser | None = None
        self.authenticated = False
        self.mask: set[str] | None = None  # None: every class the user may read
        self.includes: list[re.Pattern[str]] = []
        self.excludes: list[re.Pattern[str]] = []
        self.challenge: str | None = None
        self.id = f"0x{id(self):012x}"
        self.opened = server.pbx.clock.now()
        sock = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.local = f"IPV4/TCP/{sock[0]}/{sock[1]}"
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        self.closed = False

    # ---- output
    def send(self, pairs: Pairs) -> None:
        self.send_encoded(encode(pairs))

    def send_encoded(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)

    def respond(self, msg: Message, response: str, pairs: Pairs | None = None, message: str | None = None) -> None:
        out: Pairs = [("Response", response)]
        action_id = msg.get("ActionID")
        if action_id is not None:
            out.append(("ActionID", action_id))
        if message is not None:
            out.append(("Message", message))
        out += pairs or []
        self.send(out)

    def success(self, msg: Message, message: str | None = None, pairs: Pairs | None = None) -> None:
        self.respond(msg, "Success", pairs, message)

    def error(self, msg: Message, message: str) -> None:
        self.respond(msg, "Error", None, message)

    def list_item(self, msg: Message, event: str, pairs: Pairs) -> None:
        out: Pairs = [("Event", event)]
        action_id = msg.get("ActionID")
        if action_id is not None:
            out.append(("ActionID", action_id))
        self.send(out + pairs)

    def list_complete(self, msg: Message, event: str, count: int, extra: Pairs | None = None) -> None:
        self.list_item(msg, event, [("EventList", "Complete"), ("ListItems", str(count))] + (extra or []))

    def wants(self, cls: str, text: str) -> bool:
        if not self.authenticated or self.user is None or not self.user.can_read(cls):
            return False
        if self.mask is not None and cls not in self.mask:
            return False
        if self.includes and not any(p.search(text) for p in self.includes):
            return False
        return not any(p.search(text) for p in self.excludes)

    def set_mask(self, value: str) -> str:
        v = value.strip().lower()
        if v in ("on", "yes", "true", "1", "all"):
            self.mask = None
            return "On"
        if v in ("off", "no", "false", "0", ""):
            self.mask = set()
            return "Off"
        self.mask = {c.strip() for c in v.split(",") if c.strip()}
        return "On"

    def security_event(self, name: str, severity: str, extra: Pairs, account: bool = True) -> None:
        now = _event_tv(self.server.pbx.clock.now())
        pairs: Pairs = [("EventTV", now), ("Severity", severity), ("Service", "AMI"), ("EventVersion", "1")]
        if account and name == "SuccessfulAuth":
            pairs.append(("AccountID", self.username or ""))
        pairs += [("SessionID", self.id), ("LocalAddress", self.local), ("RemoteAddress", self.remote)]
        pairs += extra
        self.server.pbx.emit(name, "security", pairs)

    # ---- input
    async def run(self) -> None:
        self.writer.write(BANNER)
        frames = FrameReader()
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                for msg in frames.feed(data):
                    await self.handle(msg)
                    if self.closed:
                        break
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close()

    async def handle(self, msg: Message) -> None:
        from .actions import ACTIONS

        action = (msg.get("Action") or "").strip()
        if not action:
            self.error(msg, "Missing action in request")
            return
        key = action.lower()
        if not self.authenticated and key not in ("login", "challenge", "logoff"):
            self.error(msg, "Permission denied")
            return
        handler = ACTIONS.get(key)
        if handler is None:
            self.error(msg, f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands.")
            # 01: the security event follows the error response
            self.security_event("RequestBadFormat", "Error", [
                ("RequestType", f"Action: {action}"),
                ("SessionTV", _event_tv(self.opened)),
                ("AccountID", self.username or ""),
            ])
            return
        func, classes = handler
        if self.user is not None and self.authenticated and not self.user.can_write(classes):
            self.error(msg, "Permission denied")
            return
        try:
            await func(self, msg)
        except Exception as exc:  # an action must never kill the session
            log.exception("AMI action %s failed", action)
            self.server.pbx.fail(f"AMI action {action} crashed: {exc!r}")
            self.error(msg, f"Internal error: {exc}")

    def login(self, msg: Message) -> None:
        name = msg.get("Username") or ""
        user = self.server.users.get(name)
        ok = False
        if user is not None:
            if (msg.get("AuthType") or "").lower() == "md5":
                key = msg.get("Key") or ""
                expected = hashlib.md5(((self.challenge or "") + user.secret).encode()).hexdigest()
                ok = self.challenge is not None and key.lower() == expected
            else:
                ok = msg.get("Secret") == user.secret
        if not ok:
            self.error(msg, "Authentication failed")
            self.username = name
            self.security_event("InvalidAccountID" if user is None else "InvalidPassword", "Error", [
                ("SessionTV", _event_tv(self.opened)), ("AccountID", name),
            ])
            # and hangs up, as Asterisk does (main/manager.c: action_login returns -1 after
            # the error; its one-second pause before answering is left out here)
            self.close()
            return
        self.username, self.user, self.authenticated = name, user, True
        events = msg.get("Events")
        if events is not None:
            self.set_mask(events)
        self.success(msg, "Authentication accepted")
        # 01: FullyBooted goes to this session first, then SuccessfulAuth to everyone
        if self.wants("system", "Event: FullyBooted"):
            uptime = str(int(self.server.pbx.clock.now() - self.server.pbx.started))
            self.send([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", uptime),
                       ("LastReload", uptime), ("Status", "Fully Booted")])
        self.security_event("SuccessfulAuth", "Informational", [
            ("UsingPassword", "0"), ("SessionTV", _event_tv(self.opened)),
        ])

    def new_challenge(self) -> str:
        self.challenge = str(random.randint(100000000, 999999999))
        return self.challenge

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.server.sessions.discard(self)
        try:
            self.writer.close()
        except Exception:  # the transport may already be gone
            pass


class AmiServer:
    def __init__(self, pbx: Pbx, users: dict[str, ManagerUser]) -> None:
        self.pbx = pbx
        self.users = users
        self.sessions: set[Session] = set()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        pbx.listeners.append(self.broadcast)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._accept, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await session.run()
        finally:
            if task is not None:
                self._tasks.discard(task)  # type: ignore[arg-type]

    def broadcast(self, name: str, cls: str, pairs: Pairs) -> None:
        frame: Pairs = [("Event", name), ("Privilege", f"{cls},all")] + pairs
        data = None  # encoded once for every session that reads it
        for session in list(self.sessions):
            if session.closed or not session.authenticated:
                continue
            if data is None:
                data = encode(frame)
            if session.wants(cls, data.decode() if session.includes or session.excludes else ""):
                session.send_encoded(data)

    async def drop_clients(self) -> None:
        for session in list(self.sessions):
            session.close()
        await asyncio.sleep(0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.drop_clients()
        if self._tasks:
            # closing the transports ends each session's read loop; nothing is cancelled
            await asyncio.wait(list(self._tasks), timeout=1.0)
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            except TimeoutError:
                pass
            self._server = None


def _event_tv(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"
