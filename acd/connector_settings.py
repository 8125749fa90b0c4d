"""Settings of the customer-facing connectors of a channel queue (``[[channels]]``):
the website chat widget and Telegram for chats, SMTP for a mailbox's replies.

Their own module beside ``acd.config`` (which holds one optional field each in
``ChannelSettings``), kept out of the ``acd.channels`` package so that loading the
configuration does not load the desk. Secrets (the bot token, the SMTP password) are
named by an environment variable and read when used; never in the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MESSAGE_MAX = 64 * 1024  # characters: the channels API's own limit of one message


def _env_name(value: str) -> str:
    if not ENV_NAME.match(value):
        raise ValueError("not an environment variable name (letters, digits and _)")
    return value


def _origin(value: str) -> str:
    """``scheme://host[:port]`` exactly as a browser sends it in ``Origin``."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError('not a web site origin: write it as "https://shop.example" (scheme, host, optional port)')
    return f"{parts.scheme}://{parts.netloc.lower()}"


EnvName = Annotated[str, AfterValidator(_env_name)]
Origin = Annotated[str, AfterValidator(_origin)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_secret_in_the_file(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and ({"password", "token"} & set(data)):
            raise ValueError("a secret does not belong in the file: name an environment variable "
                             "(password_env, token_env)")
        return data


class WidgetSettings(_Section):
    """``[channels.widget]``: the chat window a company puts on its site with
    ``<script src="https://acd.example/widget.js" data-channel="<id>" async></script>``."""

    # sites allowed to embed the chat (CORS); any other is refused with 403
    allowed_origins: list[Origin] = Field(min_length=1, max_length=100)
    max_message_chars: int = Field(default=2000, ge=1, le=MESSAGE_MAX)
    visitor_messages_per_minute: int = Field(default=20, ge=1, le=10_000)
    # one address (an office behind one NAT holds many visitors)
    address_messages_per_minute: int = Field(default=120, ge=1, le=100_000)
    new_visitors_per_minute: int = Field(default=30, ge=1, le=10_000)  # per address


class TelegramSettings(_Section):
    """``[channels.telegram]``: a Telegram bot whose chats enter this queue and to which
    agents' replies go (``sendMessage``). Updates come by long polling ``getUpdates``,
    or, with ``webhook_secret_env``, by Telegram posting them to
    ``/telegram/<queue>/webhook`` (set with the Bot API's ``setWebhook`` and the same
    ``secret_token``); never both, as Telegram refuses getUpdates while a webhook is set."""

    token_env: EnvName  # the environment variable holding the bot token
    api_url: str = Field(default="https://api.telegram.org", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    poll_timeout_s: int = Field(default=25, ge=0, le=50)  # getUpdates' long-polling wait
    webhook_secret_env: EnvName | None = None  # the secret_token Telegram sends with each update

    def token(self) -> str | None:
        return os.environ.get(self.token_env) or None

    def webhook_secret(self) -> str | None:
        return os.environ.get(self.webhook_secret_env) or None if self.webhook_secret_env else None


class SmtpSettings(_Section):
    """``[channels.smtp]``: where a mailbox's replies are sent from."""

    address: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")  # From: the mailbox
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = Field(default=None, min_length=1, max_length=320)
    password_env: EnvName | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=300)

    @model_validator(mode="after")
    def _login_whole(self) -> SmtpSettings:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("Give both the user name and the environment variable holding the password "
                             "(username and password_env), or neither for a server that needs no sign-in.")
        return self

    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None if self.password_env else None
