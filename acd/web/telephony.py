"""Queue groups and numbers (``telephony`` permission): pages and API.

A group is edited as a whole: the page's form (or the API's JSON) replaces the group
in the settings' ``groups`` list, and the whole settings are validated before
anything applies. Members are reordered with Up/Down buttons: a small script moves
them in place (keyboard focus follows the moved member); without it the buttons
submit the form, which comes back reordered, to be saved.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from ..config import ConfigError
from ..core.announcements import Spoken
from ..core.model import MissedAction, Mode
from . import config_routes as cr
from .limits import read_form
from .openapi import errors
from .pages import Pages
from .security import User, require
from .settings_changes import SettingsChanges, field_errors
from .words import MODE_HINTS

Telephony = Annotated[User, Depends(require("telephony"))]

MISSED_FIELDS = ("action", "person", "number", "group", "max_wait_seconds", "after_wait", "retry_seconds",
                 "forward_ring_seconds", "message")
NUMBER_FIELDS = ("rings", "ring_seconds", "wrapup_seconds", "pause_after_missed", "auto_resume_minutes")
# which missed-call actions use each field: the form shows a field only for those
# (acd.core.missed_calls.plan reads them so)
MISSED_FIELD_ACTIONS = {
    "max_wait_seconds": ("keep_waiting",),
    "retry_seconds": ("keep_waiting",),
    "after_wait": ("keep_waiting",),
    "person": ("voicemail", "forward_mobile"),
    "number": ("forward_number",),
    "group": ("forward_group",),
    "forward_ring_seconds": ("forward_mobile", "forward_number"),
    "message": ("hangup",),
}
CALLBACK_FIELDS = ("digit", "offer_sound", "attempts", "spacing_seconds", "agent_ring_seconds", "customer_ring_seconds",
                   "ask_number", "number_tries", "number_pattern")
ANNOUNCE_FIELDS = ("say", "every_seconds", "message", "message_every_seconds")
SERVICE_LEVEL_FIELDS = ("answer_within_seconds", "goal_percent", "longest_wait_alert_seconds")
GROUPS_PER_PAGE = 500  # the list page: 40,000 groups in one page would be tens of megabytes
CRM_FIELDS = ("check_client", "owner_first", "owner_follows_transfer", "create_lead", "record_missed")


def _filled(form: FormData, held: dict[str, Any], fields: tuple[str, ...], prefix: str = "") -> dict[str, Any]:
    """``held`` with the form's values of ``fields`` (named ``prefix`` + field): a filled
    field sets its value, an empty one removes it (the default applies again)."""
    out = dict(held)
    for key in fields:
        value = str(form.get(prefix + key, "")).strip()
        if value:
            out[key] = value
        else:
            out.pop(key, None)
    return out


def _ticked(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def group_from_form(form: FormData, existing: dict[str, Any] | None) -> dict[str, Any]:
    """The group as the form describes it, over what the settings hold (keys the form
    does not show are kept)."""
    group = _filled(form, dict(existing or {}), NUMBER_FIELDS)
    group["id"] = str(form.get("id", "")).strip() if existing is None else existing["id"]
    group["name"] = str(form.get("name", "")).strip()
    group["members"] = [str(m) for m in form.getlist("members") if str(m)]
    group["mode"] = str(form.get("mode", "strict"))
    group["allow_pickup"] = _ticked(form, "allow_pickup")
    group["missed"] = _filled(form, group.get("missed", {}), MISSED_FIELDS, "missed.")
    if form.get("callback.shown"):  # the callback fieldset was on the form
        group["callback"] = {**_filled(form, group.get("callback", {}), CALLBACK_FIELDS, "callback."),
                             "enabled": _ticked(form, "callback.enabled")}
    for section, fields in (("announce", ANNOUNCE_FIELDS), ("service_level", SERVICE_LEVEL_FIELDS)):
        group[section] = _filled(form, group.get(section, {}), fields, f"{section}.")
    if form.get("crm.shown"):  # the CRM integration checkboxes were on the form (unticked ones are not sent)
        # over what the settings hold: the page does not show Bitrix24's transfer_updates
        group["crm"] = {**group.get("crm", {}), **{key: _ticked(form, f"crm.{key}") for key in CRM_FIELDS}}
    return group


def moved(members: list[str], move: str) -> list[str]:
    """Apply "up:2", "down:0" or "remove:1" to the member list (the no-script path)."""
    verb, _, index = move.partition(":")
    out = list(members)
    if not index.isdigit() or len(index) > 6 or int(index) >= len(out):  # no group has a million members
        return out
    i = int(index)
    if verb == "up" and i > 0:
        out[i - 1], out[i] = out[i], out[i - 1]
    elif verb == "down" and i < len(out) - 1:
        out[i + 1], out[i] = out[i], out[i + 1]
    elif verb == "remove":
        del out[i]
    return out


def router(changes: SettingsChanges, pages: Pages) -> APIRouter:
    r = APIRouter()

    # ---------------------------------------------------------------- groups: API
    @r.get("/api/groups", responses=errors(401, 403, 422, 503), tags=["telephony"],
           summary="Queue groups, members in order; offset and limit give one page of them (default: all)")
    def list_groups(user: Telephony, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> list[dict[str, Any]]:
        return cr.page_of(changes, "groups", offset, limit)[0]

    @r.get("/api/groups/{group_id}", responses=errors(401, 403, 404, 422, 503),
           tags=["telephony"], summary="One queue group")
    def get_group(group_id: str, user: Telephony) -> dict[str, Any]:
        return cr.find(changes, "groups", group_id)

    @r.put("/api/groups/{group_id}", responses=errors(400, 401, 403, 413, 422, 503), tags=["telephony"],
           summary="Create or replace a queue group (the TOML [[groups]] shape as JSON); 422 names each bad item")
    async def put_group(group_id: str, user: Telephony,
                        body: Annotated[dict[str, Any], Body(examples=[{
                            "name": "Sales", "members": ["anna", "ben"], "mode": "strict", "rings": 3,
                            "ring_seconds": 5, "allow_pickup": True, "missed": {"action": "voicemail"}}])]) -> Any:
        group = cr.with_path_id(body, group_id)
        new_list, _ = cr.replaced(cr.items(changes, "groups"), group_id, group)
        return cr.api_save(changes, user, "groups", new_list, action="group saved", target=f"group:{group_id}",
                           result=lambda s: cr.find(changes, "groups", group_id))

    @r.delete("/api/groups/{group_id}", responses=errors(401, 403, 404, 422, 503),
              status_code=204, response_model=None, tags=["telephony"],
              summary="Delete a queue group")
    async def delete_group(group_id: str, user: Telephony) -> Any:
        cr.find(changes, "groups", group_id)
        new_list, _ = cr.replaced(cr.items(changes, "groups"), group_id, None)
        return cr.api_save(changes, user, "groups", new_list, action="group deleted", target=f"group:{group_id}",
                           result=lambda s: Response(status_code=204))

    # ---------------------------------------------------------------- groups: pages
    def group_page(request: Request, group: dict[str, Any], *, new: bool, errors: dict[str, str] | None = None,
                   notice: str = "", status_code: int = 200, version: str | None = None) -> HTMLResponse:
        settings = cr.current(changes)
        if version is None:  # the group as stored, which this form edits
            stored = next((g for g in settings.groups if g.id == group.get("id")), None)
            version = cr.version(stored.model_dump(mode="json", exclude_none=True)) if stored and not new else ""
        return pages.render(request, "group.html", {
            "page": "groups", "group": group, "new": new, "errors": errors or {}, "notice": notice, "version": version,
            "agents": {a.id: a for a in settings.agents}, "groups": [(g.id, g.name) for g in settings.groups],
            "modes": [m.value for m in Mode], "actions": [a.value for a in MissedAction],
            "mode_hints": MODE_HINTS, "missed_fields": MISSED_FIELD_ACTIONS,
            "spoken": [s.value for s in Spoken],
        }, status_code=status_code)

    @r.get("/groups", response_class=HTMLResponse, include_in_schema=False)
    def groups_page(request: Request, user: Telephony,
                    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> HTMLResponse:
        settings = cr.current(changes)
        first = (page - 1) * GROUPS_PER_PAGE
        shown, total = cr.page_of(changes, "groups", first, GROUPS_PER_PAGE)
        return pages.render(request, "groups.html", {"page": "groups", "groups": shown,
                                                     "page_no": page, "first": first + 1, "total": total,
                                                     "more": first + len(shown) < total,
                                                     "agents": {a.id: a for a in settings.agents},
                                                     "group_names": {g.id: g.name for g in settings.groups}})

    @r.get("/groups/new", response_class=HTMLResponse, include_in_schema=False)
    def new_group_page(request: Request, user: Telephony) -> HTMLResponse:
        return group_page(request, {"id": "", "members": [], "mode": "strict", "missed": {}}, new=True)

    @r.get("/groups/{group_id}", response_class=HTMLResponse, include_in_schema=False)
    def edit_group_page(request: Request, group_id: str, user: Telephony) -> HTMLResponse:
        return group_page(request, cr.find(changes, "groups", group_id), new=False)

    @r.post("/groups/new", include_in_schema=False)
    async def create_group(request: Request, user: Telephony) -> Response:
        return await group_form(request, user, None)

    @r.post("/groups/{group_id}", include_in_schema=False)
    async def save_group(request: Request, group_id: str, user: Telephony) -> Response:
        return await group_form(request, user, cr.find(changes, "groups", group_id))

    async def group_form(request: Request, user: User, existing: dict[str, Any] | None) -> Response:
        form = await read_form(request)
        group = group_from_form(form, existing)
        new = existing is None
        move, add = str(form.get("move", "")), str(form.get("add_member", ""))
        sent_version = str(form.get("version", ""))
        if form.get("action") == "show":  # no script: the fields of the missed-call action just chosen
            return group_page(request, group, new=new, notice="Not saved yet: fill in the settings, then Save.",
                              version=sent_version if not new else "")
        if move or form.get("action") == "add":
            if move:
                group["members"] = moved(group["members"], move)
            elif add and add not in group["members"]:
                group["members"].append(add)
            return group_page(request, group, new=new, notice="Not saved yet: press Save to keep the new order.",
                              version=sent_version if not new else "")
        if existing is not None and sent_version and sent_version != cr.version(existing):
            # two supervisors on one group: the second save must not silently undo the first
            return group_page(request, group, new=False, status_code=409, errors={
                "": "Someone else changed this group while you were editing it. Your version is shown; "
                    "check it against the queue groups list and save again to replace theirs."})
        group_id = group["id"]
        current_list = cr.items(changes, "groups")
        if form.get("action") == "delete" and not new:
            new_list, index, action = cr.replaced(current_list, group_id, None)[0], -1, "group deleted"
        else:
            if new and any(g["id"] == group_id for g in current_list):
                return group_page(request, group, new=True, errors={"id": f'"{group_id}" is already used'},
                                  status_code=422)
            new_list, index = cr.replaced(current_list, group_id, group)
            action = "group saved"
        try:
            cr.save(changes, user, "groups", new_list, action=action, target=f"group:{group_id}")
        except ConfigError as e:
            return group_page(request, group, new=new, errors=field_errors(e, "groups", index), status_code=422)
        return RedirectResponse("/groups" if action == "group deleted" else f"/groups/{group_id}?saved=1",
                                status_code=303)

    # ---------------------------------------------------------------- numbers
    def numbers_json() -> dict[str, Any]:
        settings = cr.current(changes)
        return {"numbers": dict(settings.numbers), "default_group": settings.default_group}

    @r.get("/api/numbers", responses=errors(401, 403, 503),
           tags=["telephony"], summary="Numbers (DID -> queue group) and the default group")
    def get_numbers(user: Telephony) -> dict[str, Any]:
        return numbers_json()

    @r.put("/api/numbers", responses=errors(400, 401, 403, 413, 422, 503),
           tags=["telephony"], summary="Replace the numbers and the default group")
    async def put_numbers(user: Telephony, body: Annotated[dict[str, Any], Body(examples=[{
            "numbers": {"+4930111111": "sales"}, "default_group": "support"}])]) -> Any:
        if not isinstance(body.get("numbers", {}), dict):
            raise HTTPException(422, [{"item": "numbers", "problem": "an object of number -> group id"}])
        extra = {"default_group": body.get("default_group")}
        return cr.api_save(changes, user, "numbers", body.get("numbers", {}), action="numbers saved",
                           target="numbers", extra=extra, result=lambda s: numbers_json())

    def numbers_page_render(request: Request, rows: list[tuple[str, str]], default: str | None,
                            errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
        settings = cr.current(changes)
        return pages.render(request, "numbers.html", {
            "page": "numbers", "rows": rows, "default_group": default or "", "errors": errors or {},
            "groups": [(g.id, g.name) for g in settings.groups]}, status_code=status_code)

    @r.get("/numbers", response_class=HTMLResponse, include_in_schema=False)
    def numbers_page(request: Request, user: Telephony) -> HTMLResponse:
        data = numbers_json()
        return numbers_page_render(request, list(data["numbers"].items()), data["default_group"])

    @r.post("/numbers", include_in_schema=False)
    async def numbers_form(request: Request, user: Telephony) -> Response:
        form = await read_form(request)
        rows = [(str(d).strip(), str(g)) for d, g in zip(form.getlist("did"), form.getlist("group"), strict=False)
                if str(d).strip() and form.get(f"remove.{str(d).strip()}") != "on"]
        default = str(form.get("default_group", "")) or None
        seen: dict[str, str] = {}
        errors: dict[str, str] = {}
        for did, group in rows:
            if did in seen:
                errors[f"numbers.{did}"] = "listed twice"
            seen[did] = group
        if not errors:
            try:
                cr.save(changes, user, "numbers", seen, action="numbers saved", target="numbers",
                        extra={"default_group": default})
                return RedirectResponse("/numbers?saved=1", status_code=303)
            except ConfigError as e:
                errors = field_errors(e, "numbers")
        return numbers_page_render(request, rows, default, errors, status_code=422)

    return r
