"""How much the web app accepts: bodies, form fields, listings, row ids.

Bad input is a 4xx, never a 500 and never unbounded work: a body past ``MAX_BODY``
is a 413 (``BodyLimit``, on the whole app), a form field past
``FORM_FIELD_MAX`` a 413 (``read_form``), a ``limit``, ``offset`` or row id outside
its range a 422 (the ``Limit``, ``Offset`` and ``RowId`` parameter types). Names and
free text have their lengths in the configuration's models (``acd.config``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import HTTPException, Path, Query, Request
from starlette.datastructures import FormData, Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 256 * 1024  # bytes of one request body (JSON or form)
FORM_FIELD_MAX = 8 * 1024  # bytes of one form field: the pages' longest is a name or a number
FORM_FIELDS_MAX = 1000  # fields of one form: the numbers page sends three per number
LIST_MAX = 1000  # rows one listing returns at most
OFFSET_MAX = 10_000_000  # rows a listing may skip: far past any real history, far below 2**63
ROW_ID_MAX = 2**63 - 1  # SQLite's and PostgreSQL's largest integer key

Limit = Annotated[int, Query(ge=1, le=LIST_MAX, description=f"rows to return, 1..{LIST_MAX}")]
Offset = Annotated[int, Query(ge=0, le=OFFSET_MAX, description="rows to skip (newest first)")]
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]


def too_large(what: str) -> HTTPException:
    return HTTPException(413, f"{what} is too large")


class BodyLimit:
    """413 once a request body passes ``max_body`` bytes (declared or counted), raised
    while the endpoint reads it: the app's error handlers answer (JSON under /api, a
    page elsewhere), and nothing past the limit is ever read. Starlette's own limiter
    answers in plain text, which the API's description could not promise."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY, larger: Mapping[str, int] | None = None) -> None:
        """``larger``: paths that take larger bodies (an upload) and their limits."""
        self.app, self.max_body, self.larger = app, max_body, dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_body = self.larger.get(scope.get("path", ""), self.max_body)
        declared = Headers(scope=scope).get("content-length", "")
        declared_too_large = declared.isdigit() and (len(declared) > 15 or int(declared) > max_body)
        received = 0

        async def limited() -> Message:
            nonlocal received
            if declared_too_large:
                raise too_large(f"the body (at most {max_body} bytes)")
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    raise too_large(f"the body (at most {max_body} bytes)")
            return message

        await self.app(scope, limited, send)


async def read_bounded(request: Request, limit: int, refuse: Callable[[], Exception]) -> bytes:
    """The body, or ``refuse()`` raised once it is past ``limit`` bytes: by its declared
    length, or as it streams in (read no further). For routers that may serve in an app
    without ``BodyLimit``, or that allow a size of their own."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise refuse()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise refuse()
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request) -> FormData:
    """The request's form, each field at most ``FORM_FIELD_MAX`` bytes (413 otherwise).
    Every form is read here first (the CSRF check too): Starlette keeps the first parse."""
    try:
        return await request.form(max_fields=FORM_FIELDS_MAX, max_part_size=FORM_FIELD_MAX)
    except StarletteHTTPException as e:
        # python-multipart's limits; a form-encoded body has no other way to fail to parse
        if e.status_code == 400:
            raise too_large(f"a form field (at most {FORM_FIELD_MAX} bytes) or the number of fields") from None
        raise


def row_id(value: object, item: str) -> int:
    """A form's row id (``user_id``, ``token_id``): 422 unless a whole number in range."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and 1 <= int(text) <= ROW_ID_MAX):
        raise HTTPException(422, [{"item": item, "problem": "not an id (a whole number from 1)"}])
    return int(text)
