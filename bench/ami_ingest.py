"""AMI ingest: events per second from a TCP socket through the adapter into the core.

The stream is made of the real frames Asterisk sent in tests/fixtures/ami
(calls answered, not answered, ringing three phones, busy, abandoned), replayed many
times with fresh Uniqueids and channel names so the tracker and the router follow
thousands of distinct calls. One run measures three readers of the same bytes over
loopback TCP, so acd's own overhead is visible. What each does with every frame:

  reference   the least any reader must do: asyncio StreamReader.readuntil(CRLF CRLF)
              for the frame, decode it, split it into lines and each line into
              (key, value); nothing is kept or handled
  panoramisk  panoramisk's AMIProtocol: decode, split the stream into frames, and
              Message.from_line (a case-insensitive dict) for each; nothing handled
  acd         acd.pbx.AsteriskPbx as the service runs it: decode, split the stream
              into frames; an event nobody handles is dropped after reading its name;
              every other event becomes a dict (repeated keys as lists), goes to the
              tracker, its core events to the distributor and the routing core; the
              Setvar, Setvar, Redirect of each ring go back over the same socket (in a
              burst, the actions of many events share a write), and their answers (from
              the stand-in PBX, in the timed span) are read and matched to the actions

The stand-in PBX (``serve``) runs in this process: it answers acd's actions between
pieces of the stream, with one read and one write per batch. Each reader runs
``rounds`` times, interleaved with the others; the best round counts (a shared
machine only ever slows a round down) and the target compares acd with the reference
of the same run. CPU per event is this process's CPU time (the median round) over
the events, which a busy machine inflates far less than wall time. As in ``acd serve``,
what start-up built is frozen out of the garbage collector's sight (gc.freeze) while acd
runs, and the collector runs between the loop's callbacks (acd/garbage.py).

"all frames" is read=all as recorded (VarSet, Newexten...); "our classes" keeps only
what manager.conf's read=system,call,user lets through, where nearly every event is
handled. Run: python -m bench.ami_ingest [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from acd import event_loop, hot_path
from acd.clock import Clock
from acd.core.model import Agent, Mode, QueueGroup, RoutingConfig
from acd.core.router import Router
from acd.distributor import Distributor
from acd.garbage import paced_collection
from acd.pbx import AsteriskPbx, Dialplan
from acd.sim.recordings import find, read

from .common import save

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ami"
SCENARIOS = ("02", "03", "04", "05", "06")
_OUR_CLASSES = (b"system", b"call", b"user")


def recorded_frames(name: str) -> list[bytes]:
    """The exact bytes of every event frame Asterisk sent after the login."""
    return [f.raw for f in read(find(TRANSCRIPTS, name)).received
            if f.is_event and f.raw.endswith(b"\r\n\r\n") and f.name != "SuccessfulAuth"]


def stream(copies: int, classes: tuple[bytes, ...] | None) -> tuple[bytes, int]:
    base = [f for name in SCENARIOS for f in recorded_frames(name)]
    if classes is not None:
        base = [f for f in base if any(b"Privilege: " + c + b"," in f for c in classes)]
    text = b"".join(base)
    out = []
    for k in range(copies):
        # fresh ids per copy: 1795573834.1 -> 9<k>.1, PJSIP/carrier-00000001 -> -<k:04x>0001
        out.append(re.sub(rb"(\d{10})\.(\d+)", lambda m, k=k: b"%d.%s" % (9_000_000 + k, m.group(2)),
                          re.sub(rb"-0000(\w{4})", lambda m, k=k: b"-%04x%s" % (k % 65536, m.group(1)), text)))
    return b"".join(out), len(base) * copies


def _header(frame: str, key: str) -> str:
    start = frame.find(key + ": ")
    if start < 0:
        return ""
    start += len(key) + 2
    end = frame.find("\r\n", start)
    return frame[start:] if end < 0 else frame[start:end]


def chunks(payload: bytes, size: int = 65536) -> list[bytes]:
    """The payload in pieces of about ``size`` bytes that end where a frame ends."""
    out, start = [], 0
    while start < len(payload):
        end = payload.find(b"\r\n\r\n", start + size)
        end = len(payload) if end < 0 else end + 4
        out.append(payload[start:end])
        start = end
    return out


async def serve(payload: bytes, streaming_starts: Callable[[], None] = lambda: None) -> asyncio.Server:
    """A stand-in manager port: banner, Success for every action (empty lists for the
    resync), then the payload as soon as the client has logged in, in pieces between
    which the answers to acd's actions go out, as a PBX answers while events flow (so
    acd reads its answers within the timed span). It costs this process little: one
    read and one write for all the actions a read brings. ``streaming_starts`` is
    called as the payload's first piece is written."""

    async def stream_payload(writer: asyncio.StreamWriter) -> None:
        streaming_starts()
        for piece in chunks(payload):
            writer.write(piece)
            await writer.drain()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        streaming: asyncio.Task[None] | None = None
        buffer = ""
        try:
            while data := await reader.read(65536):
                *frames, buffer = (buffer + data.decode()).split("\r\n\r\n")
                answers = []
                for frame in frames:
                    action, aid = _header(frame, "Action"), _header(frame, "ActionID")
                    if action in ("CoreShowChannels", "DeviceStateList"):
                        item = "CoreShowChannelsComplete" if action == "CoreShowChannels" else "DeviceStateListComplete"
                        answers.append(f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: ok"
                                       f"\r\n\r\nEvent: {item}\r\nActionID: {aid}\r\nEventList: Complete\r\n"
                                       "ListItems: 0\r\n\r\n")
                    else:
                        answers.append(f"Response: Success\r\nActionID: {aid}\r\nMessage: ok\r\n\r\n")
                    if action == "DeviceStateList" and streaming is None:
                        writer.write("".join(answers).encode())
                        answers = []
                        streaming = asyncio.create_task(stream_payload(writer))
                if answers:
                    writer.write("".join(answers).encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            if streaming is not None:
                streaming.cancel()

    return await asyncio.start_server(session, "127.0.0.1", 0)


async def blast(payload: bytes) -> tuple[asyncio.Server, int]:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


Rate = tuple[float, float]  # (events per second of wall time, CPU seconds per event)


async def reference_reader(payload: bytes, events: int) -> Rate:
    server, port = await blast(payload)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    start, cpu, seen = time.perf_counter(), time.process_time(), 0
    while seen < events:
        frame = await reader.readuntil(b"\r\n\r\n")
        [line.split(": ", 1) for line in frame.decode().split("\r\n") if line]
        seen += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    writer.close()
    server.close()
    return events / elapsed, cpu / events


async def panoramisk_reader(payload: bytes, events: int) -> Rate:
    server, port = await blast(payload)
    done = asyncio.get_running_loop().create_future()
    seen = 0

    class Counting(AMIProtocol):  # type: ignore[misc]
        def handle_message(self, message: Message) -> None:
            nonlocal seen
            seen += 1
            if seen == events and not done.done():
                done.set_result((time.perf_counter(), time.process_time()))

        def connection_lost(self, exc: Exception | None) -> None:
            pass  # no Manager behind this bare protocol

    start, cpu = time.perf_counter(), time.process_time()
    transport, _ = await asyncio.get_running_loop().create_connection(Counting, "127.0.0.1", port)
    end, cpu_end = await done
    transport.close()
    server.close()
    return events / (end - start), (cpu_end - cpu) / events


def config(agents: int = 100) -> RoutingConfig:
    # the recording's agent101..105 plus more, one group ringing them
    ids = [f"agent{100 + n}" for n in range(1, agents + 1)]
    return RoutingConfig(
        agents={a: Agent(a, a, f"PJSIP/{a}", a[5:]) for a in ids},
        groups={"g": QueueGroup("g", "G", tuple(ids[:5]), Mode.ALL)},
        default_group="g",
    )


class _History:
    def add(self, records: list[object]) -> None:
        pass

    def offered(self, *args: object) -> None:
        pass


END = b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: BenchEnd\r\n\r\n"


async def acd_reader(payload: bytes, events: int) -> Rate:
    """Every frame counts, also those the link drops unparsed: that is part of ingest.
    The clock starts as the stand-in PBX writes the stream's first piece (as the
    reference's starts before its first read) and stops when the last frame (a UserEvent
    after the stream) was handled: only UserEvents are watched for it, so what the bench
    does to know it is done costs the other events nothing."""
    marks: list[float] = []
    server = await serve(payload + END, lambda: marks.extend((time.perf_counter(), time.process_time())))
    port = server.sockets[0].getsockname()[1]
    routing = config()
    # the recording's dialplan names (transcripts README: DID: body key, contexts)
    dialplan = Dialplan(did_key="DID", inbound_context="from-carrier", dial_context="acd-dial")
    pbx = AsteriskPbx(routing, host="127.0.0.1", port=port, username="acd", secret="x", dialplan=dialplan)
    distributor = Distributor(Router(routing), Clock(), pbx, _History())  # type: ignore[arg-type]
    done = asyncio.get_running_loop().create_future()
    on_user_event = pbx.tracker._handlers["UserEvent"]

    def watching_for_the_end(message: Mapping[str, Any], out: list[object]) -> None:
        on_user_event(message, out)
        if message.get("UserEvent") == "BenchEnd" and not done.done():
            done.set_result((time.perf_counter(), time.process_time()))

    pbx.tracker._handlers["UserEvent"] = watching_for_the_end
    pbx.attach(distributor.feed)
    # as acd serve does once start-up is done (Acd.run(own_process=True)): what was built
    # so far is out of the collector's sight, which runs between callbacks; both
    # undone after the round
    gc.collect()
    with paced_collection():
        task = asyncio.create_task(pbx.run())
        end, cpu_end = await done
    pbx.close()
    await asyncio.wait_for(task, 5)
    server.close()
    return events / (end - marks[0]), (cpu_end - marks[1]) / events


TARGETS = {"all_frames": 0.9, "our_classes": 0.8}  # acd's rate at least this share of the reference's
READERS = {"reference": reference_reader, "panoramisk": panoramisk_reader, "acd": acd_reader}


async def measure(copies: int, rounds: int) -> dict[str, object]:
    """Each reader ``rounds`` times, interleaved (the machine is shared: a busy moment
    hits every reader alike); each reader's best round counts, and its median CPU time."""
    figures: dict[str, object] = {}
    for label, classes in (("all_frames", None), ("our_classes", _OUR_CLASSES)):
        payload, events = stream(copies, classes)
        runs: dict[str, list[Rate]] = {name: [] for name in READERS}
        for _ in range(rounds):
            for name, reader in READERS.items():
                runs[name].append(await reader(payload, events))
        rate = {name: max(r for r, _ in rs) for name, rs in runs.items()}
        cpu_us = {name: sorted(c for _, c in rs)[len(rs) // 2] * 1e6 for name, rs in runs.items()}
        share, target = rate["acd"] / rate["reference"], TARGETS[label]
        figures[label] = {"events": events, "rounds": rounds, "target_share": target,
                          "acd_share_of_reference": round(share, 3), "met": share >= target,
                          **{f"{name}_per_s": round(r) for name, r in rate.items()},
                          **{f"{name}_cpu_us_per_event": round(c, 2) for name, c in cpu_us.items()}}
        print(f"ami ingest ({label}, {events:,} events, best of {rounds}): reference {rate['reference']:,.0f}/s  "
              f"panoramisk {rate['panoramisk']:,.0f}/s  acd (adapter+core) {rate['acd']:,.0f}/s")
        print(f"  acd = {share:.2f}x the reference, target >= {target}x: {'met' if share >= target else 'missed'}; "
              f"CPU per event: reference {cpu_us['reference']:.2f} us, panoramisk {cpu_us['panoramisk']:.2f} us, "
              f"acd {cpu_us['acd']:.2f} us (acd/reference {cpu_us['acd'] / cpu_us['reference']:.2f}x)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print("acd's hot path:", hot_path.describe())  # compiled or not (README, Compiled build)
    figures = event_loop.run(measure(5, 1) if args.quick else measure(300, 5))
    print("saved", save("ami_ingest" + ("-quick" if args.quick else ""), figures))


if __name__ == "__main__":
    main()
