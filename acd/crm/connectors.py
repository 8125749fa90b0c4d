"""What every connector shares: the interface the sender calls, how an HTTP answer
becomes an outcome, and keeping webhook URLs and tokens out of logs and reprs."""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Protocol

import httpx
from pydantic import SecretStr

from .outbox import Envelope, Outcome

MASK = "****"


class Connector(Protocol):
    """Delivers outbox jobs to one external CRM or customers' channel (a Telegram bot,
    a mailbox's SMTP server). ``name`` is the jobs' ``target``."""

    name: str

    async def deliver(self, http: httpx.AsyncClient, envelope: Envelope) -> Outcome:
        """One attempt. Transport errors may propagate (the sender retries them)."""
        ...

    def mask(self, text: str) -> str:
        """``text`` with this connector's secrets replaced (for logs and notes)."""
        ...


def reveal(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def outcome_of(response: httpx.Response, now: float | None = None) -> Outcome:
    """2xx delivered; 408, 429 and 5xx again later (with Retry-After); any other 4xx
    dead at once: the request itself is wrong and repeating it will not help."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome.delivered(status)
    if status in (408, 429) or status >= 500:
        return Outcome.again(f"HTTP {status}", status, retry_after(response, now))
    return Outcome.dead(f"HTTP {status}: {excerpt(response)}", status)


def retry_after(response: httpx.Response, now: float | None = None) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date (RFC 9110 10.2.3)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def excerpt(response: httpx.Response, limit: int = 300) -> str:
    try:
        text = response.text
    except Exception:  # undecodable bytes: the status says enough
        return ""
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


class _SecretsFilter(logging.Filter):
    """Masks registered secrets in records of the HTTP libraries (httpx logs each
    request's URL at INFO, and a Bitrix24 webhook URL holds its token)."""

    def __init__(self) -> None:
        super().__init__()
        self.replacements: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.replacements:
            message = record.getMessage()
            masked = mask_text(message, self.replacements)
            if masked != message:
                record.msg, record.args = masked, None
        return True


_FILTER = _SecretsFilter()


def guard_secrets(replacements: dict[str, str]) -> None:
    """Register secret -> masked text for the HTTP libraries' loggers."""
    _FILTER.replacements.update({k: v for k, v in replacements.items() if k})
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def mask_text(text: str, replacements: dict[str, str]) -> str:
    # longest first, so a URL is replaced as a whole before the token inside it
    for secret in sorted(replacements, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, replacements[secret])
    return text
