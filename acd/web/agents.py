"""Agents (``agents`` permission): who they are on the phones. Pages and API.

Like groups, an agent is edited as a whole and the whole settings are validated;
settings the form does not show (an agent's work time, say) are kept as they were.

The same page holds one capacity across channels (``[capacity]``: the budget and what a
call, a chat, an e-mail and a form take from it, ``acd.core.capacity``), and each
agent's form their own budget; the API twin of the section is ``/api/capacity``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from ..config import ConfigError, Settings
from ..core.capacity import BUDGET_MAX
from ..core.conversation_model import CAPACITY_MAX
from ..settings_words import GENERIC
from . import config_routes as cr
from .limits import read_form
from .openapi import errors
from .pages import Pages
from .security import User, require
from .settings_changes import SettingsChanges, field_errors

ManageAgents = Annotated[User, Depends(require("agents"))]

FORM_FIELDS = ("name", "endpoint", "extension", "mobile", "mailbox")
WORK_LINES = ("hours", "breaks")

WEIGHTS = ("call", "chat", "email", "form")
ITEM_WORDS = {"call": "a call", "chat": "a chat", "email": "an e-mail", "form": "a form"}

# pydantic's generic messages, said the way a supervisor reads them
PLAIN = {
    "work.capacity": f"Give a whole number of conversations from 1 to {CAPACITY_MAX}, or leave it empty "
                     "for the queues' own limits.",
    "budget": f"Give a whole number from 1 to {BUDGET_MAX}, or leave it empty for everyone's capacity "
              "(One capacity across channels).",
    "capacity.budget": f"Give a whole number from 1 to {BUDGET_MAX}: what each agent can hold at once, in the "
                       "units the weights take.",
    **{f"capacity.{w}": f"Give a whole number from 0 to {BUDGET_MAX} (0: {ITEM_WORDS[w]} takes nothing "
                        "from the capacity)." for w in WEIGHTS},
}
NO_WEIGHTS = "an agent's budget needs a [capacity] section"  # acd.config's words for it


def plain(errors: dict[str, str]) -> dict[str, str]:
    out = {}
    for field, message in errors.items():
        if field in PLAIN and (GENERIC.match(message) or message.startswith(("Input should", "required but missing"))):
            message = PLAIN[field]
        elif field == "budget" and message.startswith(NO_WEIGHTS):
            message = ("Set the weights of each channel first (One capacity across channels, below): "
                       "an agent's own capacity is counted in them.")
        out[field] = message
    return out


def whole(text: str) -> Any:
    """A number field: an int when it is one, else as typed (the settings name it)."""
    return int(text) if text.isdigit() else text


def capacity_from_form(form: FormData) -> dict[str, Any] | None:
    """``[capacity]`` as the form describes it; None: each channel counts alone."""
    if form.get("capacity.enabled") not in ("on", "true", "1"):
        return None
    values = {key: str(form.get(f"capacity.{key}", "")).strip() for key in ("budget", *WEIGHTS)}
    return {key: whole(value) for key, value in values.items() if value}


def work_from_form(form: FormData, existing: dict[str, Any] | None) -> dict[str, Any] | None:
    """The agent's working time as the form describes it; None: not tracked."""
    if not form.get("work.tracked"):
        return None
    work = dict(existing or {})
    for key in WORK_LINES:
        work[key] = [line.strip() for line in str(form.get(f"work.{key}", "")).splitlines() if line.strip()]
    work["time_zone"] = str(form.get("work.time_zone", "")).strip() or "UTC"
    work["clock_in_required"] = form.get("work.clock_in_required") in ("on", "true", "1")
    capacity = str(form.get("work.capacity", "")).strip()
    if capacity:
        work["capacity"] = whole(capacity)
    else:
        work.pop("capacity", None)
    return work


def groups_of(settings: Settings) -> dict[str, list[str]]:
    """Agent id -> the ids of their queue groups, in one pass over the groups."""
    found: dict[str, dict[str, None]] = {}
    for group in settings.groups:
        for member in group.members:
            found.setdefault(member, {})[group.id] = None
    return {agent_id: list(ids) for agent_id, ids in found.items()}


def router(changes: SettingsChanges, pages: Pages) -> APIRouter:
    r = APIRouter()

    @r.get("/api/agents", responses=errors(401, 403, 503), tags=["agents"], summary="Agents as configured")
    def list_agents(user: ManageAgents) -> list[dict[str, Any]]:
        return cr.items(changes, "agents")

    @r.get("/api/agents/{agent_id}", responses=errors(401, 403, 404, 422, 503), tags=["agents"], summary="One agent")
    def get_agent(agent_id: str, user: ManageAgents) -> dict[str, Any]:
        return cr.find(changes, "agents", agent_id)

    @r.put("/api/agents/{agent_id}", responses=errors(400, 401, 403, 413, 422, 503),
           tags=["agents"], summary="Create or replace an agent; 422 names each bad item")
    async def put_agent(agent_id: str, user: ManageAgents, body: Annotated[dict[str, Any], Body(examples=[{
            "name": "Anna Berg", "endpoint": "PJSIP/101", "mobile": "+4915112345601"}])]) -> Any:
        new_list, _ = cr.replaced(cr.items(changes, "agents"), agent_id, cr.with_path_id(body, agent_id))
        return cr.api_save(changes, user, "agents", new_list, action="agent saved", target=f"agent:{agent_id}",
                           result=lambda s: cr.find(changes, "agents", agent_id))

    @r.delete("/api/agents/{agent_id}", responses=errors(401, 403, 404, 422, 503),
              status_code=204, response_model=None, tags=["agents"],
              summary="Delete an agent (refused while a group lists them)")
    async def delete_agent(agent_id: str, user: ManageAgents) -> Any:
        cr.find(changes, "agents", agent_id)
        new_list, _ = cr.replaced(cr.items(changes, "agents"), agent_id, None)
        return cr.api_save(changes, user, "agents", new_list, action="agent deleted", target=f"agent:{agent_id}",
                           result=lambda s: Response(status_code=204))

    @r.get("/api/agents/{agent_id}/work-time", responses=errors(401, 403, 404, 422, 503), tags=["agents"],
           summary="An agent's working time for chats, e-mails and forms (tracked: false when not tracked)")
    def get_work_time(agent_id: str, user: ManageAgents) -> dict[str, Any]:
        work = cr.find(changes, "agents", agent_id).get("work")
        return {"tracked": False} if work is None else {"tracked": True, **work}

    @r.put("/api/agents/{agent_id}/work-time", responses=errors(400, 401, 403, 404, 413, 422, 503), tags=["agents"],
           summary="Set an agent's working time ({\"tracked\": false} stops tracking it); 422 names each bad item")
    async def put_work_time(agent_id: str, user: ManageAgents, body: Annotated[dict[str, Any], Body(examples=[{
            "tracked": True, "time_zone": "Europe/Berlin", "hours": ["mon-fri 09:00-18:00"],
            "breaks": ["mon-fri 13:00-14:00"], "clock_in_required": True, "capacity": 3}])]) -> Any:
        agent = dict(cr.find(changes, "agents", agent_id))
        work = {k: v for k, v in body.items() if k != "tracked"}
        if body.get("tracked", True) is False:
            agent.pop("work", None)
        else:
            agent["work"] = work
        new_list, _ = cr.replaced(cr.items(changes, "agents"), agent_id, agent)
        return cr.api_save(changes, user, "agents", new_list, action="working time saved",
                           target=f"agent:{agent_id}", result=lambda s: get_work_time(agent_id, user))

    def capacity_now() -> dict[str, Any]:
        capacity = cr.current(changes).to_dict("capacity").get("capacity")
        return {"enabled": False} if capacity is None else {"enabled": True, **capacity}

    @r.get("/api/capacity", responses=errors(401, 403, 503), tags=["agents"],
           summary="One capacity across channels: the budget and each channel's weight (enabled: false when "
                   "each channel counts alone)")
    def get_capacity(user: ManageAgents) -> dict[str, Any]:
        return capacity_now()

    @r.put("/api/capacity", responses=errors(400, 401, 403, 413, 422, 503), tags=["agents"],
           summary="Set the budget and the weights ({\"enabled\": false}: each channel counts alone); 422 names "
                   "each bad item")
    async def put_capacity(user: ManageAgents, body: Annotated[dict[str, Any], Body(examples=[{
            "budget": 100, "call": 100, "chat": 34, "email": 10, "form": 5}])]) -> Any:
        value = None if body.get("enabled", True) is False else {k: v for k, v in body.items() if k != "enabled"}
        return cr.api_save(changes, user, "capacity", value, action="capacity saved", target="capacity",
                           result=lambda s: capacity_now())

    @r.post("/agents/capacity", include_in_schema=False)
    async def capacity_form(request: Request, user: ManageAgents) -> Response:
        form = await read_form(request)
        capacity = capacity_from_form(form)
        shown = {"enabled": capacity is not None, **(capacity or {})}
        own = [a.name for a in cr.current(changes).agents if a.budget is not None]
        if capacity is None and own:
            return page(request, capacity=shown, status_code=422, errors={"capacity": (
                f"{', '.join(own)} {'has' if len(own) == 1 else 'have'} a capacity of their own, counted in these "
                "weights: clear it on their form first.")})
        try:
            cr.save(changes, user, "capacity", capacity, action="capacity saved", target="capacity")
        except ConfigError as e:
            return page(request, capacity=shown, errors=plain(field_errors(e, "capacity")), status_code=422)
        return RedirectResponse("/agents?saved=1#capacity", status_code=303)

    def page(request: Request, agent: dict[str, Any] | None = None, *, new: bool = False,
             errors: dict[str, str] | None = None, status_code: int = 200,
             capacity: dict[str, Any] | None = None, pause_reasons: list[str] | None = None,
             pause_error: str = "") -> HTMLResponse:
        return pages.render(request, "agents.html", {
            "page": "agents", "agents": cr.items(changes, "agents"), "agent": agent, "new": new,
            "pause_reasons": cr.current(changes).pauses.reasons if pause_reasons is None else pause_reasons,
            "pause_error": pause_error,
            "groups_of": groups_of(cr.current(changes)),
            "capacity": capacity if capacity is not None else capacity_now(), "weights": ITEM_WORDS,
            "budget_max": BUDGET_MAX, "errors": errors or {}}, status_code=status_code)

    @r.get("/agents", response_class=HTMLResponse, include_in_schema=False)
    def agents_page(request: Request, user: ManageAgents, edit: str | None = None) -> HTMLResponse:
        if edit == "":
            return page(request, {"id": ""}, new=True)
        return page(request, cr.find(changes, "agents", edit) if edit else None)

    @r.post("/agents", include_in_schema=False)
    async def agents_form(request: Request, user: ManageAgents) -> Response:
        form = await read_form(request)
        agent_id = str(form.get("id", "")).strip()
        current_list = cr.items(changes, "agents")
        existing = next((a for a in current_list if a["id"] == agent_id), None)
        new = form.get("new") == "1"
        if form.get("action") == "delete" and existing is not None:
            new_list, index, action = cr.replaced(current_list, agent_id, None)[0], -1, "agent deleted"
            agent = existing
        else:
            if new and existing is not None:
                return page(request, {"id": agent_id}, new=True, errors={"id": f'"{agent_id}" is already used'},
                            status_code=422)
            agent = {**(existing or {}), "id": agent_id}
            for key in FORM_FIELDS:
                value = str(form.get(key, "")).strip()
                if value:
                    agent[key] = value
                else:
                    agent.pop(key, None)
            budget = str(form.get("budget", "")).strip()
            if budget:
                agent["budget"] = whole(budget)
            else:
                agent.pop("budget", None)  # everyone's budget
            if form.get("work.shown"):  # the working-time fields were on the form
                work = work_from_form(form, agent.get("work"))
                if work is None:
                    agent.pop("work", None)
                else:
                    agent["work"] = work
            new_list, index = cr.replaced(current_list, agent_id, agent)
            action = "agent saved"
        try:
            cr.save(changes, user, "agents", new_list, action=action, target=f"agent:{agent_id}")
        except ConfigError as e:
            return page(request, agent, new=new, errors=plain(field_errors(e, "agents", index)), status_code=422)
        return RedirectResponse("/agents?saved=1", status_code=303)

    @r.post("/agents/pauses", include_in_schema=False)
    async def pause_reasons_form(request: Request, user: ManageAgents) -> Response:
        """The pause reasons, one a line (``[pauses] reasons``; the API is ``/api/pauses``)."""
        form = await read_form(request)
        reasons = [line.strip() for line in str(form.get("reasons", "")).splitlines() if line.strip()]
        pauses = {**cr.current(changes).pauses.model_dump(mode="json"), "reasons": reasons}
        try:
            cr.save(changes, user, "pauses", pauses, action="pauses saved", target="pauses")
        except ConfigError as e:
            problem = "; ".join(field_errors(e, "pauses").values())
            return page(request, pause_reasons=reasons, pause_error=problem, status_code=422)
        return RedirectResponse("/agents?saved=1", status_code=303)

    return r
