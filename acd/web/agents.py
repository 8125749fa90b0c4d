"""Agents (``agents`` permission): who they are on the phones. Pages and API.

Like groups, an agent is edited as a whole and the whole settings are validated;
settings the form does not show (an agent's work time, say) are kept as they were.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from ..config import ConfigError
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

# pydantic's generic messages, said the way a supervisor reads them
PLAIN = {"work.capacity": f"Give a whole number of conversations from 1 to {CAPACITY_MAX}, or leave it empty "
                          "for the queues' own limits."}


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
        work["capacity"] = int(capacity) if capacity.isdigit() else capacity
    else:
        work.pop("capacity", None)
    return work


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

    def page(request: Request, agent: dict[str, Any] | None = None, *, new: bool = False,
             errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
        return pages.render(request, "agents.html", {
            "page": "agents", "agents": cr.items(changes, "agents"), "agent": agent, "new": new,
            "groups_of": {a["id"]: [g["id"] for g in cr.items(changes, "groups") if a["id"] in g["members"]]
                          for a in cr.items(changes, "agents")},
            "errors": errors or {}}, status_code=status_code)

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
            errors = {k: PLAIN[k] if k in PLAIN and GENERIC.match(v) else v
                      for k, v in field_errors(e, "agents", index).items()}
            return page(request, agent, new=new, errors=errors, status_code=422)
        return RedirectResponse("/agents?saved=1", status_code=303)

    return r
