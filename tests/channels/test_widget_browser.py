"""The website chat in a real browser (Debian's headless Chromium, Playwright): a shop's
page on its own origin embeds ``<script src=".../widget.js" data-channel="site">``; a
customer writes, an agent (through the API) accepts and answers, the customer sees the
reply live, as text; after a reload the thread is still there. Screenshots go to
screenshots/.

acd (the desk, its outbox sender and both APIs) runs under uvicorn in a thread with its
own event loop; the shop's static page is served by a second server on another port,
so the widget's calls are cross-origin as on a real site.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from .connected import Connected
from .support import chat, settings

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
PAGE = Path(__file__).resolve().parent / "pages" / "shop.html"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMIUM) or shutil.which("chromium")),
                                reason="needs Debian's chromium (apt-get install -y chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Site:
    """An app (or acd's, made on the server's loop) under uvicorn in a thread."""

    def __init__(self, make: Any, port: int | None = None) -> None:
        self.make, self.port = make, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = threading.Event()
        self.server: uvicorn.Server | None = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        async with self.make() as app:
            config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                    timeout_graceful_shutdown=1)
            self.server = uvicorn.Server(config)
            serving = asyncio.ensure_future(self.server.serve())
            while not self.server.started and not serving.done():
                await asyncio.sleep(0.01)
            self.started.set()
            await serving

    def __enter__(self) -> Site:
        self.thread.start()
        if not self.started.wait(20):
            raise RuntimeError("the server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=10)


class _Plain:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __aenter__(self) -> FastAPI:
        return self.app

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Acd:
    def __init__(self, shop_origin: str, db_url: str) -> None:
        self.config = settings(chat("site", idle_seconds="never", widget={"allowed_origins": [shop_origin]}))
        self.db_url = db_url
        self.service: Connected | None = None

    async def __aenter__(self) -> FastAPI:
        self.service = await Connected(self.config, self.db_url).__aenter__()
        return self.service.app

    async def __aexit__(self, *exc: object) -> None:
        assert self.service is not None
        await self.service.__aexit__(*exc)


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_customer_on_a_shops_page_writes_and_sees_the_agents_reply(browser: Any, tmp_path: Path) -> None:
    shop_port = free_port()
    acd = _Acd(f"http://127.0.0.1:{shop_port}", f"sqlite:///{tmp_path / 'acd.db'}")
    with Site(lambda: acd) as acd_site:
        html = PAGE.read_text().replace("ACD_ORIGIN", acd_site.url)
        shop = FastAPI()
        shop.get("/", response_class=HTMLResponse)(lambda: html)
        with Site(lambda: _Plain(shop), shop_port) as shop_site:
            assert acd.service is not None
            agent = httpx.Client(base_url=acd_site.url, headers=acd.service.headers("anna"), timeout=10)
            page = browser.new_page()
            page.goto(shop_site.url + "/")
            page.get_by_role("button", name="Chat with us").click()
            page.locator("#acd-chat-input").fill("Hello, where is <b>my order</b>?")
            page.keyboard.press("Enter")
            page.locator(".acd-chat-you").wait_for()
            shot(page, "widget-1-customer-wrote")

            offered = agent.get("/api/channels/agents/anna/queue").json()["conversations"]
            assert len(offered) == 1
            cid = offered[0]["id"]
            assert agent.post(f"/api/channels/conversations/{cid}/accept", json={}).status_code == 200
            answer = agent.post(f"/api/channels/conversations/{cid}/answer",
                                json={"text": "It left today: <i>tracking</i> follows."})
            assert answer.status_code == 200, answer.text

            reply = page.locator(".acd-chat-agent")
            reply.wait_for(timeout=10_000)
            assert reply.text_content() == "It left today: <i>tracking</i> follows."
            assert page.locator("#acd-chat-messages b, #acd-chat-messages i").count() == 0  # text, not markup
            shot(page, "widget-2-agent-replied")

            page.reload()
            page.locator(".acd-chat-agent").wait_for(timeout=10_000)
            texts = page.locator(".acd-chat-message").all_text_contents()
            assert texts == ["Hello, where is <b>my order</b>?", "It left today: <i>tracking</i> follows."]
            shot(page, "widget-3-after-reload")
            agent.close()
