"""The customer connectors on the channels' pages: a mailbox's SMTP server beside its
IMAP one, an open channel's website widget (with the script tag to copy) and Telegram
bot; saved like every setting (applied, written back, audited), refused field by field
in sentences, and a password or token never shown back."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from .conftest import Service, build, login
from .test_channel_settings import DATA, new_chat_form

SMTP_PASSWORD = "smtp-Secret-never-shown"
BOT_TOKEN = "123456:bot-Token-never-shown"


@pytest.fixture
def svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    monkeypatch.setenv("ACD_SALES_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("ACD_SHOP_BOT_TOKEN", BOT_TOKEN)
    s = build(tmp_path, DATA)
    yield s
    s.distributor.timers.cancel_all()
    s.store.close()


def mailbox_form(client: TestClient, **fields: str) -> dict[str, Any]:
    return {"csrf_token": client.csrf, "name": "Sales mailbox", "members": ["ben", "anna"], "owner_first": "on",
            "smtp.enabled": "on", "smtp.address": "sales@shop.example", "smtp.host": "smtp.example.com",
            "smtp.port": "465", "smtp.security": "ssl", "smtp.username": "sales@shop.example",
            "smtp.password_env": "ACD_SALES_SMTP_PASSWORD", **fields}


def everything_shown(svc: Service, client: TestClient, page: str, api: str) -> str:
    return (client.get(page).text + client.get(api).text + svc.config_path.read_text()
            + repr([e.changes for e in svc.app.state.audit.entries()]))


# ------------------------------------------------------------------ mailboxes: SMTP
def test_a_mailbox_gets_its_smtp_server_beside_imap_and_the_password_is_never_shown(svc: Service) -> None:
    svc.user("mo", permissions={"email"})
    client = login(svc.app, "mo")
    page = client.get("/mailboxes/sales-mail").text
    assert "Sending replies (SMTP)" in page and 'type="password"' not in page
    response = client.post("/mailboxes/sales-mail", data={**mailbox_form(client), "smtp.password": "typed-in"},
                           follow_redirects=False)
    assert response.status_code == 303
    smtp = svc.settings.channel("sales-mail").smtp
    assert smtp is not None
    assert (smtp.address, smtp.host, smtp.port, smtp.security) == ("sales@shop.example", "smtp.example.com", 465, "ssl")
    assert (smtp.username, smtp.password_env) == ("sales@shop.example", "ACD_SALES_SMTP_PASSWORD")
    assert smtp.password() == SMTP_PASSWORD  # read from the environment when sending
    written = tomllib.loads(svc.config_path.read_text())
    (saved,) = [c for c in written["channels"] if c["id"] == "sales-mail"]
    assert saved["smtp"]["host"] == "smtp.example.com" and "password" not in saved["smtp"]
    assert svc.app.state.audit.entries()[0].action == "mailbox saved"
    shown = everything_shown(svc, client, "/mailboxes/sales-mail", "/api/channels-config/mailboxes/sales-mail")
    assert "ACD_SALES_SMTP_PASSWORD" in shown and SMTP_PASSWORD not in shown and "typed-in" not in shown
    assert "smtp.example.com, from sales@shop.example" in client.get("/mailboxes").text
    off = {k: v for k, v in mailbox_form(client).items() if k != "smtp.enabled"}
    assert client.post("/mailboxes/sales-mail", data=off, follow_redirects=False).status_code == 303
    assert svc.settings.channel("sales-mail").smtp is None


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"smtp.host": ""}, "smtp-host", "Give the SMTP server's name, e.g. smtp.example.com."),
    ({"smtp.port": "70000"}, "smtp-port", "Give a port number from 1 to 65535 (587 with STARTTLS, 465 with SSL)."),
    ({"smtp.address": "sales"}, "smtp-address", "Give the mailbox's address replies are sent from"),
    ({"smtp.security": "maybe"}, "smtp-security", "Choose how the connection is secured"),
    ({"smtp.password_env": "my password!"}, "smtp-password_env", "Give the name of an environment variable"),
    ({"smtp.password_env": ""}, "smtp", "Give both the user name and the environment variable"),
])
def test_a_bad_smtp_setting_is_named_on_its_field_in_a_sentence(svc: Service, fields: dict[str, str], field: str,
                                                                 words: str) -> None:
    svc.user("mo", permissions={"email"})
    client = login(svc.app, "mo")
    before = svc.config_path.read_text()
    page = client.post("/mailboxes/sales-mail", data=mailbox_form(client, **fields))
    assert page.status_code == 422 and f'id="err-{field}"' in page.text and escape(words) in page.text, page.text
    assert "Input should" not in page.text and "String should" not in page.text
    assert svc.config_path.read_text() == before and svc.settings.channel("sales-mail").smtp is None


# ------------------------------------------------------------------ open channels: widget and Telegram
def test_an_open_channel_gets_its_website_widget_and_the_script_tag_to_copy(svc: Service) -> None:
    svc.user("ann", permissions={"open_channels"})
    client = login(svc.app, "ann")
    form = new_chat_form(client, **{"widget.enabled": "on",
                                    "widget.allowed_origins": "https://shop.example\nhttp://localhost:8080\n",
                                    "widget.max_message_chars": "1000", "widget.visitor_messages_per_minute": "10",
                                    "widget.address_messages_per_minute": "100",
                                    "widget.new_visitors_per_minute": "20"})
    assert client.post("/open-channels/new", data=form, follow_redirects=False).status_code == 303
    widget = svc.settings.channel("web").widget
    assert widget is not None and widget.allowed_origins == ["https://shop.example", "http://localhost:8080"]
    assert (widget.max_message_chars, widget.visitor_messages_per_minute, widget.address_messages_per_minute,
            widget.new_visitors_per_minute) == (1000, 10, 100, 20)
    page = client.get("/open-channels/web").text
    assert '&lt;script src="http://testserver/widget.js" data-channel="web" async&gt;&lt;/script&gt;' in page
    bad = client.post("/open-channels/web", data={**form, "widget.allowed_origins": "shop.example",
                                                  "widget.max_message_chars": "0"})
    assert bad.status_code == 422 and 'id="err-widget-allowed_origins"' in bad.text
    assert "not a web site origin" in bad.text
    assert 'id="err-widget-max_message_chars"' in bad.text and "Give a number of characters from 1 to" in bad.text
    empty = client.post("/open-channels/web", data={**form, "widget.allowed_origins": ""})
    assert empty.status_code == 422 and "Name at least one site" in empty.text
    assert svc.settings.channel("web").widget == widget


def test_an_open_channel_gets_its_telegram_bot_by_long_polling_or_webhook_the_token_never_shown(
        svc: Service) -> None:
    svc.user("ann", permissions={"open_channels"})
    client = login(svc.app, "ann")
    page = client.get("/open-channels/new").text
    assert "Telegram" in page and 'type="password"' not in page
    form = new_chat_form(client, **{"telegram.enabled": "on", "telegram.token_env": "ACD_SHOP_BOT_TOKEN",
                                    "telegram.delivery": "polling", "telegram.token": BOT_TOKEN})
    assert client.post("/open-channels/new", data=form, follow_redirects=False).status_code == 303
    telegram = svc.settings.channel("web").telegram
    assert telegram is not None and telegram.token_env == "ACD_SHOP_BOT_TOKEN"
    assert telegram.webhook_secret_env is None and telegram.token() == BOT_TOKEN
    webhook = {**form, "telegram.delivery": "webhook", "telegram.webhook_secret_env": "ACD_SHOP_WEBHOOK_SECRET"}
    assert client.post("/open-channels/web", data=webhook, follow_redirects=False).status_code == 303
    assert svc.settings.channel("web").telegram.webhook_secret_env == "ACD_SHOP_WEBHOOK_SECRET"
    page = client.get("/open-channels/web").text
    assert "http://testserver/telegram/web/webhook" in page
    assert "<td>Telegram</td>" in client.get("/open-channels").text  # where to point setWebhook
    shown = everything_shown(svc, client, "/open-channels/web", "/api/channels-config/chats/web")
    assert "ACD_SHOP_BOT_TOKEN" in shown and BOT_TOKEN not in shown
    bad = client.post("/open-channels/web", data={**webhook, "telegram.token_env": "123:abc",
                                                  "telegram.webhook_secret_env": ""})
    assert bad.status_code == 422 and 'id="err-telegram-token_env"' in bad.text
    assert "Give the name of an environment variable, e.g. ACD_TELEGRAM_TOKEN" in bad.text
    assert 'id="err-telegram-webhook_secret_env"' in bad.text and "Telegram sends with each update" in bad.text
    off = {k: v for k, v in form.items() if k != "telegram.enabled"}
    assert client.post("/open-channels/web", data=off, follow_redirects=False).status_code == 303
    assert svc.settings.channel("web").telegram is None
