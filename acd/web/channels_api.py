"""REST API of the other channels: chats, e-mails, CRM forms, agents' work time.

``channels_router(desk)`` returns an ``APIRouter`` for ``create_app(ctx, routers=[...])``.
Everything is under ``/api/channels``:

inbound (integrations, with an API token user holding the channel's permission)
  POST /inbound/chat     {queue, client, text}            -> conversation id
  POST /inbound/email    {queue, message_id, sender, subject, body}
  POST /inbound/form     {form, fields, submission_id?}
conversations ("open_channels")
  POST /conversations/{id}/accept | answer {text} | reject | close | transfer {to_agent | to_queue}
  GET  /conversations/{id}           GET /conversations/{id}/timeline (also e-mails, forms)
  POST /items/{id}/close             an e-mail or form submission is done
  POST /items/{id}/reply {text}      answer an e-mail (sent from the mailbox over SMTP)
agents ("open_channels")
  POST /agents/{id}/clock-in | clock-out | break/start {reason?} | break/end | breaks {starts_at, ends_at} | presence
  GET  /agents/{id}/work-state       GET /agents/{id}/queue        GET /agents/{id}/timeline
queues and supervisors
  GET  /queues/{id}/waiting          GET /alerts

Who may do what (``acd.web.security``): the permission of the channel
(``open_channels``, ``email``, ``crm_forms``). Admins and supervisors act for any
agent (naming ``agent_id``); a user of role ``agent`` acts only as their own agent
(``user.agent_id``), on conversations offered to or held by them and on their own
work time, unless they were also given the ``agents`` permission.

Bad input gets a 4xx and changes nothing: the body is read with a size limit (413
past ``MAX_BODY``), validated (422), then the desk checks queue, agent and state
(404; 403 for someone else's conversation, e-mail or form, with a sentence saying
whose it is; 409 when its state does not allow the step) before it feeds the router.

A 2xx to a change means it is committed, with the CRM changes (lead, owner, outbox
jobs) it caused, in one transaction (``Desk.commit``); 503 when the database did not
take it (the desk keeps it and writes it again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..channels.desk import Desk, DeskError, NotYours
from .limits import MAX_BODY, Limit, read_bounded
from .openapi import errors, problems_of
from .security import User, require

TEXT_MAX = 64 * 1024  # characters of one chat message
BREAK_REASON_MAX = 100  # characters of a break's reason ("lunch")

OPEN_CHANNELS, EMAIL, CRM_FORMS, SUPERVISE = "open_channels", "email", "crm_forms", "agents"

M = TypeVar("M", bound=BaseModel)

# module level: the endpoints' annotations are strings resolved against this module
ChatUser = Annotated[User, Depends(require(OPEN_CHANNELS))]
EmailUser = Annotated[User, Depends(require(EMAIL))]
FormUser = Annotated[User, Depends(require(CRM_FORMS))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ChatIn(_Body):
    queue: str = Field(min_length=1, max_length=64)
    client: str = Field(min_length=1, max_length=320, description='e.g. "telegram:123456789"')
    text: str = Field(default="", max_length=TEXT_MAX)


class EmailIn(_Body):
    queue: str = Field(min_length=1, max_length=64)
    message_id: str = Field(min_length=1, max_length=240)
    sender: str = Field(min_length=3, max_length=320)
    subject: str = Field(default="", max_length=998)
    body: str = Field(default="", max_length=MAX_BODY)
    references: str = Field(default="", max_length=4000, description="the thread's Message-IDs, for replies")


class FormIn(_Body):
    form: str = Field(min_length=1, max_length=64, description="the form's channel queue id")
    fields: dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=TEXT_MAX)]] = Field(
        max_length=200)
    submission_id: str | None = Field(default=None, max_length=128)


AgentId = Annotated[str, Field(max_length=64)]  # the configuration's ids


class ActAs(_Body):
    agent_id: AgentId | None = None  # supervisors act for this agent; agents act for themselves


class AnswerIn(ActAs):
    text: str = Field(min_length=1, max_length=TEXT_MAX)


class TransferIn(_Body):
    to_agent: AgentId | None = None
    to_queue: AgentId | None = None


# epoch seconds, 1970..2100: NaN, infinities and times no clock reaches are refused
EpochSeconds = Annotated[float, Field(ge=0, le=4_102_444_800, allow_inf_nan=False)]


class BreakStartIn(_Body):
    reason: str = Field(default="", max_length=BREAK_REASON_MAX, description='e.g. "lunch"')


class BreakIn(_Body):
    starts_at: EpochSeconds
    ends_at: EpochSeconds


class PresenceIn(_Body):
    online: bool


def supervises(user: User) -> bool:
    """Admins and supervisors act for anyone; so does an agent given "agents"."""
    return user.role in ("admin", "supervisor") or user.can(SUPERVISE)


def body_too_large() -> HTTPException:
    return HTTPException(413, f"the body is larger than {MAX_BODY} bytes")


async def _read(request: Request, model: type[M]) -> M:
    """The JSON body as ``model``: 413 past MAX_BODY (read no further: this router may
    serve in an app without ``BodyLimit``), 422 when malformed."""
    return parsed(await read_bounded(request, MAX_BODY, body_too_large), model)


def parsed(raw: bytes, model: type[M]) -> M:
    """A JSON body as ``model``; 422 when malformed. orjson: strict JSON (no NaN, no
    lone surrogates, which no field takes), several times faster than the json module."""
    try:
        return model.model_validate(orjson.loads(raw or b"{}"))
    except ValidationError as e:
        raise HTTPException(422, problems_of(e.errors(include_url=False, include_input=False))) from None
    except ValueError:  # orjson.JSONDecodeError, invalid UTF-8 included
        raise HTTPException(422, [{"item": "body", "problem": "not a JSON body"}]) from None


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": model.model_json_schema()}}}}


def refused(e: DeskError) -> HTTPException:
    """The desk's refusal as the API answers it: a 422 names its item, as every 422 of
    the API does (acd.web.openapi)."""
    return HTTPException(e.status, [{"item": "body", "problem": str(e)}] if e.status == 422 else str(e))


async def take_chat(desk: Desk, body: ChatIn) -> dict[str, Any]:
    """A client's chat message from an integration (the user is checked already): the
    answer once it is committed. The route below and ``acd.web.inbound_chats`` share it."""
    try:
        cid, new = await desk.chat_message(body.queue, body.client, body.text)
    except DeskError as e:
        raise refused(e) from None
    return {"conversation_id": cid, "new": new}


def channels_router(desk: Desk, agent_work: Any = None) -> APIRouter:
    """``agent_work``: several nodes (acd.ha.agent_work): on a standby, agents' work
    changes are made on the active node's desk."""
    api = APIRouter(prefix="/api/channels", tags=["channels"])

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DeskError as e:
            raise refused(e) from None

    async def run_async(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except DeskError as e:
            raise refused(e) from None

    async def change(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A change by the desk, answered once it is committed."""
        result = run(fn, *args, **kwargs)
        await run_async(desk.commit)
        return result

    async def agent_change(fn: Callable[..., Any], agent_id: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """An agent's work change, made where the calls and chats are given out; their
        work state after it."""
        if agent_work is not None and not agent_work.here():
            state: dict[str, Any] = await run_async(agent_work.on_active, fn.__name__, agent_id, *args, **kwargs)
            return state
        await change(fn, agent_id, *args, **kwargs)
        return desk.work_state(agent_id)

    def acting_agent(user: User, asked: str | None) -> str:
        """The agent a request acts for: the user themself, or anyone for a supervisor."""
        if asked and asked != user.agent_id and not supervises(user):
            raise HTTPException(403, "agents act only for themselves")
        agent_id = asked or user.agent_id
        if not agent_id:
            raise HTTPException(422, [{"item": "agent_id", "problem": "required (this user is not an agent)"}])
        return agent_id

    def own_conversation(user: User, cid: str, *, change: bool = True) -> None:
        if desk.router.conversations.get(cid) is None:
            raise HTTPException(404, f"no open conversation {cid!r}")
        if not supervises(user) and user.agent_id not in desk.holders(cid):
            raise HTTPException(403, str(NotYours(desk.whose(cid, user.agent_id))) if change
                                else "not your conversation")

    def for_agent(user: User, agent_id: str) -> None:
        if agent_id != user.agent_id and not supervises(user):
            raise HTTPException(403, "agents see and change only their own work time and queue")

    # ---------------------------------------------------------------- inbound
    @api.post("/inbound/chat", responses=errors(401, 403, 404, 409, 413, 422),
              status_code=202, openapi_extra=_schema(ChatIn),
              summary="A client's message in an open channel (opens a conversation when none is open)")
    async def inbound_chat(request: Request, user: ChatUser) -> dict[str, Any]:
        return await take_chat(desk, await _read(request, ChatIn))

    @api.post("/inbound/email", responses=errors(401, 403, 404, 409, 413, 422),
              status_code=202, openapi_extra=_schema(EmailIn),
              summary="An e-mail for a mailbox queue (the same Message-ID is taken once)")
    async def inbound_email(request: Request, user: EmailUser) -> dict[str, Any]:
        body = await _read(request, EmailIn)
        item_id, duplicate = await run_async(desk.email_received, body.queue, body.message_id, body.sender,
                                             body.subject, body.body, body.references)
        return {"item_id": item_id, "duplicate": duplicate}

    @api.post("/inbound/form", responses=errors(401, 403, 404, 409, 413, 422),
              status_code=202, openapi_extra=_schema(FormIn),
              summary="A CRM web form submission")
    async def inbound_form(request: Request, user: FormUser) -> dict[str, Any]:
        body = await _read(request, FormIn)
        item_id, duplicate = await run_async(desk.form_submitted, body.form, body.fields, body.submission_id)
        return {"item_id": item_id, "duplicate": duplicate}

    # ---------------------------------------------------------------- conversations
    @api.post("/conversations/{cid}/accept", responses=errors(401, 403, 404, 409, 413, 422),
              openapi_extra=_schema(ActAs))
    async def accept(cid: str, request: Request, user: ChatUser) -> dict[str, Any]:
        agent_id = acting_agent(user, (await _read(request, ActAs)).agent_id)
        await change(desk.accept, cid, agent_id)
        return {"conversation": desk.conversation(cid)}

    @api.post("/conversations/{cid}/answer", responses=errors(401, 403, 404, 409, 413, 422),
              openapi_extra=_schema(AnswerIn))
    async def answer(cid: str, request: Request, user: ChatUser) -> dict[str, Any]:
        body = await _read(request, AnswerIn)
        if not supervises(user):
            own_conversation(user, cid)  # an agent writes only in a chat offered to or held by them
        await change(desk.answer, cid, acting_agent(user, body.agent_id), body.text)
        return {"conversation": desk.conversation(cid)}

    @api.post("/conversations/{cid}/reject", responses=errors(401, 403, 404, 409, 413, 422),
              openapi_extra=_schema(ActAs))
    async def reject(cid: str, request: Request, user: ChatUser) -> dict[str, Any]:
        agent_id = acting_agent(user, (await _read(request, ActAs)).agent_id)
        await change(desk.reject, cid, agent_id)
        return {"conversation": desk.conversation(cid)}

    @api.post("/conversations/{cid}/close", responses=errors(401, 403, 404, 409))
    async def close(cid: str, user: ChatUser) -> dict[str, Any]:
        own_conversation(user, cid)
        by = "agent" if user.agent_id in desk.holders(cid) else "supervisor"
        await change(desk.close_conversation, cid, by)
        return {"closed": cid}

    @api.post("/conversations/{cid}/transfer", responses=errors(401, 403, 404, 409, 413, 422),
              openapi_extra=_schema(TransferIn))
    async def transfer(cid: str, request: Request, user: ChatUser) -> dict[str, Any]:
        body = await _read(request, TransferIn)
        own_conversation(user, cid)
        await change(desk.transfer, cid, user.agent_id or user.username, body.to_agent, body.to_queue)
        return {"conversation": desk.conversation(cid)}

    @api.get("/conversations/{cid}", responses=errors(401, 403, 404))
    async def conversation(cid: str, user: ChatUser) -> dict[str, Any]:
        own_conversation(user, cid, change=False)
        return desk.conversation(cid) or {}

    @api.get("/conversations/{item_id:path}/timeline", responses=errors(401, 403, 404),
             summary="Every step of a conversation, e-mail or form")
    async def timeline(item_id: str, user: ChatUser) -> dict[str, Any]:
        if not supervises(user) and user.agent_id not in desk.holders(item_id):
            item = await desk.item(item_id)
            if item is None or item["agent"] != user.agent_id:
                raise HTTPException(403, "not your conversation")
        lines = await desk.timeline(item_id)
        if not lines:
            raise HTTPException(404, f"no conversation or item {item_id!r}")
        return {"id": item_id, "item": await desk.item(item_id), "timeline": lines}

    @api.post("/items/{item_id:path}/reply", responses=errors(401, 403, 404, 409, 413, 422),
              openapi_extra=_schema(AnswerIn),
              summary="Answer a customer's e-mail: sent from the mailbox over SMTP, in the thread")
    async def reply_email(item_id: str, request: Request, user: ChatUser) -> dict[str, Any]:
        body = await _read(request, AnswerIn)
        agent_id = None if supervises(user) else acting_agent(user, body.agent_id)
        message_id = await run_async(desk.reply_email, item_id, body.text, agent_id)
        return {"item_id": item_id, "message_id": message_id}

    @api.post("/items/{item_id:path}/close", responses=errors(401, 403, 404, 409),
              summary="Mark an e-mail or form submission done")
    async def close_item(item_id: str, user: ChatUser) -> dict[str, Any]:
        await run_async(desk.close_item, item_id, user.username, None if supervises(user) else user.agent_id)
        return {"closed": item_id}

    # ---------------------------------------------------------------- agents
    def agent_step(path: str, step: Callable[..., None], summary: str) -> None:
        @api.post(f"/agents/{{agent_id}}/{path}", responses=errors(401, 403, 404, 409, 422),
                  summary=summary, name=f"agent_{path}")
        async def act(agent_id: str, user: ChatUser) -> dict[str, Any]:
            for_agent(user, agent_id)
            return await agent_change(step, agent_id, by=user.username)

    agent_step("clock-in", desk.clock_in, "Clock in: work from now (within the working hours)")
    agent_step("clock-out", desk.clock_out, "Clock out: pending offers go to colleagues")

    @api.post("/agents/{agent_id}/break/start", responses=errors(401, 403, 404, 409, 413, 422),
              openapi_extra=_schema(BreakStartIn),
              summary="Start a break, with its reason (optional body {reason})")
    async def start_break(agent_id: str, request: Request, user: ChatUser) -> dict[str, Any]:
        body = await _read(request, BreakStartIn)
        for_agent(user, agent_id)
        return await agent_change(desk.start_break, agent_id, by=user.username, reason=body.reason)

    agent_step("break/end", desk.end_break, "End a break: waiting conversations come at once")

    @api.post("/agents/{agent_id}/breaks", responses=errors(401, 403, 404, 409, 413, 422),
              openapi_extra=_schema(BreakIn), summary="Schedule a one-off break")
    async def schedule_break(agent_id: str, request: Request, user: ChatUser) -> dict[str, Any]:
        body = await _read(request, BreakIn)
        for_agent(user, agent_id)
        return await agent_change(desk.schedule_break, agent_id, body.starts_at, body.ends_at, by=user.username)

    @api.post("/agents/{agent_id}/presence", responses=errors(401, 403, 404, 409, 413, 422),
              openapi_extra=_schema(PresenceIn))
    async def presence(agent_id: str, request: Request, user: ChatUser) -> dict[str, Any]:
        body = await _read(request, PresenceIn)
        for_agent(user, agent_id)
        return await agent_change(desk.set_presence, agent_id, body.online, by=user.username)

    @api.get("/agents/{agent_id}/work-state", responses=errors(401, 403, 404))
    async def work_state(agent_id: str, user: ChatUser) -> dict[str, Any]:
        for_agent(user, agent_id)
        return dict(run(desk.work_state, agent_id))

    @api.get("/agents/{agent_id}/queue", responses=errors(401, 403, 404),
             summary="The agent's open conversations, e-mails and forms")
    async def agent_queue(agent_id: str, user: ChatUser) -> dict[str, Any]:
        for_agent(user, agent_id)
        return dict(await run_async(desk.agent_queue, agent_id))

    @api.get("/agents/{agent_id}/timeline", responses=errors(401, 403, 404),
             summary="Clock-ins, breaks and work-state changes")
    async def agent_timeline(agent_id: str, user: ChatUser) -> dict[str, Any]:
        for_agent(user, agent_id)
        run(desk.work_state, agent_id)  # 404 for an unknown agent
        return {"agent": agent_id, "timeline": await desk.timeline(f"agent:{agent_id}")}

    # ---------------------------------------------------------------- queues and supervisors
    @api.get("/queues/{queue_id}/waiting", responses=errors(401, 403, 404),
             summary="The chat queue's waiting line, first in first")
    async def waiting(queue_id: str, user: ChatUser) -> dict[str, Any]:
        return {"queue": queue_id, "waiting": run(desk.waiting, queue_id)}

    @api.get("/alerts", responses=errors(401, 403, 422),
             summary="Supervisor alerts: queues where nobody can take waiting conversations")
    async def alerts(user: ChatUser, limit: Limit = 100) -> dict[str, Any]:
        if not supervises(user):
            raise HTTPException(403, "alerts are for supervisors")
        return {"alerts": list(desk.alerts)[-limit:][::-1]}

    return api
