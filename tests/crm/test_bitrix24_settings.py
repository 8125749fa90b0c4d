"""Bitrix24 as the settings connect it: webhook or application, the live card on the
service's calls, and what a missing secret says."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet

from acd.config import ConfigError, settings_from_dict
from acd.core.commands import Record, Ring
from acd.crm.bitrix24_portal import AppAuth, WebhookAuth
from acd.crm.calls import build_crm

BASE = {
    "ami": {"secret": "x"},
    "agents": [{"id": "anna", "endpoint": "PJSIP/101"}, {"id": "ben", "endpoint": "PJSIP/102"}],
    "groups": [{"id": "sales", "members": ["anna", "ben"]},
               {"id": "quiet", "members": ["ben"], "crm": {"check_client": False}}],
    "numbers": {"+4930111111": "sales", "+4930222222": "quiet"},
    "default_group": "sales",
}


def settings(**bitrix24):
    return settings_from_dict({**BASE, "crm": {"bitrix24": {"users": {"anna": 11, "ben": 12}, **bitrix24}}})


def test_a_webhook_portal_with_its_limits_and_the_groups_responsible_people(tmp_path, monkeypatch):
    monkeypatch.setenv("B24_HOOK", "https://acme.bitrix24.de/rest/1/wh00kSECRET/")
    feed, sender, crm = build_crm(settings(webhook_url_env="B24_HOOK", rate_per_second=5, burst=250),
                                  SimpleNamespace(now=lambda: 0.0), f"sqlite:///{tmp_path / 'a.db'}")
    connector = sender.connectors["bitrix24"]
    assert isinstance(connector.portal.auth, WebhookAuth)
    assert (connector.portal.bucket.rate, connector.responsibles) == (5, {"sales": "anna", "quiet": "ben"})
    assert "wh00kSECRET" not in repr(connector) and crm.cards is not None


def test_an_application_needs_its_secrets_from_the_environment(tmp_path, monkeypatch):
    app = {"auth": "app", "portal_url": "https://acme.bitrix24.de", "client_id_env": "B24_ID",
           "client_secret_env": "B24_SECRET", "token_key_env": "B24_KEY"}
    with pytest.raises(ConfigError) as missing:
        build_crm(settings(**app), SimpleNamespace(now=lambda: 0.0), f"sqlite:///{tmp_path / 'a.db'}")
    assert "B24_SECRET" in str(missing.value) and "B24_KEY" in str(missing.value)
    monkeypatch.setenv("B24_ID", "local.1")
    monkeypatch.setenv("B24_SECRET", "s3cret")
    monkeypatch.setenv("B24_KEY", "not a key")
    with pytest.raises(ConfigError, match="Fernet key"):
        build_crm(settings(**app), SimpleNamespace(now=lambda: 0.0), f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("B24_KEY", Fernet.generate_key().decode())
    _, sender, _ = build_crm(settings(**app), SimpleNamespace(now=lambda: 0.0), f"sqlite:///{tmp_path / 'a.db'}")
    assert isinstance(sender.connectors["bitrix24"].portal.auth, AppAuth)


def test_the_settings_say_what_each_way_of_connecting_needs():
    with pytest.raises(ConfigError, match="webhook_url_env"):
        settings()
    with pytest.raises(ConfigError, match="client_id_env, client_secret_env, token_key_env"):
        settings(auth="app", portal_url="https://acme.bitrix24.de")


def test_the_card_follows_only_calls_of_groups_that_use_the_crm(tmp_path, monkeypatch):
    monkeypatch.setenv("B24_HOOK", "https://acme.bitrix24.de/rest/1/wh00kSECRET/")
    _, _, crm = build_crm(settings(webhook_url_env="B24_HOOK"), SimpleNamespace(now=lambda: 0.0),
                          f"sqlite:///{tmp_path / 'a.db'}")
    seen = []
    crm.cards = lambda event, commands: seen.extend(commands)
    for call_id, group in (("c1", "sales"), ("c2", "quiet")):
        crm(None, [Record(call_id, 1.0, "arrived", {"caller_number": "030 1234567", "group": group}),
                   Ring(call_id, 1, ("anna",), 15.0)])
    assert {c.call_id for c in seen} == {"c1"} and len(seen) == 2
