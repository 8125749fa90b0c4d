"""A configuration change from the pages or the API, start to end.

validate (``Settings.with_changes``: whole top-level sections, all or nothing) ->
share with the other nodes (``share``, on PostgreSQL: ``acd.ha.shared_settings``) ->
apply live (``apply_settings``) -> write the TOML file back (atomically, the old one
kept as ``.bak``) -> one audit row with the diff. A ``ConfigError`` stops it before
anything is applied; its problems become field-level 422s.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w

from ..config import ConfigError, Settings
from .audit import AuditLog, diff


class SettingsUnavailable(RuntimeError):
    """The service did not give the web app its settings (nothing to edit)."""


class SettingsChanges:
    def __init__(self, settings: Callable[[], Settings] | None, apply: Callable[[Settings], None] | None,
                 config_path: Path | None, audit: AuditLog,
                 share: Callable[[Mapping[str, Any]], None] | None = None) -> None:
        self._settings = settings
        self._share = share
        self._apply = apply
        self.config_path = config_path
        self.audit = audit

    @property
    def available(self) -> bool:
        return self._settings is not None and self._apply is not None

    def current(self) -> Settings:
        if self._settings is None:
            raise SettingsUnavailable("settings are not available in this process")
        return self._settings()

    def change(self, user: Any, changes: Mapping[str, Any], *, action: str, target: str = "") -> Settings:
        """Validate, apply, persist and audit; ConfigError (nothing changed) when invalid."""
        if self._apply is None:
            raise SettingsUnavailable("settings cannot be changed in this process")
        before = self.current()
        after = before.with_changes(changes)
        new = after.to_dict(*changes)  # only the sections changed: the others are the same
        if self._share is not None:  # the other nodes' copy first: it may fail, then nothing changed
            self._share({key: new.get(key) for key in changes})
        self._apply(after)
        if self.config_path is not None:
            write_toml(self.config_path, {key: new[key] for key in changes if key in new},
                       removed=[key for key in changes if key not in new])
        self.audit.write(user, action, target, diff(before.to_dict(*changes), new))
        return after


def write_toml(path: Path, sections: Mapping[str, Any], removed: Sequence[str] = ()) -> None:
    """Replace top-level sections of a TOML file, keeping the rest of it (the database
    URL and any secret it holds) as it is; temp file + rename, the old file as ``.bak``."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        data = {}
    data.update(sections)
    for key in removed:
        data.pop(key, None)
    text = tomli_w.dumps(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            shutil.copy2(path, path.with_name(path.name + ".bak"))
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def problems(error: ConfigError) -> list[dict[str, str]]:
    """The API's 422 detail: ``[{"item": "groups[0] \\"sales\\".rings", "problem": "..."}]``."""
    return [{"item": item, "problem": problem} for item, problem in error.problems]


_LIST_ITEM = re.compile(r'^(\w+)\[(\d+)\](?: "[^"]*")?\.?')
_KEY_ITEM = re.compile(r'^(\w+)\."?([^".]*)"?(?: \(the key\))?$')


def field_errors(error: ConfigError, section: str, index: int | str | None = None) -> dict[str, str]:
    """Problems of one form, by field name: for section "groups" and index 2,
    ``groups[2] "x".missed.number`` -> ``{"missed.number": ...}``; ``members[3]`` ->
    ``members``. Problems elsewhere in the settings go under ``""`` (the form's top)."""
    out: dict[str, str] = {}
    for item, problem in error.problems:
        name = ""
        m = _LIST_ITEM.match(item)
        if m and m[1] == section and (index is None or str(index) == m[2]):
            name = re.sub(r"\[\d+\]", "", item[m.end():]) or "id"
        elif section == "numbers" and (k := _KEY_ITEM.match(item)) and k[1] == "numbers":
            name = f"numbers.{k[2]}"
        elif item == section or item.startswith(section + "."):
            name = item
        out[name] = f"{out[name]}; {problem}" if name in out else problem
    return out
