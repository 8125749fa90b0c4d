"""The configuration file (TOML) and the pydantic models that validate it.

One place validates, the rest trusts it (STYLE.md): ``load_settings`` reads the file,
``settings_from_dict`` takes the same shape from the REST API, and both return a
complete ``Settings`` or raise one ``ConfigError`` that names the file (or source),
each bad item (``groups[1] "sales".members[2]``, list positions count from 0) and
the problem. Nothing is applied before everything is valid: a ``Settings`` is a
new value, never a patched one. ``Settings.routing()`` builds the core's frozen
``RoutingConfig``; ``Settings.to_dict()`` gives the TOML shape back without secrets.

The AMI secret is read from ``ACD_AMI_SECRET`` when the file has none; it is a
``SecretStr``, left out of every dump and shown masked in reprs.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

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

from .core.model import Agent, MissedAction, MissedCallPolicy, Mode, QueueGroup, RoutingConfig

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


def _matching(pattern: re.Pattern[str], what: str, *, optional: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        if (optional and value == "") or pattern.fullmatch(value):
            return value
        raise ValueError(what)

    return AfterValidator(check)


Id = Annotated[
    str, Field(max_length=64), _matching(_ID, "not a valid id: use only letters, digits, '_', '.', '-'")
]  # 64: the width of the id columns in the history tables
PhoneNumber = Annotated[
    str, _matching(_PHONE, "not a phone number: digits with an optional leading '+', no spaces")
]
OptionalPhoneNumber = Annotated[
    str, _matching(_PHONE, "not a phone number: digits with an optional leading '+', no spaces", optional=True)
]
Seconds = Annotated[float, Field(gt=0)]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
]


class _Section(BaseModel):
    # a misspelt key is an error, not a silently ignored line
    model_config = ConfigDict(extra="forbid", frozen=True)


# ------------------------------------------------------------------ sections
class ServiceSettings(_Section):
    host: str = Field(default="127.0.0.1", min_length=1)  # where the HTTP API and pages listen
    port: int = Field(default=8000, ge=1, le=65535)
    database: str = Field(default="sqlite:///acd.db", pattern=r"^[A-Za-z0-9+_]+://", repr=False)
    log_level: LogLevel = "INFO"


class AmiSettings(_Section):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = Field(default="acd", min_length=1)
    # never dumped; the repr shows it masked
    secret: SecretStr | None = Field(default=None, exclude=True)
    trunk: Id = "trunk"  # the PJSIP endpoint forwards to outside numbers go through
    pickup_code: Annotated[str, _matching(_DIAL_CODE, "not a dial code: digits, '*' and '#'")] = "*11"
    # auto: the built-in simulator when no Asterisk answers; always; never
    simulate: Literal["auto", "always", "never"] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _secret_from_environment(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("secret") and os.environ.get(SECRET_ENV):
            return {**data, "secret": os.environ[SECRET_ENV]}
        return data


class AgentSettings(_Section):
    id: Id
    name: str = ""  # default: the id
    endpoint: Annotated[str, _matching(_ENDPOINT, 'not an Asterisk device like "PJSIP/101"')]
    extension: Annotated[
        str, _matching(_EXTENSION, "not an extension: letters, digits, '*', '#'", optional=True)
    ] = ""  # default: the part after "PJSIP/"
    mobile: OptionalPhoneNumber = ""
    mailbox: Annotated[str, _matching(_MAILBOX, 'not a mailbox like "101@default"', optional=True)] = ""

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
    group: Annotated[str, _matching(_ID, "not a valid group id", optional=True)] = ""  # forward_group
    max_wait_seconds: Seconds = 300.0  # keep_waiting: longest wait, counted from arrival
    after_wait: MissedAction = MissedAction.VOICEMAIL  # keep_waiting: then this
    retry_seconds: Seconds = 5.0  # keep_waiting: pause before members are rung again
    forward_ring_seconds: Seconds = 30.0  # forward_*: how long the outside number may ring
    message: Annotated[str, _matching(_SOUND, "not a sound name: no spaces, ',' or '&'", optional=True)] = ""


class GroupSettings(_Section):
    id: Id
    name: str = ""  # default: the id
    members: list[Id] = Field(min_length=1)  # agent ids; the order matters
    mode: Mode = Mode.STRICT
    rings: int = Field(default=3, ge=2, le=7)  # rings before the next member (2..7, like Bitrix24)
    ring_seconds: float = Field(default=5.0, gt=0, le=60)  # length of one ring
    wrapup_seconds: float = Field(default=0.0, ge=0, le=3600)  # no new call for this long after one
    allow_pickup: bool = False  # colleagues may take a ringing call with the pickup code
    missed: MissedSettings = Field(default_factory=MissedSettings)

    @model_validator(mode="after")
    def _defaults(self) -> GroupSettings:
        if not self.name:
            object.__setattr__(self, "name", self.id)
        return self

    @property
    def responsible(self) -> str:
        return self.missed.person or self.members[0]


class Settings(_Section):
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    ami: AmiSettings = Field(default_factory=AmiSettings)  # made per load: reads the environment
    agents: list[AgentSettings] = []
    groups: list[GroupSettings] = []
    numbers: dict[PhoneNumber, Id] = {}  # DID -> group id
    default_group: Id | None = None  # for numbers not listed

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> Settings:
        problems = _cross_problems(self)
        if problems:
            source = (info.context or {}).get("source", "<settings>")
            shape = self.model_dump(mode="json")
            # not a ValueError on purpose: pydantic lets it through with its item paths intact
            raise ConfigError(source, [(_item(loc, shape), message) for loc, message in problems])
        return self

    # -------------------------------------------------------------- use
    def agent(self, agent_id: str) -> AgentSettings | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def group(self, group_id: str) -> GroupSettings | None:
        return next((g for g in self.groups if g.id == group_id), None)

    def routing(self) -> RoutingConfig:
        """The core's frozen model of agents, groups and numbers."""
        agents = {
            a.id: Agent(a.id, a.name, a.endpoint, a.extension, a.mobile, a.mailbox) for a in self.agents
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
            )
            for g in self.groups
        }
        return RoutingConfig(
            agents=MappingProxyType(agents),
            groups=MappingProxyType(groups),
            numbers=MappingProxyType(dict(self.numbers)),
            default_group=self.default_group,
        )

    # -------------------------------------------------------------- dump and edit
    def to_dict(self) -> dict[str, Any]:
        """The TOML shape, for the API and for writing a file back: no AMI secret,
        the database password masked, no None values (TOML has no null)."""
        data = self._dump()
        data["service"]["database"] = _mask_password(data["service"]["database"])
        return data

    def with_changes(self, changes: Mapping[str, Any], source: str = "<api>") -> Settings:
        """A new Settings with whole top-level sections replaced (``{"groups": [...]}``),
        validated as a whole; the AMI secret and database URL carry over unless given."""
        data = {**self._dump(), **changes}
        if "secret" not in data.get("ami", {}) and self.ami.secret is not None:
            data["ami"] = {**data.get("ami", {}), "secret": self.ami.secret.get_secret_value()}
        return settings_from_dict(data, source)

    def _dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


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
    kind, message = err["type"], err["msg"]
    if kind == "extra_forbidden":
        message = "unknown setting (misspelt?)"
    elif kind == "missing":
        message = "required but missing"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
    value = err.get("input")
    secret = "secret" in loc
    if kind not in ("missing", "extra_forbidden") and not secret and isinstance(value, str | int | float):
        message = f"{message} (got {value!r})"
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
    unique("agents", "endpoint", [a.endpoint for a in s.agents], "endpoint")
    unique("agents", "extension", [a.extension for a in s.agents], "extension")
    unique("groups", "id", [g.id for g in s.groups], "id")

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
            problems.append((("groups", gi, "missed", "after_wait"), "cannot be keep_waiting again"))
        actions = [("action", m.action)]
        if m.action is MissedAction.KEEP_WAITING:
            actions.append(("after_wait", m.after_wait))
        for field, action in actions:
            at: Loc = ("groups", gi, "missed", field)
            if action is MissedAction.FORWARD_NUMBER and not m.number:
                problems.append((at, f"{action.value} needs missed.number, the number to forward to"))
            elif action is MissedAction.FORWARD_MOBILE:
                person = agents.get(g.responsible)
                if person is not None and not person.mobile:
                    problems.append((at, f'{action.value} needs a mobile: agent "{person.id}" has none'))
            elif action is MissedAction.FORWARD_GROUP:
                if not m.group:
                    problems.append((at, f"{action.value} needs missed.group, the group to forward to"))
                elif m.group == g.id:
                    problems.append((("groups", gi, "missed", "group"), "a group cannot forward to itself"))
                elif m.group not in groups:
                    problems.append((("groups", gi, "missed", "group"), f'unknown group "{m.group}"{known_groups}'))

    for did, group_id in s.numbers.items():
        if group_id not in groups:
            problems.append((("numbers", did), f'unknown group "{group_id}"{known_groups}'))
    if s.default_group is not None and s.default_group not in groups:
        problems.append((("default_group",), f'unknown group "{s.default_group}"{known_groups}'))
    if s.ami.simulate == "never" and s.ami.secret is None:
        problems.append((("ami", "secret"), f"no AMI secret: set {SECRET_ENV} (simulate is never)"))
    return problems


def _known(ids: Mapping[str, Any] | set[str]) -> str:
    names = sorted(ids)
    if not names:
        return " (none are defined)"
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return f" (known: {shown})"


def _mask_password(url: str) -> str:
    return re.sub(r"^([A-Za-z0-9+_]+://[^/:@]*):[^/@]*@", r"\1:***@", url)
