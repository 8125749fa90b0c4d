"""Which acd node is active for an Asterisk server, and the guarantee that no other
node sends that server an AMI action.

Several ``acd serve`` processes share one PostgreSQL database. For each Asterisk server
exactly one is **active**: it logs in to the server's AMI, owns its calls and runs their
timers; the others stand by (no AMI connection, no call timers) and take over when the
active one dies or loses the database. Without ``[ha]`` (and always on SQLite) there is
one node and it is active from the start (``AlwaysActive``), as before.

Why a lease row with a fencing token, not an advisory lock: PostgreSQL releases a session
advisory lock when the holder's session ends, which suits kill -9 but neither a paused
(SIGSTOP) nor a partitioned holder: its TCP connection stays open, the kernel keeps
acknowledging, and PostgreSQL keeps the lock as long as it keeps the session (minutes
with default keepalives), so nobody takes over. And when the session does end, the old
holder learns it only at its next query: it cannot tell, without a round trip before
each AMI write, whether it may still act. Both needs call for a time bound, i.e. a lease.
A lease row (``ha_leases``: server, holder, term, expires_at) expires by itself after
``lease_s`` of the database's time whatever became of its holder, and its holder knows
from its own clock until when the lease surely holds: the check before every AMI write
is a clock read, no database round trip on the ring path. ``term`` is the fencing token:
it grows at every change of holder, and a renewal counts only under the term it was
granted, so a former holder (even one restarted under the same node name) can never
renew its way back over a newer term.

The guarantee (a former leader sends no AMI action once a new one took over):
- Renewal: the holder reads its clock (``sent``), then runs ``UPDATE ... SET expires_at =
  db_now + lease_s WHERE holder = me AND term = my term``. The database runs it at some
  moment after ``sent``, so the row expires no earlier than ``sent + lease_s`` real time.
- The holder counts its lease valid until ``sent + lease_s - MARGIN_S`` on its own clock
  (CLOCK_BOOTTIME: it runs on while the process is stopped and while the machine
  sleeps) and writes no byte to the AMI socket after that: the AMI link checks
  ``active()`` in the same synchronous step as each write (``AmiConnection(may_send=)``).
- A standby claims the row only when ``expires_at < db_now`` (a new term), and only then
  connects to Asterisk.
So the old holder's last possible write comes at least MARGIN_S before the takeover.
The margin covers the two clocks' rates (NTP keeps them within 500 ppm: 1 ms over 2 s)
and bytes in flight (the new leader's first action follows its TCP connect and Login,
more round trips than a write takes to arrive). Not covered: the database host's clock
stepping (let NTP slew it), and a process frozen in the microseconds between the check
and its write() call: Asterisk accepts no fencing token, so that window cannot be closed
from our side.

The renewals run in a thread of their own: a busy event loop does not lose the lease
(a stopped process or one cut off from the database still does). A renewal that fails
or answers late is not fatal by itself: the lease counted locally may still hold. The
node gives up when that runs out or a renewal finds the row taken:
``run`` raises LeadershipLost, and ``acd serve`` exits (status 75) for its supervisor
(systemd, docker) to start it again as a standby, with a clean picture.

Takeover after the active's death: what was left of its lease (at most ``lease_s``),
one poll of the standby (``lease_s / 10``), then the AMI connect, Login and the resync
every restart does (CoreShowChannels, DeviceStateList, the history).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

DEFAULT_SERVER = "default"  # the one [ami] of a single-server configuration
MARGIN_S = 0.1  # the holder stops writing this long before its lease can expire (docstring)
CONNECT_TIMEOUT_S = 2.0


def boottime() -> float:
    """Seconds on a clock that never goes back and keeps counting while the process is
    stopped or the machine suspended (CLOCK_MONOTONIC stops in a suspend)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _settle(future: asyncio.Future[str], why: str) -> None:
    if not future.done():
        future.set_result(why)


class LeadershipLost(Exception):
    """This node was active and no longer is: it must stop acting at once."""


class Leadership(Protocol):
    server: str

    def active(self) -> bool: ...

    async def wait_active(self) -> None: ...


class AlwaysActive:
    """One node on its own database: active for its server from the start."""

    def __init__(self, server: str = DEFAULT_SERVER) -> None:
        self.server = server

    def active(self) -> bool:
        return True

    async def wait_active(self) -> None:
        return


# One statement claims a free or expired row, or renews our own under our term.
# The database's clock decides expiry (clock_timestamp(): the statement's own moment).
CLAIM = """
INSERT INTO ha_leases AS lease (server, holder, term, expires_at)
VALUES (%(server)s, %(node)s, 1, extract(epoch FROM clock_timestamp()) + %(lease_s)s)
ON CONFLICT (server) DO UPDATE
   SET holder = excluded.holder,
       term = CASE WHEN lease.holder = excluded.holder AND lease.term = %(term)s
                   THEN lease.term ELSE lease.term + 1 END,
       expires_at = excluded.expires_at
 WHERE (lease.holder = excluded.holder AND lease.term = %(term)s)
    OR lease.expires_at < extract(epoch FROM clock_timestamp())
RETURNING term
"""
HOLDER = "SELECT holder, term FROM ha_leases WHERE server = %(server)s"
# at a clean stop: the standby may take over at its next poll instead of after the lease
RELEASE = "UPDATE ha_leases SET expires_at = 0 WHERE server = %(server)s AND holder = %(node)s AND term = %(term)s"


def conninfo(database_url: str) -> str:
    """libpq's form of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://...``)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Lease:
    """This node's claim to be active for one Asterisk server (module docstring)."""

    def __init__(self, database_url: str, *, node: str, server: str = DEFAULT_SERVER, lease_s: float = 1.5,
                 clock: Callable[[], float] = boottime) -> None:
        self.server = server
        self.node = node
        self.lease_s = lease_s
        self.renew_s = lease_s / 5  # four renewals may fail before the lease runs out
        self.poll_s = max(0.05, lease_s / 10)  # a standby's look at an expired lease
        self.term: int | None = None  # the fencing token while active
        import psycopg  # only where PostgreSQL is used ('.[postgres]'); SQLite needs none

        self._psycopg = psycopg
        self._errors = (psycopg.Error, OSError, TimeoutError)
        self._conninfo = conninfo(database_url)
        self._clock = clock
        self._valid_until = -math.inf
        self._db: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._became_active = asyncio.Event()
        self._told_standby = False
        self._failing = False  # the last claim or renewal failed
        self._lock = threading.Lock()  # the lease's thread and the service's loop both change the state
        self._given_up = False
        self._on_active: Callable[[], object] = lambda: None
        self._on_lost: Callable[[str], object] = lambda why: None

    def __repr__(self) -> str:
        return f"Lease(server={self.server!r}, node={self.node!r}, term={self.term}, active={self.active()})"

    def active(self) -> bool:
        """True while this node may act for the server: a clock read, no I/O."""
        return self._clock() < self._valid_until

    async def wait_active(self) -> None:
        await self._became_active.wait()

    async def run(self) -> None:
        """Claim, then renew, until cancelled; raises LeadershipLost (gate already
        closed) when a lease held was lost. The database work runs in a thread of its
        own, on its own event loop: a busy loop here (200 callers answered at once on
        a loaded machine) does not cost the lease, while a stopped or cut-off process
        still loses it (every thread stops; no renewal reaches the database)."""
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[str] = loop.create_future()
        self._on_active = lambda: loop.call_soon_threadsafe(self._became_active.set)
        self._on_lost = lambda why: loop.call_soon_threadsafe(_settle, lost, why)
        stop = threading.Event()
        threading.Thread(target=asyncio.run, args=(self._renewing(stop),), name=f"lease {self.server}",
                         daemon=True).start()
        try:
            while True:
                try:
                    why = await asyncio.wait_for(asyncio.shield(lost), self.renew_s)
                except TimeoutError:  # the thread may hang in a query: the clock decides
                    if self.term is None or self.active():
                        continue
                    why = f"its lease ran out ({self.lease_s:g} s without a renewal reaching the database)"
                term = self._give_up()
                log.error(f"no longer active for {self.server}: {why}", extra={"ha_node": self.node, "ha_term": term})
                raise LeadershipLost(f"no longer active for {self.server}: {why}")
        finally:
            stop.set()

    async def release(self) -> None:
        """At a clean stop, once no more AMI actions can leave: hand over at once."""
        term = self._give_up()
        if term is None:
            return

        def release() -> None:
            try:
                with self._psycopg.connect(self._conninfo, autocommit=True,
                                           connect_timeout=int(CONNECT_TIMEOUT_S)) as db:
                    db.execute(RELEASE, {"server": self.server, "node": self.node, "term": term})
            except self._errors:
                log.warning("lease not released: the standby takes over when it expires",
                            extra={"ha_server": self.server})

        thread = threading.Thread(target=release, name=f"lease {self.server} release", daemon=True)
        thread.start()
        await asyncio.to_thread(thread.join, CONNECT_TIMEOUT_S)

    # ------------------------------------------------------------------ internals
    def _give_up(self) -> int | None:
        """Shut the gate for good; the term held, if any."""
        with self._lock:
            self._given_up = True
            self._valid_until = -math.inf
            term, self.term = self.term, None
        return term

    def _hold(self, term: int, sent: float) -> bool:
        """Record a claim or renewal sent at ``sent`` (the lease's thread); False once given up."""
        with self._lock:
            if self._given_up:
                return False
            self.term = term
            self._valid_until = sent + self.lease_s - MARGIN_S
            return True

    async def _renewing(self, stop: threading.Event) -> None:
        """The lease's thread: claim, then renew, until ``stop`` or a loss (told to
        ``run`` through ``_on_lost``)."""
        try:
            while not stop.is_set():
                if self.term is not None and self._clock() >= self._valid_until:
                    self._on_lost(f"its lease ran out ({self.lease_s:g} s without a renewal reaching the database)")
                    return
                sent = self._clock()
                term = await self._claim(sent)
                if self.term is not None:
                    if term == self.term:
                        self._hold(term, sent)
                    elif not isinstance(term, Exception):  # taken, or ours again only after another's term
                        self._on_lost("another node took the lease over")
                        return
                elif isinstance(term, int):
                    if not self._hold(term, sent):
                        return
                    log.info(f"active for {self.server}", extra={"ha_node": self.node, "ha_term": term})
                    self._on_active()
                elif term is None and not self._told_standby:
                    self._told_standby = True
                    log.info(f"standby for {self.server}", extra={"ha_node": self.node,
                                                                  "ha_active": await self._holder()})
                await asyncio.sleep(self.renew_s if self.term is not None else self.poll_s)
        finally:
            await self._disconnect()

    async def _claim(self, sent: float) -> int | None | Exception:
        """The term granted, None when another node holds the lease, or the error that
        left the answer unknown. Bounded by what is left of our lease."""
        held = self.term is not None
        budget = self.lease_s if not held else max(0.0, self._valid_until - sent)
        try:
            async with asyncio.timeout(max(budget, 0.01)):
                db = await self._connection()
                cursor = await db.execute(CLAIM, {"server": self.server, "node": self.node,
                                                  "lease_s": self.lease_s, "term": self.term or 0})
                row = await cursor.fetchone()
        except self._errors as exc:
            if not self._failing:  # once per outage: a standby polls several times a second
                log.warning("lease not renewed" if held else "lease database unreachable",
                            extra={"ha_server": self.server, "reason": str(exc) or type(exc).__name__})
            self._failing = True
            await self._disconnect()
            return exc
        if self._failing:
            self._failing = False
            log.info("lease database reachable again", extra={"ha_server": self.server})
        return None if row is None else int(row[0])  # type: ignore[call-overload]

    async def _holder(self) -> str:
        try:
            db = await self._connection()
            cursor = await db.execute(HOLDER, {"server": self.server})
            row = await cursor.fetchone()
        except self._errors:
            return "unknown"
        return "nobody" if row is None else f"{row[0]} (term {row[1]})"

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._db is None or self._db.closed:
            self._db = await self._psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, application_name=f"acd {self.node} lease {self.server}"[:63])
        return self._db

    async def _disconnect(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                await db.close()
            except self._errors:
                pass
