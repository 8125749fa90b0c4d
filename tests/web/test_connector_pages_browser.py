"""The connectors and the capacity on their pages in a real browser (headless Chromium,
Playwright): a supervisor sets a mailbox's SMTP server (an error in a sentence first),
an open channel's website widget and Telegram bot and copies the widget's script tag,
and sets the weights of one capacity across channels and an agent's own capacity.
Screenshots of each page go to the test's temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.clock import Clock

from .conftest import Service, build
from .test_browser import Served, browser, pytestmark, sign_in  # noqa: F401 - fixtures, marks
from .test_channel_settings import DATA


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Service, Served]]:
    service = build(tmp_path, DATA, clock=Clock())
    service.user("olga", permissions={"open_channels", "email", "agents"})
    with Served(service.app) as s:
        yield service, s
    service.store.close()


def shot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def test_a_supervisor_sets_a_mailboxs_smtp_server(
        served: tuple[Service, Served], browser: Any, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    service, server = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, "olga")
    page.goto(server.url + "/mailboxes/sales-mail")
    page.get_by_label("Send agents' replies through an SMTP server").check()
    page.get_by_label("Sent from (the mailbox's address)").fill("sales@shop.example")
    page.get_by_label("SMTP server", exact=True).fill("smtp.shop.example")
    page.get_by_label("SMTP port").fill("465")
    page.get_by_label("Connection security").select_option("ssl")
    page.get_by_label("Sign in to the SMTP server as").fill("sales@shop.example")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#err-smtp").wait_for()  # a user name without the password's variable
    assert "Give both the user name and the environment variable" in page.locator("#err-smtp").inner_text()
    shot(page, tmp_path, "mailbox-smtp-error")
    page.get_by_label("Environment variable holding the SMTP password").fill("ACD_SALES_SMTP_PASSWORD")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    smtp = service.settings.channel("sales-mail").smtp
    assert smtp is not None and (smtp.host, smtp.port, smtp.security) == ("smtp.shop.example", 465, "ssl")
    page.locator("#smtp").scroll_into_view_if_needed()
    shot(page, tmp_path, "mailbox-smtp")


def test_a_supervisor_gives_an_open_channel_a_widget_and_a_telegram_bot(
        served: tuple[Service, Served], browser: Any, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    service, server = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, "olga")
    page.goto(server.url + "/open-channels/site")
    page.get_by_label("Customers write from the company's web site").check()
    page.get_by_label("Sites that may show the chat").fill("https://shop.example\nshop.example")
    page.get_by_label("Customers write to a Telegram bot").check()
    page.get_by_label("Environment variable holding the bot token").fill("ACD_SHOP_BOT_TOKEN")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#err-widget-allowed_origins").wait_for()
    assert "not a web site origin" in page.locator("#err-widget-allowed_origins").inner_text()
    shot(page, tmp_path, "open-channel-widget-error")
    page.get_by_label("Sites that may show the chat").fill("https://shop.example")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    channel = service.settings.channel("site")
    assert channel.widget is not None and channel.widget.allowed_origins == ["https://shop.example"]
    assert channel.telegram is not None and channel.telegram.token_env == "ACD_SHOP_BOT_TOKEN"
    script = page.get_by_label("The script tag to put on the site's pages").input_value()
    assert script == f'<script src="{server.url}/widget.js" data-channel="site" async></script>'
    page.locator("#widget").scroll_into_view_if_needed()
    shot(page, tmp_path, "open-channel-connectors")


def test_a_supervisor_sets_one_capacity_and_an_agents_own(
        served: tuple[Service, Served], browser: Any, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    service, server = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, "olga")
    page.goto(server.url + "/agents")
    page.get_by_label("Count every channel against one capacity").check()
    page.get_by_label("A chat takes").fill("-3")
    page.get_by_role("button", name="Save the capacity").click()
    page.locator("#err-capacity-chat").wait_for()
    shot(page, tmp_path, "agents-capacity-error")
    page.get_by_label("A chat takes").fill("30")
    page.get_by_role("button", name="Save the capacity").click()
    page.get_by_text("Saved and applied.").wait_for()
    assert service.settings.capacity is not None and service.settings.capacity.chat == 30
    shot(page, tmp_path, "agents-capacity")
    page.goto(server.url + "/agents?edit=anna")
    page.get_by_label("This agent's capacity").fill("150")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    assert service.settings.agent("anna").budget == 150
    page.goto(server.url + "/agents?edit=anna")
    shot(page, tmp_path, "agent-own-capacity")
