"""The CRM outbox (``crm`` permission): pending and dead deliveries, retry a dead one.

A pending job that waits behind a dead job of the same client (``waiting_behind``)
says so, with the dead job's id: retrying that one lets the client's line move.

``crm`` is the service's ``acd.crm.CrmFeed`` (its retry wakes the sender at once) or
just the CRM's SQLAlchemy engine (the sender finds the retried job on its next look).
Payloads are shown as stored: they never hold connector secrets (outbox.py masks them).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ..crm.models import OutboxJob
from ..crm.outbox import STATES, list_outbox, retry, waiting_behind
from .audit import AuditLog
from .bitrix24 import portals_of
from .limits import Limit, RowId
from .openapi import errors
from .pages import Pages
from .security import User, require

Crm = Annotated[User, Depends(require("crm"))]


def job_json(job: OutboxJob, waiting_behind: int | None = None) -> dict[str, Any]:
    return {"id": job.id, "target": job.target, "event": job.event, "state": job.state, "attempts": job.attempts,
            "client_id": job.client_id, "created_at": job.created_at, "updated_at": job.updated_at,
            "next_attempt_at": job.next_attempt_at, "delivered_at": job.delivered_at,
            "last_status": job.last_status, "last_error": job.last_error, "waiting_behind": waiting_behind,
            "payload": job.payload}


def router(crm: Any, pages: Pages, audit: AuditLog | None = None) -> APIRouter:
    r = APIRouter()
    engine = getattr(crm, "engine", crm)

    def jobs(state: str | None, limit: int) -> list[dict[str, Any]]:
        if engine is None:
            raise HTTPException(503, "no CRM outbox in this process")
        if state is not None and state not in STATES:
            raise HTTPException(422, [{"item": "state", "problem": f"one of {', '.join(STATES)}"}])
        with Session(engine) as session:
            listed = list_outbox(session, state, limit=limit)
            behind = waiting_behind(session, listed)
            return [job_json(j, behind.get(j.id)) for j in listed]

    async def retry_job(job_id: int, user: User) -> None:
        if engine is None:
            raise HTTPException(503, "no CRM outbox in this process")
        try:
            if hasattr(crm, "retry"):
                await crm.retry(job_id)
            else:
                def work() -> None:
                    with Session(engine) as session, session.begin():
                        retry(session, job_id, now=time.time())
                await run_in_threadpool(work)
        except LookupError:
            raise HTTPException(404, "no such outbox job") from None
        except ValueError as e:
            raise HTTPException(409, str(e)) from None
        if audit is not None:
            await run_in_threadpool(audit.write, user, "outbox job retried", f"outbox:{job_id}")

    @r.get("/api/outbox", responses=errors(401, 403, 422, 503), tags=["crm"],
           summary="Outbox jobs, newest first (state: pending, delivered, dead); "
           "waiting_behind: the dead job a pending one waits for")
    def list_jobs(user: Crm, state: Literal[STATES] | None = None,  # type: ignore[valid-type]
                  limit: Limit = 100) -> list[dict[str, Any]]:
        return jobs(state, limit)

    @r.post("/api/outbox/{job_id}/retry", responses=errors(401, 403, 404, 409, 422, 503), status_code=204, tags=["crm"],
            summary="Give a dead job a fresh set of attempts")
    async def retry_api(job_id: RowId, user: Crm) -> Response:
        await retry_job(job_id, user)
        return Response(status_code=204)

    @r.get("/outbox", response_class=HTMLResponse, include_in_schema=False)
    def outbox_page(request: Request, user: Crm, state: str = "dead") -> HTMLResponse:
        shown = None if state == "all" else state
        return pages.render(request, "outbox.html", {"page": "outbox", "jobs": jobs(shown, 200), "state": state,
                                                     "states": [*STATES, "all"],
                                                     "portals": [p.status() for p in portals_of(crm)]})

    @r.post("/outbox/{job_id}/retry", include_in_schema=False)
    async def retry_form(job_id: RowId, user: Crm) -> Response:
        await retry_job(job_id, user)
        return RedirectResponse("/outbox?state=dead&retried=1", status_code=303)

    return r
