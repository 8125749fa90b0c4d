"""A generic JSON webhook, signed with HMAC-SHA256.

Each job is one POST of a JSON object::

    {"idempotency_key": "...", "event": "owner.changed", "sent_at": 1700000000,
     "attempt": 1, "client": {...}, "owner": "boris", ...}

with the headers ``X-ACD-Idempotency-Key`` (the same on every repeat of the job),
``X-ACD-Timestamp`` (equal to ``sent_at``) and ``X-ACD-Signature: sha256=<hex>``, the
HMAC-SHA256 of the raw body under the shared secret. The timestamp is inside the
signed body, so a receiver can refuse old replays. 2xx means delivered; a receiver
that already saw the key should answer 2xx again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from .connectors import MASK, guard_secrets, mask_text, outcome_of, reveal
from .outbox import Envelope, Outcome

SIGNATURE_HEADER = "X-ACD-Signature"
KEY_HEADER = "X-ACD-Idempotency-Key"
TIMESTAMP_HEADER = "X-ACD-Timestamp"


def sign(secret: str | bytes, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, signature: str) -> bool:
    """For receivers (and tests): does ``signature`` match ``body``? Constant time."""
    return hmac.compare_digest(sign(secret, body), signature.strip())


def mask_url(url: str) -> str:
    """Scheme and host only: paths and queries of webhook URLs often hold tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/{MASK}"


class WebhookConnector:
    def __init__(self, name: str, url: str | SecretStr, secret: str | SecretStr, *,
                 now: Callable[[], float] = time.time) -> None:
        self.name = name
        self._url = reveal(url)
        self._secret = reveal(secret)
        if urlsplit(self._url).scheme not in ("http", "https"):
            raise ValueError(f"webhook {name!r}: the URL must be http(s), got {self.masked()}")
        if not self._secret:
            raise ValueError(f"webhook {name!r}: a signing secret is required")
        self._now = now
        self._replacements = {self._url: self.masked(), self._secret: MASK}
        guard_secrets(self._replacements)

    def masked(self) -> str:
        return mask_url(self._url)

    def __repr__(self) -> str:
        return f"WebhookConnector(name={self.name!r}, url={self.masked()!r})"

    __str__ = __repr__

    def mask(self, text: str) -> str:
        return mask_text(text, self._replacements)

    def body(self, envelope: Envelope, sent_at: int) -> bytes:
        message = {**envelope.payload, "idempotency_key": envelope.key, "event": envelope.event,
                   "sent_at": sent_at, "attempt": envelope.attempts + 1}
        return json.dumps(message, separators=(",", ":"), sort_keys=True).encode()

    async def deliver(self, http: httpx.AsyncClient, envelope: Envelope) -> Outcome:
        sent_at = int(self._now())
        raw = self.body(envelope, sent_at)
        headers = {
            "Content-Type": "application/json",
            KEY_HEADER: envelope.key,
            TIMESTAMP_HEADER: str(sent_at),
            SIGNATURE_HEADER: sign(self._secret, raw),
            "User-Agent": "acd-crm-outbox",
        }
        response = await http.post(self._url, content=raw, headers=headers)
        return outcome_of(response, self._now())
