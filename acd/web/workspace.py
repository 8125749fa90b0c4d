"""The agent workspace: one page where an agent works their chats, e-mails and forms.

``/workspace`` (the agent's landing page after sign-in) shows, live: conversations
offered to them with the time left before each passes to the next agent, their open
conversations with the client's whole thread across channels and a client card, the
e-mails and forms assigned to them, their work state in words with the clock-in,
clock-out and break buttons, and their latest calls and missed calls.

Twins: ``GET /api/workspace`` (the page's state as JSON) and ``GET
/api/workspace/stream`` (the same, sent again on every change: server-sent events).
Every action the page offers goes through ``/api/channels`` (``channels_api``): the
Desk decides, nothing here changes state.

Scope: an agent sees only their own workspace. A supervisor (``channels_api.supervises``)
may look at an agent's with ``?agent=<id>``: read only, the page shows no buttons.
Times are written in the agent's work time zone (UTC when they have none).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse

from ..channels.desk import Desk
from ..channels.threads import client_thread, last_work_step
from ..core.conversation_model import ChannelKind
from .app import WebContext
from .calls import Calls
from .channels_api import BREAK_REASON_MAX, OPEN_CHANNELS, TEXT_MAX, supervises
from .client_card import RECENT, client_card
from .live_feed import LiveFeed
from .openapi import errors, json_errors
from .pages import Pages, add_nav, duration
from .security import User, require

THREAD_LINES = 100  # the latest lines of a client's thread shown beside a conversation
BODY_SHOWN = 4000  # characters of an e-mail's body
RECENT_CALLS = 5

ChatUser = Annotated[User, Depends(require(OPEN_CHANNELS))]
AgentParam = Annotated[str | None, Query(max_length=64, description="a supervisor: whose workspace to look at")]


def install_workspace(app: FastAPI, desk: Desk) -> LiveFeed:
    """Add the workspace to ``create_app``'s app: its page and API, a "Workspace" link,
    and the page agents land on after signing in. Returns the feed that wakes it."""
    ctx: WebContext = app.state.ctx
    feed = LiveFeed()
    desk.listeners.append(feed)  # type: ignore[arg-type]  # chats, e-mails, forms, work states: any event wakes it
    ctx.distributor.listeners.append(feed)  # calls
    workspace = app.state.workspace = Workspace(desk, ctx)
    app.include_router(workspace_router(workspace, feed, app.state.pages))
    add_nav(app, "workspace", "Workspace", "/workspace", OPEN_CHANNELS, before="history")
    app.state.agent_home = "/workspace"
    return feed


class Workspace:
    """Builds an agent's workspace state from the desk, the histories and the CRM."""

    def __init__(self, desk: Desk, ctx: WebContext) -> None:
        self.desk = desk
        self.ctx = ctx
        self.calls = Calls(ctx.store, ctx.groups_of) if ctx.store is not None else None

    def whose(self, user: User, asked: str | None) -> tuple[str, bool]:
        """(the agent whose workspace this is, read only?). 403 for an agent asking
        for a colleague's, 404 for an unknown agent, 422 when nobody is named."""
        if asked and asked != user.agent_id:
            if not supervises(user):
                raise HTTPException(403, "agents see only their own workspace")
            agent_id, read_only = asked, True
        elif user.agent_id:
            agent_id, read_only = user.agent_id, False
        else:
            raise HTTPException(422, [{"item": "agent", "problem": "name the agent whose workspace to show "
                                                                   "(your account is not an agent's)"}])
        if agent_id not in self.desk.config.agents:
            raise HTTPException(404, f"no agent {agent_id!r}")
        return agent_id, read_only

    def names(self) -> dict[str, str]:
        agents = self.ctx.settings().agents if self.ctx.settings is not None else ()
        return {a.id: a.name for a in agents}

    def time_zone(self, agent_id: str) -> str:
        settings = self.desk.config.agents.get(agent_id)
        schedule = settings.schedule if settings is not None else None
        return schedule.time_zone if schedule is not None else "UTC"

    async def state(self, agent_id: str, read_only: bool) -> dict[str, Any]:
        desk = self.desk
        now = desk.clock.now()
        mine = desk.router.availability.agent(agent_id)
        conversations = [c for c in (desk.conversation(cid) for cid in (*mine.offered, *mine.active)) if c]
        work = desk.work_state(agent_id)
        await desk.flush()  # what the desk knows is in the tables read below
        reads = await asyncio.to_thread(self._read, agent_id, conversations)
        zone = ZoneInfo(self.time_zone(agent_id))
        names = self.names()
        queues = desk.config.queues

        def conversation(c: dict[str, Any]) -> dict[str, Any]:
            offer = c["agent"] != agent_id
            left = None if c["idle_deadline"] is None or not offer else max(0.0, c["idle_deadline"] - now)
            return {"id": c["id"], "queue": c["queue"], "queue_name": _queue_name(queues, c["queue"]),
                    "client": c["client"], "offer": offer, "answered": c["answered"],
                    "arrived": local_time(c["arrived_at"], zone, now),
                    "time_left_s": left, "time_left": duration(left) if left is not None else "",
                    "thread": [_line(e, zone, now, names, queues) for e in reads["threads"][c["id"]]],
                    "card": _card(reads["cards"][c["client"]], zone, now, names, queues, but=c["id"])}

        items = [{"id": i["id"], "kind": i["kind"], "kind_name": "E-mail" if i["kind"] == "email" else "Form",
                  "queue": i["queue"], "queue_name": _queue_name(queues, i["queue"]), "client": i["client"],
                  "received": local_time(i["created_at"], zone, now),
                  "subject": str(i["detail"].get("subject", "")),
                  "body": str(i["detail"].get("body", ""))[:BODY_SHOWN],
                  "fields": [[str(k), str(v)] for k, v in dict(i["detail"].get("fields", {})).items()],
                  "card": _card(reads["cards"][i["client"]], zone, now, names, queues, but=i["id"])}
                 for i in reads["items"]]
        colleagues = [{"id": a, "name": names.get(a, a), "state": state_words(desk.work_state(a), None, zone, now)}
                      for a in desk.config.agents if a != agent_id]
        return {
            "agent": {"id": agent_id, "name": names.get(agent_id, agent_id), "time_zone": str(zone)},
            "read_only": read_only,
            "now": now,
            "work": {**work, "words": state_words(work, reads["step"], zone, now)},
            "offers": [conversation(c) for c in conversations if c["agent"] != agent_id],
            "conversations": [conversation(c) for c in conversations if c["agent"] == agent_id],
            "items": items,
            "colleagues": colleagues,
            "queues": [{"id": q.id, "name": q.name or q.id} for q in queues.values() if q.kind is ChannelKind.CHAT],
            "calls": [_call(c, zone, now, names) for c in reads["calls"]],
            "missed": [_call(c, zone, now, names) for c in reads["missed"]],
            "links": {"history": f"/history?agent={agent_id}", "missed": "/missed"},
            "limits": {"reply": TEXT_MAX, "break_reason": BREAK_REASON_MAX},
        }

    def _read(self, agent_id: str, conversations: list[dict[str, Any]]) -> dict[str, Any]:
        """Everything the state needs from the database, in one worker thread."""
        desk, ctx = self.desk, self.ctx
        items = desk.history.open_items(agent_id)
        crm_engine = getattr(ctx.crm, "engine", None)
        calls_engine = getattr(ctx.store, "engine", None)
        region = getattr(ctx.crm, "region", desk.region)
        cards = {client: client_card(client, crm=crm_engine, calls=calls_engine, channels=desk.history.engine,
                                     region=region)
                 for client in {c["client"] for c in conversations} | {i["client"] for i in items}}
        threads = {c["id"]: client_thread(desk.history.engine, cards[c["client"]]["addresses"], THREAD_LINES)
                   for c in conversations}
        calls, missed = [], []
        if self.calls is not None:
            calls = self.calls.store.calls(agent=agent_id, limit=RECENT_CALLS)
            as_agent = User(0, agent_id, "agent", frozenset(), agent_id)  # what the agent would see
            missed = self.calls.missed(as_agent, since=None, until=None, group=None, called_back=False,
                                       limit=RECENT_CALLS, offset=0)
        return {"items": items, "cards": cards, "threads": threads, "step": last_work_step(desk.history.engine,
                                                                                             agent_id),
                "calls": calls, "missed": missed}


async def _whose(request: Request, user: ChatUser, agent: AgentParam = None) -> tuple[str, bool]:
    """Whose workspace a request asks for, checked before any answer starts (a stream's
    status is sent with its first event)."""
    workspace: Workspace = request.app.state.workspace
    return workspace.whose(user, agent)


Whose = Annotated[tuple[str, bool], Depends(_whose)]


def workspace_router(workspace: Workspace, feed: LiveFeed, pages: Pages) -> APIRouter:
    r = APIRouter()

    @r.get("/workspace", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request, user: ChatUser, agent: AgentParam = None) -> HTMLResponse:
        if not agent and not user.agent_id:  # a supervisor who is no agent: whose workspace?
            names = workspace.names()
            choose = [(a, names.get(a, a)) for a in workspace.desk.config.agents]
            return pages.render(request, "workspace.html", {"page": "workspace", "agent": "", "choose": choose})
        agent_id, read_only = workspace.whose(user, agent)
        reasons = workspace.ctx.distributor.router.config.pause_reasons  # suggested for a break ([pauses])
        return pages.render(request, "workspace.html", {"page": "workspace", "agent": agent_id if read_only else "",
                                                        "choose": [], "pause_reasons": reasons})

    @r.get("/api/workspace", tags=["workspace"], responses=errors(401, 403, 404, 422),
           summary="The signed-in agent's workspace: offers, conversations, e-mails and forms, work state, calls")
    async def state(whose: Whose) -> dict[str, Any]:
        return await workspace.state(*whose)

    @r.get("/api/workspace/stream", tags=["workspace"], response_class=EventSourceResponse,
           responses=json_errors(401, 403, 404, 422),
           summary="The workspace, sent again on every change (server-sent events)")
    async def stream(whose: Whose):  # type: ignore[no-untyped-def]
        async for _ in feed.changes():
            yield await workspace.state(*whose)

    return r


# ---------------------------------------------------------------------- words
STATE_WORDS = {"not clocked in": "clocked out", "on a break": "on a break",
               "on a scheduled break": "on a scheduled break", "outside working hours": "outside working hours"}


def state_words(work: dict[str, Any], step: dict[str, Any] | None, zone: ZoneInfo, now: float) -> str:
    """An agent's work state as people say it: "working", "on a break: lunch since
    12:03", "clocked out since 17:30", "offline"."""
    if not work["online"]:
        return "offline"
    if not work["tracked"]:  # no work schedule: clocking in and out changes nothing
        return "working (no work schedule: always available)"
    if work["working"]:
        words = "working"
    else:
        words = STATE_WORDS.get(work["reason"], work["reason"])
    if step is None:
        return words
    since = f" since {local_time(step['at'], zone, now)}"
    if work["on_break"] and step["kind"] == "break_started":
        return f"on a break: {step['reason']}{since}" if step["reason"] else f"on a break{since}"
    if work["working"] and step["kind"] in ("clocked_in", "break_ended"):
        return words + since
    if work["reason"] == "not clocked in" and step["kind"] == "clocked_out":
        return words + since
    return words


def local_time(epoch: float, zone: ZoneInfo, now: float) -> str:
    """"12:03" today (in the agent's zone), "28 Nov 12:03" another day."""
    moment, today = datetime.fromtimestamp(epoch, zone), datetime.fromtimestamp(now, zone)
    if moment.date() == today.date():
        return moment.strftime("%H:%M")
    if moment.year == today.year:
        return moment.strftime("%d %b %H:%M")
    return moment.strftime("%d %b %Y %H:%M")


def _queue_name(queues: Any, queue_id: str) -> str:
    queue = queues.get(queue_id)
    return str(queue.name or queue_id) if queue is not None else queue_id


CHANNEL_NAMES = {"chat": "chat", "email": "e-mail", "form": "form"}
OUTCOME_WORDS = {"answered": "answered", "missed": "missed", "abandoned": "caller hung up", "voicemail": "voicemail",
                 "forwarded": "forwarded", "hangup": "hung up", "transferred": "transferred", "ended": "ended"}


def _line(entry: dict[str, Any], zone: ZoneInfo, now: float, names: dict[str, str], queues: Any) -> dict[str, Any]:
    agent = entry.get("agent")
    return {**entry, "time": local_time(entry["at"], zone, now),
            "who": names.get(agent, agent) if entry["sender"] == "agent" and agent else "Client",
            "channel_name": CHANNEL_NAMES.get(entry["channel"], entry["channel"]),
            "queue_name": _queue_name(queues, entry["queue"])}


def _card(card: dict[str, Any], zone: ZoneInfo, now: float, names: dict[str, str], queues: Any,
          but: str) -> dict[str, Any]:
    """The card in words, without the conversation or item it is shown beside (``but``)."""
    owner = card["owner"]
    return {"client": card["client"], "known": card["known"], "name": card["name"],
            "kind": {"lead": "Lead", "contact": "Contact"}.get(card["kind"] or "", ""),
            "owner": names.get(owner, owner) if owner else "",
            "identities": [i["value"] for i in card["identities"]],
            "calls": [{"time": local_time(c["at"], zone, now),
                       "outcome": OUTCOME_WORDS.get(c["outcome"] or "", "in progress"),
                       "agent": names.get(c["agent"], c["agent"]) if c["agent"] else ""} for c in card["calls"]],
            "chats": [{"time": local_time(c["at"], zone, now),
                       "channel": CHANNEL_NAMES.get(c["channel"], c["channel"]),
                       "queue": _queue_name(queues, c["queue"]), "status": c["status"],
                       "agent": names.get(c["agent"], c["agent"]) if c["agent"] else ""}
                      for c in card["chats"] if c["id"] != but][:RECENT]}


def _call(call: Any, zone: ZoneInfo, now: float, names: dict[str, str]) -> dict[str, Any]:
    caller = f"{call.caller_name} ({call.caller_number})" if call.caller_name else call.caller_number
    return {"call_id": call.call_id, "caller": caller, "time": local_time(call.arrived_at, zone, now),
            "outcome": OUTCOME_WORDS.get(call.outcome or "", "in progress"),
            "waited": duration(call.waited_s) if call.waited_s is not None else "", "href": f"/calls/{call.call_id}"}
