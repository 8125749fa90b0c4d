"""Open channels (chats), mailboxes and CRM forms: their queues' settings, pages and API.

The three are ``[[channels]]`` of one kind each, edited like queue groups (``telephony.py``):
a queue is replaced as a whole in the settings' ``channels`` list and the whole settings
are validated before anything applies (``SettingsChanges``: apply live, write the TOML
file back, audit). Each kind is its own area with its own permission, so a supervisor of
mailboxes can neither see nor change an open channel, even by its id.

Only supervisors and admins with the area's permission: agents hold ``open_channels``
and the like to work on conversations, not to configure them.

Pages: ``/open-channels``, ``/mailboxes``, ``/crm-forms`` (list, ``/new``, ``/{id}``).
API twins: ``/api/channels-config/chats``, ``.../mailboxes``, ``.../forms`` (GET the list,
GET/PUT/DELETE ``/{id}``, the TOML shape as JSON). ``/api/channels/...`` stays the
channels' runtime API (messages, offers, agents' queues).

The customers' connectors are set here too: an open channel's website widget (allowed
sites, limits, the script tag to copy) and Telegram bot (long polling or webhook), a
mailbox's IMAP and SMTP servers; the service starts, changes or stops them at once
(``acd.channels.customer_connectors``). A password or bot token is never accepted,
stored or shown: the settings name the environment variable that holds it
(``imap.password_env``, ``smtp.password_env``, ``telegram.token_env``), read when used.
"""


from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from ..config import CUSTOMER_TEXT_MAX, ConfigError
from ..connector_settings import MESSAGE_MAX
from ..core.conversation_model import CAPACITY_MAX
from ..settings_words import GENERIC
from . import config_routes as cr
from .limits import read_form
from .openapi import errors
from .pages import Pages, add_nav
from .security import User, require
from .settings_changes import SettingsChanges, field_errors
from .telephony import moved


@dataclass(frozen=True)
class Area:
    kind: str  # ChannelKind value
    permission: str
    page: str  # the pages' path
    api: str  # the API's path
    title: str  # the list's heading and nav label
    one: str  # "open channel": one queue, in sentences

    @property
    def One(self) -> str:  # noqa: N802 - "One" as a sentence starts it
        return self.one[0].upper() + self.one[1:]

    @property
    def a_one(self) -> str:
        return ("an " if self.one[0] in "aeiou" else "a ") + self.one

    @property
    def nav_key(self) -> str:
        return self.page.strip("/")


AREAS = (
    Area("chat", "open_channels", "/open-channels", "/api/channels-config/chats", "Open channels", "open channel"),
    Area("email", "email", "/mailboxes", "/api/channels-config/mailboxes", "Mailboxes", "mailbox"),
    Area("form", "crm_forms", "/crm-forms", "/api/channels-config/forms", "CRM forms", "CRM form"),
)

# Bitrix24's Open Channels words for the modes, and its idle-time choices
MODES = {"strict": "strictly in order", "evenly": "evenly", "all": "to everyone at once"}
IDLE_CHOICES = [60, 120, 180, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 43200]
IMAP_FIELDS = ("host", "port", "username", "password_env", "mailbox", "poll_seconds")
SMTP_FIELDS = ("address", "host", "port", "security", "username", "password_env")
WIDGET_LIMITS = ("max_message_chars", "visitor_messages_per_minute", "address_messages_per_minute",
                 "new_visitors_per_minute")
SECURITY = {"starttls": "STARTTLS (port 587)", "ssl": "SSL/TLS from the start (port 465)",
            "none": "none (a server on this machine or network only)"}
CHAT_CHECKS = ("check_client", "chat_tracking", "owner_follows_transfer", "offer_during_calls")
TEXTS = ("auto_reply", "waiting_message")

# pydantic's generic messages, said the way a supervisor reads them
PLAIN = {
    "capacity": f"Give a whole number of conversations from 1 to {CAPACITY_MAX}, or leave it empty for no limit.",
    "idle_seconds": "Choose a time from 1 minute to 12 hours, or never.",
    "mode": "Choose how conversations are distributed: strictly in order, evenly or to everyone at once.",
    "members": "Add at least one agent to the queue.",
    "imap.host": "Give the IMAP server's name, e.g. imap.example.com.",
    "imap.port": "Give a port number from 1 to 65535 (993 for IMAP over SSL).",
    "imap.username": "Give the user name to sign in to the mailbox with.",
    "imap.password_env": "Give the name of an environment variable, e.g. ACD_MAIL_PASSWORD (letters, digits, "
                         "'_'; not the password itself).",
    "imap.mailbox": "Give the folder to read, e.g. INBOX.",
    "imap.poll_seconds": "Check for new mail every 5 to 3600 seconds.",
    "smtp.address": "Give the mailbox's address replies are sent from, e.g. sales@example.com.",
    "smtp.host": "Give the SMTP server's name, e.g. smtp.example.com.",
    "smtp.port": "Give a port number from 1 to 65535 (587 with STARTTLS, 465 with SSL).",
    "smtp.security": "Choose how the connection is secured: STARTTLS, SSL/TLS or none.",
    "smtp.username": "Give the user name to sign in to the SMTP server with.",
    "smtp.password_env": "Give the name of an environment variable, e.g. ACD_SMTP_PASSWORD (letters, digits, "
                         "'_'; not the password itself).",
    "widget.allowed_origins": "Name at least one site that may show the chat, one per line, e.g. "
                              "https://shop.example.",
    "widget.max_message_chars": f"Give a number of characters from 1 to {MESSAGE_MAX}.",
    "widget.visitor_messages_per_minute": "Give a number of messages per minute from 1 to 10000.",
    "widget.address_messages_per_minute": "Give a number of messages per minute from 1 to 100000.",
    "widget.new_visitors_per_minute": "Give a number of new visitors per minute from 1 to 10000.",
    "telegram.token_env": "Give the name of an environment variable, e.g. ACD_TELEGRAM_TOKEN (letters, digits, "
                          "'_'; not the bot token itself).",
    "telegram.webhook_secret_env": "For a webhook, give the name of the environment variable holding the secret "
                                   "token Telegram sends with each update, e.g. ACD_TELEGRAM_WEBHOOK_SECRET.",
    "auto_reply": f"Keep the auto-reply under {CUSTOMER_TEXT_MAX} characters.",
    "waiting_message": f"Keep the waiting message under {CUSTOMER_TEXT_MAX} characters.",
}
_GENERIC = ("Input should", "List should", "String should", "required but missing", "unknown setting",
            "not an environment variable name")


def idle_label(seconds: Any) -> str:
    """60 -> "1 minute", 7200 -> "2 hours", "never"; anything else as it was typed."""
    if seconds == "never":
        return "never"
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return str(seconds)
    if s >= 3600 and s % 3600 == 0:
        hours = int(s // 3600)
        return f"{hours} hour{'s' if hours > 1 else ''}"
    if s % 60 == 0:
        minutes = int(s // 60)
        return f"{minutes} minute{'s' if minutes > 1 else ''}"
    return f"{int(s // 60)} min {int(s % 60)} s"


def plain_errors(errors: dict[str, str]) -> dict[str, str]:
    """Field -> message, pydantic's generic ones replaced by a sentence; the branches of
    a choice (``idle_seconds.float``: a number or "never") are one field."""
    out: dict[str, str] = {}
    for name, message in errors.items():
        field = next((key for key in PLAIN if name.startswith(key + ".")), name)
        if field in PLAIN and (message.startswith(_GENERIC) or GENERIC.match(message)):
            message = PLAIN[field]
        if out.get(field) not in (None, message):
            message = f"{out[field]}; {message}"
        out[field] = message
    return out


def _checked(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def queue_from_form(area: Area, form: FormData, existing: dict[str, Any] | None) -> dict[str, Any]:
    """The queue as the form describes it, over what the settings hold (keys the form
    does not show are kept)."""
    q = dict(existing or {})
    q["id"] = str(form.get("id", "")).strip() if existing is None else existing["id"]
    q["kind"] = area.kind
    q["name"] = str(form.get("name", "")).strip()
    q["members"] = [str(m) for m in form.getlist("members") if str(m)]
    q["check_availability"] = _checked(form, "check_availability")
    if area.kind != "form":
        q["owner_first"] = _checked(form, "owner_first")
    if area.kind == "chat":
        q["mode"] = str(form.get("mode", "strict"))
        idle = str(form.get("idle_seconds", "")).strip()
        q["idle_seconds"] = idle if idle == "never" else _number(idle)
        capacity = str(form.get("capacity", "")).strip()
        if capacity:
            q["capacity"] = _number(capacity)
        else:
            q.pop("capacity", None)  # no limit of its own
        for key in CHAT_CHECKS:
            q[key] = _checked(form, key)
        q["working_hours"] = [line.strip() for line in str(form.get("working_hours", "")).splitlines() if line.strip()]
        q["time_zone"] = str(form.get("time_zone", "")).strip() or "UTC"
        for key in TEXTS:
            q[key] = str(form.get(key, "")).strip()
        _section(q, form, "widget", lambda widget: _widget_from_form(widget, form))
        _section(q, form, "telegram", lambda telegram: _telegram_from_form(telegram, form))
    if area.kind == "email":
        if _checked(form, "imap.enabled"):
            imap = dict(q.get("imap") or {})
            for key in IMAP_FIELDS:
                value = str(form.get(f"imap.{key}", "")).strip()
                if value:
                    imap[key] = _number(value) if key in ("port", "poll_seconds") else value
                else:
                    imap.pop(key, None)
            imap["ssl"] = _checked(form, "imap.ssl")
            q["imap"] = imap
        else:
            q.pop("imap", None)
        _section(q, form, "smtp", lambda smtp: _fields_from_form(smtp, form, "smtp", SMTP_FIELDS, ("port",)))
    return q


def _section(q: dict[str, Any], form: FormData, name: str, fill: Callable[[dict[str, Any]], None]) -> None:
    """A connector's section, kept and filled from the form while its box is ticked."""
    if _checked(form, f"{name}.enabled"):
        section = dict(q.get(name) or {})
        fill(section)
        q[name] = section
    else:
        q.pop(name, None)


def _fields_from_form(section: dict[str, Any], form: FormData, name: str, keys: tuple[str, ...],
                      numbers: tuple[str, ...] = ()) -> None:
    """Each key as typed (numbers as numbers); an empty field drops the key (its default)."""
    for key in keys:
        value = str(form.get(f"{name}.{key}", "")).strip()
        if value:
            section[key] = _number(value) if key in numbers else value
        else:
            section.pop(key, None)


def _widget_from_form(widget: dict[str, Any], form: FormData) -> None:
    widget["allowed_origins"] = [line.strip() for line in str(form.get("widget.allowed_origins", "")).splitlines()
                                 if line.strip()]
    _fields_from_form(widget, form, "widget", WIDGET_LIMITS, WIDGET_LIMITS)


def _telegram_from_form(telegram: dict[str, Any], form: FormData) -> None:
    """The bot token's variable; updates by long polling, or by webhook with the
    variable holding its secret token (empty: refused by name, not taken as polling)."""
    _fields_from_form(telegram, form, "telegram", ("token_env",))
    telegram.setdefault("token_env", "")  # required: an empty one is named on its field
    if form.get("telegram.delivery") == "webhook":
        telegram["webhook_secret_env"] = str(form.get("telegram.webhook_secret_env", "")).strip()
    else:
        telegram.pop("webhook_secret_env", None)


def _number(text: str) -> Any:
    """Numbers as numbers (the settings check their range); anything else as typed, so
    the check names it."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def install(app: FastAPI, changes: SettingsChanges, pages: Pages) -> None:
    """The three areas' routes and their links in the navigation."""
    for area in AREAS:
        app.include_router(router(area, changes, pages))
        add_nav(app, area.nav_key, area.title, area.page, area.permission, staff_only=True)


def require_settings(permission: str) -> Callable[..., Awaitable[User]]:
    """The area's permission, held by a supervisor or an admin: agents hold
    ``open_channels`` (and the like) to work on conversations, never to configure them."""
    allowed = require(permission)

    async def dependency(user: Annotated[User, Depends(allowed)]) -> User:
        if user.role == "agent":
            raise HTTPException(403, "agents cannot change the channels' settings")
        return user

    dependency.__name__ = f"require_settings_{permission}"
    return dependency


def router(area: Area, changes: SettingsChanges, pages: Pages) -> APIRouter:
    r = APIRouter()
    # the area's permission (evaluated here: this module has no postponed annotations)
    Allowed = Annotated[User, Depends(require_settings(area.permission))]  # noqa: N806 - a type, per area
    tags: list[str | Any] = [area.title]

    def listed() -> list[dict[str, Any]]:
        return [c for c in cr.items(changes, "channels") if c.get("kind", "chat") == area.kind]

    def found(queue_id: str) -> dict[str, Any]:
        queue = next((c for c in listed() if c["id"] == queue_id), None)
        if queue is None:
            raise HTTPException(404, f"no {area.one} {queue_id!r}")
        return queue

    def not_another_kind(queue_id: str) -> None:
        """An id of another kind's queue is not this area's to replace."""
        other = next((c for c in cr.items(changes, "channels") if c["id"] == queue_id), None)
        if other is not None and other.get("kind", "chat") != area.kind:
            raise HTTPException(409, f'"{queue_id}" is already used by a queue of another kind')

    # ---------------------------------------------------------------- API
    @r.get(area.api, responses=errors(401, 403, 503), tags=tags, summary=f"{area.title}: their queues' settings")
    def list_queues(user: Allowed) -> list[dict[str, Any]]:
        return listed()

    @r.get(area.api + "/{queue_id}", responses=errors(401, 403, 404, 422, 503), tags=tags,
           summary=f"One {area.one}'s settings")
    def get_queue(queue_id: str, user: Allowed) -> dict[str, Any]:
        return found(queue_id)

    @r.put(area.api + "/{queue_id}", responses=errors(400, 401, 403, 409, 413, 422, 503), tags=tags,
           summary=f"Create or replace {area.a_one} (the TOML [[channels]] shape as JSON); 422 names each bad item")
    async def put_queue(queue_id: str, user: Allowed, body: Annotated[dict[str, Any], Body(examples=[
            _example(area)])]) -> Any:
        not_another_kind(queue_id)
        queue = {**body, "id": queue_id, "kind": area.kind}
        new_list, _ = cr.replaced(cr.items(changes, "channels"), queue_id, queue)
        return cr.api_save(changes, user, "channels", new_list, action=f"{area.one} saved",
                           target=f"{area.kind}:{queue_id}", result=lambda s: found(queue_id))

    @r.delete(area.api + "/{queue_id}", status_code=204, response_model=None,
              responses=errors(401, 403, 404, 422, 503), tags=tags,
              summary=f"Delete {area.a_one}")
    async def delete_queue(queue_id: str, user: Allowed) -> Any:
        found(queue_id)
        new_list, _ = cr.replaced(cr.items(changes, "channels"), queue_id, None)
        return cr.api_save(changes, user, "channels", new_list, action=f"{area.one} deleted",
                           target=f"{area.kind}:{queue_id}", result=lambda s: Response(status_code=204))

    # ---------------------------------------------------------------- pages
    def edit_page(request: Request, queue: dict[str, Any], *, new: bool, errors: dict[str, str] | None = None,
                  notice: str = "", status_code: int = 200, version: str | None = None) -> HTMLResponse:
        settings = cr.current(changes)
        if version is None:
            stored = next((c for c in listed() if c["id"] == queue.get("id")), None)
            version = cr.version(stored) if stored is not None and not new else ""
        idle = queue.get("idle_seconds", 180.0)
        choices: list[float | str] = [*IDLE_CHOICES, "never"]
        if idle not in choices:
            choices.insert(0, idle)
        return pages.render(request, "channel_queue.html", {
            "page": area.nav_key, "area": area, "queue": queue, "new": new, "errors": plain_errors(errors or {}),
            "notice": notice, "version": version, "agents": {a.id: a for a in settings.agents},
            "modes": MODES, "idle_choices": [(c, idle_label(c)) for c in choices], "capacity_max": CAPACITY_MAX,
            "text_max": CUSTOMER_TEXT_MAX, "security_modes": SECURITY, "message_max": MESSAGE_MAX,
            # where the service is reached from outside: the script tag and Telegram's webhook
            "base_url": str(request.base_url).rstrip("/"),
        }, status_code=status_code)

    @r.get(area.page, response_class=HTMLResponse, include_in_schema=False)
    def list_page(request: Request, user: Allowed) -> HTMLResponse:
        settings = cr.current(changes)
        return pages.render(request, "channel_queues.html", {
            "page": area.nav_key, "area": area, "queues": listed(), "agents": {a.id: a for a in settings.agents},
            "modes": MODES, "idle_label": idle_label, "capacity_max": CAPACITY_MAX})

    @r.get(area.page + "/new", response_class=HTMLResponse, include_in_schema=False)
    def new_page(request: Request, user: Allowed) -> HTMLResponse:
        return edit_page(request, {"id": "", "kind": area.kind, "members": []}, new=True)

    @r.get(area.page + "/{queue_id}", response_class=HTMLResponse, include_in_schema=False)
    def existing_page(request: Request, queue_id: str, user: Allowed) -> HTMLResponse:
        return edit_page(request, found(queue_id), new=False)

    @r.post(area.page + "/new", include_in_schema=False)
    async def create(request: Request, user: Allowed) -> Response:
        return await submitted(request, user, None)

    @r.post(area.page + "/{queue_id}", include_in_schema=False)
    async def save(request: Request, queue_id: str, user: Allowed) -> Response:
        return await submitted(request, user, found(queue_id))

    async def submitted(request: Request, user: User, existing: dict[str, Any] | None) -> Response:
        form = await read_form(request)
        queue = queue_from_form(area, form, existing)
        new = existing is None
        move, add = str(form.get("move", "")), str(form.get("add_member", ""))
        sent_version = str(form.get("version", ""))
        if move or form.get("action") == "add":
            if move:
                queue["members"] = moved(queue["members"], move)
            elif add and add not in queue["members"]:
                queue["members"].append(add)
            return edit_page(request, queue, new=new, notice="Not saved yet: press Save to keep the new order.",
                             version=sent_version if not new else "")
        if existing is not None and sent_version and sent_version != cr.version(existing):
            return edit_page(request, queue, new=False, status_code=409, errors={
                "": f"Someone else changed this {area.one} while you were editing it. Your version is shown; "
                    f"check it against the list and save again to replace theirs."})
        queue_id = queue["id"]
        current_list = cr.items(changes, "channels")
        if form.get("action") == "delete" and not new:
            new_list, index, action = cr.replaced(current_list, queue_id, None)[0], -1, f"{area.one} deleted"
        else:
            if new and any(c["id"] == queue_id for c in current_list):
                return edit_page(request, queue, new=True, status_code=422,
                                 errors={"id": f'"{queue_id}" is already used: choose another id.'})
            new_list, index = cr.replaced(current_list, queue_id, queue)
            action = f"{area.one} saved"
        try:
            cr.save(changes, user, "channels", new_list, action=action, target=f"{area.kind}:{queue_id}")
        except ConfigError as e:
            return edit_page(request, queue, new=new, errors=field_errors(e, "channels", index), status_code=422)
        deleted = action.endswith("deleted")
        return RedirectResponse(area.page if deleted else f"{area.page}/{queue_id}?saved=1", status_code=303)

    return r


def _example(area: Area) -> dict[str, Any]:
    if area.kind == "chat":
        return {"name": "Website chat", "members": ["anna", "ben", "chloe"], "mode": "evenly", "idle_seconds": 60,
                "capacity": 2, "check_availability": True, "check_client": True, "chat_tracking": True,
                "owner_first": True, "owner_follows_transfer": True, "working_hours": ["mon-fri 09:00-18:00"],
                "time_zone": "Europe/Berlin", "auto_reply": "We answer from 9:00 on weekdays.",
                "waiting_message": "An agent will answer shortly."}
    if area.kind == "email":
        return {"name": "Sales mailbox", "members": ["anna", "ben"], "owner_first": True,
                "imap": {"host": "imap.example.com", "port": 993, "ssl": True, "username": "sales@example.com",
                         "password_env": "ACD_SALES_MAIL_PASSWORD"}}
    return {"name": "Contact form", "members": ["anna", "ben"], "check_availability": True}
