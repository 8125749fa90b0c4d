"""The call history with its decision log, and the missed calls to call back.

Who sees what: a user with ``telephony`` or ``agents`` (a supervisor) sees every
call; anyone else sees only the calls they took part in as an agent (offered,
answered, picked up, transferred to them) and the missed calls of the groups they
are a member of; a call whose decision log names them (skipped: offline, busy...)
opens for them too. Another agent's call answers 404, as if it did not exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..store.views import CallDetail, CallSummary
from .decision_log import CallStory
from .limits import Limit, Offset, read_form
from .openapi import errors
from .pages import Pages
from .security import SignedIn, User, require

OUTCOMES = ("answered", "missed", "abandoned", "voicemail", "forwarded", "hangup", "transferred", "ended")
Outcome = Literal[OUTCOMES]  # type: ignore[valid-type]
Changing = Annotated[User, Depends(require(None))]


def sees_all_calls(user: User) -> bool:
    return user.can("telephony") or user.can("agents")


def took_part(call: CallSummary, agent_id: str | None) -> bool:
    if agent_id is None:
        return False
    return agent_id in call.tried or agent_id in (call.answered_by, call.picked_up_from, call.transferred_to)


def considered(call: CallDetail, agent_id: str | None) -> bool:
    """The agent is in the call's decision log (rung or skipped, and why): "why did my
    phone not ring?" is theirs to ask."""
    return agent_id is not None and any(e.detail.get("agent") == agent_id for e in call.events)


def parse_time(text: str | None, field: str, *, end: bool = False, zone: tzinfo = UTC) -> datetime | None:
    """"2026-11-25" (a whole day in ``zone``, the site's; as an end: up to the day's end)
    or an ISO time (without an offset: in ``zone``)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                day += timedelta(days=1)
            return datetime(day.year, day.month, day.day, tzinfo=zone)  # midnight there (a DST day is 23 or 25 h)
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    except ValueError:
        raise HTTPException(422, [{"item": field, "problem": f"not a date (YYYY-MM-DD) or time: {text!r}"}]) from None


def call_json(call: CallSummary, progress: Callable[[str], str] | None = None) -> dict[str, Any]:
    """A call for the API; ``progress`` says where a call in progress is now (outcome is
    null until the call ends)."""
    data = asdict(call)
    data["tried"] = list(call.tried)
    data["progress"] = (progress or _in_progress)(call.call_id) if call.ended_at is None else None
    if isinstance(call, CallDetail):
        data["events"] = [asdict(e) for e in call.events]
    return data


def _in_progress(call_id: str) -> str:
    return "in progress"


class Calls:
    def __init__(self, store: Any, groups_of: Any, progress: Callable[[str], str] = _in_progress) -> None:
        self.store = store
        self.groups_of = groups_of  # agent id -> the group ids listing them (current settings)
        self.progress = progress  # call id -> "ringing", "waiting", "talking"... for live calls

    def _store(self) -> Any:
        if self.store is None:
            raise HTTPException(503, "no call history in this process")
        return self.store

    def history(self, user: User, *, since: str | None, until: str | None, group: str | None,
                outcome: str | None, agent: str | None, limit: int, offset: int,
                zone: tzinfo = UTC) -> list[CallSummary]:
        if outcome and outcome not in OUTCOMES:
            raise HTTPException(422, [{"item": "outcome", "problem": f"one of {', '.join(OUTCOMES)}"}])
        if not sees_all_calls(user):
            if user.agent_id is None:
                return []
            agent = user.agent_id  # an agent's history is their own
        calls: list[CallSummary] = self._store().calls(
            since=parse_time(since, "since", zone=zone), until=parse_time(until, "until", end=True, zone=zone),
            group=group or None,
            outcome=outcome or None, agent=agent or None, limit=limit, offset=offset)
        return calls

    def call(self, user: User, call_id: str) -> CallDetail:
        call: CallDetail | None = self._store().call(call_id)
        if call is None or not (sees_all_calls(user) or took_part(call, user.agent_id)
                                or self._to_call_back(user, call) or considered(call, user.agent_id)):
            raise HTTPException(404, "no such call")
        return call

    def _to_call_back(self, user: User, call: CallSummary) -> bool:
        """A missed call of one of the agent's groups: on their call-back list."""
        return call.missed and user.agent_id is not None and call.group_id in set(self.groups_of(user.agent_id))

    def missed(self, user: User, *, since: str | None, until: str | None, group: str | None,
               called_back: bool | None, limit: int, offset: int, zone: tzinfo = UTC) -> list[CallSummary]:
        store = self._store()
        query = {"since": parse_time(since, "since", zone=zone),
                 "until": parse_time(until, "until", end=True, zone=zone),
                 "group": group or None, "called_back": called_back}
        if sees_all_calls(user):
            found: list[CallSummary] = store.missed_calls(**query, limit=limit, offset=offset)
            return found
        if user.agent_id is None:
            return []
        mine = set(self.groups_of(user.agent_id))
        wide = store.missed_calls(**query, limit=(limit + offset) * 5 + 100)  # filtered here, then paged
        visible = [c for c in wide if c.group_id in mine or took_part(c, user.agent_id)]
        return visible[offset:offset + limit]

    def mark(self, user: User, call_id: str, called_back: bool) -> None:
        call = self.call(user, call_id)
        if not call.missed:
            raise HTTPException(409, "this call was not missed")
        self._store().mark_called_back(call_id, by=user.agent_id or user.username, called_back=called_back)


def router(calls: Calls, pages: Pages, groups: Any, agent_names: Callable[[], dict[str, str]] = dict) -> APIRouter:
    r = APIRouter()

    def names() -> dict[str, Any]:
        """Names for the ids a calls page shows (agents, queue groups)."""
        return {"names": agent_names(), "group_names": dict(groups())}

    def filters(since: str | None, until: str | None, group: str | None, outcome: str | None,
                agent: str | None) -> dict[str, Any]:
        return {"since": since or "", "until": until or "", "group": group or "", "outcome": outcome or "",
                "agent": agent or ""}

    @r.get("/api/calls", responses=errors(401, 422, 503),
           tags=["calls"], summary="Call history, newest first (an agent gets only their own)")
    def list_calls(user: SignedIn, since: str | None = None, until: str | None = None, group: str | None = None,
                   outcome: Outcome | None = None, agent: str | None = None,
                   limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
        return [call_json(c, calls.progress) for c in calls.history(
            user, since=since, until=until, group=group, outcome=outcome, agent=agent, limit=limit, offset=offset,
            zone=pages.site_zone())]

    @r.get("/api/calls/{call_id}", responses=errors(401, 404, 422, 503),
           tags=["calls"], summary="One call with its timeline and decision log")
    def get_call(call_id: str, user: SignedIn) -> dict[str, Any]:
        return call_json(calls.call(user, call_id), calls.progress)

    @r.get("/api/missed", responses=errors(401, 422, 503), tags=["calls"], summary="Missed calls to call back")
    def list_missed(user: SignedIn, since: str | None = None, until: str | None = None, group: str | None = None,
                    called_back: bool | None = False, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
        return [call_json(c, calls.progress) for c in calls.missed(user, since=since, until=until, group=group,
                                                   called_back=called_back, limit=limit, offset=offset,
                                                   zone=pages.site_zone())]

    @r.post("/api/missed/{call_id}/called-back", responses=errors(401, 403, 404, 409, 422, 503),
            status_code=204, tags=["calls"],
            summary="Tick a missed call off the call-back list (called_back=false puts it back)")
    def mark_called_back(call_id: str, user: Changing, called_back: bool = True) -> Response:
        calls.mark(user, call_id, called_back)
        return Response(status_code=204)

    @r.get("/history", response_class=HTMLResponse, include_in_schema=False)
    def history_page(request: Request, user: SignedIn, since: str | None = None, until: str | None = None,
                     group: str | None = None, outcome: str | None = None, agent: str | None = None,
                     offset: Offset = 0) -> HTMLResponse:
        errors: dict[str, str] = {}
        try:
            found = calls.history(user, since=since, until=until, group=group, outcome=outcome, agent=agent,
                                  limit=100, offset=offset, zone=pages.zone_for(user))
        except HTTPException as e:
            if e.status_code != 422:
                raise
            detail: list[dict[str, str]] = e.detail  # type: ignore[assignment]
            found, errors = [], {p["item"]: p["problem"] for p in detail}
        return pages.render(request, "history.html", {
            "page": "history", "calls": found, "f": filters(since, until, group, outcome, agent), "errors": errors,
            "outcomes": OUTCOMES, "groups": groups(), "all_calls": sees_all_calls(user), "offset": offset,
            "progress": {c.call_id: calls.progress(c.call_id) for c in found if c.ended_at is None},
            "now": time.time(), **names()},
            status_code=422 if errors else 200)

    @r.get("/calls/{call_id}", response_class=HTMLResponse, include_in_schema=False)
    def call_page(request: Request, call_id: str, user: SignedIn) -> HTMLResponse:
        call = calls.call(user, call_id)
        known = names()
        story = CallStory(known["names"], known["group_names"], pages.zone_for(user))
        return pages.render(request, "call.html", {
            "page": "history", "call": call, "now": time.time(), "lines": story.lines(call), **known,
            "progress": calls.progress(call_id) if call.ended_at is None else None})

    @r.get("/missed", response_class=HTMLResponse, include_in_schema=False)
    def missed_page(request: Request, user: SignedIn, show: str = "open", group: str | None = None,
                    offset: Offset = 0) -> HTMLResponse:
        called_back = {"open": False, "done": True}.get(show)
        found = calls.missed(user, since=None, until=None, group=group, called_back=called_back, limit=100,
                             offset=offset)
        return pages.render(request, "missed.html", {"page": "missed", "calls": found, "show": show,
                                                     "group": group or "", "groups": groups(), "offset": offset,
                                                     **names()})

    @r.post("/missed/{call_id}", include_in_schema=False)
    async def missed_form(request: Request, call_id: str, user: Changing) -> Response:
        form = await read_form(request)
        await run_in_threadpool(calls.mark, user, call_id, form.get("called_back", "1") == "1")
        return RedirectResponse(f"/missed?show={form.get('show', 'open')}", status_code=303)

    return r
