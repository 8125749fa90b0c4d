"""Shared plumbing of the configuration pages and API: one list section (groups,
agents) edited item by item, with ConfigError turned into 422s."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from ..config import ConfigError, Settings
from .security import User
from .settings_changes import SettingsChanges, SettingsUnavailable, problems


def version(item: Any) -> str:
    """A short fingerprint of an item as stored: a form sends it back to detect that
    someone else changed the item meanwhile."""
    text = json.dumps(item, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def unavailable() -> HTTPException:
    return HTTPException(503, "the configuration is not available in this process")


def current(changes: SettingsChanges) -> Settings:
    try:
        return changes.current()
    except SettingsUnavailable:
        raise unavailable() from None


def items(changes: SettingsChanges, section: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = current(changes).to_dict(section).get(section, [])
    return data


def page_of(changes: SettingsChanges, section: str, offset: int, limit: int | None) -> tuple[list[dict[str, Any]], int]:
    """Items ``offset`` to ``offset + limit`` (all from ``offset`` if no limit) as ``items``
    shows them, and how many there are in all: only the items shown are dumped."""
    settings = current(changes)
    every = getattr(settings, section)
    if offset == 0 and limit is None:
        return items(changes, section), len(every)  # one dump of the section beats one per item
    shown = every[offset:] if limit is None else every[offset:offset + limit]
    return [x.model_dump(mode="json", exclude_none=True) for x in shown], len(every)


def find(changes: SettingsChanges, section: str, item_id: str) -> dict[str, Any]:
    """One item as ``items`` shows it, without dumping the whole list (40,000 groups)."""
    found = next((x for x in getattr(current(changes), section) if x.id == item_id), None)
    if found is None:
        raise HTTPException(404, f"no {section[:-1]} {item_id!r}")
    item: dict[str, Any] = found.model_dump(mode="json", exclude_none=True)
    return item


def with_path_id(body: dict[str, Any], item_id: str) -> dict[str, Any]:
    """The item a PUT describes, its id taken from the path; a body naming another id is
    a 422 (it would otherwise create that other item, or silently rename this one)."""
    if "id" in body and body["id"] != item_id:
        raise HTTPException(422, [{"item": "id", "problem": f'the body says "{body["id"]}", the path "{item_id}"'}])
    return {**body, "id": item_id}


def replaced(existing: list[dict[str, Any]], item_id: str | None, new: dict[str, Any] | None) -> tuple[
        list[dict[str, Any]], int]:
    """The list with ``item_id`` replaced by ``new`` (appended if new; removed if None),
    and the new item's position."""
    out = [dict(x) for x in existing]
    at = next((i for i, x in enumerate(out) if x.get("id") == item_id), None)
    if new is None:
        if at is not None:
            del out[at]
        return out, -1
    if at is None:
        out.append(new)
        return out, len(out) - 1
    out[at] = new
    return out, at


def save(changes: SettingsChanges, user: User, section: str, new_list: Any, *, action: str,
         target: str, extra: dict[str, Any] | None = None) -> Settings:
    """Apply a new value of a section; ConfigError passes through to the caller."""
    try:
        return changes.change(user, {section: new_list, **(extra or {})}, action=action, target=target)
    except SettingsUnavailable:
        raise unavailable() from None


def api_error(e: ConfigError) -> JSONResponse:
    return JSONResponse({"detail": problems(e)}, status_code=422)


def api_save(changes: SettingsChanges, user: User, section: str, new_list: Any, *, action: str, target: str,
             result: Callable[[Settings], Any], extra: dict[str, Any] | None = None) -> Any:
    try:
        settings = save(changes, user, section, new_list, action=action, target=target, extra=extra)
    except ConfigError as e:
        return api_error(e)
    return result(settings)
