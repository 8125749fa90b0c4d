"""AMI actions. Each handler answers with exactly one Response frame (README 2);
list actions follow it with items carrying the ActionID and a ``...Complete`` event.

Actions of modules the simulator does not load (app_queue: QueueStatus, QueueSummary...)
are unknown here, as on an Asterisk without that module.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from .channels import Channel
from .dialplan import DialplanError
from .originate import Originate
from .pbx import Pbx
from .protocol import Message, Pairs
from .server import Session

Handler = Callable[[Session, Message], Awaitable[None]]
ACTIONS: dict[str, tuple[Handler, tuple[str, ...]]] = {}


def action(name: str, *classes: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        ACTIONS[name.lower()] = (func, classes)
        return func

    return register


def _pbx(s: Session) -> Pbx:
    return s.server.pbx


def _channel(s: Session, name: str | None) -> Channel | None:
    if not name:
        return None
    return _pbx(s).find_channel(name.strip())


# ---------------------------------------------------------------- session
@action("Login")
async def login(s: Session, m: Message) -> None:
    s.login(m)


@action("Challenge")
async def challenge(s: Session, m: Message) -> None:
    if (m.get("AuthType") or "").lower() != "md5":
        s.error(m, "Must specify AuthType")
        return
    s.success(m, pairs=[("Challenge", s.new_challenge())])


@action("Logoff")
async def logoff(s: Session, m: Message) -> None:
    s.respond(m, "Goodbye", message="Thanks for all the fish.")
    await s.writer.drain()
    s.close()


@action("Ping")
async def ping(s: Session, m: Message) -> None:
    s.success(m, pairs=[("Ping", "Pong"), ("Timestamp", f"{_pbx(s).clock.now():.6f}")])


@action("Events")
async def events(s: Session, m: Message) -> None:
    state = s.set_mask(m.get("EventMask") or "off")
    s.respond(m, "Success", [("Events", state)])  # 01: no Message header


@action("Filter")
async def filter_(s: Session, m: Message) -> None:
    operation = (m.get("Operation") or "Add").lower()
    expr = m.get("Filter") or ""
    if operation != "add" or not expr:
        s.error(m, "Unknown filter operation" if operation != "add" else "Filter not specified")
        return
    try:
        if expr.startswith("!"):
            s.excludes.append(re.compile(expr[1:]))
        else:
            s.includes.append(re.compile(expr))
    except re.error:
        s.error(m, "Filter Not Added")
        return
    s.success(m, "Filter Added Successfully")


# ---------------------------------------------------------------- calls
@action("Originate", "originate")
async def originate(s: Session, m: Message) -> None:
    pbx = _pbx(s)
    target = m.get("Channel")
    if not target:
        s.error(m, "Channel not specified")
        return
    timeout_ms = float(m.get("Timeout") or 30000)
    callerid = _parse_callerid(m.get("CallerID"))
    variables: list[tuple[str, str]] = []
    for raw in m.get_all("Variable"):
        for item in raw.split(","):
            name, _, value = item.partition("=")
            if name.strip():
                variables.append((name.strip(), value))
    priority = m.get("Priority") or "1"
    is_async = (m.get("Async") or "").lower() in ("true", "yes", "1")
    job = Originate(
        pbx, target, context=m.get("Context"), exten=m.get("Exten"),
        priority=int(priority) if priority.isdigit() else 1,
        application=m.get("Application"), data=m.get("Data") or "",
        timeout=timeout_ms / 1000.0, callerid=callerid, variables=variables,
        action_id=m.get("ActionID"), notify=is_async,
    )
    if is_async:
        s.success(m, "Originate successfully queued")
        pbx.spawn(job.run(), f"originate {target}")
        return
    if await job.run():
        s.success(m, "Originate successfully queued")
    else:
        s.error(m, "Originate failed")


def _parse_callerid(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    match = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', value)
    if match:
        return match.group(2), match.group(1)
    return value.strip(), ""


@action("Redirect", "call")
async def redirect(s: Session, m: Message) -> None:
    name = m.get("Channel")
    chan = _channel(s, name)
    if not name:
        s.error(m, "Channel not specified")
        return
    if chan is None:
        s.error(m, f"Channel does not exist: {name}")  # 01
        return
    context, exten, priority = m.get("Context") or chan.context, m.get("Exten") or "", m.get("Priority") or "1"
    if not priority.isdigit():
        s.error(m, "Invalid priority")
        return
    extra = _channel(s, m.get("ExtraChannel"))
    s.success(m, "Redirect successful")
    # README 8: the reply goes out before the channel moves
    _pbx(s).redirect(chan, context, exten, int(priority))
    if extra is not None:
        _pbx(s).redirect(extra, m.get("ExtraContext") or context, m.get("ExtraExten") or exten,
                         int(m.get("ExtraPriority") or priority))


@action("Hangup", "system", "call")
async def hangup(s: Session, m: Message) -> None:
    name = m.get("Channel") or ""
    cause = int(m.get("Cause") or 16)
    pbx = _pbx(s)
    if name.startswith("/") and name.endswith("/") and len(name) > 2:
        pattern = re.compile(name[1:-1])
        targets = [c for c in pbx.channels.values() if pattern.search(c.name)]
    else:
        chan = _channel(s, name)
        targets = [chan] if chan is not None else []
    if not targets:
        s.error(m, "No such channel")
        return
    s.success(m, "Channel Hungup")
    for chan in targets:
        pbx.soft_hangup(chan, cause=cause, source="ami")


@action("Setvar", "call")
async def setvar(s: Session, m: Message) -> None:
    pbx = _pbx(s)
    var = m.get("Variable")
    if not var:
        s.error(m, "No variable specified")
        return
    value = m.get("Value") or ""
    name = m.get("Channel")
    if name:
        chan = _channel(s, name)
        if chan is None:
            s.error(m, "Channel not found")
            return
        pbx.set_var(chan, var, value)
    else:
        pbx.globals[var] = value
    s.success(m, "Variable Set")


@action("Getvar", "call", "reporting")
async def getvar(s: Session, m: Message) -> None:
    pbx = _pbx(s)
    var = m.get("Variable")
    if not var:
        s.error(m, "No variable specified")
        return
    name = m.get("Channel")
    chan = _channel(s, name)
    if name and chan is None:
        s.error(m, "No such channel")
        return
    if chan is None:
        value = pbx.globals.get(var, "")
    else:
        try:
            value = pbx.expand(chan, "${" + var + "}")
        except DialplanError as exc:
            s.error(m, str(exc))
            return
    s.success(m, pairs=[("Variable", var), ("Value", value)])


@action("Bridge", "call")
async def bridge(s: Session, m: Message) -> None:
    from .bridging import bridge_channels

    pbx = _pbx(s)
    one, two = _channel(s, m.get("Channel1")), _channel(s, m.get("Channel2"))
    if one is None:
        s.error(m, f"Channel1 does not exist: {m.get('Channel1') or ''}")
        return
    if two is None:
        s.error(m, f"Channel2 does not exist: {m.get('Channel2') or ''}")
        return
    s.success(m, "Channels have been bridged")  # 08
    bridge_channels(pbx, one, two)


@action("BlindTransfer", "call")
async def blind_transfer(s: Session, m: Message) -> None:
    from .transfers import blind_transfer as transfer

    chan = _channel(s, m.get("Channel"))
    if chan is None:
        s.error(m, "No such channel")
        return
    exten = m.get("Exten") or ""
    if not exten:
        s.error(m, "No extension specified")
        return
    context = m.get("Context") or chan.context
    if chan.bridge is None or len(chan.bridge.channels) != 2:
        s.error(m, "Transfer failed")
        return
    s.success(m, "Transfer succeeded")
    transfer(_pbx(s), chan, exten, context)


@action("Atxfer", "call")
async def atxfer(s: Session, m: Message) -> None:
    from .transfers import AttendedTransfer

    chan = _channel(s, m.get("Channel"))
    if chan is None:
        s.error(m, "No such channel")
        return
    exten = m.get("Exten") or ""
    if not exten.isdigit():
        # README 12: Atxfer feeds the digits as DTMF, so Exten must be digits
        s.error(m, "Exten must be digits (it is sent as DTMF)")
        return
    s.success(m, "Atxfer successfully queued")
    job = AttendedTransfer(_pbx(s), chan, exten, m.get("Context") or chan.context)
    _pbx(s).spawn(job.run(), f"atxfer {chan.name}")


@action("UserEvent", "user")
async def user_event(s: Session, m: Message) -> None:
    name = m.get("UserEvent")
    if not name:
        s.error(m, "UserEvent not specified")
        return
    body: Pairs = [("UserEvent", name)]
    body += [(k, v) for k, v in m.pairs if k.lower() not in ("action", "actionid", "userevent")]
    s.success(m, "Event Sent")
    _pbx(s).emit("UserEvent", "user", body)


# the listing actions register themselves in ACTIONS
from . import listings  # noqa: E402,F401
