"""The AMI link on panoramisk's frame parser: connect, log in, resync, deliver events
in arrival order to one consumer, keep the link alive, reconnect with back-off.

Not panoramisk's ``Manager``: its reconnect waits a fixed delay and re-sends the
actions left unanswered by a lost link once it is back, which would replay a stale
Redirect into a call that has moved on. Here an action outlives neither its
connection nor its timeout; after a reconnect the resync tells the core what is
true now, and the core decides again.

Per (re)connect: Login, then CoreShowChannels and DeviceStateList (items collected
until the ...Complete event, transcripts README 2), then ``on_resync(channels,
devices)``, and only then the events that arrived meanwhile, in order. Nothing is
handled against a stale picture.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import inspect
import itertools
import logging
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from panoramisk.actions import Action  # type: ignore[import-untyped]
from panoramisk.ami_protocol import AMIProtocol  # type: ignore[import-untyped]
from panoramisk.message import Message  # type: ignore[import-untyped]

from .framing import Frame, event_name, hand_over, live_run, log_event, parse_answer, parse_event

log = logging.getLogger(__name__)

# a plain function, called in the callback that read the event; or a coroutine function
# when the consumer must wait for something, awaited in the link's task
EventHandler = Callable[[Message], None] | Callable[[Message], Awaitable[None]]
# (channels, devices, when the channel list was complete on the link's clock)
ResyncHandler = Callable[[list[Message], list[Message], float], Awaitable[None]]


class SecretLike(Protocol):
    def get_secret_value(self) -> str: ...


class Secret:
    """A password that never shows in a repr, a log line or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str | SecretLike) -> None:
        self._value = value if isinstance(value, str) else value.get_secret_value()

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Timing:
    connect_timeout_s: float = 5.0
    action_timeout_s: float = 5.0
    list_timeout_s: float = 30.0  # CoreShowChannels on a busy PBX
    ping_interval_s: float = 10.0
    ping_timeout_s: float = 5.0
    backoff_first_s: float = 0.5
    backoff_max_s: float = 30.0


def backoff(failures: int, timing: Timing, rng: random.Random) -> float:
    """Doubling from ``backoff_first_s`` up to ``backoff_max_s``, each wait drawn from its
    upper half so that several ACDs restarting with Asterisk do not knock in step."""
    base = min(timing.backoff_max_s, timing.backoff_first_s * 2.0 ** min(failures, 30))
    return base * (0.5 + 0.5 * rng.random())


class LinkDown(Exception):
    """The connection was lost, timed out or refused what a session needs."""


class LoginRefused(LinkDown):
    pass


class NotAsterisk(LinkDown):
    """Something answers at the address, but not Asterisk's manager interface."""


BANNER = "Asterisk Call Manager/"  # the greeting of every AMI session (README 1; main/manager.c)
GREETING_MAX = 80  # enough for the banner; a stranger's greeting is cut there in the log
SECRET_ENV = "ACD_AMI_SECRET"  # where acd's configuration reads the secret (acd/config.py)


def error_response(reason: str, action_id: str = "") -> Message:
    """What ``send`` returns when Asterisk could not answer: never an exception."""
    return Message({"Response": "Error", "ActionID": action_id, "Message": reason})


_FINAL = ("Success", "Error", "Fail", "Failure")  # answers that end an action (panoramisk's Action.completed)
# actions answered by one response, never a list or a queued result (transcripts 02, 03:
# "Variable Set", "Redirect successful"; main/manager.c answers both with astman_send_ack
# or astman_send_error): a ring's three actions are these
_ONE_ANSWER = frozenset({"Setvar", "Redirect"})
_ACTION_IDS = itertools.count(1)
_ACTION_ID_PREFIX = f"acd/{uuid.uuid4().hex[:12]}/"  # ids unique across the ACD's sessions and restarts


class _Action(Action):  # type: ignore[misc]
    """panoramisk's Action, so its response matching (``add_message``: one response, or
    a list until its ...Complete, or an Originate's OriginateResponse) is unchanged; built
    in one step instead of one case-folding ``__setitem__`` per header, which cost more
    than the router's decision for every ring (bench/ami_ingest.py). The ActionID is
    acd's own: the fields never carry one."""

    # plain attributes, set once: panoramisk's are properties that look the id up in the
    # case-folding dict each time, and response matching asks for them several times
    id: str = ""
    action_id: str = ""

    def __init__(self, fields: Mapping[str, Any], future: asyncio.Future[Any]) -> None:
        self.fields = fields
        self.id = self.action_id = f"{_ACTION_ID_PREFIX}{next(_ACTION_IDS)}"
        self.as_list = None
        self.responses: list[Message] = []
        self.future = future

    @functools.cached_property
    def _store(self) -> dict[str, tuple[str, Any]]:
        """CaseInsensitiveDict's own storage (lower-cased key -> (key as written, value)),
        made only when panoramisk's code or a log line reads the action as a dict: a
        ring's Setvar, Setvar, Redirect never need it."""
        store = {key.lower(): (key, value) for key, value in self.fields.items()}
        store["actionid"] = ("ActionID", self.id)
        return store

    def wire(self) -> str:
        """The action as Asterisk reads it: ``Key: value`` lines, then a blank line."""
        fields = self.fields
        if fields:
            try:  # nearly always: every value one string, each line made and joined in C
                return "\r\n".join(map(": ".join, fields.items())) + f"\r\nActionID: {self.id}\r\n\r\n"
            except TypeError:  # a list of values (a repeated header), or a number
                pass
        lines: list[str] = []
        for key, value in fields.items():
            if isinstance(value, list | tuple):  # a repeated header (Variable: A=1, Variable: B=2)
                lines.extend(f"{key}: {item}\r\n" for item in value)
            else:
                lines.append(f"{key}: {value}\r\n")
        lines.append(f"ActionID: {self.id}\r\n\r\n")
        return "".join(lines)

    __str__ = wire

    def add_message(self, message: Message) -> bool | None:
        """panoramisk's ``Action.add_message``, with the common case decided without its
        case-folding look-ups: the first answer is final (Success, Error...) and says
        nothing of a list or a queued Originate, so it is the result."""
        store = getattr(message, "_store", None)
        if self.responses or self.as_list is not None or store is None:
            return super().add_message(message)  # type: ignore[no-any-return]
        if self.fields.get("Action") in _ONE_ANSWER and store.get("response", ("", ""))[1] in _FINAL:
            # a Setvar's or a Redirect's one answer, without reading its words
            self.responses.append(message)
            if not self.future.done():
                self.future.set_result(message)
                return True
            return None
        said = store.get("message", ("", ""))[1]
        if not isinstance(said, str):
            return super().add_message(message)  # type: ignore[no-any-return]
        said = said.lower()
        if (store.get("response", ("", ""))[1] in _FINAL and store.get("subevent", ("", ""))[1] != "Start"
                and store.get("eventlist", ("", ""))[1] != "start" and "will follow" not in said
                and not (said.startswith("added") and said.endswith("to queue"))
                and not said.endswith("successfully queued")):
            self.responses.append(message)
            if not self.future.done():
                self.future.set_result(message)
                return True
            return None
        return super().add_message(message)  # type: ignore[no-any-return]


Report = Callable[[Mapping[str, str], Message], None]  # (the action's fields, its answer)
HOLD_WHILE_QUEUED = 16  # see _AmiProtocol.hold_writes


class _ReportedAction(_Action):
    """An action nobody awaits, its own future (``done``, ``set_result``): the answer,
    or the error response of a timeout or a lost link, is handed to ``report`` right
    where it is known. No asyncio future, no callback scheduled on the loop and no
    second object for each of a ring's three actions (bench/ami_ingest.py)."""

    def __init__(self, fields: Mapping[str, str], report: Report) -> None:
        self.fields = fields
        self.id = self.action_id = f"{_ACTION_ID_PREFIX}{next(_ACTION_IDS)}"
        self.as_list = None
        self.responses: list[Message] = []
        self._report = report
        self._result: Message | None = None

    @property
    def future(self) -> _ReportedAction:  # type: ignore[override]
        return self  # a property, not an attribute: no reference cycle for the collector

    def done(self) -> bool:
        return self._result is not None

    def cancelled(self) -> bool:
        return False

    def result(self) -> Message:
        if self._result is None:
            raise asyncio.InvalidStateError("no answer yet")
        return self._result

    def set_result(self, result: Message) -> None:
        if self._result is not None:
            raise asyncio.InvalidStateError("answered already")
        self._result = result
        try:
            self._report(self.fields, result)
        except Exception:  # a report that fails must not cost the frames read after it
            log.exception("ami answer report failed")


class _AmiProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's frame parsing and response matching, with our own lifecycle:
    events go to a queue, unanswered actions fail when the link goes (no replay)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.factory = self  # handle_message() dispatches events to factory.dispatch
        self.encoding = "utf-8"
        self.log = log
        # live events for the one consumer, in order; None: the link is gone. A deque and
        # one wake-up per read, not an asyncio.Queue's bookkeeping for every event
        self.events: deque[str | Message | None] = deque()
        self._arrival: asyncio.Future[None] | None = None
        # set while live events are handled right where they are read (a plain-function consumer)
        self.on_arrival: Callable[[], None] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # the bytes of a character a read cut short, decoded with the next read: it stays whole
        self._undecoded = b""
        self._buffer = ""
        self.wanted: Collection[str] | None = None  # live events worth parsing; None: all
        # the first line the server sends: "Asterisk Call Manager/11.0.0" (README 1);
        # None when the connection closed before a line came
        self.greeting: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.unanswered: set[str] = set()  # ids of the actions the lost link left without an answer
        self.may_send: Callable[[], bool] | None = None  # the fencing gate (AmiConnection's may_send)
        self._deadlines: deque[tuple[float, list[str]]] = deque()  # see expire_later
        self._expiry: asyncio.TimerHandle | None = None
        self._held: list[_Action] | None = None  # see hold_writes

    def data_received(self, data: bytes) -> None:
        # what codecs' incremental decoder does, without its copy of every read (256 KB)
        if self._undecoded:
            data = self._undecoded + data
        text, decoded = codecs.utf_8_decode(data, "replace", False)
        self._undecoded = data[decoded:] if decoded < len(data) else b""
        rest = self._buffer
        if not self.greeting.done():
            text, rest = rest + text, ""
            if "\n" in text or len(text) > GREETING_MAX:
                self.greeting.set_result(text.partition("\n")[0].strip()[:GREETING_MAX])
        if rest.endswith(("\r", "\n")):  # a "\r\n\r\n" may straddle the two reads
            frames = (rest + text).split("\r\n\r\n")
        else:  # the frame the last read began is completed alone: the read is not copied whole
            frames = text.split("\r\n\r\n")
            frames[0] = rest + frames[0]
        self._buffer = frames.pop()
        events, wanted = self.events, self.wanted
        # to the consumer as they came, parsed just before each is handled: a read's
        # hundreds of events do not wait in the queue as dicts, which the garbage
        # collector would walk again and again
        i, n = 0, len(frames)
        while i < n:
            live, i = live_run(frames, i, wanted, bool(self.responses))
            events.extend(live)
            if i < n:
                self._frame(frames[i])  # the frame live_run stopped at
                i += 1
        self._wake()

    def _frame(self, frame: str) -> None:
        """A frame that is not plainly a live event: one that answers an action, an event
        that carries an ActionID, a Shutdown."""
        name = event_name(frame)
        if name:
            if self.wanted is not None and name not in self.wanted:
                # nobody handles it: dropped unparsed, unless it answers one of our
                # actions (a list item, a list's end: it carries the ActionID)
                if not (self.responses and "\r\nActionID: " in frame and self._answers_ours(frame)):
                    return
                name = ""
            elif "\r\nActionID: " in frame:  # it answers an action (panoramisk matches it)
                name = ""
        if name == "Shutdown":
            self.connection_lost(None)
            return
        if name:
            self.events.append(frame)
            return
        # an answer to an action. The banner has no blank line of its own (README 1):
        # it heads the first frame as a line without ": " and the parser skips it
        message = parse_answer(frame.strip())
        if message is None:
            return
        try:
            self.handle_message(message)
        except Exception:
            log.exception("ami frame not handled", extra={"ami_event": message.get("Event", "")})

    def _answers_ours(self, frame: str) -> bool:
        """Whether an event carrying an ActionID may answer one of our actions waiting for
        it; when unsure (a CommandID, the id twice), it goes to panoramisk's matching."""
        if frame.count("\r\nActionID: ") != 1 or "\r\nCommandID: " in frame:
            return True
        start = frame.find("\r\nActionID: ") + 12
        end = frame.find("\r\n", start)
        action_id = frame[start:end] if end >= 0 else frame[start:]
        return action_id in self.responses or action_id.strip() in self.responses

    def expire_later(self, actions: Sequence[Action], after_s: float) -> None:
        """The actions written together time out together, ``after_s`` from now, as an
        error response. One link's actions share one timeout, so their deadlines come in
        the order they were written: a queue of (deadline, ids) and one timer for its
        head, rather than a timer per write. Only the ids wait: an answered action is
        gone from ``responses`` and freed at once."""
        loop = asyncio.get_running_loop()
        self._deadlines.append((loop.time() + after_s, [action.id for action in actions]))
        if self._expiry is None:
            self._expiry = loop.call_at(self._deadlines[0][0], self._expire_due)

    def _expire_due(self) -> None:
        loop = asyncio.get_running_loop()
        self._expiry = None
        now, deadlines, responses = loop.time(), self._deadlines, self.responses
        while deadlines and deadlines[0][0] <= now:
            for action_id in deadlines.popleft()[1]:
                action = responses.pop(action_id, None)
                if action is not None and not action.future.done():
                    action.future.set_result(error_response("timeout", action_id))
        if deadlines:
            self._expiry = loop.call_at(deadlines[0][0], self._expire_due)

    def handle_message(self, message: Message) -> None:
        """panoramisk's matching of an answer to its action, with the usual case (one of
        our actions, by its ActionID) found without the case-folding ``id`` look-ups."""
        key = message._store.get("actionid")
        action = self.responses.get(key[1]) if key is not None and "commandid" not in message._store \
            and key[1].__class__ is str else None
        if action is None:
            super().handle_message(message)
        elif action.add_message(message):
            del self.responses[action.id]

    def _wake(self) -> None:
        if not self.events:
            return
        if self.on_arrival is not None:
            self.on_arrival()
        elif self._arrival is not None and not self._arrival.done():
            self._arrival.set_result(None)

    async def arrived(self) -> None:
        """Wait until ``events`` holds something."""
        if not self.events:
            self._arrival = asyncio.get_running_loop().create_future()
            await self._arrival

    def dispatch(self, message: Message) -> None:
        self.events.append(message)
        self._wake()

    def send_action(self, fields: Mapping[str, str]) -> Action:
        return self.send_actions([fields])[0]

    def send_actions(self, many: Sequence[Mapping[str, str]], report: Report | None = None) -> list[Action]:
        """Write the actions in one go (one write, one TCP segment), in order. With
        ``report``, no future: each answer goes to ``report`` (see ``_ReportedAction``)."""
        actions: list[_Action]
        if report is None:
            loop = asyncio.get_running_loop()
            actions = [_Action(fields, loop.create_future()) for fields in many]
        else:
            actions = [_ReportedAction(fields, report) for fields in many]
        for action in actions:
            self.responses[action.id] = action
        if self.closed:
            for action in actions:
                action.future.set_result(error_response("not connected", action.id))
            return actions
        held = self._held
        if held is not None and len(self.events) >= HOLD_WHILE_QUEUED:
            held.extend(actions)  # a burst: they leave with what the events behind decide
        elif held:
            held.extend(actions)
            self._held = []
            self._write(held)
        else:
            self._write(actions)
        return actions

    def hold_writes(self) -> None:
        """Until ``release_writes()``, actions decided while at least HOLD_WHILE_QUEUED
        more events wait to be handled are kept back, then leave together with the
        next ones, in order, in one write: in a burst, several rings' Setvar, Setvar,
        Redirect go as one TCP segment rather than one per ring (bench/ami_ingest.py).
        A read of a few events (a PBX that is not flooding us) is written at once, as
        before (bench/first_ring.py). Asterisk runs them in the order written."""
        if self._held is None:
            self._held = []

    def release_writes(self) -> None:
        held, self._held = self._held, None
        if held:
            self._write(held)

    def _write(self, actions: list[_Action]) -> None:
        if self.closed:
            return  # the link went while they were held: connection_lost() failed them
        if self.may_send is not None and not self.may_send():
            # fencing (acd/ha/leadership.py): checked in the same step as the write, so
            # not one byte leaves once this node's lease has run out; the link goes too
            log.warning("ami action withheld: this node is not active for the server",
                        extra={"ami_action": ",".join(a["action"] for a in actions)})
            for action in actions:
                action.future.set_result(error_response("not active", action.id))
            self.transport.abort()
            return
        try:
            self.transport.write("".join([action.wire() for action in actions]).encode("utf-8"))
        except Exception as exc:  # never log the action itself: a Login carries the secret
            log.warning("ami write failed", extra={"ami_action": actions[0]["action"] if actions else "",
                                                   "ami_error": repr(exc)})
            for action in actions:
                action.future.set_result(error_response("write failed", action.id))

    def connection_lost(self, exc: Any) -> None:
        # also called by handle_message() on "Event: Shutdown"
        if not self.lost.done():
            self.closed = True
            for action in list(self.responses.values()):
                if not action.future.done():
                    self.unanswered.add(action.id)
                    action.future.set_result(error_response("connection lost", action.id))
            self.responses.clear()
            self._deadlines.clear()
            if self._expiry is not None:
                self._expiry.cancel()
                self._expiry = None
            self.events.append(None)  # the consumer stops after what came before
            self._wake()
            self.lost.set_result(None)
            if not self.greeting.done():
                self.greeting.set_result(None)
        self.transport.close()

    def close(self) -> None:
        self.transport.close()


class AmiConnection:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str | SecretLike | Secret,
        *,
        on_event: EventHandler,
        on_resync: ResyncHandler,
        timing: Timing | None = None,
        rng: random.Random | None = None,
        wanted_events: Collection[str] | None = None,
        now: Callable[[], float] = time.time,
        on_lost: Callable[[], None] | None = None,
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        """``wanted_events``: the live events the consumer handles; others are dropped
        before they are parsed (None: every event is delivered). ``now``: the clock the
        channel list is stamped with (the ACD's clock). ``on_lost``: called when a
        session that was up ends (nothing is known of the PBX until the next resync).
        ``may_send``: asked before every write, Login and Ping included; False withholds
        the actions and drops the link (this node is not, or no longer, active)."""
        self.may_send = may_send
        self.host, self.port, self.username = host, port, username
        self.wanted_events = None if wanted_events is None else frozenset(wanted_events) | {"Shutdown"}
        self._secret = secret if isinstance(secret, Secret) else Secret(secret)
        self._on_event, self._on_resync = on_event, on_resync
        self._on_lost = on_lost
        self._now = now
        self.timing = timing or Timing()
        self._rng = rng or random.Random()
        self._protocol: _AmiProtocol | None = None
        self._ready = False
        self._closing = asyncio.Event()

    def __repr__(self) -> str:
        return f"AmiConnection({self.host}:{self.port}, user={self.username!r}, ready={self._ready})"

    @property
    def ready(self) -> bool:
        """Logged in, resynced, and delivering live events."""
        return self._ready and self._protocol is not None and not self._protocol.closed

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Keep a session up until ``close()``; meant to run in the service's TaskGroup."""
        failures = 0
        while not self._closing.is_set():
            try:
                await self._session()
                failures = 0  # it was up; start the back-off afresh
            except LoginRefused:
                log.error("ami login refused", extra={"reason": self._login_refused()})
            except (OSError, TimeoutError, LinkDown) as exc:
                log.warning("ami link down", extra={"reason": self._why(exc)})
            if self._closing.is_set():
                break
            delay = backoff(failures, self.timing, self._rng)
            failures += 1
            log.info("ami reconnect", extra={"ami_delay_s": round(delay, 3), "ami_failures": failures})
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
            except TimeoutError:
                pass

    def close(self) -> None:
        self._closing.set()
        if self._protocol is not None:
            self._protocol.close()

    def _login_refused(self) -> str:
        missing = " (it is not set)" if not self._secret.reveal() else ""
        return (f"authentication failed for AMI user {self.username!r} at {self.host}:{self.port}: "
                f"check {SECRET_ENV}{missing} and the user's secret in Asterisk's manager.conf")

    def _why(self, exc: BaseException) -> str:
        """Why a try failed, in words an operator can act on (never the secret)."""
        where = f"{self.host}:{self.port}"
        if isinstance(exc, ConnectionRefusedError):
            return (f"connection refused at {where}: is Asterisk running, with its manager interface "
                    "(manager.conf) on this address and port?")
        if isinstance(exc, socket.gaierror):
            return f"cannot resolve the host {self.host!r}: {exc.strerror}"
        if isinstance(exc, TimeoutError):
            return f"timed out connecting to {where} after {self.timing.connect_timeout_s:g} s"
        if isinstance(exc, OSError):
            return f"cannot connect to {where}: {exc.strerror or exc}"
        return str(exc) if isinstance(exc, NotAsterisk) else f"{exc} ({where})"

    async def _session(self) -> None:
        if self.may_send is not None and not self.may_send():
            raise LinkDown("this node is not active for the server")  # not even a connect
        loop = asyncio.get_running_loop()
        log.info("ami connecting", extra={"ami_host": self.host, "ami_port": self.port})
        _, protocol = await asyncio.wait_for(
            loop.create_connection(_AmiProtocol, self.host, self.port), self.timing.connect_timeout_s)
        assert isinstance(protocol, _AmiProtocol)
        protocol.wanted = self.wanted_events
        protocol.may_send = self.may_send
        self._protocol = protocol
        try:
            await self._greeted(protocol)
            # Asterisk answers a refused Login with "Authentication failed" and then hangs
            # up (main/manager.c, action_login returns -1): the answer is read even so
            login = await self._request(protocol, {"Action": "Login", "Username": self.username,
                                                   "Secret": self._secret.reveal(), "Events": "on"},
                                        answered_then_lost=True)
            if login.get("Response") != "Success":
                raise LoginRefused(login.get("Message", ""))
            log.info("ami logged in", extra={"ami_user": self.username})
            channels = await self._list(protocol, "CoreShowChannels", "CoreShowChannel")
            listed_at = self._now()  # the ages in the list (Duration) are as of now
            devices = await self._list(protocol, "DeviceStateList", "DeviceStateChange")
            log.info("ami resync", extra={"ami_channels": len(channels), "ami_devices": len(devices)})
            # ready before the resync is applied: what it decides (a waiting caller rung
            # again) must go out on this link, not be dropped as "not connected"
            self._ready = True
            try:
                await self._on_resync(channels, devices, listed_at)
            except Exception:  # a bug met by the picture must not stop the link: live events go on
                log.exception("ami resync handler failed", extra={"ami_channels": len(channels)})
            async with asyncio.TaskGroup() as tasks:
                keepalive = tasks.create_task(self._keepalive(protocol))
                await self._deliver(protocol)
                keepalive.cancel()
        finally:
            was_up, self._ready = self._ready, False
            self._protocol = None
            protocol.close()
            if was_up and self._on_lost is not None:
                try:
                    self._on_lost()
                except Exception:
                    log.exception("ami lost handler failed")

    async def _greeted(self, protocol: _AmiProtocol) -> None:
        where = f"{self.host}:{self.port}"
        try:
            greeting = await asyncio.wait_for(asyncio.shield(protocol.greeting), self.timing.connect_timeout_s)
        except TimeoutError:
            raise NotAsterisk(f"no greeting within {self.timing.connect_timeout_s:g} s at {where}: is this "
                              "the Asterisk manager port (manager.conf)?") from None
        if greeting is None:
            raise NotAsterisk(f"{where} closed the connection without a greeting: is this the Asterisk "
                              "manager port (manager.conf)?")
        if not greeting.startswith(BANNER):
            raise NotAsterisk(f"not an Asterisk manager at {where}: it greeted with {greeting!r}, "
                              f"not {BANNER!r}...")

    async def _deliver(self, protocol: _AmiProtocol) -> None:
        """One consumer, arrival order, until the link is gone. What one read brought is
        handled in one go; a coroutine handler is awaited before the next event."""
        if not inspect.iscoroutinefunction(self._on_event):
            await self._deliver_where_read(protocol)
            return
        events, on_event = protocol.events, self._on_event
        while True:
            await protocol.arrived()
            debug = log.isEnabledFor(logging.DEBUG)
            while events:
                item = events.popleft()
                if item is None:
                    return
                message = _message_of(item, debug)
                try:
                    pending = on_event(message)
                    if pending is not None:
                        await pending
                except Exception:  # a bug in one event's handling must not drop the link
                    log.exception("ami event handler failed", extra={"ami_event": message.get("Event", "")})

    async def _deliver_where_read(self, protocol: _AmiProtocol) -> None:
        """A plain-function consumer gets each read's events in the callback that read
        them (``data_received``), not in a task woken on the loop's next turn: a ring
        decided on an event is written before the loop runs anything else (timers, other
        sockets, the history's thread handing back); in a burst, what the events decide
        shares writes (``hold_writes``). What came during the resync is handled
        first, here; events stay one at a time, in arrival order."""
        events, on_event = protocol.events, self._on_event
        gone = asyncio.get_running_loop().create_future()
        handling = False

        def handle_arrived() -> None:
            nonlocal handling
            if handling:  # a handler's own step led here: the loop below takes the new events in turn
                return
            handling = True
            protocol.hold_writes()  # in a burst, what these events decide shares writes
            try:
                if not hand_over(events, on_event, log):  # the link is gone: nothing after it is handled
                    protocol.on_arrival = None
                    if not gone.done():
                        gone.set_result(None)
            finally:
                handling = False
                protocol.release_writes()  # before the loop runs anything else

        protocol.on_arrival = handle_arrived
        try:
            handle_arrived()
            await gone
        finally:
            protocol.on_arrival = None

    async def _keepalive(self, protocol: _AmiProtocol) -> None:
        while True:
            await asyncio.sleep(self.timing.ping_interval_s)
            try:
                await self._request(protocol, {"Action": "Ping"}, self.timing.ping_timeout_s)
            except LinkDown:
                log.warning("ami ping unanswered: dropping the link", extra={"ami_host": self.host})
                protocol.transport.abort()
                return

    # ------------------------------------------------------------------ actions
    async def _request(self, protocol: _AmiProtocol, fields: Mapping[str, str],
                       timeout: float | None = None, *, answered_then_lost: bool = False) -> Message:
        """Internal: raises LinkDown on loss or timeout (the session then ends).
        ``answered_then_lost``: an answer that came before the link went is still returned."""
        action = protocol.send_action(fields)
        timeout = timeout or self.timing.action_timeout_s
        try:
            result = await asyncio.wait_for(asyncio.shield(action.future), timeout)
        except TimeoutError:
            protocol.responses.pop(action.id, None)
            raise LinkDown(f"no answer to {fields.get('Action')} within {timeout:g} s") from None
        if protocol.closed and not (answered_then_lost and action.id not in protocol.unanswered):
            raise LinkDown("connection lost")
        return result

    async def _list(self, protocol: _AmiProtocol, action: str, item_event: str) -> list[Message]:
        result = await self._request(protocol, {"Action": action}, self.timing.list_timeout_s)
        if not isinstance(result, list):
            raise LinkDown(f"{action}: {result.get('Message', 'refused')}")
        return [m for m in result if m.get("Event") == item_event]

    def send_nowait(self, fields: Mapping[str, str]) -> asyncio.Future[Message] | None:
        """Write one action now; see ``send_all``."""
        futures = self.send_all([fields])
        return futures[0] if futures else None

    def send_all(self, many: Sequence[Mapping[str, str]]) -> list[asyncio.Future[Message]]:
        """Write several actions now, together and in order, without waiting for their
        answers: Asterisk runs one session's actions one after the other, each to its end
        before it reads the next (main/manager.c: session_do() loops on do_message(),
        which reads one action and runs process_message() on it), so a Setvar lands
        before the Redirect written after it. Each future gets its response, or an error
        response on timeout or a lost link; [] when not connected (nothing is queued
        for later)."""
        futures: list[asyncio.Future[Message]] = [action.future for action in self._send(many)]
        return futures

    def send_reported(self, many: Sequence[Mapping[str, str]], report: Report) -> None:
        """``send_all`` for actions nobody awaits: each one's answer, or its error response
        on timeout or a lost link, is handed to ``report(fields, answer)`` as soon as it
        is known (when not connected: nothing written, nothing reported, as send_all)."""
        self._send(many, report)

    def _send(self, many: Sequence[Mapping[str, str]], report: Report | None = None) -> list[Action]:
        """Write the actions and give each its deadline; [] when not connected."""
        protocol = self._protocol
        if protocol is None or not self.ready:
            log.warning("ami action dropped: not connected",
                        extra={"ami_action": ",".join(fields.get("Action", "") for fields in many)})
            return []
        actions = protocol.send_actions(many, report)
        protocol.expire_later(actions, self.timing.action_timeout_s)
        return actions

    async def send(self, fields: Mapping[str, str]) -> Message:
        """Send one action and wait for its response; errors come back as an error
        response (``Response: Error``), never as an exception."""
        future = self.send_nowait(fields)
        if future is None:
            return error_response("not connected")
        result = await future
        if isinstance(result, list):  # a list action: the items, then ...Complete
            return result[-1] if result else error_response("empty list")
        return result


def _message_of(item: str | Message, debug: bool) -> Frame | Message:
    """A queued live event as its handler takes it: a frame read by ``data_received``
    (parsed now), or a Message panoramisk dispatched. The task consumer uses it; the
    consumer in the read callback has framing.hand_over."""
    message = parse_event(item) if isinstance(item, str) else item
    if debug:
        log_event(log, message)
    return message

