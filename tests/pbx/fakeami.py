"""A tiny AMI server for the link's tests: banner, Login, the two resync lists, Ping,
and an answer to every other action. What it lists, how late it answers and which
actions it refuses are set per test; it notes when each action arrived."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

from acd.pbx.connection import Timing

SECRET = "s3cret-never-logged"
FAST = Timing(connect_timeout_s=1, action_timeout_s=1, list_timeout_s=1, ping_interval_s=30,
              backoff_first_s=0.05, backoff_max_s=0.2)

Fields = Mapping[str, str] | Iterable[tuple[str, str]]


def frame(fields: Fields = (), /, **more: str) -> bytes:
    pairs = list(fields.items() if isinstance(fields, Mapping) else fields) + list(more.items())
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("utf-8", "surrogatepass") + b"\r\n"


# the shape of 01's CoreShowChannel item
WAITING_CALLER = dict(Channel="PJSIP/trunk-00000001", ChannelState="6", ChannelStateDesc="Up",
                      CallerIDNum="15550001", CallerIDName="Ann", Context="acd-hold", Exten="s", Priority="2",
                      Uniqueid="1795573831.0", Linkedid="1795573831.0", ChanVariable="ACD_DID=5000",
                      Application="MusicOnHold", ApplicationData="default", Duration="00:00:01", BridgeId="")
DEVICES = [dict(Device="PJSIP/101", State="NOT_INUSE"), dict(Device="Queue:q_avail", State="INUSE")]


class FakeAsterisk:
    def __init__(self) -> None:
        self.port = 0
        self.server: asyncio.Server | None = None
        self.sessions: list[list[dict[str, str]]] = []  # actions received, per connection
        self.arrivals: list[tuple[float, dict[str, str]]] = []  # (loop time, action), every connection
        self.writers: list[asyncio.StreamWriter] = []
        self.answer_pings = True
        self.silent: set[str] = set()  # actions left unanswered
        self.refused: dict[str, str] = {}  # action -> the Message of its Response: Error
        self.answer_delay_s = 0.0  # how long every action but Login and the lists waits for its answer
        self.event_during_resync: dict[str, str] | None = None
        self.channels: list[Fields] = [WAITING_CALLER]  # CoreShowChannel items
        self.devices: list[Fields] = list(DEVICES)  # DeviceStateList items

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Asterisk goes away: no more listening, every connection dropped."""
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    def push(self, fields: Fields = (), /, **event: str) -> None:
        self.writers[-1].write(frame(fields, **event))

    def push_raw(self, data: bytes) -> None:
        self.writers[-1].write(data)

    def actions(self, name: str) -> list[dict[str, str]]:
        return [a for session in self.sessions for a in session if a.get("Action") == name]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        actions: list[dict[str, str]] = []
        self.sessions.append(actions)
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buffer = b""
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(4096):
                buffer += data
                while b"\r\n\r\n" in buffer:
                    raw, buffer = buffer.split(b"\r\n\r\n", 1)
                    action = dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line)
                    actions.append(action)
                    self.arrivals.append((loop.time(), action))
                    self._answer(action, writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _answer(self, action: dict[str, str], writer: asyncio.StreamWriter) -> None:
        name, aid = action.get("Action", ""), action.get("ActionID", "")
        if name in self.silent or (name == "Ping" and not self.answer_pings):
            return
        if name == "Login":
            if action.get("Secret") == SECRET:
                writer.write(frame(Response="Success", ActionID=aid, Message="Authentication accepted"))
                writer.write(frame(Event="FullyBooted", Privilege="system,all", Status="Fully Booted"))
            else:
                writer.write(frame(Response="Error", ActionID=aid, Message="Authentication failed"))
        elif name == "CoreShowChannels":
            if self.event_during_resync:  # a live event overtaking the list (sent before it)
                writer.write(frame(self.event_during_resync))
            self._list(writer, aid, "Channels will follow", "CoreShowChannel", self.channels)
        elif name == "DeviceStateList":
            self._list(writer, aid, "Devices will follow", "DeviceStateChange", self.devices)
        elif name == "Ping":
            writer.write(frame(Response="Success", ActionID=aid, Ping="Pong", Timestamp="1.0"))
        else:
            answer = (frame(Response="Error", ActionID=aid, Message=self.refused[name]) if name in self.refused
                      else frame(Response="Success", ActionID=aid, Message=f"{name} done"))
            if self.answer_delay_s:
                asyncio.get_running_loop().call_later(self.answer_delay_s, _write, writer, answer)
            else:
                writer.write(answer)

    def _list(self, writer: asyncio.StreamWriter, aid: str, message: str, item: str, items: list[Fields]) -> None:
        writer.write(frame(Response="Success", ActionID=aid, EventList="start", Message=message))
        for fields in items:
            writer.write(frame([("Event", item), ("ActionID", aid)], **dict(fields)))
        end = "CoreShowChannelsComplete" if item == "CoreShowChannel" else "DeviceStateListComplete"
        writer.write(frame(Event=end, ActionID=aid, EventList="Complete", ListItems=str(len(items))))


def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)
