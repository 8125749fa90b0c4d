"""AMI listing actions: channels, endpoints, device states, voicemail, the CLI.

Each answers ``Response: Success`` with ``EventList: start``, then items that carry the
ActionID, then ``...Complete`` with ``ListItems`` (README 2); the item shapes follow 01/12.
"""

from __future__ import annotations

from .actions import _channel, _pbx, action
from .channels import Channel
from .dialplan import DialplanError
from .pbx import Endpoint, Pbx
from .protocol import Message, Pairs
from .server import Session


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


def _aor(ep: Endpoint) -> Pairs:
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

