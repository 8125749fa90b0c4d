"""The error answers, as the API's description (/openapi.json, /docs) states them.

Every error is ``{"detail": "why"}``, except a 422, which names each bad item the way
the configuration does: ``{"detail": [{"item": "groups[0] \\"sales\\".rings",
"problem": "..."}]}`` (``pages.install_error_pages`` turns FastAPI's own validation
errors into that shape too). An endpoint lists the errors it can give with
``responses=errors(401, 404, ...)``; every endpoint with parameters declares 422, which
also keeps FastAPI from describing its own, differently shaped, validation error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from ..settings_words import sentence


class Problem(BaseModel):
    item: str  # "body", "query.limit", "groups[0] \"sales\".rings"...
    problem: str


class Problems(BaseModel):
    """422: what is wrong, item by item; the input itself is never echoed."""

    detail: list[Problem]


class Message(BaseModel):
    detail: str


WHY = {
    400: "The body could not be read: not UTF-8 JSON",
    401: "Not signed in: no session cookie or Bearer token, or an unknown or revoked one",
    403: "Signed in without the permission this needs, or a browser session's change without its CSRF token",
    404: "No such item (or one this user may not see)",
    409: "Refused in the item's current state; the detail says why",
    413: "The body (or a form field) is larger than the limit",
    415: "The body is not of a type this operation takes (the detail says which)",
    422: "Invalid input, item by item",
    502: "An outside service this needs (a Bitrix24 portal) did not answer as it should",
    503: "This part is not available in this process (no history, configuration or CRM)",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for an endpoint that can answer these errors."""
    return {code: {"model": Problems if code == 422 else Message, "description": WHY[code]} for code in codes}


def json_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for an endpoint whose own answer is not JSON (a stream): its
    errors still are (FastAPI would file them under the stream's media type)."""
    return {code: {"description": WHY[code], "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{'Problems' if code == 422 else 'Message'}"}}}} for code in codes}


def problems_of(validation_errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """pydantic's errors as the 422's items (``query.limit``, ``members.2``), each problem
    a sentence naming the field and what it takes; never the input."""
    return [{"item": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
             "problem": sentence(e)} for e in validation_errors]
