"""Bitrix24's portal for people and for Bitrix24 itself.

- ``GET /api/bitrix24`` (``crm`` permission): each portal's status: how acd signs in
  (webhook or application), whether the application is installed, and what the portal
  refused lately (``WRONG_AUTH_TYPE``, ``insufficient_scope``...) with the fix. Never a
  token: the webhook's is masked.
- ``POST /api/bitrix24/install``: the local application's install handler. Bitrix24 posts
  the tokens (the ``ONAPPINSTALL`` event's ``auth[...]`` fields, or ``AUTH_ID``/
  ``REFRESH_ID`` of the installation page); they are tried on the configured portal
  (never on an address the request names) and only then stored, encrypted. A forged
  request has no token the portal accepts, so it changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from ..crm.bitrix24_portal import AppAuth, Bitrix24Error, Bitrix24Portal
from .limits import read_form
from .openapi import errors
from .security import User, require

Crm = Annotated[User, Depends(require("crm"))]
# the installation page's names for the event's fields
_PAGE_FIELDS = {"AUTH_ID": "auth[access_token]", "REFRESH_ID": "auth[refresh_token]",
                "AUTH_EXPIRES": "auth[expires_in]", "member_id": "auth[member_id]"}


def portals_of(crm: Any) -> list[Bitrix24Portal]:
    """The portals of the service's CRM (its outbox connectors that talk to one)."""
    connectors = getattr(getattr(crm, "sender", None), "connectors", None) or {}
    return [p for c in connectors.values() if isinstance(p := getattr(c, "portal", None), Bitrix24Portal)]


def router(crm: Any) -> APIRouter:
    r = APIRouter()

    @r.get("/api/bitrix24", responses=errors(401, 403), tags=["crm"],
           summary="Each Bitrix24 portal's connection: webhook or application, installed, "
           "what it refused lately and how to fix it")
    def status(user: Crm) -> list[dict[str, Any]]:
        return [p.status() for p in portals_of(crm)]

    @r.post("/api/bitrix24/install", responses=errors(400, 403, 404, 413, 422, 502), tags=["crm"],
            summary="The Bitrix24 local application's install handler (called by Bitrix24)")
    async def install(request: Request, portal: str | None = None) -> dict[str, Any]:
        apps = [p for p in portals_of(crm) if isinstance(p.auth, AppAuth) and portal in (None, p.name)]
        if len(apps) != 1:
            raise HTTPException(404, "no Bitrix24 application is configured here"
                                if not apps else "several applications: name one with ?portal=<name>")
        form = await read_form(request)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        for page, event in _PAGE_FIELDS.items():
            if page in fields and event not in fields:
                fields[event] = fields[page]
        try:
            await apps[0].install(fields)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        except Bitrix24Error as error:
            if error.auth_problem:
                raise HTTPException(403, "the portal did not accept these tokens") from None
            raise HTTPException(502, f"the portal could not be asked: {error.code}") from None
        return {"installed": True, "portal": apps[0].name}

    return r
