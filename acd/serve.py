"""The running service: every long-lived task starts here, under one TaskGroup.

    store ── history writer ──┐
    AMI link (AsteriskPbx) ───┼── Distributor ── Router (pure)
    web server (uvicorn) ─────┘

Start-up and shutdown read top to bottom in ``Acd.run``; a failing task cancels the
others and the error reaches the caller (the CLI logs it and exits non-zero).

With ``[ha]`` several nodes share one PostgreSQL database and only the one holding the
server's lease (acd/ha/leadership.py) connects to Asterisk and runs the calls' timers;
the others serve the web UI and wait. A node that loses the lease stops and exits (75).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn

from . import hot_path
from .channels import Desk, LiveConnectors, WorkCalendar, customer_connectors, routes_from
from .channels.pauses import pauses_on
from .clock import Clock
from .config import Settings
from .core.commands import Record, RefusePickup
from .core.events import (
    AgentWorkChanged,
    CallArrived,
    CallbacksRestored,
    Event,
    OtherChannelsLoadChanged,
    PickupRequested,
    Resynced,
)
from .core.router import Router
from .crm.calls import build_crm, crm_options
from .distributor import Distributor
from .garbage import paced_collection
from .ha.leadership import AlwaysActive, Leadership, LeadershipLost, Lease
from .ha.node import SharedNode
from .pbx import AsteriskPbx, Dialplan, Timing
from .pbx.servers import AsteriskServers
from .store import HistoryWriter, Store
from .store.callback_requests import open_requests
from .store.history_process import HistoryProcess
from .store.schema import ensure_current
from .web.app import WebContext, create_app
from .web.bitrix24_events import bitrix24_events_router
from .web.bootstrap import bootstrap_admin
from .web.channels_api import channels_router
from .web.inbound_chats import install as install_inbound_chats
from .web.live_feed import LiveFeed
from .web.security import forwarded_headers
from .web.telegram_webhook import telegram_webhook_router
from .web.wallboard import install_wallboard
from .web.widget_api import WidgetApi
from .web.workspace import install_workspace

log = logging.getLogger(__name__)


STREAMS_CLOSE_S = 2.0  # at shutdown, open server-sent event streams are closed after this


class CannotListen(Exception):
    """The web server's address cannot be bound (taken, not allowed, unknown host):
    one sentence for the operator, shown instead of a traceback."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket for the web server, or CannotListen saying why.
    Bound before anything else starts, so a taken port is reported at once."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as e:
        raise CannotListen(f"cannot listen on {host}:{port} (web UI): unknown host ({e.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts reuse the port
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise CannotListen(f"cannot listen on {host}:{port} (web UI): the port is already in use; "
                               "stop what uses it, or choose another port with --port") from None
        raise CannotListen(f"cannot listen on {host}:{port} (web UI): {e.strerror or e}") from None
    sock.setblocking(False)
    return sock


@dataclass(frozen=True)
class AmiTarget:
    host: str
    port: int
    username: str
    secret: Any  # str or a pydantic SecretStr: never logged


class Acd:
    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 ami: AmiTarget | Mapping[str, AmiTarget] | None = None,
                 timing: Timing | None = None, config_path: Path | None = None,
                 web_address: tuple[str, int] | None = None) -> None:
        """``ami``: where to reach the (first) Asterisk server instead of the file's, or
        server name -> where (simulators). ``config_path``: the TOML file changes made in
        the web UI are written back to. ``web_address``: (host, port) for the web server
        instead of the file's (``--host``/``--port``); it is not written back."""
        self.settings = settings
        self.web_address = web_address or (settings.service.host, settings.service.port)
        self._web_socket: socket.socket | None = None
        self.clock = clock or Clock()
        self.store = Store(settings.service.database)
        # an empty database is created; an older or unknown schema stops here (SchemaError)
        schema = ensure_current(self.store.engine, upgrade_older=settings.service.upgrade_database)
        log.info("database schema", extra={"result": schema})
        # does this node follow the calls now? leadership answers it, below
        self.is_active: Callable[[], bool] = lambda: True
        # several nodes on PostgreSQL: settings saved on any node, the live picture, the outbox's turn
        self.shared = SharedNode.on(settings.service.database, self.store.engine, current=lambda: self.settings,
                                    apply=self.apply_settings, is_active=lambda: self.is_active(),
                                    now=self.clock.now)
        if self.shared is not None:
            settings = self.settings = self.shared.settings.at_start(settings)
        self.history = HistoryWriter(self.store)
        routing = settings.routing()
        self.router = Router(routing, last_offered=self.store.load_offers(),
                             recent_waits=self.store.recent_waits(list(routing.groups)))
        # which node talks to Asterisk: this one alone, or the one holding the lease. One
        # lease covers every server: a group may span servers, and one router decides for
        # all their members, so the servers cannot have different active nodes
        self.leadership: Leadership = (
            AlwaysActive() if settings.ha is None else
            Lease(settings.service.database, node=settings.ha.node_name, lease_s=settings.ha.lease_seconds))
        self.lost_leadership: str | None = None  # why this node stopped being active
        self.is_active = self.leadership.active  # what the nodes share asks it (self.shared)
        self.servers = self._asterisk_servers(settings, routing, ami, timing)
        self.pbx = self.servers.first  # the only server, or the first of several
        self.distributor = Distributor(self.router, self.clock, self.servers, self.history)
        self.distributor.owns_calls = self.leadership.active
        # open callback requests wait for the first look at the PBX before any is called
        self.distributor.feed(CallbacksRestored(open_requests(self.store)))
        self.servers.attach(self.feed)
        self.live = LiveFeed()
        self.distributor.listeners.append(self.live)
        self.crm_feed, self.crm_sender, self.crm = build_crm(settings, self.clock, settings.service.database)
        self.distributor.listeners.append(self.crm)
        self.distributor.transfer_listeners.append(self.crm.manual_transfer)
        # events of a call whose owner is being looked up wait here, in order
        self._held: dict[str, list[Event]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._intercepts = 0
        # chats, e-mails and forms, with agents' work time; a change of work state
        # reaches telephony at once
        self.desk = Desk.from_settings(settings, self.store.engine, self.clock, crm=self.crm_feed,
                                       calendar=WorkCalendar(self.clock), region=self.crm_feed.region)
        self.desk.on_work_state.append(self._work_state_changed)
        self.distributor.pause_listeners.append(pauses_on(self.desk))  # pause codes, auto-pause
        # texts to customers ride the CRM's outbox: its sender gets the channels' connectors
        # (Telegram, SMTP), and the Telegram pollers bring customers' messages in; both
        # follow the settings' changes live (apply_settings)
        self.connectors = LiveConnectors(self.desk, self.crm_sender)
        self.connectors.use(settings)
        self.desk.on_written.append(lambda batch: self.crm_sender.wake() if batch.outgoing else None)
        # one capacity across channels: each side tells the other what an agent holds
        self.desk.on_load.append(self._channel_load_changed)
        self.distributor.phone_calls_listeners.append(self.desk.phone_calls)
        self.web_context = WebContext(
            self.distributor, self.clock, self.live, store=self.store,
            settings=lambda: self.settings, apply_settings=self.apply_settings, config_path=config_path,
            intercept=self.intercept, crm=self.crm_feed, conversations=self.desk.live_conversations,
            share_settings=self.shared.settings.save if self.shared is not None else None)
        agent_work = self.shared.agent_work_on_active(self.desk) if self.shared is not None else None
        widget = WidgetApi(self.desk, lambda: self.settings)
        self.web = create_app(self.web_context, routers=[channels_router(self.desk, agent_work),
                                                         widget.router(),
                                                         telegram_webhook_router(self.desk, lambda: self.settings),
                                                         bitrix24_events_router(lambda: self.crm.owner_sync)])
        # after create_app: inside its middlewares
        install_inbound_chats(self.web, self.desk)
        widget.answer_early(self.web)
        install_workspace(self.web, self.desk)
        self.wallboard = install_wallboard(self.web, self.desk)
        if self.shared is not None:
            live = self.shared.share_live(lambda: {"live": self.web_context.live(),
                                                   "wallboard": self.wallboard.snapshot()}, self.live)
            self.web_context.shared_live = lambda: live.shown("live")
            self.wallboard.shared = lambda: live.shown("wallboard")
            self.shared.deliver(self.crm_sender)
            self.shared.share_owners(self.crm_feed)
            assert self.web_context.accounts is not None  # create_app made them
            self.shared.share_accounts(self.web_context.accounts)
        self._server: uvicorn.Server | None = None
        self._stopping = asyncio.Event()

    def _asterisk_servers(self, settings: Settings, routing: Any, ami: AmiTarget | Mapping[str, AmiTarget] | None,
                          timing: Timing | None) -> AsteriskServers:
        """One AMI link per Asterisk server. With several, a call's id carries its server
        (core.call_keys) and a member on another server rings through the trunk to it."""
        servers = settings.servers()
        several = len(servers) > 1
        targets = ami if isinstance(ami, Mapping) else ({servers[0].name: ami} if ami is not None else {})
        links = []
        for server in servers:
            target = targets.get(server.name) or AmiTarget(server.link.host, server.link.port, server.link.username,
                                                           server.secret)
            dialplan = Dialplan(trunk=server.link.trunk, server=server.name, trunks=server.trunks)
            links.append(AsteriskPbx(routing, host=target.host, port=target.port, username=target.username,
                                     secret=target.secret if target.secret is not None else "",
                                     dialplan=dialplan, timing=timing, now=self.clock.now,
                                     first_server=servers[0].name if several else None,
                                     active=None if settings.ha is None else self.leadership.active))
        return AsteriskServers(links)

    def apply_settings(self, settings: Settings) -> None:
        """Validated new settings (from the API): routing follows them at once. A bot
        token missing from the environment is a ConfigError before anything applies."""
        connectors = customer_connectors(settings)
        routing = settings.routing()
        self.settings = settings
        self.servers.reconfigure(routing)
        self.distributor.reconfigure(routing)
        self.desk.reconfigure(settings.conversations())
        self.desk.outgoing.routes = routes_from(settings)
        self.desk.use_mailboxes(settings)  # IMAP connections changed on the Mailboxes page
        self.connectors.use(settings, connectors)  # Telegram bots and SMTP servers: started, changed, stopped
        self.crm_feed.options = crm_options(settings)  # groups' and chats' CRM options

    def _work_state_changed(self, agent_id: str, working: bool, reason: str) -> None:
        if agent_id in self.router.config.agents:
            self.distributor.feed(AgentWorkChanged(agent_id, working, reason))

    def _channel_load_changed(self, agent_id: str, chats: int, emails: int, forms: int) -> None:
        if agent_id in self.router.config.agents:
            self.distributor.feed(OtherChannelsLoadChanged(agent_id, chats, emails, forms))

    def intercept(self, call_id: str, agent_id: str) -> str | None:
        """The Intercept button: None when the agent's phone is being rung to take the
        call, else why not (the same rule as the pickup code)."""
        self._intercepts += 1
        commands = self.distributor.feed(
            PickupRequested(f"web-{self._intercepts}", agent_id, via="web", call_id=call_id))
        refused = next((c for c in commands if isinstance(c, RefusePickup)), None)
        return refused.reason if refused else None

    def feed(self, event: Event) -> None:
        """Events from the PBX. A resync is first completed with what the history knows;
        a new call waits (a short, bounded time) for the CRM to name the caller's owner,
        and the call's later events wait behind it, in order."""
        call_id = getattr(event, "call_id", None)
        if call_id is not None and call_id in self._held:
            self._held[call_id].append(event)
            return
        if isinstance(event, Resynced):
            event = self._with_history(event)
        elif isinstance(event, CallArrived) and event.owner_agent is None:
            group = self.router.config.group_for(event.did)
            if group is not None and group.owner_first and event.call_id not in self.router.calls:
                # from the owner index in memory: routed in this same step, no task to wait for
                known, owner = self.crm.owner_known(event.caller_number, group.id)
                if known:
                    self.distributor.feed(replace(event, owner_agent=owner))
                    return
                self._held[event.call_id] = []
                task = asyncio.ensure_future(self._with_owner(event, group.id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
        self.distributor.feed(event)

    async def _with_owner(self, event: CallArrived, group_id: str) -> None:
        owner = None
        try:
            owner = await self.crm.owner_of(event.caller_number, group_id)
        finally:
            held = self._held.pop(event.call_id, [])
            self.distributor.feed(replace(event, owner_agent=owner))
            for later in held:
                self.feed(later)

    def _with_history(self, event: Resynced) -> Resynced:
        """Callers found on the PBX keep their true arrival time across an acd restart;
        calls the history holds open but the PBX no longer has are closed."""
        try:
            open_calls = {c.call_id: c for c in self.store.open_calls(event.server)}
        except Exception:  # the history is down: routing goes on without it
            log.exception("history unavailable during resync")
            return event
        live = {c.call_id for c in event.calls}
        now = self.clock.now()
        gone = [Record(call_id, now, "ended", {"by": "unknown", "reason": "ended while acd could not see it"})
                for call_id in open_calls if call_id not in live and call_id not in self.router.calls]
        if gone:
            self.history.add(gone)
        calls = tuple(
            replace(c, arrived_at=open_calls[c.call_id].arrived_at)
            if c.call_id in open_calls and c.arrived_at is None else c
            for c in event.calls
        )
        return replace(event, calls=calls)

    def listen(self) -> None:
        """Bind the web server's port now (CannotListen if it cannot be); ``run`` does it
        first thing, ``acd demo`` before it prints where to look."""
        if self._web_socket is None:
            self._web_socket = listening_socket(*self.web_address)

    async def run(self, *, http: bool = True, own_process: bool = False) -> None:
        """``own_process``: the process is this service's (acd serve, acd demo, a
        benchmark), not a test run that starts many: what start-up built is frozen
        (gc.freeze) and the garbage collector runs between the loop's callbacks
        (acd/garbage.py); the call history is written by a child process, so its
        batches do not hold the GIL routing needs (acd/store/history_process.py).
        An in-memory database stays on a worker thread: it lives in this process."""
        if http:
            self.listen()
        if own_process:
            log.info("hot path", extra={"result": hot_path.describe()})
            if stale := hot_path.stale_modules():
                log.warning("compiled modules older than their source: the old code runs; "
                            "rebuild them (README, Compiled build) or delete their .so files",
                            extra={"modules": ", ".join(stale)})
        history = HistoryProcess.for_url(self.store.url) if own_process else None
        if history is not None:
            self.history.write_with(history.apply)
        try:
            if http:  # nobody could sign in without a first administrator
                await asyncio.to_thread(bootstrap_admin, self.store)
            # today's figures again from the history, before anything adds to them
            await asyncio.to_thread(self.wallboard.rebuild, self.store.engine)
            await self.desk.start()  # restores open conversations; then work states to telephony
            for agent_id, (working, reason) in self.desk.work_states().items():
                if not working:
                    self._work_state_changed(agent_id, working, reason)
            # what start-up built lives as long as the service, and no collection runs
            # inside a ring (bench.first_ring: p99; acd/garbage.py)
            with paced_collection() if own_process else contextlib.nullcontext():
                await self._run_tasks(http)
        finally:
            if history is not None:
                await history.close()
            if self._web_socket is not None:  # uvicorn closes it when it ran; else it is closed here
                self._web_socket.close()
                self._web_socket = None

    async def _run_tasks(self, http: bool) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.history.run(), name="history")
            for pbx in self.servers:
                tasks.create_task(self._ami_when_active(pbx), name=f"ami-{pbx.server}")
            lease = self.leadership if isinstance(self.leadership, Lease) else None
            leading = [tasks.create_task(self._lead(lease), name="leadership")] if lease else []
            # the CRM's two tasks run until cancelled; the others end when closed
            crm = [tasks.create_task(self.crm_feed.run(), name="crm"),
                   tasks.create_task(self.connectors.run(), name="telegram")]
            # several nodes: the outbox is delivered by one of them at a time (self.shared)
            crm.append(tasks.create_task(self.crm_sender.run() if self.shared is None else self.shared.run(),
                                         name="crm-outbox" if self.shared is None else "shared"))
            tasks.create_task(self.desk.run(), name="channels")
            tasks.create_task(self.crm.check_bitrix24_users(), name="bitrix24-users")  # logs, then ends
            if http:
                tasks.create_task(self._serve_http(), name="http")
            await self._stopping.wait()
            self.servers.close()
            for task in leading:
                task.cancel()
            if lease is not None and self.lost_leadership is None:
                await lease.release()  # the links are closed: the standby may take over now
            if self._server is not None:
                self._server.should_exit = True
            self.distributor.timers.cancel_all()
            for task in [*crm, *self._tasks]:
                task.cancel()
            await self.desk.close()
            self.history.close()

    def stop(self) -> None:
        self._stopping.set()

    async def _lead(self, lease: Lease) -> None:
        try:
            await lease.run()
        except LeadershipLost as lost:  # no AMI action leaves any more (the gate is shut)
            self.lost_leadership = str(lost)
            self.stop()

    async def _ami_when_active(self, pbx: AsteriskPbx) -> None:
        """A server's AMI link, once this node is active: a standby holds no
        AMI session (connecting at takeover costs a connect and a Login, a few ms, and
        a standby's session would send Login and Pings of its own)."""
        if not isinstance(self.leadership, AlwaysActive):
            stopping = asyncio.ensure_future(self._stopping.wait())
            active = asyncio.ensure_future(self.leadership.wait_active())
            await asyncio.wait({stopping, active}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            active.cancel()
            if self._stopping.is_set():
                return
            # callback requests the former active node recorded since this one started
            if pbx is self.servers.first:
                self.distributor.feed(CallbacksRestored(await asyncio.to_thread(open_requests, self.store)))
        await pbx.run()

    async def _serve_http(self) -> None:
        host, port = self.web_address
        # live pages' streams (a wallboard on a wall) never end by themselves: without a
        # limit, stopping acd would wait for every browser to leave. No access log: its lines
        # are INFO, below log_level, never written, and uvicorn quoted each path for them
        config = uvicorn.Config(self.web, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=STREAMS_CLOSE_S, **forwarded_headers(self.settings.service))
        self._server = uvicorn.Server(config)
        # the CLI owns SIGINT/SIGTERM (Acd.stop); uvicorn would re-raise them after its own exit
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        assert self._web_socket is not None  # run() bound it
        log.info("web ui listening", extra={"url": f"http://{host}:{port}"})
        with contextlib.suppress(asyncio.CancelledError):
            await self._server.serve(sockets=[self._web_socket])
