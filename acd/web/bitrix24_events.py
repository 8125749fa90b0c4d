"""Bitrix24's outgoing events: ``POST /bitrix24/events`` (form-encoded, as Bitrix24 sends
them), for ``ONCRMCONTACTUPDATE``, ``ONCRMLEADUPDATE`` and ``ONCRMCOMPANYUPDATE``: a
responsible person changed in Bitrix24 becomes the client's owner in acd
(:mod:`acd.crm.bitrix24_events`).

Register the handler in the portal (an outgoing webhook, or ``event.bind`` for an
application) with ``https://acd.example/bitrix24/events``. 404 while no portal is set
up for events; 403 when the application token does not match; 400 for a malformed
event; 503 when Bitrix24 cannot be read back or too many events come at once. A 200
means the change (if any) is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request

from ..crm.bitrix24_events import EventRefused, OwnerSync
from .limits import read_bounded, too_large
from .openapi import errors

log = logging.getLogger(__name__)

MAX_EVENT = 64 * 1024  # bytes: an event is an id and the auth block
MAX_FIELDS = 100


def bitrix24_events_router(sync: Callable[[], OwnerSync | None]) -> APIRouter:
    api = APIRouter(tags=["bitrix24"])

    @api.post("/bitrix24/events", responses=errors(400, 403, 404, 413, 503),
              summary="An outgoing event from Bitrix24 (a contact, lead or company changed)")
    async def event(request: Request) -> dict[str, Any]:
        handler = sync()
        if handler is None:
            raise HTTPException(404, "no Bitrix24 portal is set up for events")
        raw = await read_bounded(request, MAX_EVENT, lambda: too_large("the event"))
        try:
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS))
        except (UnicodeDecodeError, ValueError):
            raise HTTPException(400, "not a form-encoded Bitrix24 event") from None
        try:
            result = await handler.handle(form)
        except EventRefused as refused:
            raise HTTPException(refused.status, str(refused)) from None
        except Exception as error:  # Bitrix24 could not be read back: it may send the event again
            log.warning("crm.bitrix24_event_failed: %s", type(error).__name__)
            raise HTTPException(503, "Bitrix24 could not be asked about the change; try again") from None
        return {"ok": True, "result": result}

    return api
