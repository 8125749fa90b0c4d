"""How pages say things: times in the reader's time zone, durations, names for ids, and
the settings' values in the reference product's (Bitrix24's) words.

Pages show a time in the user's own zone when they chose one, else in the site's
(``[service] time_zone``); every template gets ``zone`` (a ZoneInfo) and ``zone_name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from jinja2 import pass_context
from jinja2.runtime import Context

from ..settings_words import MISSED_ACTIONS as SETTINGS_MISSED_ACTIONS

UTC_ZONE = ZoneInfo("UTC")

# the group's settings as Bitrix24 names them (its queue-group form), value -> words
MODES = {
    "strict": "strictly in list order",
    "evenly": "evenly",
    "all": "all at once",
}
MODE_HINTS = {
    "strict": "every call rings the first member first, then the next one down the list",
    "evenly": "each call goes to the member offered a call longest ago",
    "all": "every free member's phone rings at the same time; the first to answer takes it",
}
MISSED_ACTIONS = SETTINGS_MISSED_ACTIONS  # one list of words: the configuration's checks say them too
# the call's outcome in the history and filters
OUTCOMES = {
    "answered": "answered",
    "missed": "missed",
    "abandoned": "caller hung up",
    "voicemail": "voicemail",
    "forwarded": "forwarded",
    "hangup": "acd hung up",
    "transferred": "transferred",
    "ended": "ended",
}
# what each permission lets a user do, as the users page says it
PERMISSIONS = {
    "telephony": "queue groups and numbers",
    "agents": "agents",
    "open_channels": "open channels",
    "email": "mailboxes",
    "crm_forms": "CRM forms",
    "crm": "clients and the CRM",
    "users": "users and the audit log",
}
# a live chat's state
CHAT_PHASES = {
    "waiting": "waiting",
    "offered": "offered to agents",
    "active": "in conversation",
}


def zone_choices() -> list[str]:
    """Every IANA zone name this machine knows, for a user's choice."""
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def zone_named(name: str | None) -> ZoneInfo | None:
    """The ZoneInfo for an IANA name; None for an empty or unknown one."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def in_zone(epoch: float, zone: ZoneInfo | None) -> datetime:
    return datetime.fromtimestamp(epoch, zone or UTC_ZONE)


def when_in(epoch: float | None, zone: ZoneInfo | None = None) -> str:
    """Epoch seconds as "2026-11-30 10:42:05" in ``zone`` (UTC without one)."""
    if epoch is None:
        return ""
    return in_zone(epoch, zone).strftime("%Y-%m-%d %H:%M:%S")


def clock_in(epoch: float | None, zone: ZoneInfo | None = None, seconds: bool = False) -> str:
    """"10:42" (the time of day only), as people say "on a call since 10:42"."""
    if epoch is None:
        return ""
    return in_zone(epoch, zone).strftime("%H:%M:%S" if seconds else "%H:%M")


@pass_context
def when(context: Context, epoch: float | None) -> str:
    """The ``when`` filter: a time in the reader's zone."""
    return when_in(epoch, context.get("zone"))


@pass_context
def clock(context: Context, epoch: float | None, seconds: bool = False) -> str:
    """The ``clock`` filter: "10:42" in the reader's zone."""
    return clock_in(epoch, context.get("zone"), seconds)


def duration(seconds: float | None) -> str:
    """"45 s", "1 min 05 s", "2 h 03 min": how supervisors read a wait or a talk."""
    if seconds is None:
        return ""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"


def name_list(ids: Iterable[Any], names: Mapping[str, str]) -> str:
    """"Anna, Farid": ids as names, each once, in order; "nobody" for none."""
    return ", ".join(dict.fromkeys(names.get(str(i), str(i)) for i in ids)) or "nobody"


def caller(name: str | None, number: str | None) -> str:
    """The caller as one name/number: "Maria Lopez (+4930123)", or the number alone."""
    if name and number and name != number:
        return f"{name} ({number})"
    return name or number or "unknown caller"
