"""Every answer carries the pages' security headers once (``pages.SecurityHeaders``);
an answer that sets one itself keeps its own."""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

from acd.web.pages import SecurityHeaders


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    own = [(b"content-security-policy", b"frame-ancestors https://shop.example")] if scope["path"] == "/own" else []
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2"), *own]})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_each_answer_gets_the_headers_once_and_keeps_its_own() -> None:
    transport = httpx.ASGITransport(app=SecurityHeaders(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://acd") as http:
        plain, own = await http.get("/"), await http.get("/own")
    assert plain.headers.multi_items()[1:] == [
        ("x-frame-options", "DENY"), ("content-security-policy", "frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"), ("referrer-policy", "same-origin")]
    assert own.headers.get_list("content-security-policy") == ["frame-ancestors https://shop.example"]
    assert own.headers["x-frame-options"] == "DENY" and own.text == "ok"
