"""The first administrator, made on the first start.

``bootstrap_admin(store)`` does nothing when any user exists. Otherwise it creates the
administrator ``ACD_ADMIN_USER`` (default "admin") with ``ACD_ADMIN_PASSWORD``, or,
without one, a generated password that is printed once with ``out`` (the console) and
never logged anywhere else.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine

from .accounts import Accounts
from .security import User

USER_ENV = "ACD_ADMIN_USER"
PASSWORD_ENV = "ACD_ADMIN_PASSWORD"


def bootstrap_admin(engine_or_store: Any, *, env: Mapping[str, str] = os.environ,
                    out: Callable[[str], object] = print) -> User | None:
    """Create the first administrator if there are no users yet; the new user or None."""
    if isinstance(engine_or_store, Accounts):
        accounts = engine_or_store
    else:
        engine: Engine = getattr(engine_or_store, "engine", engine_or_store)
        accounts = Accounts(engine)
    if accounts.has_users():
        return None
    username = env.get(USER_ENV, "").strip() or "admin"
    password = env.get(PASSWORD_ENV, "")
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
    user = accounts.create_user(username, password, role="admin")
    if generated:
        out(f"acd: first administrator {username!r} created with password {password}  "
            f"(shown once; set {PASSWORD_ENV} to choose it)")
    else:
        out(f"acd: first administrator {username!r} created from {USER_ENV}/{PASSWORD_ENV}")
    return user
