"""Users, their login sessions and API tokens, in the history's database.

``Accounts(engine)`` owns three tables declared on the store's ``Base`` (so
``Store.create_all`` creates them too): ``web_users`` (argon2 password hashes),
``web_sessions`` (a browser's login: the cookie holds a random key, the table its
SHA-256 and the session's CSRF token) and ``web_tokens`` (Bearer tokens for
integrations: shown once at creation, stored as SHA-256 only). Random 256-bit keys
need no slow hash; passwords do.

Tests and tools make a user and a token in two lines::

    accounts = Accounts(store.engine)          # or Accounts.in_memory()
    user = accounts.create_user("ann", "pw", role="supervisor", permissions={"telephony"})
    token = accounts.create_token(user.id, "crm")  # "Authorization: Bearer <token>"
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Engine, ForeignKey, String, Table, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.concurrency import run_in_threadpool

from ..store.database import make_engine
from ..store.models import Base
from .security import PERMISSIONS, ROLES, User

SESSION_LIFETIME_S = 12 * 3600  # a browser login lasts a working day
TOKEN_PREFIX = "acd_"
USERNAME_MAX = 64  # the width of web_users.username
PASSWORD_MIN = 8
PASSWORD_MAX = 256  # a passphrase fits; a megabyte is not hashed (argon2 reads all of it)
TOKEN_NAME_MAX = 100
AGENT_ID_MAX = 64  # the width of web_users.agent_id, as the configuration's ids

_hasher = PasswordHasher()
# verifying against this keeps "no such user" as slow as "wrong password"
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserRow(Base):
    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin | supervisor | agent
    permissions: Mapped[list[str]] = mapped_column(default=list)
    agent_id: Mapped[str | None] = mapped_column(String(64))  # the agent this user is, if any
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float]
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)  # None: the site's


class SessionRow(Base):
    __tablename__ = "web_sessions"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float]


class TokenRow(Base):
    __tablename__ = "web_tokens"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart
    created_at: Mapped[float]
    last_used_at: Mapped[float | None]


TABLES: list[Table] = [UserRow.__table__, SessionRow.__table__, TokenRow.__table__]  # type: ignore[list-item]


class AccountError(ValueError):
    """A refused account change: ``field`` names the form field, ``problem`` says why."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: int
    name: str
    hint: str
    created_at: float
    last_used_at: float | None


@dataclass(frozen=True)
class LoginSession:
    key: str  # goes into the cookie; never stored
    csrf: str
    user: User


def normalise_username(username: str) -> str:
    """The name as stored and looked up: surrounding spaces are never part of it."""
    return username.strip()


def _check_password(password: str, field: str = "password") -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(field, f"{PASSWORD_MIN} to {PASSWORD_MAX} characters")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _user(row: UserRow) -> User:
    perms = frozenset(PERMISSIONS) if row.role == "admin" else frozenset(row.permissions or ())
    return User(row.id, row.username, row.role, perms, row.agent_id, row.time_zone or None)


def _check(role: str, permissions: Iterable[str], agent_id: str | None) -> list[str]:
    if role not in ROLES:
        raise AccountError("role", f"unknown role {role!r} (one of: {', '.join(ROLES)})")
    perms = sorted(set(permissions))
    unknown = [p for p in perms if p not in PERMISSIONS]
    if unknown:
        raise AccountError("permissions", f"unknown permission {unknown[0]!r} (known: {', '.join(PERMISSIONS)})")
    if role == "agent" and not agent_id:
        raise AccountError("agent_id", "an agent account needs the agent it belongs to")
    if agent_id is not None and len(agent_id) > AGENT_ID_MAX:
        raise AccountError("agent_id", f"at most {AGENT_ID_MAX} characters")
    return perms


TOKEN_CACHE_S = 10.0  # how long a checked API token is trusted without asking the database


class Accounts:
    def __init__(self, engine: Engine, *, create: bool = True, clock: Any = time.time) -> None:
        self.engine = engine
        self._now = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # token hash -> (user, valid until): an integration posting hundreds of requests a
        # second must not cost a database query each; any change to users or tokens here
        # forgets them all, so a revocation takes effect at once in this process
        self._tokens_seen: dict[str, tuple[User, float]] = {}
        # token hash -> the database check under way (``check_token``, on the event loop)
        self._checks: dict[str, asyncio.Future[User | None]] = {}
        self._forgotten = 0  # times every token was forgotten: a check begun before keeps its answer to itself
        self._forgetting = threading.Lock()  # a forget and a check's answer kept: one after the other
        # several nodes: told within each transaction that changes users or tokens, so
        # the others forget theirs when it commits (acd.ha.node)
        self.change_listeners: list[Callable[[Session], None]] = []
        if create:
            Base.metadata.create_all(engine, tables=TABLES)

    def forget_tokens(self) -> None:
        """Ask the database again about every token (users or tokens changed, here or on
        another node): nobody takes the answer of a check begun before."""
        with self._forgetting:
            self._forgotten += 1
            self._tokens_seen.clear()
            self._checks.clear()

    def _changed(self, session: Session) -> None:
        for listener in self.change_listeners:
            listener(session)

    @classmethod
    def in_memory(cls) -> Accounts:
        """A throw-away database (tests, an app without a store). A file in a temporary
        folder, not SQLite's ":memory:": that lives in one connection, which the request
        threads would share, and one thread's COMMIT would end another's transaction."""
        folder = tempfile.mkdtemp(prefix="acd-accounts-")
        atexit.register(shutil.rmtree, folder, True)
        return cls(make_engine(f"sqlite:///{folder}/accounts.db"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _changing(self) -> Iterator[Session]:
        """A transaction that changes users or tokens. The tokens checked so far are
        forgotten before it and again once it is committed: a check that read the old
        rows meanwhile does not keep its answer, so a revocation takes effect at once in
        this process. The other nodes are told within it (``change_listeners``)."""
        self.forget_tokens()
        try:
            with self.session() as s:
                self._changed(s)
                yield s
        finally:
            self.forget_tokens()

    # -------------------------------------------------------------- users
    def create_user(self, username: str, password: str, *, role: str = "agent",
                    permissions: Iterable[str] = (), agent_id: str | None = None) -> User:
        username = normalise_username(username)
        if not username or len(username) > USERNAME_MAX:
            raise AccountError("username", f"required, at most {USERNAME_MAX} characters")
        _check_password(password)
        perms = _check(role, permissions, agent_id)
        with self.session() as s:
            if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                raise AccountError("username", f"{username!r} is taken")
            row = UserRow(username=username, password_hash=_hasher.hash(password), role=role,
                          permissions=perms, agent_id=agent_id or None, active=True, created_at=self._now())
            s.add(row)
            s.flush()
            return _user(row)

    def update_user(self, user_id: int, *, role: str, permissions: Iterable[str], agent_id: str | None,
                    active: bool = True, password: str | None = None) -> User:
        perms = _check(role, permissions, agent_id)
        if password is not None:
            _check_password(password)
        with self._changing() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise AccountError("id", "no such user")
            row.role, row.permissions, row.agent_id, row.active = role, perms, agent_id or None, active
            if password is not None:
                row.password_hash = _hasher.hash(password)
            if password is not None or not active:  # a new password or a lock ends every login
                s.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
            return _user(row)

    def set_time_zone(self, user_id: int, time_zone: str | None) -> User:
        """The zone this user's pages show times in (an IANA name); None: the site's."""
        with self._changing() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise AccountError("id", "no such user")
            row.time_zone = time_zone or None
            return _user(row)

    def delete_user(self, user_id: int) -> None:
        with self._changing() as s:
            s.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
            s.execute(delete(TokenRow).where(TokenRow.user_id == user_id))
            s.execute(delete(UserRow).where(UserRow.id == user_id))

    def user(self, user_id: int) -> User | None:
        with self.session() as s:
            row = s.get(UserRow, user_id)
            return _user(row) if row is not None and row.active else None

    def user_any(self, user_id: int) -> tuple[User, bool] | None:
        """A user, active or not, with whether the account is active."""
        with self.session() as s:
            row = s.get(UserRow, user_id)
            return None if row is None else (_user(row), row.active)

    def users(self) -> list[tuple[User, bool]]:
        """Every user with whether the account is active."""
        with self.session() as s:
            return [(_user(r), r.active) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def count_admins(self) -> int:
        with self.session() as s:
            rows = s.scalars(select(UserRow).where(UserRow.role == "admin", UserRow.active.is_(True)))
            return len(list(rows))

    def has_users(self) -> bool:
        with self.session() as s:
            return s.scalar(select(UserRow.id).limit(1)) is not None

    def authenticate(self, username: str, password: str) -> User | None:
        username = normalise_username(username)
        if len(username) > USERNAME_MAX or len(password) > PASSWORD_MAX:
            return None  # no such account can exist: nothing to look up or hash
        with self.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            ok: bool
            try:
                ok = _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                ok = False
            if not ok or row is None or not row.active:
                return None
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
            return _user(row)

    # -------------------------------------------------------------- browser sessions
    def start_session(self, user: User) -> LoginSession:
        key, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._now()
        with self.session() as s:
            s.execute(delete(SessionRow).where(SessionRow.expires_at < now))  # old ones go on the way
            s.add(SessionRow(key_hash=_sha256(key), user_id=user.id, csrf=csrf,
                             expires_at=now + SESSION_LIFETIME_S))
        return LoginSession(key, csrf, user)

    def session_user(self, key: str) -> tuple[User, str] | None:
        """The user of a session cookie and the session's CSRF token."""
        with self.session() as s:
            row = s.get(SessionRow, _sha256(key))
            if row is None or row.expires_at < self._now():
                return None
            user = s.get(UserRow, row.user_id)
            if user is None or not user.active:
                return None
            return _user(user), row.csrf

    def end_session(self, key: str) -> None:
        with self.session() as s:
            s.execute(delete(SessionRow).where(SessionRow.key_hash == _sha256(key)))

    # -------------------------------------------------------------- API tokens
    def create_token(self, user_id: int, name: str = "api") -> str:
        """A new Bearer token for the user: the only time its text exists outside the caller."""
        name = name.strip()
        if not name or len(name) > TOKEN_NAME_MAX:
            raise AccountError("name", f"required, at most {TOKEN_NAME_MAX} characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.session() as s:
            if s.get(UserRow, user_id) is None:
                raise AccountError("user_id", "no such user")
            s.add(TokenRow(user_id=user_id, name=name, token_hash=_sha256(token), hint=token[:8],
                           created_at=self._now(), last_used_at=None))
        return token

    def cached_token_user(self, token: str) -> User | None:
        """The token's user if it was checked in the last TOKEN_CACHE_S seconds (no I/O)."""
        seen = self._tokens_seen.get(_sha256(token))
        return seen[0] if seen is not None and seen[1] > self._now() else None

    async def check_token(self, token: str) -> User | None:
        """``token_user`` for the event loop, in a worker thread; requests that come
        together with the same token share one check. A restarted service (and one
        every TOKEN_CACHE_S) gets an integration's requests in flight all at once: each
        asked the database and wrote the token's last use, racing for SQLite's write
        lock, and the first answers took 150 ms (bench.http_assign, issue 16)."""
        digest = _sha256(token)
        check = self._checks.get(digest)
        if check is None:
            check = self._checks[digest] = asyncio.ensure_future(run_in_threadpool(self.token_user, token))
            check.add_done_callback(lambda done: self._checks.pop(digest, None) if self._checks.get(digest) is done
                                    else None)
        return await asyncio.shield(check)  # one caller leaving does not end the others' check

    def token_user(self, token: str) -> User | None:
        digest = _sha256(token)
        forgotten = self._forgotten
        with self.session() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.token_hash == digest))
            if row is None:
                return None
            user = s.get(UserRow, row.user_id)
            if user is None or not user.active:
                return None
            now = self._now()
            if row.last_used_at is None or now - row.last_used_at > 60:  # not a write per request
                s.execute(update(TokenRow).where(TokenRow.id == row.id).values(last_used_at=now))
            found = _user(user)
        with self._forgetting:
            if forgotten == self._forgotten:  # else users or tokens changed meanwhile: asked again next time
                self._tokens_seen[digest] = (found, now + TOKEN_CACHE_S)
        return found

    def tokens(self, user_id: int | None = None) -> list[TokenInfo]:
        with self.session() as s:
            q = select(TokenRow).order_by(TokenRow.id)
            if user_id is not None:
                q = q.where(TokenRow.user_id == user_id)
            return [TokenInfo(r.id, r.user_id, r.name, r.hint, r.created_at, r.last_used_at) for r in s.scalars(q)]

    def revoke_token(self, token_id: int, user_id: int | None = None) -> bool:
        with self._changing() as s:
            q = delete(TokenRow).where(TokenRow.id == token_id)
            if user_id is not None:
                q = q.where(TokenRow.user_id == user_id)
            return bool(s.execute(q).rowcount)  # type: ignore[attr-defined]
