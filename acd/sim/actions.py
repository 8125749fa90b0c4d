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


# ---------------------------------------------------------------- listings
def _duration(pbx: Pbx, chan: Channel) -> str:
    secs = int(pbx.clock.now() - chan.created)
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"


@action("CoreShowChannels", "system", "reporting")
async def core_show_channels(s: Session, m: Message) -> None:
    pbx = _pbx(s)
    chans = sorted(pbx.channels.values(), key=lambda c: c.seq)
    _fix_list_start(s, m, "Channels will follow")
    for chan in chans:
        s.list_item(m, "CoreShowChannel", chan.snapshot(pbx.channelvars) + [
            ("Application", chan.app), ("ApplicationData", chan.appdata), ("Duration", _duration(pbx, chan)),
            ("BridgeId", chan.bridge.uniqueid if chan.bridge else ""),
        ])
    s.list_complete(m, "CoreShowChannelsComplete", len(chans))


def _fix_list_start(s: Session, m: Message, message: str) -> None:
    # list responses put EventList before Message (01)
    s.respond(m, "Success", [("EventList", "start"), ("Message", message)])


@action("Status", "system", "call", "reporting")
async def status(s: Session, m: Message) -> None:
    pbx = _pbx(s)
    name = m.get("Channel")
    if name:
        chan = _channel(s, name)
        if chan is None:
            s.error(m, "No such channel")
            return
        chans = [chan]
    else:
        chans = sorted(pbx.channels.values(), key=lambda c: c.seq)
    _fix_list_start(s, m, "Channel status will follow")
    wanted = [v.strip() for v in (m.get("Variables") or "").split(",") if v.strip()]
    for chan in chans:
        pairs: Pairs = [("Event", "Status"), ("Privilege", "Call")] + chan.snapshot(pbx.channelvars) + [
            ("Type", chan.tech), ("DNID", chan.dnid),
            ("EffectiveConnectedLineNum", chan.connected_num or "<unknown>"),
            ("EffectiveConnectedLineName", chan.connected_name or "<unknown>"),
            ("TimeToHangup", "0"), ("BridgeID", chan.bridge.uniqueid if chan.bridge else ""),
            ("Application", chan.app), ("Data", chan.appdata), ("Nativeformats", "(ulaw)"),
            ("Readformat", "ulaw"), ("Readtrans", ""), ("Writeformat", "ulaw"), ("Writetrans", ""),
            ("Callgroup", str(chan.callgroup)), ("Pickupgroup", str(chan.pickupgroup)),
            ("Seconds", str(int(pbx.clock.now() - chan.created))),
        ]
        for var in wanted:
            try:
                pairs.append(("Variable", f"{var}={pbx.expand(chan, '${' + var + '}')}"))
            except DialplanError:
                pairs.append(("Variable", f"{var}="))
        if m.get("ActionID") is not None:
            pairs.append(("ActionID", m.get("ActionID") or ""))  # 01: ActionID comes last here
        s.send(pairs)
    s.list_complete(m, "StatusComplete", len(chans), [("Items", str(len(chans)))])


def _devstate_text(state: str) -> str:
    return {"NOT_INUSE": "Not in use", "INUSE": "In use", "RINGING": "Ringing", "UNAVAILABLE": "Unavailable",
            "RINGINUSE": "Ring+Inuse", "ONHOLD": "On Hold", "BUSY": "Busy"}.get(state, "Unknown")


@action("PJSIPShowEndpoints", "system")
async def pjsip_show_endpoints(s: Session, m: Message) -> None:
    pbx = _pbx(s)
    eps = sorted(pbx.endpoints.values(), key=lambda e: e.name)
    _fix_list_start(s, m, "A listing of Endpoints follows, presented as EndpointList events")
    for ep in eps:
        active = sum(1 for c in pbx.channels.values() if c.endpoint == ep.name)
        s.list_item(m, "EndpointList", [
            ("ObjectType", "endpoint"), ("ObjectName", ep.name), ("Transport", "transport-udp"),
            ("Aor", ep.name), ("Auths", ""), ("OutboundAuths", ""), ("Contacts", f"{ep.name}/{ep.contact},"),
            ("DeviceState", _devstate_text(pbx.device_state(f"PJSIP/{ep.name}"))),
            ("ActiveChannels", str(active)),
        ])
    s.list_complete(m, "EndpointListComplete", len(eps))


@action("PJSIPShowEndpoint", "system")
async def pjsip_show_endpoint(s: Session, m: Message) -> None:
    pbx = _pbx(s)
    name = m.get("Endpoint") or ""
    ep = pbx.endpoints.get(name)
    if ep is None:
        s.error(m, f"Unable to retrieve endpoint {name}")
        return
    active = sum(1 for c in pbx.channels.values() if c.endpoint == ep.name)
    callerid = f'"{ep.callerid_name}" <{ep.callerid_num}>' if ep.callerid_num else ""
    _fix_list_start(s, m, "Following are Events for each object associated with the Endpoint")
    # a representative subset of the 3.3 KB EndpointDetail of 01
    s.list_item(m, "EndpointDetail", [
        ("ObjectType", "endpoint"), ("ObjectName", ep.name), ("PickupGroup", str(ep.pickupgroup or "")),
        ("Aors", ep.name), ("Context", ep.context), ("Transport", "transport-udp"),
        ("CallGroup", str(ep.callgroup or "")), ("Callerid", callerid), ("AllowTransfer", "true"),
        ("DeviceState", _devstate_text(pbx.device_state(f"PJSIP/{ep.name}"))), ("ActiveChannels", str(active)),
    ])
    s.list_item(m, "TransportDetail", [
        ("ObjectType", "transport"), ("ObjectName", "transport-udp"), ("Protocol", "udp"),
        ("Bind", "127.0.0.1:5060"), ("EndpointName", ep.name),
    ])
    s.list_item(m, "AorDetail", _aor(ep) + [("TotalContacts", "1"), ("ContactsRegistered", "0"),
                                            ("EndpointName", ep.name)])
    status = "NonQualified" if not ep.qualify else "Reachable" if ep.reachable else "Unreachable"
    s.list_item(m, "ContactStatusDetail", [
        ("AOR", ep.name), ("URI", ep.contact), ("UserAgent", ""), ("RegExpire", "0"), ("Status", status),
        ("RoundtripUsec", "N/A"), ("EndpointName", ep.name), ("ID", f"{ep.name}@@0"),
        ("AuthenticateQualify", "0"), ("OutboundProxy", ""), ("Path", ""),
        ("QualifyFrequency", "0"), ("QualifyTimeout", "3.000"), ("Qualify2xxOnly", "0"),
    ])
    s.list_complete(m, "EndpointDetailComplete", 4)


def _aor(ep: object) -> Pairs:
    from .pbx import Endpoint

    assert isinstance(ep, Endpoint)
    return [
        ("ObjectType", "aor"), ("ObjectName", ep.name), ("MinimumExpiration", "60"),
        ("DefaultExpiration", "3600"), ("QualifyTimeout", "2.000000" if ep.qualify else "3.000000"),
        ("MaxContacts", "0" if ep.trunk else "1"), ("Contacts", f"{ep.name}/{ep.contact}"),
        ("QualifyFrequency", "10" if ep.qualify else "0"),
    ]


@action("PJSIPShowContacts", "system")
async def pjsip_show_contacts(s: Session, m: Message) -> None:
    # README 15: static contacts are not listed; 01: the message really ends in a bare LF
    s.error(m, "No Contacts found\n")


@action("PJSIPShowAors", "system")
async def pjsip_show_aors(s: Session, m: Message) -> None:
    eps = sorted(_pbx(s).endpoints.values(), key=lambda e: e.name)
    _fix_list_start(s, m, "A listing of AORs follows, presented as AorList events")
    for ep in eps:
        s.list_item(m, "AorList", _aor(ep))
    s.list_complete(m, "AorListComplete", len(eps))


@action("DeviceStateList", "call", "reporting")
async def device_state_list(s: Session, m: Message) -> None:
    pbx = _pbx(s)
    devices = [f"PJSIP/{name}" for name in sorted(pbx.endpoints)] + [f"MWI:{b}" for b in sorted(pbx.mailboxes)]
    _fix_list_start(s, m, "Device State Changes will follow")
    for device in devices:
        s.list_item(m, "DeviceStateChange", [("Device", device), ("State", pbx.device_state(device))])
    s.list_complete(m, "DeviceStateListComplete", len(devices))


@action("ExtensionStateList", "call", "reporting")
async def extension_state_list(s: Session, m: Message) -> None:
    _fix_list_start(s, m, "Extension Statuses will follow")  # no hints in either dialplan
    s.list_complete(m, "ExtensionStateListComplete", 0)


# ---------------------------------------------------------------- voicemail
@action("MailboxCount", "call", "reporting")
async def mailbox_count(s: Session, m: Message) -> None:
    name = m.get("Mailbox") or ""
    box = _pbx(s).mailboxes.get(name if "@" in name else name + "@default")
    new, old = (box.new, box.old) if box else (0, 0)
    s.success(m, "Mailbox Message Count", [("Mailbox", name), ("UrgMessages", "0"),
                                             ("NewMessages", str(new)), ("OldMessages", str(old))])


@action("MailboxStatus", "call", "reporting")
async def mailbox_status(s: Session, m: Message) -> None:
    name = m.get("Mailbox") or ""
    box = _pbx(s).mailboxes.get(name if "@" in name else name + "@default")
    s.success(m, "Mailbox Status", [("Mailbox", name), ("Waiting", "1" if box and box.new else "0")])


@action("VoicemailUsersList", "call", "reporting")
async def voicemail_users_list(s: Session, m: Message) -> None:
    boxes = sorted(_pbx(s).mailboxes.values(), key=lambda b: b.mailbox)
    _fix_list_start(s, m, "Voicemail user list will follow")
    for box in boxes:
        mailbox, _, context = box.mailbox.partition("@")
        s.list_item(m, "VoicemailUserEntry", [
            ("VMContext", context), ("VoiceMailbox", mailbox), ("Fullname", box.fullname), ("Email", "(null)"),
            ("MaxMessageCount", "100"), ("MaxMessageLength", "120"),
            ("NewMessageCount", str(box.new)), ("OldMessageCount", str(box.old)),
        ])
    s.list_complete(m, "VoicemailUserEntryComplete", len(boxes))


# ---------------------------------------------------------------- CLI
@action("Command", "command")
async def command(s: Session, m: Message) -> None:
    pbx = _pbx(s)
    cmd = " ".join((m.get("Command") or "").split()).lower()
    lines: list[str]
    if cmd == "core show channels":
        chans = sorted(pbx.channels.values(), key=lambda c: c.seq)
        lines = [f"{'Channel':<64} {'Location':<32} {'State':<7} {'Application(Data)':<30}"]
        for c in chans:
            loc = f"{c.exten}@{c.context}:{c.priority}"
            lines.append(f"{c.name:<64} {loc:<32} {c.state_desc:<7} {(c.app + '(' + c.appdata + ')'):<30}")
        n = len(chans)
        lines += [f"{n} active channel{'s' if n != 1 else ''}", f"{n} active call{'s' if n != 1 else ''}",
                  f"{pbx.processed_calls} call{'s' if pbx.processed_calls != 1 else ''} processed"]
    elif cmd == "pjsip show contacts":
        lines = ["", "  Contact:  <Aor/ContactUri..............................> <Hash....> <Status> <RTT(ms)..>",
                 "=" * 90, ""]
        for ep in sorted(pbx.endpoints.values(), key=lambda e: e.name):
            st = "NonQual" if not ep.qualify else "Avail" if ep.reachable else "Unavail"
            lines.append(f"  Contact:  {ep.name + '/' + ep.contact:<48} {'0' * 10} {st:<12} nan")
        lines += ["", f"Objects found: {len(pbx.endpoints)}", ""]
    elif cmd == "core show uptime":
        lines = [f"System uptime: {int(pbx.clock.now() - pbx.started)} seconds"]
    else:
        s.respond(m, "Error", [("Output", f"No such command '{cmd}' (type 'core show help {cmd}' for other possible"
                                          " commands)")], "Command output follows")
        return
    s.success(m, "Command output follows", [("Output", line) for line in lines])

