"""The clients page (``crm`` permission) and its /api twins: search, the client card,
the responsible person, identities, merge, CSV import.

Every change runs through the CRM feed (``CrmFeed.apply``): the client's change and
its outbox jobs commit in one transaction before the answer, so a 2xx means both
are stored, and routing's owner index follows at once. The audit row is written
right after the commit (the audit log lives with the accounts). A change names the
client's revision it was made over; over someone else's newer change it is refused
with 409, as the group page does.

``crm`` is the service's ``acd.crm.CrmFeed`` or just the CRM's engine (tests, tools:
then no external CRM is told). Calls, chats, e-mails and forms are read from the
store's database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ..clients import (
    MAX_BYTES,
    MAX_LINES,
    MAX_QUERY,
    ClientNotFound,
    IdentityTaken,
    ImportRefused,
    MergeRefused,
    StaleClient,
    add_identity,
    change_owner,
    client_card,
    import_clients,
    merge_clients,
    remove_identity,
    search_clients,
    typed_identity,
)
from ..clients.card import client_summary
from ..crm.identity import EMAIL, MESSENGER, PHONE, InvalidIdentity, check_region
from .audit import AuditLog
from .limits import RowId, read_bounded, read_form
from .openapi import errors
from .pages import Pages
from .security import User, require
from .settings_changes import SettingsChanges, SettingsUnavailable

Crm = Annotated[User, Depends(require("crm"))]

KIND_LABELS = {"lead": "Lead", "contact": "Contact"}
IDENTITY_LABELS = {PHONE: "Phone", EMAIL: "E-mail", MESSENGER: "Messenger"}
OUTCOME_LABELS = {"answered": "Answered", "missed": "Missed", "abandoned": "Caller hung up while waiting",
                  "voicemail": "Voicemail", "forwarded": "Forwarded", "hangup": "Hung up", "transferred": "Transferred",
                  "ended": "Ended", None: "In progress"}
STATUS_LABELS = {"open": "Open", "closed": "Closed"}
ACTIVITY_LABELS = {"lead_created": "Lead created", "contact_created": "Contact created",
                   "owner_changed": "Responsible person changed", "missed_call": "Missed call",
                   "identity_linked": "Recognised on another channel", "identity_added": "Identity added",
                   "identity_removed": "Identity removed", "client_merged": "Another client merged into this one"}
REASON_LABELS = {"changed_by_hand": "changed on the clients page", "import": "CSV import", "merge": "merge",
                 "manual_transfer:call": "call transferred by hand", "manual_transfer:chat": "chat transferred by hand"}
# log lines whose agent is the person who acted (on the others it is the responsible person)
ACTED = ("owner_changed", "identity_added", "identity_removed", "client_merged")
PAGE_SIZE = 20
FORM_OVERHEAD = 64 * 1024  # a multipart upload's own bytes around the file
# the bodies larger than the app's limit (``limits.BodyLimit``): the CSV imports
UPLOADS = {"/api/clients/import": MAX_BYTES, "/clients/import": MAX_BYTES + FORM_OVERHEAD}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnerIn(_Body):
    owner: str = Field(min_length=1, max_length=64, description="The agent id of the responsible person")
    revision: int | None = Field(default=None, ge=0, description="The client's revision this change is made over; "
                                 "409 if someone changed the owner since")


class IdentityIn(_Body):
    kind: Literal["phone", "email", "messenger"]
    value: str = Field(min_length=1, max_length=320, description='A phone number as written, an e-mail address, '
                       'or for a messenger "channel:id" ("telegram:12345")')


class MergeIn(_Body):
    other: int = Field(ge=1, description="The client merged into this one (and then removed)")
    owner: str = Field(min_length=1, max_length=64, description="The responsible person of the merged client")
    name: str | None = Field(default=None, max_length=200, description="The name to keep, when both have one")
    revision: int | None = Field(default=None, ge=0)
    other_revision: int | None = Field(default=None, ge=0)


def identity_label(identity: dict[str, Any]) -> str:
    if identity["kind"] == MESSENGER:
        return str(identity["channel"]).capitalize()
    return IDENTITY_LABELS.get(identity["kind"], identity["kind"])


class Directory:
    """The clients' data as the routes need it, off the event loop."""

    def __init__(self, crm: Any, store: Any, changes: SettingsChanges) -> None:
        self.feed = crm if hasattr(crm, "apply") else None
        self.engine = getattr(crm, "engine", crm)
        self.history_engine = getattr(store, "engine", None)
        self.changes = changes

    def available(self) -> None:
        if self.engine is None:
            raise HTTPException(503, "no CRM in this process")

    @property
    def region(self) -> str:
        if self.feed is not None:
            return str(self.feed.region)
        try:
            return check_region(self.changes.current().crm.region)
        except SettingsUnavailable:
            return "DE"

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.feed.targets) if self.feed is not None else ()

    def agents(self) -> dict[str, str] | None:
        """Agent id -> name; None when the settings are not in this process (not checked)."""
        try:
            return {a.id: a.name for a in self.changes.current().agents}
        except SettingsUnavailable:
            return None

    def check_agent(self, owner: str, item: str = "owner") -> str:
        owner = owner.strip()
        agents = self.agents()
        if not owner:
            raise HTTPException(422, [{"item": item, "problem": "choose the responsible person"}])
        if agents is not None and owner not in agents:
            raise HTTPException(422, [{"item": item, "problem": f'there is no agent "{owner[:64]}": choose one '
                                       "of the agents as responsible person"}])
        return owner

    async def read(self, fn: Callable[[Session, Session | None], Any]) -> Any:
        self.available()

        def run() -> Any:
            with Session(self.engine) as session:
                if self.history_engine is None:
                    return fn(session, None)
                with Session(self.history_engine) as history:
                    return fn(session, history)

        return await run_in_threadpool(run)

    async def write(self, work: Callable[[Session], Any], *, many: bool = False) -> Any:
        self.available()
        if self.feed is not None:
            return await self.feed.apply(work, many=many)

        def run() -> Any:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                return work(session)

        return await run_in_threadpool(run)

    async def card(self, client_id: int, limit: int = 20) -> dict[str, Any]:
        agents = self.agents()
        card = await self.read(lambda s, h: client_card(s, client_id, history=h, agents=agents, limit=limit))
        if card is None:
            raise HTTPException(404, f"no client {client_id}")
        return dict(card)

    async def search(self, q: str, limit: int, offset: int) -> dict[str, Any]:
        agents, region = self.agents(), self.region

        def find(session: Session, _: Session | None) -> dict[str, Any]:
            found = search_clients(session, q, region=region, limit=limit, offset=offset)
            return {"clients": [client_summary(c, agents) for c in found.clients], "more": found.more}

        return dict(await self.read(find))


def refusal(error: Exception) -> HTTPException:
    """The 4xx for a refused change."""
    if isinstance(error, ClientNotFound):
        return HTTPException(404, str(error))
    if isinstance(error, StaleClient):
        return HTTPException(409, {"message": "Someone else changed this client's responsible person meanwhile: "
                                              "reload it and decide again.",
                                   "revision": error.revision, "owner": error.owner})
    if isinstance(error, IntegrityError):  # two people gave one identity to two clients at once
        return HTTPException(409, "this identity was just given to another client: reload and try again")
    return HTTPException(409, str(error))


REFUSED = (ClientNotFound, StaleClient, IdentityTaken, MergeRefused, IntegrityError)


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, 413 past ``limit`` bytes (read no further)."""
    return await read_bounded(request, limit, lambda: HTTPException(
        413, f"the file is larger than {limit // (1024 * 1024)} MB: split it into smaller files"))


def router(crm: Any, store: Any, changes: SettingsChanges, pages: Pages, audit: AuditLog) -> APIRouter:
    r = APIRouter()
    d = Directory(crm, store, changes)

    # ---------------------------------------------------------------- the changes, shared by API and pages
    async def set_owner(user: User, client_id: int, owner: str, revision: int | None) -> None:
        owner = d.check_agent(owner)
        try:
            change = await d.write(partial(change_owner, client_id=client_id, owner=owner, revision=revision,
                                           by=user.username, targets=d.targets, now=time.time()))
        except REFUSED as e:
            raise refusal(e) from None
        if change is not None:
            await run_in_threadpool(audit.write, user, "client responsible person changed", f"client:{client_id}",
                                    [{"item": "owner", "before": change.previous, "after": change.owner}])

    async def add(user: User, client_id: int, kind: str, value: str) -> bool:
        try:
            identity = typed_identity(kind, value, d.region)
        except InvalidIdentity as e:
            raise HTTPException(422, [{"item": "value", "problem": str(e)}]) from None
        try:
            added = await d.write(partial(add_identity, client_id=client_id, identity=identity, by=user.username,
                                          now=time.time()))
        except REFUSED as e:
            raise refusal(e) from None
        if added:
            await run_in_threadpool(audit.write, user, "client identity added", f"client:{client_id}",
                                    [{"item": "identities", "before": None, "after": identity.value}])
        return bool(added)

    async def remove(user: User, client_id: int, identity_id: int) -> None:
        try:
            identity = await d.write(partial(remove_identity, client_id=client_id, identity_id=identity_id,
                                             by=user.username, now=time.time()))
        except LookupError as e:
            raise HTTPException(404, str(e)) from None
        await run_in_threadpool(audit.write, user, "client identity removed", f"client:{client_id}",
                                [{"item": "identities", "before": identity.value, "after": None}])

    async def merge(user: User, client_id: int, body: MergeIn) -> None:
        owner = d.check_agent(body.owner)
        name = body.name.strip() if body.name is not None else None
        try:
            merged = await d.write(partial(
                merge_clients, keep_id=client_id, other_id=body.other, owner=owner, name=name,
                revision=body.revision, other_revision=body.other_revision, by=user.username, targets=d.targets,
                now=time.time()))
        except REFUSED as e:
            raise refusal(e) from None
        await run_in_threadpool(audit.write, user, "clients merged", f"client:{client_id}", [
            {"item": "merged client", "before": merged.removed, "after": None},
            {"item": "owner", "before": merged.change.previous, "after": merged.change.owner}])

    async def import_csv(user: User, data: bytes) -> dict[str, Any]:
        agents = d.agents()
        try:
            report = await d.write(partial(import_clients, data=data, agents=agents, region=d.region,
                                           by=user.username, targets=d.targets, now=time.time()), many=True)
        except ImportRefused as e:
            raise HTTPException(422, [{"item": "file", "problem": str(e)}]) from None
        result: dict[str, Any] = report.to_json()
        await run_in_threadpool(audit.write, user, "clients imported", "clients:import", [
            {"item": outcome, "before": None, "after": result[outcome]}
            for outcome in ("created", "updated", "refused")])
        return result

    # ---------------------------------------------------------------- API
    @r.get("/api/clients", responses=errors(401, 403, 422, 503), tags=["clients"],
           summary="Find clients by phone (any form), e-mail, messenger id (telegram:42) or name; paged")
    async def api_search(user: Crm, q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
                         limit: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
                         offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
        return await d.search(q, limit, offset)

    @r.post("/api/clients/import", responses=errors(401, 403, 413, 415, 422, 503), tags=["clients"],
            openapi_extra={"requestBody": {"required": True,
                                           "content": {"text/csv": {"schema": {"type": "string"}}}}},
        summary=f"Import clients with their responsible persons from CSV (text/csv, at most {MAX_BYTES // 2**20} MB "
                f"and {MAX_LINES:,} lines); line by line, with a report of the lines refused and why")
    async def api_import(request: Request, user: Crm) -> dict[str, Any]:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("text/csv", "text/plain", "application/csv"):
            raise HTTPException(415, "send the file as text/csv")
        return await import_csv(user, await read_limited(request, MAX_BYTES))

    @r.get("/api/clients/{client_id}", responses=errors(401, 403, 404, 422, 503), tags=["clients"],
           summary="The client card: kind, name, responsible person, identities, recent calls, chats, e-mails, "
                   "forms and log, newest first")
    async def api_card(client_id: RowId, user: Crm,
                       limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
        return await d.card(client_id, limit)

    @r.put("/api/clients/{client_id}/owner", responses=errors(400, 401, 403, 404, 409, 413, 422, 503), tags=["clients"],
           summary="Change the responsible person; audited and "
           "pushed to the external CRMs; 409 over someone else's newer change")
    async def api_owner(client_id: RowId, user: Crm, body: OwnerIn) -> dict[str, Any]:
        await set_owner(user, client_id, body.owner, body.revision)
        return await d.card(client_id)

    @r.post("/api/clients/{client_id}/identities", status_code=201, tags=["clients"],
            responses={200: {"description": "The client had it already: nothing changed"},
                       **errors(400, 401, 403, 404, 409, 413, 422, 503)},
            summary="Add a phone number, e-mail address or messenger id; 409 naming the client that has it")
    async def api_add_identity(client_id: RowId, user: Crm, body: IdentityIn) -> Response:
        added = await add(user, client_id, body.kind, body.value)
        card = await d.card(client_id)
        return JSONResponse(card, status_code=201 if added else 200)

    @r.delete("/api/clients/{client_id}/identities/{identity_id}", status_code=204, tags=["clients"],
              responses=errors(401, 403, 404, 422, 503),
              summary="Remove an identity from the client")
    async def api_remove_identity(client_id: RowId, identity_id: RowId, user: Crm) -> Response:
        await remove(user, client_id, identity_id)
        return Response(status_code=204)

    @r.post("/api/clients/{client_id}/merge", responses=errors(400, 401, 403, 404, 409, 413, 422, 503),
            tags=["clients"], summary="Merge another client into this one: "
            "identities, history and log move here, the other is removed; the responsible person is chosen; "
            "409 if it would lose data")
    async def api_merge(client_id: RowId, user: Crm, body: Annotated[MergeIn, Body()]) -> dict[str, Any]:
        await merge(user, client_id, body)
        return await d.card(client_id)

    # ---------------------------------------------------------------- pages
    def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
        base = {"page": "clients", "kinds": KIND_LABELS, "identity_label": identity_label,
                "outcomes": OUTCOME_LABELS, "statuses": STATUS_LABELS, "activities": ACTIVITY_LABELS,
                "reasons": REASON_LABELS, "agents": d.agents() or {}, "acted": ACTED}
        return pages.render(request, name, {**base, **context}, status_code=status_code)

    def problem_text(e: HTTPException) -> str:
        detail = e.detail
        if isinstance(detail, list):
            return "; ".join(str(p.get("problem", p)) if isinstance(p, dict) else str(p) for p in detail)
        if isinstance(detail, dict):
            return str(detail.get("message", detail))
        return str(detail)

    async def card_page(request: Request, client_id: int, errors: dict[str, str] | None = None,
                        status_code: int = 200, form: dict[str, str] | None = None) -> HTMLResponse:
        card = await d.card(client_id)
        return render(request, "client.html", {"client": card, "errors": errors or {}, "form": form or {}},
                      status_code=status_code)

    @r.get("/clients", response_class=HTMLResponse, include_in_schema=False)
    async def clients_page(request: Request, user: Crm, q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
                           page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
        found = await d.search(q, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        return render(request, "clients.html", {"q": q, "found": found, "page_no": page})

    @r.get("/clients/import", response_class=HTMLResponse, include_in_schema=False)
    async def import_page(request: Request, user: Crm) -> HTMLResponse:
        return render(request, "client_import.html", {"report": None, "error": "", "max_lines": MAX_LINES,
                                                      "max_mb": MAX_BYTES // 2**20})

    @r.post("/clients/import", include_in_schema=False)
    async def import_form(request: Request, user: Crm) -> Response:
        form = await read_form(request)  # the body is bounded (UPLOADS) before it is parsed
        upload = form.get("file")
        context: dict[str, Any] = {"report": None, "error": "", "max_lines": MAX_LINES,
                                   "max_mb": MAX_BYTES // 2**20}
        if upload is None or isinstance(upload, str) or not upload.filename:
            context["error"] = "Choose a CSV file to import."
            return render(request, "client_import.html", context, status_code=422)
        data = await upload.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise HTTPException(413, f"the file is larger than {MAX_BYTES // 2**20} MB: split it into smaller files")
        try:
            context["report"] = await import_csv(user, data)
        except HTTPException as e:
            context["error"] = problem_text(e)
            return render(request, "client_import.html", context, status_code=e.status_code)
        return render(request, "client_import.html", context)

    @r.get("/clients/{client_id}", response_class=HTMLResponse, include_in_schema=False)
    async def client_page(request: Request, client_id: RowId, user: Crm) -> HTMLResponse:
        return await card_page(request, client_id)

    @r.post("/clients/{client_id}/owner", include_in_schema=False)
    async def owner_form(request: Request, client_id: RowId, user: Crm) -> Response:
        form = await read_form(request)
        revision = str(form.get("revision", ""))
        try:
            await set_owner(user, client_id, str(form.get("owner", ""))[:64],
                            int(revision) if revision.isdigit() else None)
        except HTTPException as e:
            if e.status_code == 404:
                raise
            message = problem_text(e)
            if e.status_code == 409:
                message = ("Someone else changed the responsible person while you were looking at this client. "
                           "The card now shows their choice: change it again if you still want to.")
            return await card_page(request, client_id, {"owner": message}, e.status_code)
        return RedirectResponse(f"/clients/{client_id}?saved=owner", status_code=303)

    @r.post("/clients/{client_id}/identities", include_in_schema=False)
    async def identity_form(request: Request, client_id: RowId, user: Crm) -> Response:
        form = await read_form(request)
        kind, value = str(form.get("kind", "")), str(form.get("value", ""))[:320]
        if kind not in (PHONE, EMAIL, MESSENGER):
            kind = PHONE
        try:
            await add(user, client_id, kind, value)
        except HTTPException as e:
            if e.status_code == 404:
                raise
            return await card_page(request, client_id, {"identity": problem_text(e)}, e.status_code,
                                   {"kind": kind, "value": value})
        return RedirectResponse(f"/clients/{client_id}?saved=identity", status_code=303)

    @r.post("/clients/{client_id}/identities/{identity_id}/remove", include_in_schema=False)
    async def remove_form(client_id: RowId, identity_id: RowId, user: Crm) -> Response:
        await remove(user, client_id, identity_id)
        return RedirectResponse(f"/clients/{client_id}?saved=removed", status_code=303)

    @r.get("/clients/{client_id}/merge", response_class=HTMLResponse, include_in_schema=False)
    async def merge_page(request: Request, client_id: RowId, user: Crm,
                         other: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
        keep = await d.card(client_id, limit=5)
        other_id = int(other.strip().lstrip("#")) if other.strip().lstrip("#").isdigit() else None
        if other_id is None or other_id == client_id:
            problem = ("Type the number of another client (shown as # on its card)." if other_id is None
                       else "A client cannot be merged with itself: type another client's number.")
            return await card_page(request, client_id, {"merge": problem}, 422, {"other": other})
        try:
            merging = await d.card(other_id, limit=5)
        except HTTPException:
            return await card_page(request, client_id, {"merge": f"There is no client #{other_id}."}, 404,
                                   {"other": other})
        return render(request, "client_merge.html", {"keep": keep, "other": merging, "error": ""})

    @r.post("/clients/{client_id}/merge", include_in_schema=False)
    async def merge_form(request: Request, client_id: RowId, user: Crm) -> Response:
        form = await read_form(request)

        def number(key: str) -> int | None:
            text = str(form.get(key, ""))
            return int(text) if text.isdigit() and len(text) < 12 else None

        other_id = number("other")
        if other_id is None:
            raise HTTPException(422, "no client to merge")
        name = str(form.get("name", ""))[:200] if form.get("name") is not None else None
        body = MergeIn(other=other_id, owner=str(form.get("owner", ""))[:64] or "-", name=name,
                       revision=number("revision"), other_revision=number("other_revision"))
        try:
            await merge(user, client_id, body)
        except HTTPException as e:
            if e.status_code == 404:
                raise
            keep, merging = await d.card(client_id, limit=5), await d.card(other_id, limit=5)
            message = problem_text(e)
            if isinstance(e.detail, dict):  # stale
                message = ("One of the clients was changed while you were reviewing the merge. Check both "
                           "again below, then merge.")
            return render(request, "client_merge.html", {"keep": keep, "other": merging, "error": message},
                          status_code=e.status_code)
        return RedirectResponse(f"/clients/{client_id}?saved=merged", status_code=303)

    return r

