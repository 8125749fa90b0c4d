"""The connectors' settings say what is wrong in a sentence, per item: origins written
as browsers send them, connectors only on the queues they serve, secrets only by name."""

from __future__ import annotations

import pytest

from acd.config import ConfigError

from .support import chat, settings


def problem(*channels: dict) -> str:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as caught:
        settings(*channels)
    return str(caught.value)


def test_an_allowed_origin_is_a_scheme_and_a_host_and_is_kept_as_browsers_send_it() -> None:
    config = settings(chat("site", widget={"allowed_origins": ["https://Shop.Example", "http://localhost:8080/"]}))
    assert config.channels[0].widget is not None
    assert config.channels[0].widget.allowed_origins == ["https://shop.example", "http://localhost:8080"]
    message = problem(chat("site", widget={"allowed_origins": ["shop.example/contact"]}))
    assert 'channels[0] "site".widget.allowed_origins[0]' in message
    assert 'write it as "https://shop.example"' in message


def test_connectors_belong_to_the_queues_they_serve() -> None:
    email = {"id": "support", "kind": "email", "members": ["anna"]}
    assert 'only a kind = "chat" queue has a widget' in problem(
        {**email, "widget": {"allowed_origins": ["https://shop.example"]}})
    assert 'only a kind = "chat" queue has a telegram' in problem({**email, "telegram": {"token_env": "BOT"}})
    assert 'only a kind = "email" queue sends e-mail' in problem(
        chat("site", smtp={"address": "a@b.example", "host": "smtp.example"}))


def test_smtp_login_needs_both_names_and_no_password_in_the_file() -> None:
    mailbox = {"id": "support", "kind": "email", "members": ["anna"]}
    smtp = {"address": "support@shop.example", "host": "smtp.shop.example"}
    assert "Give both the user name and the environment variable holding the password" in problem(
        {**mailbox, "smtp": {**smtp, "username": "x"}})
    assert "does not belong in the file" in problem({**mailbox, "smtp": {**smtp, "password": "hunter2"}})
    assert "not an environment variable name" in problem(
        {**mailbox, "smtp": {**smtp, "username": "x", "password_env": "no spaces"}})
