"""The command line: a broken configuration stops the start with one clear error; a
taken port is one clear line; ``acd serve`` connects to Asterisk only (retrying, and
saying why each try failed) unless the configuration asks for the simulator.

The service tests run ``python -m acd.cli`` as a child process, read its log line by
line with a deadline, and always stop it (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from acd.cli import main
from acd.sim import ManagerUser, Simulator

REPO = Path(__file__).resolve().parents[1]
DIALPLAN = REPO / "asterisk" / "extensions.conf"
SECRET = "the-right-secret-4711"
WAIT_S = 30.0  # the longest any single expected log line may take


def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(REPO / "acd.example.toml")]) == 0
    assert "OK (4 agents" in capsys.readouterr().out


def test_check_config_counts_the_channel_queues_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(REPO / "acd.example.toml")]) == 0
    out = capsys.readouterr().out
    assert "4 agents, 4 queue groups, 4 numbers, 2 chat queues, 1 mailbox, 1 form" in out


def test_check_config_says_none_when_there_are_no_channel_queues(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "acd.toml"
    path.write_text('[[agents]]\nid = "anna"\nendpoint = "PJSIP/101"\n')
    assert main(["check-config", str(path)]) == 0
    assert "1 agent, 0 queue groups, 0 numbers, 0 chat queues, 0 mailboxes, 0 forms" in capsys.readouterr().out


def test_a_broken_file_names_the_file_the_item_and_the_problem(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "acd.toml"
    text = (REPO / "acd.example.toml").read_text().replace('members = ["anna", "ben", "chloe"]',
                                                           'members = ["anna", "bob", "chloe"]', 1)
    assert text != (REPO / "acd.example.toml").read_text()
    broken.write_text(text)
    assert main(["serve", "--config", str(broken)]) == 2  # refused before anything starts
    error = capsys.readouterr().err
    assert str(broken) in error and '"bob"' in error and "members[1]" in error
    assert not (tmp_path / "acd.db").exists()


def test_a_toml_syntax_error_gives_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "acd.toml"
    broken.write_text("[service]\nport = \n")
    assert main(["check-config", str(broken)]) == 2
    assert "line 2" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def ami_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_AMI_SECRET", "test-only")


def config_on(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "acd.toml"
    text = (REPO / "acd.example.toml").read_text()
    text = text.replace('database = "sqlite:///acd.db"', f'database = "{database}"', 1)
    text = text.replace('simulate = "auto"', 'simulate = "never"', 1)  # the check comes before any PBX
    assert database in text and 'simulate = "never"' in text
    path.write_text(text)
    return path


def test_serve_refuses_an_older_database_in_one_line_and_db_upgrade_brings_it_to_head(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from acd.store import make_engine, schema
    from tests.store import first_schema

    database = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(database)
    first_schema.create(engine)
    first_schema.fill(engine)
    config = config_on(tmp_path, database)

    assert main(["serve", "--config", str(config)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "older" in error and "acd db upgrade" in error, error

    assert main(["db", "current", "--config", str(config)]) == 0
    assert "made before schema migrations" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert f"upgraded to {schema.head()}" in capsys.readouterr().out
    assert main(["db", "current", "--database", database]) == 0
    assert f"{schema.head()} (current)" in capsys.readouterr().out
    assert schema.state(engine).up_to_date
    engine.dispose()


def test_db_upgrade_refuses_a_newer_database_and_changes_nothing(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import text

    from acd.store import make_engine, schema

    database = f"sqlite:///{tmp_path / 'new.db'}"
    assert main(["db", "upgrade", "--database", database]) == 0  # an empty database is created at head
    engine = make_engine(database)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    assert main(["db", "upgrade", "--database", database]) == 2
    assert "0099_from_the_future" in capsys.readouterr().err
    assert main(["serve", "--config", str(config_on(tmp_path, database))]) == 2
    assert "does not know" in capsys.readouterr().err
    assert schema.state(engine).current == ("0099_from_the_future",)
    engine.dispose()


def test_the_obsolete_simulate_auto_is_named_by_check_config(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "acd.toml"
    path.write_text('[ami]\nsimulate = "auto"\n')
    assert main(["check-config", str(path)]) == 0
    captured = capsys.readouterr()
    assert "OK" in captured.out
    assert 'ami.simulate: "auto" is obsolete' in captured.err and 'simulate = "never"' in captured.err


# ------------------------------------------------------------------ child processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def taken_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    env.update(PYTHONPATH=str(REPO), ACD_ADMIN_USER="admin", ACD_ADMIN_PASSWORD="admin-password-1", **extra)
    return env


def write_config(tmp_path: Path, *, ami_port: int, web_port: int, simulate: str | None = None) -> Path:
    path = tmp_path / "acd.toml"
    path.write_text(
        f'[service]\nport = {web_port}\ndatabase = "sqlite:///{tmp_path / "acd.db"}"\n'
        f'[ami]\nport = {ami_port}\n' + (f'simulate = "{simulate}"\n' if simulate else "")
        + '[[agents]]\nid = "anna"\nendpoint = "PJSIP/101"\n'
        + '[[groups]]\nid = "sales"\nmembers = ["anna"]\n'
    )
    return path


def run_acd(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "acd.cli", *args], cwd=cwd, env=child_env(**env),
                          capture_output=True, text=True, timeout=60)


class Acd:
    """``acd`` in a child process; its output (stdout and stderr together) read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))
            self._new_line.set()
        self._new_line.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_for(self, pattern: str, count: int = 1) -> list[str]:
        """The first ``count`` lines matching ``pattern`` (a regular expression)."""
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while True:
            found = [line for line in self.lines if re.search(pattern, line)]
            if len(found) >= count:
                return found[:count]
            if self._reader.done():
                code = await asyncio.wait_for(self.proc.wait(), 15)
                raise AssertionError(f"acd exited ({code}) before {pattern!r}:\n{self.output}")
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {count} x {pattern!r} within {WAIT_S} s:\n{self.output}")
            self._new_line.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_line.wait(), remaining)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reader, 5)


@contextlib.asynccontextmanager
async def acd_running(args: list[str], cwd: Path, **env: str) -> AsyncIterator[Acd]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "acd.cli", *args, cwd=cwd, env=child_env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    acd = Acd(proc)
    try:
        yield acd
    finally:
        await acd.stop()


@contextlib.asynccontextmanager
async def asterisk_stand_in(port: int = 0, secret: str = SECRET) -> AsyncIterator[Simulator]:
    sim = Simulator(dialplan=DIALPLAN, manager_users={"acd": ManagerUser(secret=secret)})
    sim.add_phone("101")
    await sim.start("127.0.0.1", port)
    try:
        yield sim
    finally:
        await sim.stop()


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (Linux: its socket inodes in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


# ------------------------------------------------------------------ a taken port
def test_demo_on_a_taken_web_port_says_so_in_one_line(tmp_path: Path) -> None:
    with taken_port() as port:
        result = run_acd(["demo", "--port", str(port), "--database", f"sqlite:///{tmp_path / 'demo.db'}"],
                         tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("acd:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"127.0.0.1:{port}" in errors[0] and "already in use" in errors[0] and "--port" in errors[0]
    assert "open http" not in result.stdout


def test_the_standalone_simulator_on_a_taken_ami_port_says_so_in_one_line(tmp_path: Path) -> None:
    with taken_port() as port:
        result = subprocess.run([sys.executable, "-m", "acd.sim", "--port", str(port), "--dialplan", str(DIALPLAN)],
                                cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("python -m acd.sim:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"127.0.0.1:{port}" in errors[0] and "already in use" in errors[0] and "--port" in errors[0]


def test_a_port_out_of_range_is_refused_by_the_command_line(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--config", str(tmp_path / "acd.toml"), "--port", "70000"])
    assert exit_.value.code == 2 and "not a port (1-65535): '70000'" in capsys.readouterr().err


def test_serve_on_a_taken_web_port_says_so_in_one_line(tmp_path: Path) -> None:
    with taken_port() as port:
        config = write_config(tmp_path, ami_port=free_port(), web_port=port)
        result = run_acd(["serve", "--config", str(config)], tmp_path, ACD_AMI_SECRET=SECRET)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("acd:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"127.0.0.1:{port}" in errors[0] and "already in use" in errors[0] and "--port" in errors[0]


async def test_serve_takes_host_and_port_from_the_command_line(tmp_path: Path) -> None:
    in_file, given = free_port(), free_port()
    config = write_config(tmp_path, ami_port=free_port(), web_port=in_file)
    async with acd_running(["serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(given)],
                           tmp_path, ACD_AMI_SECRET=SECRET) as acd:
        await acd.wait_for(f"web ui listening.*127.0.0.1:{given}")
        async with httpx.AsyncClient() as client:
            page = await client.get(f"http://127.0.0.1:{given}/login")
        assert page.status_code == 200
        assert in_file not in listening_ports(acd.proc.pid)


# ------------------------------------------------------------------ Asterisk, and only Asterisk
async def test_serve_uses_an_asterisk_that_starts_after_it(tmp_path: Path) -> None:
    ami_port = free_port()
    config = write_config(tmp_path, ami_port=ami_port, web_port=free_port())  # simulate left out
    async with acd_running(["serve", "--config", str(config)], tmp_path, ACD_AMI_SECRET=SECRET) as acd:
        await acd.wait_for(f"connection refused at 127.0.0.1:{ami_port}")
        async with asterisk_stand_in(ami_port) as asterisk:
            await acd.wait_for("ami logged in")
            assert any(session.authenticated for session in asterisk.server.sessions)


async def test_serve_with_a_wrong_secret_says_authentication_failed_and_keeps_trying(tmp_path: Path) -> None:
    wrong = "a-wrong-secret-0815"
    async with asterisk_stand_in() as asterisk:
        assert asterisk.port is not None
        config = write_config(tmp_path, ami_port=asterisk.port, web_port=free_port())
        async with acd_running(["serve", "--config", str(config)], tmp_path, ACD_AMI_SECRET=wrong) as acd:
            failures = await acd.wait_for("authentication failed", count=2)
    assert all("ACD_AMI_SECRET" in line for line in failures)
    assert wrong not in acd.output and SECRET not in acd.output
    assert "ami logged in" not in acd.output


@pytest.mark.parametrize("simulate", ["never", "auto", None])
async def test_serve_never_falls_back_to_the_simulator(tmp_path: Path, simulate: str | None) -> None:
    ami_port, web_port = free_port(), free_port()
    config = write_config(tmp_path, ami_port=ami_port, web_port=web_port, simulate=simulate)
    async with acd_running(["serve", "--config", str(config)], tmp_path, ACD_AMI_SECRET=SECRET) as acd:
        await acd.wait_for("web ui listening")
        await acd.wait_for(f"connection refused at 127.0.0.1:{ami_port}", count=2)  # it keeps trying
        assert listening_ports(acd.proc.pid) == {web_port}  # and runs no simulator
    if simulate == "auto":
        assert '"auto" is obsolete' in acd.output


async def test_serve_runs_the_simulator_when_asked(tmp_path: Path) -> None:
    config = write_config(tmp_path, ami_port=free_port(), web_port=free_port(), simulate="always")
    async with acd_running(["serve", "--config", str(config)], tmp_path) as acd:
        await acd.wait_for("built-in simulator")
        await acd.wait_for("ami logged in")


# ------------------------------------------------------------------ the example starts clean
async def test_the_example_configuration_starts_without_errors_or_warnings(tmp_path: Path) -> None:
    async with asterisk_stand_in() as asterisk:
        example = (REPO / "acd.example.toml").read_text()
        assert "port = 5038" in example
        config = tmp_path / "acd.toml"
        config.write_text(example.replace("port = 5038", f"port = {asterisk.port}", 1))
        web_port = free_port()
        async with acd_running(["serve", "--config", str(config), "--port", str(web_port)], tmp_path,
                               ACD_AMI_SECRET=SECRET) as acd:
            await acd.wait_for("ami resync")
            async with httpx.AsyncClient() as client:
                assert (await client.get(f"http://127.0.0.1:{web_port}/login")).status_code == 200
    problems = [line for line in acd.lines if re.search(r"\b(ERROR|WARNING|CRITICAL)\b|Traceback", line)]
    assert problems == [], acd.output


# ------------------------------------------------------------------ stopping
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "service-manager"])
async def test_the_demo_stops_in_order_on_ctrl_c_and_on_a_service_managers_stop(
        tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C, or SIGTERM from systemd or docker stop, ends the demo as it ends acd serve:
    the service in order (the history's last batch written, its process shut down), exit 0."""
    async with acd_running(["demo", "--port", str(free_port()), "--database",
                            f"sqlite:///{tmp_path / 'demo.db'}"], tmp_path) as demo:
        await demo.wait_for(r"ami resync")
        await asyncio.sleep(1.0)  # calls under way
        demo.proc.send_signal(sig)
        code = await asyncio.wait_for(demo.proc.wait(), 30)
    assert code == 0, demo.output
    assert "Traceback" not in demo.output, demo.output
    assert re.search(r"hot path.*(interpreted|compiled \(mypyc and C\))", demo.output), demo.output  # which build runs
