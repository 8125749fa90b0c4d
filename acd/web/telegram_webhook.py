"""Telegram's webhook: ``POST /telegram/{channel}/webhook``, one update per request.

For a chat queue whose ``[channels.telegram]`` names ``webhook_secret_env``; register it
with the Bot API (``setWebhook`` with ``url=https://acd.example/telegram/<queue>/webhook``
and ``secret_token`` = that variable's value). Telegram sends the secret in
``X-Telegram-Bot-Api-Secret-Token``: a request without it, or with another, is 403
(compared in constant time); an unknown channel, or one without a webhook, is 404.

A 200 means the update is committed (``TelegramIntake``); anything else makes Telegram
deliver it again, and an update taken before is answered 200 and changes nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from ..channels.desk import Desk, DeskError
from ..channels.telegram import TelegramIntake
from ..config import Settings
from .limits import read_bounded, too_large
from .openapi import errors

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE = 1024 * 1024  # bytes: a text message is at most 4096 characters, with its envelope


def telegram_webhook_router(desk: Desk, settings: Callable[[], Settings]) -> APIRouter:
    api = APIRouter(tags=["telegram"])
    intakes: dict[str, TelegramIntake] = {}

    @api.post("/telegram/{channel}/webhook", responses=errors(400, 403, 404, 413),
              summary="An update from Telegram's Bot API (setWebhook)")
    async def update(channel: str, request: Request) -> dict[str, Any]:
        found = next((c for c in settings().channels if c.id == channel), None)
        if found is None or found.telegram is None or found.telegram.webhook_secret_env is None:
            raise HTTPException(404, f"no Telegram webhook for {channel!r}")
        expected = found.telegram.webhook_secret()
        sent = request.headers.get(SECRET_HEADER, "")
        if not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
            raise HTTPException(403, "not Telegram: the secret token does not match")
        raw = await read_bounded(request, MAX_UPDATE, lambda: too_large("the update"))
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(400, "not a JSON update") from None
        if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
            raise HTTPException(400, "not a Telegram update (no update_id)")
        intake = intakes.get(channel)
        if intake is None:
            intake = intakes[channel] = TelegramIntake(desk, desk.history, channel)
        try:
            taken = await intake.take(body)
        except DeskError as e:  # 503 when not committed: Telegram delivers it again
            raise HTTPException(e.status, str(e)) from None
        return {"ok": True, "taken": taken}

    return api
