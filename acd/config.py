"""The configuration file (TOML) and the pydantic models that validate it.

One place validates, the rest trusts it (STYLE.md): ``load_settings`` reads the file,
``settings_from_dict`` takes the same shape from the REST API, and both return a
complete ``Settings`` or raise one ``ConfigError`` that names the file (or source),
each bad item (``groups[1] "sales".members[2]``, list positions count from 0) and
the problem. Nothing is applied before everything is valid: a ``Settings`` is a
new value, never a patched one. ``Settings.routing()`` builds the core's frozen
``RoutingConfig``; ``Settings.to_dict()`` gives the TOML shape back without secrets.

The AMI secret is read from ``ACD_AMI_SECRET`` when the file has none; it is a
``SecretStr``, left out of every dump and shown masked in reprs. A missing one is no
load error: the AMI link says "authentication failed: check ACD_AMI_SECRET (it is not
set)" at each try. ``Settings.warnings()`` names settings that load but should change
(the obsolete ``simulate = "auto"``).

The other channels: ``[[channels]]`` (chats, mailboxes, CRM forms) and each agent's
``[agents.work]`` (time zone, weekly hours and breaks, clock-in, capacity);
``Settings.conversations()`` builds the conversation core's ``ConversationConfig``.
``[capacity]`` (optional) is the budget every agent's calls, chats, e-mails and forms
draw on, with each channel's weight (``acd.core.capacity``); an agent's ``budget``
overrides it.
A mailbox's IMAP password comes from the environment variable its ``password_env``
names, read when the poller starts; a ``password`` in the file is an error.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from .connector_settings import SmtpSettings, TelegramSettings, WidgetSettings
from .core import conversation_model as conv
from .core.announcements import AnnouncePolicy, Spoken
from .core.callback_numbers import AskNumber
from .core.capacity import BUDGET_MAX, Capacity
from .core.model import Agent, CallbackPolicy, MissedAction, MissedCallPolicy, Mode, QueueGroup, RoutingConfig
from .core.work_time import Interval, WorkSchedule
from .settings_words import MISSED_ACTIONS, sentence

SECRET_ENV = "ACD_AMI_SECRET"

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """A configuration that cannot be used, with every problem found in it.

    ``problems`` holds ``(item, message)`` pairs; ``str()`` is the one message to show.
    """

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [f"{item}: {message}" if item else message for item, message in self.problems]
        if len(lines) == 1:
            return f"{self.source}: {lines[0]}"
        return f"{self.source}: {len(lines)} problems\n" + "\n".join(f"  {line}" for line in lines)


# ------------------------------------------------------------------ field types
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_PHONE = re.compile(r"^\+?[0-9]{2,20}$")
_ENDPOINT = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9_.@+-]+$")
_EXTENSION = re.compile(r"^[A-Za-z0-9_.*#+-]+$")
_MAILBOX = re.compile(r"^[A-Za-z0-9_.-]+(@[A-Za-z0-9_.-]+)?$")
_SOUND = re.compile(r"^[A-Za-z0-9_./-]*$")  # goes into the dialplan: no spaces, commas, &
_DIAL_CODE = re.compile(r"^[0-9*#]+$")
_DATABASE = re.compile(r"(sqlite|postgresql(\+psycopg)?)://.*", re.S)  # "postgresql": psycopg too (make_engine)
# a sound under Asterisk's sounds directory, as Playback() names it: words of letters,
# digits, '_' and '-' joined by '/'; no extension, no "..", nothing the dialplan reads
_SOUND_FILE = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


def _matching(pattern: re.Pattern[str], what: str, *, optional: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        if (optional and value == "") or pattern.fullmatch(value):
            return value
        raise ValueError(what)

    return AfterValidator(check)


Id = Annotated[
    str, Field(max_length=64), _matching(_ID, "not a valid id: use only letters, digits, '_', '.', '-'")
]  # 64: the width of the id columns in the history tables
_NOT_A_PHONE = "not a phone number: digits with an optional leading '+' (spaces, '-', '.', '/', brackets allowed)"
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")


def as_dialled(text: Any) -> Any:
    """A phone number as people write it, stored as Asterisk needs it: "(030) 1234-5678"
    -> "03012345678". Only separators go; the digits stay as written (no country code
    is added), since a DID must equal what the trunk sends and a forward number is
    dialled as written; "+49 (0)30 1234" loses its "(0)", as E.164 has it."""
    if not isinstance(text, str) or len(text) > 40:
        return text  # the pattern check refuses it
    international = text.strip().startswith("+")
    # "+49 (0)30 ...": the bracketed 0 is dialled only from inside the country
    digits = _PHONE_SEPARATORS.sub("", text.replace("(0)", "") if international else text)
    return digits if _PHONE.fullmatch(digits) else text  # else refused as typed


PhoneNumber = Annotated[str, BeforeValidator(as_dialled), _matching(_PHONE, _NOT_A_PHONE)]
OptionalPhoneNumber = Annotated[str, BeforeValidator(as_dialled), _matching(_PHONE, _NOT_A_PHONE, optional=True)]


def _numbers_as_dialled(numbers: Any) -> Any:
    """The [numbers] table with its DIDs as dialled; two ways of writing one number are
    an error (one of them would be lost silently)."""
    if not isinstance(numbers, Mapping):
        return numbers
    seen: dict[Any, str] = {}
    for typed in numbers:
        key = as_dialled(typed)
        if key in seen:
            raise ValueError(f'"{seen[key]}" and "{typed}" are the same number')
        seen[key] = typed
    return {as_dialled(typed): group for typed, group in numbers.items()}
Seconds = Annotated[float, Field(gt=0, le=86_400)]  # up to a day
# a name shown on every page: long enough for any real one, short enough to fit a column
NAME_MAX = 100
Name = Annotated[str, Field(max_length=NAME_MAX)]
EnvName = Annotated[str, Field(min_length=1, max_length=100)]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
]


class _Section(BaseModel):
    # a misspelt key is an error, not a silently ignored line
    model_config = ConfigDict(extra="forbid", frozen=True)


# ------------------------------------------------------------------ sections
def _check_proxy(value: str) -> str:
    """An address ("10.0.0.5", "::1") or a network ("10.1.0.0/16"), read as uvicorn reads them."""
    try:
        ipaddress.ip_network(value) if "/" in value else ipaddress.ip_address(value)
    except ValueError:
        raise ValueError('not an IP address or network like "10.0.0.5" or "10.1.0.0/16"') from None
    return value


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError('unknown time zone: use a name like "Europe/Berlin"') from None
    return value


class ServiceSettings(_Section):
    host: str = Field(default="127.0.0.1", min_length=1, max_length=255)  # where the HTTP API and pages listen
    port: int = Field(default=8000, ge=1, le=65535)
    # SQLite, or PostgreSQL through psycopg 3 (what the store's statements are written for)
    database: Annotated[str, Field(max_length=2000, repr=False), _matching(
        _DATABASE, 'not a database acd can use: "sqlite:///acd.db" or "postgresql+psycopg://user:password@host/db"',
    )] = "sqlite:///acd.db"
    # a database schema older than this acd at start: false refuses to start and says to
    # run `acd db upgrade` (after a backup: an upgrade may rewrite whole tables, and an
    # older acd cannot run on the result); true upgrades it at start
    upgrade_database: bool = False
    log_level: LogLevel = "INFO"
    # reverse proxies whose X-Forwarded-For / -Proto are believed (the sign-in throttle
    # counts per client address); empty: nobody's, the connection's own address counts
    trusted_proxies: list[Annotated[str, AfterValidator(_check_proxy)]] = Field(default=[], max_length=100)
    # the site's time zone (IANA name): pages, report days and hours are in it
    time_zone: Annotated[str, Field(max_length=64), AfterValidator(_check_zone)] = "UTC"


class _AmiLink(_Section):
    """What every Asterisk server's section holds: where its manager interface is, and
    the names its dialplan uses."""

    host: str = Field(default="127.0.0.1", min_length=1, max_length=255)
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = Field(default="acd", min_length=1, max_length=100)
    trunk: Id = "trunk"  # the PJSIP endpoint forwards to outside numbers go through
    pickup_code: Annotated[
        str, Field(max_length=16), _matching(_DIAL_CODE, "not a dial code: digits, '*' and '#'")
    ] = "*11"
    # never: Asterisk at host:port, retried with back-off until it answers; always: the
    # built-in simulator instead (a first look, tests). "auto" fell back to the simulator
    # when Asterisk did not answer at start; it still loads, means "never", and warns.
    simulate: Literal["never", "always", "auto"] = "never"

    @property
    def simulated(self) -> bool:
        return self.simulate == "always"


class AmiSettings(_AmiLink):
    """The one Asterisk server of a configuration without ``[[asterisk]]`` (``[ami]``)."""

    # never dumped; the repr shows it masked
    secret: SecretStr | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _secret_from_environment(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("secret") and os.environ.get(SECRET_ENV):
            return {**data, "secret": os.environ[SECRET_ENV]}
        return data


MAIN_SERVER = "main"  # the name of the server an [ami] section describes
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AsteriskSettings(_AmiLink):
    """One of several Asterisk servers (``[[asterisk]]``). Its AMI secret is read from
    the environment variable ``secret_env`` names, never from the file."""

    name: Id  # calls of every server but the first are known as <Uniqueid>@<name>
    secret_env: Annotated[
        str, Field(max_length=100), _matching(_ENV_NAME, "not an environment variable name")
    ] = SECRET_ENV
    # another server's name -> the PJSIP endpoint on this server that leads to it: its
    # members are rung as PJSIP/<their endpoint's name>@<that endpoint> (asterisk/trunks.conf.example)
    trunks: dict[Id, Id] = Field(default={}, max_length=50)
    simulate: Literal["never", "always"] = "never"

    @model_validator(mode="before")
    @classmethod
    def _no_secret_in_the_file(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "secret" in data:
            raise ValueError("a secret does not belong in the file: name an environment variable in secret_env")
        return data

    def secret(self) -> SecretStr | None:
        value = os.environ.get(self.secret_env)
        return SecretStr(value) if value else None


@dataclass(frozen=True)
class AsteriskServer:
    """One Asterisk server as the service connects to it: ``[ami]`` or an ``[[asterisk]]``."""

    name: str
    link: _AmiLink
    secret: SecretStr | None
    trunks: Mapping[str, str]  # another server -> the PJSIP endpoint here leading to it


# ------------------------------------------------------------------ work time (open channels)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekly_spans(text: str) -> dict[int, tuple[Interval, ...]]:
    """``"mon-fri 09:00-18:00"`` or ``"sat 10:00-14:00, 15:00-17:00"`` -> weekday -> spans."""
    days_text, _, spans_text = text.strip().partition(" ")
    days: list[int] = []
    for part in filter(None, days_text.lower().split(",")):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(f'not days like "mon-fri" or "sat,sun" in {text!r}')
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    spans: list[Interval] = []
    for part in filter(None, spans_text.replace(" ", "").split(",")):
        start, _, end = part.partition("-")
        try:
            spans.append((time.fromisoformat(start), time.fromisoformat(end)))
        except ValueError:
            raise ValueError(f'not times like "09:00-18:00" in {text!r}') from None
    if not days or not spans:
        raise ValueError(f'expected days and times like "mon-fri 09:00-18:00", got {text!r}')
    return {d: tuple(spans) for d in sorted(set(days))}


def _check_weekly(values: list[str]) -> list[str]:
    for value in values:
        _weekly_spans(value)
    return values


Weekly = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=50), AfterValidator(_check_weekly)]


class WorkSettings(_Section):
    """An agent's work time for chats, e-mails and forms (``[agents.work]``)."""

    time_zone: Annotated[str, Field(max_length=64), AfterValidator(_check_zone)] = "UTC"
    hours: Weekly = []  # ["mon-fri 09:00-18:00", "sat 10:00-14:00"]; empty: no fixed hours
    breaks: Weekly = []  # recurring scheduled breaks, ["mon-fri 13:00-14:00"]
    clock_in_required: bool = True  # gets work only after clocking in
    capacity: int | None = Field(default=None, ge=1, le=conv.CAPACITY_MAX)  # open chats at once

    def schedule(self) -> WorkSchedule:
        return WorkSchedule(
            time_zone=self.time_zone,
            hours=_merge_weekly(self.hours) if self.hours else None,
            breaks=_merge_weekly(self.breaks),
            clock_in_required=self.clock_in_required,
        )


def _merge_weekly(lines: list[str]) -> dict[int, tuple[Interval, ...]]:
    merged: dict[int, tuple[Interval, ...]] = {}
    for line in lines:
        for day, spans in _weekly_spans(line).items():
            merged[day] = merged.get(day, ()) + spans
    return merged


class AgentSettings(_Section):
    id: Id
    name: Name = ""  # default: the id
    endpoint: Annotated[
        str, Field(max_length=100), _matching(_ENDPOINT, 'not an Asterisk device like "PJSIP/101"')
    ]
    extension: Annotated[
        str, Field(max_length=32), _matching(_EXTENSION, "not an extension: letters, digits, '*', '#'", optional=True)
    ] = ""  # default: the part after "PJSIP/"
    mobile: OptionalPhoneNumber = ""
    mailbox: Annotated[
        str, Field(max_length=100), _matching(_MAILBOX, 'not a mailbox like "101@default"', optional=True)
    ] = ""
    work: WorkSettings | None = None  # None: work time not tracked (always working) for the other channels
    budget: int | None = Field(default=None, ge=1, le=BUDGET_MAX)  # their own [capacity] budget
    server: Id | None = None  # the [[asterisk]] their endpoint is on; None: the first one

    @model_validator(mode="after")
    def _defaults(self) -> AgentSettings:
        if not self.name:
            object.__setattr__(self, "name", self.id)
        if not self.extension:
            object.__setattr__(self, "extension", self.endpoint.partition("/")[2])
        return self


class MissedSettings(_Section):
    """What happens when every member was tried and nobody answered."""

    action: MissedAction = MissedAction.VOICEMAIL
    person: Id | None = None  # whose mailbox or mobile; default: the group's first member
    number: OptionalPhoneNumber = ""  # forward_number
    group: Annotated[
        str, Field(max_length=64), _matching(_ID, "not a valid group id", optional=True)
    ] = ""  # forward_group
    max_wait_seconds: Seconds = 300.0  # keep_waiting: longest wait, counted from arrival
    after_wait: MissedAction = MissedAction.VOICEMAIL  # keep_waiting: then this
    retry_seconds: Seconds = 5.0  # keep_waiting: pause before members are rung again
    forward_ring_seconds: Seconds = 30.0  # forward_*: how long the outside number may ring
    message: Annotated[
        str, Field(max_length=200), _matching(_SOUND, "not a sound name: no spaces, ',' or '&'", optional=True)
    ] = ""


def _check_number_pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


class CallbackSettings(_Section):
    """A callback that keeps the caller's place, offered to callers waiting in music
    (missed-call processing keep_waiting): "press 1 to be called back"."""

    enabled: bool = False
    digit: Annotated[str, Field(pattern=r"^[0-9*#]$")] = "1"
    offer_sound: Annotated[
        str, Field(min_length=1, max_length=200), _matching(_SOUND, "not a sound name: no spaces, ',' or '&'")
    ] = "acd-callback-offer"
    accepted_sound: Annotated[
        str, Field(max_length=200), _matching(_SOUND, "not a sound name: no spaces, ',' or '&'", optional=True)
    ] = "auth-thankyou"
    attempts: int = Field(default=3, ge=1, le=10)  # calls to the customer at most
    spacing_seconds: Seconds = 300.0  # between two attempts (from the end of the last)
    agent_ring_seconds: float = Field(default=20.0, ge=5, le=120)  # the member's phone
    customer_ring_seconds: float = Field(default=30.0, ge=5, le=120)  # the customer's phone
    # the number called back: never (the caller id) | when_unknown | always (the caller types it)
    ask_number: AskNumber = AskNumber.NEVER
    number_tries: int = Field(default=3, ge=1, le=5)  # entries before the caller just waits on
    # an entered number must match it in full, e.g. "0[1-9][0-9]{6,12}" ("": any 5-15 digits)
    number_pattern: Annotated[str, Field(max_length=200), AfterValidator(_check_number_pattern)] = ""

    def policy(self) -> CallbackPolicy:
        return CallbackPolicy(self.digit, self.offer_sound, self.accepted_sound, self.attempts,
                              self.spacing_seconds, self.agent_ring_seconds, self.customer_ring_seconds,
                              self.ask_number, self.number_tries, self.number_pattern)


class AnnounceSettings(_Section):
    """What callers waiting in music hear (missed.action = keep_waiting): app_queue's
    announce-position / announce-holdtime / periodic-announce, played by acd."""

    say: Spoken = Spoken.OFF  # off | position | position_and_wait
    # app_queue's min-announce-frequency is 15 s: an announcement takes a few seconds
    every_seconds: float = Field(default=60.0, ge=15, le=3600)
    message: Annotated[str, Field(max_length=100), _matching(
        _SOUND_FILE, "not a sound name: letters, digits, '_' and '-', folders with '/', no extension",
        optional=True)] = ""
    message_every_seconds: float = Field(default=60.0, ge=15, le=3600)

    def policy(self) -> AnnouncePolicy:
        return AnnouncePolicy(self.say, self.every_seconds, self.message, self.message_every_seconds)


class GroupCrmSettings(_Section):
    """The CRM options of a queue group (Bitrix24's, each on by default)."""

    check_client: bool = True  # look the caller up in the CRM
    owner_first: bool = True  # a known caller rings their responsible person first
    owner_follows_transfer: bool = True  # a manual transfer makes the new agent the owner
    create_lead: bool = True  # an unknown caller becomes a lead owned by the agent who answered
    record_missed: bool = True  # a missed call is noted on the client
    # Bitrix24: what a manual transfer makes the new agent responsible for: "client" (the
    # contact, company or lead Bitrix24 finds first), "lead", "contact", "company" or "deal"
    transfer_updates: Literal["client", "lead", "contact", "company", "deal"] = "client"


class ServiceLevelSettings(_Section):
    """A queue group's service-level target, as the wallboard and reports measure it:
    ``goal_percent`` of calls answered within ``answer_within_seconds``."""

    answer_within_seconds: int = Field(default=20, ge=1, le=3600)
    goal_percent: int = Field(default=80, ge=1, le=100)
    # the wallboard's tile turns red when a caller has waited longer than this
    # (amber already past answer_within_seconds)
    longest_wait_alert_seconds: int = Field(default=60, ge=1, le=86400)


class GroupSettings(_Section):
    id: Id
    name: Name = ""  # default: the id
    members: list[Id] = Field(min_length=1)  # agent ids; the order matters
    mode: Mode = Mode.STRICT
    rings: int = Field(default=3, ge=2, le=7)  # rings before the next member (2..7, like Bitrix24)
    ring_seconds: float = Field(default=5.0, gt=0, le=60)  # length of one ring
    wrapup_seconds: float = Field(default=0.0, ge=0, le=3600)  # no new call for this long after one
    allow_pickup: bool = False  # colleagues may take a ringing call with the pickup code
    # skip a member whose chats, e-mails and forms fill their [capacity] budget
    skip_when_busy_in_other_channels: bool = False
    # auto-pause: a member whose offers rang out this many times in a row goes on a break
    # "missed N calls" (0: never), and comes back after auto_resume_minutes (0: by hand)
    pause_after_missed: int = Field(default=0, ge=0, le=100)
    auto_resume_minutes: float = Field(default=0.0, ge=0, le=1440)
    missed: MissedSettings = Field(default_factory=MissedSettings)
    announce: AnnounceSettings = Field(default_factory=AnnounceSettings)
    crm: GroupCrmSettings = Field(default_factory=GroupCrmSettings)
    callback: CallbackSettings = Field(default_factory=CallbackSettings)
    service_level: ServiceLevelSettings = Field(default_factory=ServiceLevelSettings)

    @model_validator(mode="after")
    def _defaults(self) -> GroupSettings:
        if not self.name:
            object.__setattr__(self, "name", self.id)
        return self

    @property
    def responsible(self) -> str:
        return self.missed.person or self.members[0]


BitrixUser = Annotated[int, Field(ge=1, le=2**31 - 1)]  # a Bitrix24 user id
_PORTAL_URL = re.compile(r"https?://[^/\s]+/?")


class WebhookSettings(_Section):
    """A generic JSON webhook, signed with HMAC-SHA256. The URL and the signing secret are
    secrets: the file names the environment variables that hold them."""

    name: Id
    url_env: EnvName
    secret_env: EnvName


class Bitrix24Settings(_Section):
    """A Bitrix24 portal. ``auth = "webhook"``: an inbound REST webhook
    (https://<portal>/rest/<user>/<token>/) from the environment variable
    ``webhook_url_env``. ``auth = "app"``: a local application at ``portal_url``, its
    client id and secret from ``client_id_env``/``client_secret_env``, its tokens (sent by
    the install event to acd's /api/bitrix24/install) stored encrypted with the Fernet key in
    ``token_key_env``. acd agent ids -> Bitrix24 user ids in ``users``."""

    name: Id = "bitrix24"
    auth: Literal["webhook", "app"] = "webhook"
    webhook_url_env: EnvName | None = None
    portal_url: Annotated[str, Field(max_length=300),
                          _matching(_PORTAL_URL, "https://<portal>, nothing after the name", optional=True)] = ""
    client_id_env: EnvName | None = None
    client_secret_env: EnvName | None = None
    token_key_env: EnvName | None = None
    member_id: str = Field(default="", max_length=64)  # if set, the install event must come from this portal
    users: dict[Id, BitrixUser] = {}
    fallback_user: BitrixUser | None = None
    # the portal's leaky bucket (Bitrix24: 2/s and 50, Enterprise 5/s and 250)
    rate_per_second: float = Field(default=2.0, gt=0, le=100)
    burst: int = Field(default=50, ge=1, le=10000)
    # the client's card pops up on the screen of the agent whose phone rings
    live_card: bool = True
    # who is responsible for a known caller, asked before routing
    # (telephony.externalCall.searchCrmEntities): within this budget, cached this long;
    # slower or down, acd's own record decides
    ask_responsible: bool = True
    responsible_budget_ms: int = Field(default=400, ge=50, le=2000)
    responsible_cache_seconds: int = Field(default=300, ge=0, le=86400)
    # an agent not in ``users`` is the employee whose internal number is the agent's extension
    map_by_extension: bool = True
    # the application token of Bitrix24's outgoing events (POST /bitrix24/events): the
    # environment variable holding it; unset, the events are not taken
    events_token_env: EnvName | None = None

    @model_validator(mode="after")
    def _auth_complete(self) -> Bitrix24Settings:
        if self.auth == "webhook" and not self.webhook_url_env:
            raise ValueError('auth = "webhook" needs webhook_url_env')
        if self.auth == "app":
            missing = [k for k in ("portal_url", "client_id_env", "client_secret_env", "token_key_env")
                       if not getattr(self, k)]
            if missing:
                raise ValueError(f'auth = "app" needs {", ".join(missing)}')
        return self


class CrmSettings(_Section):
    region: str = Field(default="DE", pattern=r"^[A-Z]{2}$")  # for numbers without a country code
    webhooks: list[WebhookSettings] = []
    bitrix24: Bitrix24Settings | None = None


class ImapSettings(_Section):
    """Where a mailbox queue fetches its mail. The password is read from the environment
    variable named by ``password_env`` when the poller starts, never from the file."""

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=993, ge=1, le=65535)
    ssl: bool = True
    username: str = Field(min_length=1, max_length=320)
    password_env: Annotated[str, Field(max_length=100), _matching(_ENV_NAME, "not an environment variable name")]
    mailbox: str = Field(default="INBOX", min_length=1, max_length=200)
    poll_seconds: float = Field(default=60.0, ge=5, le=3600)

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_the_file(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "password" in data:
            raise ValueError("a password does not belong in the file: name an environment variable in password_env")
        return data

    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None


def _check_idle(value: float | str) -> float | str:
    if value != "never" and not conv.IDLE_MIN_S <= float(value) <= conv.IDLE_MAX_S:
        raise ValueError('must be 60 (1 minute) .. 43200 (12 hours) seconds, or "never"')
    return value


CUSTOMER_TEXT_MAX = 2000  # characters of an auto-reply or waiting message

IdleSeconds = Annotated[float | Literal["never"], AfterValidator(_check_idle)]


class ChannelSettings(_Section):
    """A channel queue (``[[channels]]``): an open channel (chat), a mailbox or a CRM form."""

    id: Id
    name: Name = ""  # default: the id
    kind: conv.ChannelKind = conv.ChannelKind.CHAT
    members: list[Id] = Field(min_length=1)  # agent ids; the order matters
    mode: Mode = Mode.STRICT  # chats; mailboxes and forms assign in turn
    # chats: pass an unanswered conversation on after this long (60 s .. 12 h) or "never"
    idle_seconds: IdleSeconds = 180.0
    capacity: int = Field(default=conv.CAPACITY_MAX, ge=1, le=conv.CAPACITY_MAX)  # per agent, unless the agent's own
    check_availability: bool = True  # skip agents not working (not clocked in, on a break, off hours)
    owner_first: bool = True  # a recognised client goes to the responsible person first
    offer_during_calls: bool = False  # chats: also offer to agents on a phone call
    imap: ImapSettings | None = None  # mailboxes: fetch mail over IMAP (else only through the API)
    smtp: SmtpSettings | None = None  # mailboxes: send agents' replies over SMTP
    widget: WidgetSettings | None = None  # chats: the website chat window (acd.web.widget_api)
    telegram: TelegramSettings | None = None  # chats: a Telegram bot's conversations
    # chats, Bitrix24's Open Channels options (each on by default):
    check_client: bool = True  # look the client up in the CRM; off: no look-up, no owner first
    chat_tracking: bool = True  # a phone or e-mail written here finds the client known elsewhere
    owner_follows_transfer: bool = True  # a hand transfer makes the new agent the client's owner
    # chats: the channel's working hours (["mon-fri 09:00-18:00"]; empty: always open),
    # what a customer writing outside them is told, and what one is told while waiting
    working_hours: Weekly = []
    time_zone: Annotated[str, Field(max_length=64), AfterValidator(_check_zone)] = "UTC"
    auto_reply: str = Field(default="", max_length=CUSTOMER_TEXT_MAX)
    waiting_message: str = Field(default="", max_length=CUSTOMER_TEXT_MAX)

    @model_validator(mode="after")
    def _defaults(self) -> ChannelSettings:
        if not self.name:
            object.__setattr__(self, "name", self.id)
        return self

    def queue(self) -> conv.ChannelQueue:
        return conv.ChannelQueue(
            id=self.id, name=self.name, members=tuple(self.members), kind=self.kind, mode=self.mode,
            idle_s=None if self.idle_seconds == "never" else float(self.idle_seconds), capacity=self.capacity,
            check_availability=self.check_availability, owner_first=self.check_client and self.owner_first,
            check_client=self.check_client, chat_tracking=self.chat_tracking,
            owner_follows_transfer=self.owner_follows_transfer,
            hours=WorkSchedule(time_zone=self.time_zone, hours=_merge_weekly(self.working_hours),
                               clock_in_required=False) if self.working_hours else None,
            auto_reply=self.auto_reply, waiting_message=self.waiting_message,
            offer_during_calls=self.offer_during_calls,
        )


Weight = Annotated[int, Field(ge=0, le=BUDGET_MAX)]


class CapacitySettings(_Section):
    """One capacity across channels (``[capacity]``): each agent's budget and what one
    item of each channel takes from it. The defaults: a call takes the whole budget, a
    chat about a third, an e-mail a tenth, a form a twentieth."""

    budget: int = Field(default=100, ge=1, le=BUDGET_MAX)
    call: Weight = 100
    chat: Weight = 34
    email: Weight = 10
    form: Weight = 5


class PauseSettings(_Section):
    """Agents' pauses (``[pauses]``): the reasons they choose from, and the watchdog that
    reconciles an agent acd believes busy while Asterisk says their phone is idle."""

    # the phone's pause code *12<n> takes the n-th reason (asterisk/extensions.conf)
    reasons: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default=["lunch", "training", "after-call work"], max_length=9)
    stuck_state_seconds: float = Field(default=30.0, ge=0, le=3600)  # 0: no watchdog


def _node_name() -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:64]
    return name or "acd"


class HaSettings(_Section):
    """``[ha]``: this node is one of several on one PostgreSQL database; one of them is
    active for the Asterisk server, the others stand by (acd/ha/leadership.py)."""

    node_name: Id = Field(default_factory=_node_name)  # in logs and the lease table; the host's name by default
    # how long a silent active node keeps the server: takeover comes within about this
    # long after its death, plus the resync
    lease_seconds: float = Field(default=1.5, ge=1.0, le=30.0)


class Settings(_Section):
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    crm: CrmSettings = Field(default_factory=CrmSettings)
    ami: AmiSettings = Field(default_factory=AmiSettings)  # made per load: reads the environment
    asterisk: list[AsteriskSettings] = Field(default=[], max_length=50)  # several servers: instead of [ami]
    agents: list[AgentSettings] = []
    groups: list[GroupSettings] = []
    numbers: Annotated[dict[PhoneNumber, Id], BeforeValidator(_numbers_as_dialled)] = {}  # DID -> group id
    default_group: Id | None = None  # for numbers not listed
    channels: list[ChannelSettings] = []  # chats, mailboxes, CRM forms
    capacity: CapacitySettings | None = None  # None: each channel counts alone
    pauses: PauseSettings = Field(default_factory=PauseSettings)
    ha: HaSettings | None = None  # None: this node alone, always active

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> Settings:
        problems = _cross_problems(self)
        if problems:
            source = (info.context or {}).get("source", "<settings>")
            shape = self.model_dump(mode="json")
            # not a ValueError on purpose: pydantic lets it through with its item paths intact
            raise ConfigError(source, [(_item(loc, shape), message) for loc, message in problems])
        return self

    def warnings(self) -> list[tuple[str, str]]:
        """(item, message) for settings that still load but should be changed."""
        found: list[tuple[str, str]] = []
        if self.ami.simulate == "auto":
            found.append(("ami.simulate", '"auto" is obsolete and now means "never": acd connects only to Asterisk, '
                          'retrying until it answers. Write simulate = "never", or "always" for the built-in '
                          "simulator"))
        capacity = self.capacity
        if capacity is not None and capacity.call >= capacity.budget:
            for ci, c in enumerate(self.channels):
                if c.offer_during_calls:
                    found.append((f'channels[{ci}] "{c.id}".offer_during_calls',
                                  f"a call takes the whole budget (capacity.call = {capacity.call} of "
                                  f"{capacity.budget}), so agents on a call still get no chat: lower capacity.call"))
        return found

    # -------------------------------------------------------------- use
    def servers(self) -> list[AsteriskServer]:
        """The Asterisk servers, first one first: the ``[[asterisk]]`` list, or the
        ``[ami]`` section as one server named "main"."""
        if not self.asterisk:
            return [AsteriskServer(MAIN_SERVER, self.ami, self.ami.secret, {})]
        return [AsteriskServer(a.name, a, a.secret(), dict(a.trunks)) for a in self.asterisk]

    @property
    def first_server(self) -> str:
        """The server whose calls keep their plain Uniqueid as id (``acd.core.call_keys``)."""
        return self.asterisk[0].name if self.asterisk else MAIN_SERVER

    def agent(self, agent_id: str) -> AgentSettings | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def group(self, group_id: str) -> GroupSettings | None:
        return next((g for g in self.groups if g.id == group_id), None)

    def routing(self) -> RoutingConfig:
        """The core's frozen model of agents, groups and numbers."""
        agents = {
            a.id: Agent(a.id, a.name, a.endpoint, a.extension, a.mobile, a.mailbox, a.server or self.first_server)
            for a in self.agents
        }
        groups = {
            g.id: QueueGroup(
                id=g.id,
                name=g.name,
                members=tuple(g.members),
                mode=g.mode,
                rings=g.rings,
                ring_seconds=g.ring_seconds,
                missed=MissedCallPolicy(
                    action=g.missed.action,
                    person=g.missed.person,
                    number=g.missed.number,
                    group=g.missed.group,
                    max_wait_s=g.missed.max_wait_seconds,
                    after_wait=g.missed.after_wait,
                    retry_s=g.missed.retry_seconds,
                    forward_ring_s=g.missed.forward_ring_seconds,
                    message=g.missed.message,
                ),
                allow_pickup=g.allow_pickup,
                wrapup_s=g.wrapup_seconds,
                skip_when_busy_in_other_channels=g.skip_when_busy_in_other_channels,
                pause_after_missed=g.pause_after_missed,
                auto_resume_s=g.auto_resume_minutes * 60,
                announce=g.announce.policy(),
                owner_first=g.crm.check_client and g.crm.owner_first,
                callback=g.callback.policy() if g.callback.enabled else None,
            )
            for g in self.groups
        }
        return RoutingConfig(
            agents=MappingProxyType(agents),
            groups=MappingProxyType(groups),
            numbers=MappingProxyType(dict(self.numbers)),
            default_group=self.default_group,
            capacity=self.budget(),
            pause_reasons=tuple(self.pauses.reasons),
            stuck_after_s=self.pauses.stuck_state_seconds,
        )

    def budget(self) -> Capacity | None:
        """The core's capacity budget across channels, None without ``[capacity]``."""
        c = self.capacity
        if c is None:
            return None
        budgets = {a.id: a.budget for a in self.agents if a.budget is not None}
        return Capacity(c.budget, c.call, c.chat, c.email, c.form, MappingProxyType(budgets))

    def channel(self, channel_id: str) -> ChannelSettings | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def conversations(self) -> conv.ConversationConfig:
        """The conversation core's frozen model: every agent (work time, capacity) and
        every channel queue."""
        agents = {
            a.id: conv.AgentSettings(capacity=a.work.capacity if a.work else None,
                                     schedule=a.work.schedule() if a.work else None)
            for a in self.agents
        }
        queues = {c.id: c.queue() for c in self.channels}
        return conv.ConversationConfig(agents=MappingProxyType(agents), queues=MappingProxyType(queues),
                                       capacity=self.budget())

    # -------------------------------------------------------------- dump and edit
    def to_dict(self, *sections: str) -> dict[str, Any]:
        """The TOML shape, for the API and for writing a file back: no AMI secret,
        the database password masked, no None values (TOML has no null). Given section
        names, only those: one list need not dump 75,000 agents and 40,000 groups."""
        data = self._dump(set(sections) or None)
        if "service" in data:
            data["service"]["database"] = _mask_password(data["service"]["database"])
        return data

    def with_changes(self, changes: Mapping[str, Any], source: str = "<api>") -> Settings:
        """A new Settings with whole top-level sections replaced (``{"groups": [...]}``),
        validated as a whole; the AMI secret and database URL carry over unless given."""
        # the big lists not changed are kept as validated (their items are frozen): saving one
        # group does not validate 75,000 agents again; the checks across sections still run
        kept = {name: getattr(self, name) for name in _KEPT_AS_VALIDATED if name not in changes}
        data = {**self._dump(exclude=set(kept)), **kept, **changes}
        if "ami" in data and "secret" not in data["ami"] and self.ami.secret is not None:
            data["ami"] = {**data.get("ami", {}), "secret": self.ami.secret.get_secret_value()}
        return settings_from_dict(data, source)

    def _dump(self, include: set[str] | None = None, exclude: set[str] | None = None) -> dict[str, Any]:
        # one of [ami] (the only server) or [[asterisk]] (several), never both
        excluded = (exclude or set()) | ({"asterisk"} if not self.asterisk else {"ami"})
        return self.model_dump(mode="json", exclude_none=True, include=include, exclude=excluded)


_KEPT_AS_VALIDATED = ("agents", "groups", "channels")


# ------------------------------------------------------------------ loading
def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate a TOML configuration file; ConfigError names what is wrong."""
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as e:
        raise ConfigError(source, [("", f"cannot read the file: {e.strerror or e}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [("", "not a UTF-8 text file")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, [_toml_problem(str(e))]) from None
    return settings_from_dict(data, source)


def settings_from_dict(data: Mapping[str, Any], source: str = "<settings>") -> Settings:
    """Validate the TOML shape given as plain data (the REST API uses this)."""
    try:
        return Settings.model_validate(data, context={"source": source})
    except ValidationError as e:
        raise ConfigError(source, [_pydantic_problem(err, data) for err in e.errors()]) from None


def _toml_problem(text: str) -> tuple[str, str]:
    # Python 3.11 puts the position in the message: "... (at line 3, column 7)"
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", text)
    if m:
        return f"line {m[1]}, column {m[2]}", f"invalid TOML: {text[: m.start()]}"
    m = re.search(r"\s*\(at end of document\)$", text)
    if m:
        return "end of file", f"invalid TOML: {text[: m.start()]}"
    return "", f"invalid TOML: {text}"


def _pydantic_problem(err: Any, data: Mapping[str, Any]) -> tuple[str, str]:
    loc: Loc = tuple(err["loc"])
    is_key = bool(loc) and loc[-1] == "[key]"
    if is_key:
        loc = loc[:-1]
    kind, message = err["type"], sentence(err, Settings)
    value = err.get("input")
    secret = "secret" in loc or "database" in loc  # a database URL may hold a password
    if kind in ("value_error", "string_pattern_mismatch") and not secret and isinstance(value, str | int | float):
        message = f"{message} (got {value!r})"  # which entry of a list it was, in a file
    item = _item(loc, data)
    return (f"{item} (the key)" if is_key else item), message


def _item(loc: Loc, data: Any) -> str:
    """``("groups", 1, "members", 2)`` -> ``groups[1] "sales".members[2]``."""
    text, node = "", data
    for key in loc:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            text += f"[{key}]"
            if isinstance(node, Mapping) and isinstance(node.get("id"), str):
                text += f' "{node["id"]}"'
        else:
            node = node.get(key) if isinstance(node, Mapping) else None
            name = key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f'"{key}"'
            text += f".{name}" if text else name
    return text


# ------------------------------------------------------------------ cross-checks
def _cross_problems(s: Settings) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    agents = {a.id: a for a in s.agents}
    groups = {g.id for g in s.groups}
    known_agents = _known(agents)
    known_groups = _known(groups)

    def unique(section: str, field: str, values: Sequence[str], what: str) -> None:
        ids = [x.id for x in (s.agents if section == "agents" else s.groups)]
        first: dict[str, int] = {}
        for i, value in enumerate(values):
            key = value.lower() if field == "endpoint" else value  # the core matches devices case-blind
            if not value:
                continue
            if key in first:
                j = first[key]
                problems.append(((section, i, field), f'{what} "{value}" is already used by {section}[{j}] "{ids[j]}"'))
            else:
                first[key] = i

    unique("agents", "id", [a.id for a in s.agents], "id")
    if s.ha is not None and not s.service.database.startswith("postgresql"):
        problems.append((("ha",), "several nodes share a PostgreSQL database: [service] database must be "
                                  "postgresql+psycopg://...; leave [ha] out for one node on SQLite"))
    if s.capacity is None:
        for ai, a in enumerate(s.agents):
            if a.budget is not None:
                problems.append((("agents", ai, "budget"),
                                 "an agent's budget needs a [capacity] section (what calls, chats, e-mails "
                                 "and forms take from it)"))
    unique("agents", "endpoint", [a.endpoint for a in s.agents], "endpoint")
    unique("agents", "extension", [a.extension for a in s.agents], "extension")
    unique("groups", "id", [g.id for g in s.groups], "id")
    problems.extend(_server_problems(s))

    for gi, g in enumerate(s.groups):
        seen: set[str] = set()
        for mi, member in enumerate(g.members):
            if member not in agents:
                problems.append((("groups", gi, "members", mi), f'unknown agent "{member}"{known_agents}'))
            elif member in seen:
                problems.append((("groups", gi, "members", mi), f'agent "{member}" is listed twice'))
            seen.add(member)
        m = g.missed
        if m.person is not None and m.person not in agents:
            problems.append((("groups", gi, "missed", "person"), f'unknown agent "{m.person}"{known_agents}'))
        if m.after_wait is MissedAction.KEEP_WAITING:
            problems.append((("groups", gi, "missed", "after_wait"),
                             "After the longest wait: choose something other than keeping the caller waiting again"))
        if m.action is not MissedAction.KEEP_WAITING:
            # only a caller who keeps waiting hears music, and announcements play in it
            if g.announce.say is not Spoken.OFF:
                problems.append((("groups", gi, "announce", "say"),
                                 "callers hear announcements only while they keep waiting in music: "
                                 "set missed.action to keep_waiting, or say to off"))
            if g.announce.message:
                problems.append((("groups", gi, "announce", "message"),
                                 "callers hear the message only while they keep waiting in music: "
                                 "set missed.action to keep_waiting, or leave the message empty"))
        actions = [("action", m.action)]
        if m.action is MissedAction.KEEP_WAITING:
            actions.append(("after_wait", m.after_wait))
        for field, action in actions:
            at: Loc = ("groups", gi, "missed", field)
            if action is MissedAction.FORWARD_NUMBER and not m.number:
                problems.append((at, f"To {MISSED_ACTIONS[action.value]}, give the phone number to forward to"))
            elif action is MissedAction.FORWARD_MOBILE:
                person = agents.get(g.responsible)
                if person is not None and not person.mobile:
                    problems.append((at, f"To {MISSED_ACTIONS[action.value]}, the responsible person needs a mobile "
                                         f'number: agent "{person.id}" has none'))
            elif action is MissedAction.FORWARD_GROUP:
                if not m.group:
                    problems.append((at, f"To {MISSED_ACTIONS[action.value]}, choose the queue group to forward to"))
                elif m.group == g.id:
                    problems.append((("groups", gi, "missed", "group"), "a group cannot forward to itself"))
                elif m.group not in groups:
                    problems.append((("groups", gi, "missed", "group"), f'unknown group "{m.group}"{known_groups}'))

    problems += _forwarding_loops(s)

    channel_first: dict[str, int] = {}
    for ci, c in enumerate(s.channels):
        if c.id in channel_first:
            j = channel_first[c.id]
            problems.append((("channels", ci, "id"), f'id "{c.id}" is already used by channels[{j}] "{c.id}"'))
        elif c.id in groups:
            problems.append((("channels", ci, "id"), f'id "{c.id}" is already used by a queue group'))
        channel_first.setdefault(c.id, ci)
        seen = set()
        for mi, member in enumerate(c.members):
            if member not in agents:
                problems.append((("channels", ci, "members", mi), f'unknown agent "{member}"{known_agents}'))
            elif member in seen:
                problems.append((("channels", ci, "members", mi), f'agent "{member}" is listed twice'))
            seen.add(member)
        if c.kind is not conv.ChannelKind.CHAT and c.mode is not Mode.STRICT:
            problems.append((("channels", ci, "mode"),
                             f"{c.kind.value} queues assign in turn: mode is for chats (leave it out)"))
        if c.offer_during_calls and c.kind is not conv.ChannelKind.CHAT:
            problems.append((("channels", ci, "offer_during_calls"),
                             f"only chats are offered: {c.kind.value} queues assign at once (leave it out)"))
        if c.kind is not conv.ChannelKind.CHAT:
            for field in ("working_hours", "auto_reply", "waiting_message"):
                if getattr(c, field):
                    problems.append((("channels", ci, field), f"only an open channel (chat) has this ({c.kind.value})"))
        elif c.auto_reply and not c.working_hours:
            problems.append((("channels", ci, "auto_reply"),
                             "an auto-reply is sent outside the working hours: give the working hours too"))
        if c.imap is not None and c.kind is not conv.ChannelKind.EMAIL:
            problems.append((("channels", ci, "imap"), f'only a kind = "email" queue has a mailbox ({c.kind.value})'))
        if c.smtp is not None and c.kind is not conv.ChannelKind.EMAIL:
            problems.append((("channels", ci, "smtp"), f'only a kind = "email" queue sends e-mail ({c.kind.value})'))
        for connector in ("widget", "telegram"):
            if getattr(c, connector) is not None and c.kind is not conv.ChannelKind.CHAT:
                problems.append((("channels", ci, connector), f'only a kind = "chat" queue has a {connector} '
                                 f'({c.kind.value})'))

    for did, group_id in s.numbers.items():
        if group_id not in groups:
            problems.append((("numbers", did), f'unknown group "{group_id}"{known_groups}'))
    if s.default_group is not None and s.default_group not in groups:
        problems.append((("default_group",), f'unknown group "{s.default_group}"{known_groups}'))
    return problems


def _forwards_to(g: Any) -> str | None:
    """The group a group's missed calls end up in, if its missed-call processing forwards to one."""
    m = g.missed
    final = m.after_wait if m.action is MissedAction.KEEP_WAITING else m.action
    return m.group or None if final is MissedAction.FORWARD_GROUP else None


def _forwarding_loops(s: Settings) -> list[tuple[Loc, str]]:
    """Each cycle of forward_group (a -> b -> a) once, at its first group in the file: a
    caller would be passed round it until the hop limit."""
    index = {g.id: gi for gi, g in enumerate(s.groups)}
    target = {g.id: _forwards_to(g) for g in s.groups}
    problems: list[tuple[Loc, str]] = []
    reported: set[str] = set()
    for g in s.groups:
        path = [g.id]
        while (nxt := target.get(path[-1])) is not None and nxt in index and nxt not in path:
            path.append(nxt)
        if nxt is None or nxt not in path or nxt in reported:
            continue
        cycle = path[path.index(nxt):]
        if g.id not in cycle:
            continue  # a chain leading into the cycle: the cycle is reported at its own groups
        first = min(cycle, key=index.__getitem__)
        loop = cycle[cycle.index(first):] + cycle[:cycle.index(first)] + [first]
        reported.update(cycle)
        problems.append((("groups", index[first], "missed", "group"),
                         "missed calls would be forwarded in a loop: " + " -> ".join(f'"{x}"' for x in loop)))
    return problems


def _server_problems(s: Settings) -> list[tuple[Loc, str]]:
    """Several Asterisk servers: unique names, agents on known servers, and a trunk from
    each server of a group spanning several to each other one."""
    problems: list[tuple[Loc, str]] = []
    if s.asterisk and "ami" in s.model_fields_set:
        problems.append((("ami",), "[ami] describes the only Asterisk server: with [[asterisk]] servers, "
                                   "move its settings into them"))
    names: dict[str, int] = {}
    for i, a in enumerate(s.asterisk):
        if a.name in names:
            problems.append((("asterisk", i, "name"),
                             f'server name "{a.name}" is already used by asterisk[{names[a.name]}]'))
        names.setdefault(a.name, i)
    servers = {server.name: server for server in s.servers()}
    known = _known(set(servers))
    for i, a in enumerate(s.asterisk):
        for other in a.trunks:
            if other == a.name:
                problems.append((("asterisk", i, "trunks", other), "a server needs no trunk to itself"))
            elif other not in servers:
                problems.append((("asterisk", i, "trunks", other), f'unknown server "{other}"{known}'))
    for ai, agent in enumerate(s.agents):
        if agent.server is not None and agent.server not in servers:
            problems.append((("agents", ai, "server"), f'unknown server "{agent.server}"{known}'))
    first = s.first_server
    server_of = {a.id: a.server or first for a in s.agents}
    for gi, g in enumerate(s.groups):
        spanned = sorted({server_of[m] for m in g.members if m in server_of} & set(servers))
        for here in spanned:
            for there in spanned:
                if here != there and there not in servers[here].trunks:
                    problems.append((("groups", gi, "members"),
                                     f'members are on servers {", ".join(spanned)}: server "{here}" needs a trunk '
                                     f'to "{there}" (trunks = {{ {there} = "<its PJSIP endpoint leading there>" }})'))
    return problems


def _known(ids: Mapping[str, Any] | set[str]) -> str:
    names = sorted(ids)
    if not names:
        return " (none are defined)"
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return f" (known: {shown})"


def _mask_password(url: str) -> str:
    return re.sub(r"^([A-Za-z0-9+_]+://[^/:@]*):[^/@]*@", r"\1:***@", url)
