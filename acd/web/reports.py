"""The reports page (/reports) and its API twin (/api/reports/<name>, and .csv): for
supervisors and admins. The figures come from ``acd.reports`` over the history
database; the charts are drawn in the browser by plotly.js, served by acd itself from
the ``plotly`` package (no CDN: a contact centre's network may have no internet), and
every chart's figures are also in a table (screen readers, copying)."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import time
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..reports.queries import CHANNELS, NAMES, Column, Filters, GroupInfo, Report, Reports, Site
from .openapi import errors, json_errors
from .pages import Pages, add_nav, duration
from .security import User, current_user

CHARTS = {"hourly": "bar", "daily": "bar", "groups": "service_level", "distribution": "share"}
CHANNEL_LABELS = {"calls": "Calls", "chat": "Chats", "email": "E-mail", "form": "Forms"}


async def supervisor(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role == "agent":
        raise HTTPException(403, "the reports are for supervisors and admins")
    return user


Supervisor = Annotated[User, Depends(supervisor)]


def cell(column: Column, value: Any) -> str:
    """A figure as the page shows it (the CSV has the plain number)."""
    if value is None:
        return "–"
    if column.unit == "seconds":
        return duration(float(value))
    if column.unit == "percent":
        return f"{value:.1f} %"
    return str(value)


def csv_value(column: Column, value: Any) -> Any:
    if value is None:
        return ""
    return round(float(value), 1) if column.unit == "seconds" else value


def csv_label(column: Column) -> str:
    return column.label + {"seconds": " (s)", "percent": " (%)"}.get(column.unit, "")


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_label(c) for c in report.columns])
    for row in report.rows:
        writer.writerow([csv_value(c, row[c.key]) for c in report.columns])
    return out.getvalue()


def site_of(settings: Settings) -> Site:
    groups = {}
    for g in settings.groups:
        level = getattr(g, "service_level", None)  # the group's target, where this acd has one
        groups[g.id] = GroupInfo(g.name, int(getattr(level, "answer_within_seconds", 20)), g.wrapup_seconds)
    return Site(zone=settings.service.time_zone, groups=groups,
                agents={a.id: a.name or a.id for a in settings.agents},
                queues={c.id: (c.name, c.kind.value) for c in settings.channels})


def _date(text: str | None, field: str, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, [{"item": f"query.{field}", "problem": "a date as YYYY-MM-DD"}]) from None


@functools.cache
def plotly_js() -> tuple[bytes, str]:
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode()
    return body, hashlib.sha256(body).hexdigest()[:16]


def router(reports: Reports | None, settings: Any, pages: Pages) -> APIRouter:
    """``settings``: a callable giving today's ``Settings`` (names, targets, time zone)."""
    api = APIRouter()

    def site() -> Site:
        return site_of(settings()) if settings is not None else Site()

    def filters(first: str | None, last: str | None, group: str | None, channel: str | None) -> Filters:
        today = datetime.now(ZoneInfo(site().zone)).date()
        start = _date(first, "first", today)
        try:
            return Filters(start, _date(last, "last", max(today, start)), group or None, channel or None)
        except ValueError as e:
            item = "query.channel" if "channel" in str(e) else "query.last"
            raise HTTPException(422, [{"item": item, "problem": str(e)}]) from None

    async def run(names: tuple[str, ...], f: Filters) -> dict[str, Report]:
        if reports is None:
            raise HTTPException(503, "no history database: reports need [service] database")
        for name in names:
            if name not in NAMES:
                raise HTTPException(404, f"no report {name!r} (there are: {', '.join(NAMES)})")
        return await run_in_threadpool(reports.run, names, site(), f, time.time())

    @api.get("/api/reports/{name}.csv", responses=json_errors(401, 403, 404, 422, 503), tags=["reports"],
             response_class=Response, summary="A report as CSV (seconds and percentages as plain numbers)")
    async def report_csv(name: str, user: Supervisor, first: str | None = None, last: str | None = None,
                         group: str | None = None, channel: str | None = None) -> Response:
        f = filters(first, last, group, channel)
        report = (await run((name,), f))[name]
        filename = f"acd-{name}-{f.first.isoformat()}-{f.last.isoformat()}.csv"
        return Response(to_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @api.get("/api/reports/{name}", responses=errors(401, 403, 404, 422, 503), tags=["reports"],
             summary="A report: hourly, daily, groups, agents, queues or distribution")
    async def report_json(name: str, user: Supervisor, first: str | None = None, last: str | None = None,
                          group: str | None = None, channel: str | None = None) -> dict[str, Any]:
        f = filters(first, last, group, channel)
        report = (await run((name,), f))[name]
        return {"name": report.name, "title": report.title, "time_zone": site().zone,
                "filters": {"first": f.first.isoformat(), "last": f.last.isoformat(), "group": f.group,
                            "channel": f.channel},
                "columns": [{"key": c.key, "label": c.label, "unit": c.unit} for c in report.columns],
                "rows": report.rows}

    @api.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    async def reports_page(request: Request, user: Supervisor, first: str | None = None, last: str | None = None,
                           group: str | None = None, channel: str | None = None) -> HTMLResponse:
        f = filters(first, last, group, channel)
        found = await run(NAMES, f)
        s = site()
        query = f"first={f.first.isoformat()}&last={f.last.isoformat()}&group={f.group or ''}" \
                f"&channel={f.channel or ''}"
        charts = {name: {"kind": kind, "columns": [c.__dict__ for c in found[name].columns],
                         "rows": found[name].rows} for name, kind in CHARTS.items()}
        return pages.render(request, "reports.html", {
            "page": "reports", "f": f, "zone": s.zone, "query": query, "reports": [found[n] for n in NAMES],
            "cell": cell, "charts": charts, "channels": [(c, CHANNEL_LABELS[c]) for c in CHANNELS],
            "groups": [(g, info.name) for g, info in s.groups.items()],
            "queues": [(q, name) for q, (name, _) in s.queues.items()]})

    @api.get("/reports/plotly.min.js", include_in_schema=False)
    async def plotly(request: Request) -> Response:
        body, tag = plotly_js()
        headers = {"ETag": f'"{tag}"', "Cache-Control": "public, max-age=86400"}
        if request.headers.get("if-none-match") == f'"{tag}"':
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="text/javascript", headers=headers)

    return api


def install(app: Any, store: Any, settings: Any, pages: Pages) -> None:
    """The reports over ``store``'s database (a ``Store``, or an ``AsyncStore``'s ``sync``)."""
    engine = getattr(store, "engine", None) or getattr(getattr(store, "sync", None), "engine", None)
    app.include_router(router(Reports(engine) if engine is not None else None, settings, pages))
    add_nav(app, "reports", "Reports", "/reports", staff_only=True, before="groups")
