"""Real servers for the tests, started from the machine's own binaries.

Each server runs on loopback, in a throw-away directory, for one test session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import psycopg


class ServiceUnavailable(RuntimeError):
    """The server's binaries are missing or it would not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    url: str
    stop: Callable[[], None] | None
    pause: Callable[[], None] | None = None
    resume: Callable[[], None] | None = None

    def database_url(self, name: str) -> str:
        """SQLAlchemy URL of database ``name`` on this server (psycopg 3 driver)."""
        base = self.url.rsplit("/", 1)[0]
        return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str, template: str | None = None) -> None:
        """Create database ``name``, a copy of ``template`` when given.

        From PostgreSQL 15 a template is copied file by file (``STRATEGY FILE_COPY``):
        the default, ``WAL_LOG``, writes every block of the copy through the WAL, which
        made creating each test's database several times slower. The test server runs
        with ``fsync=off``, so the checkpoint a file copy asks for costs little.
        """
        if template is None:
            self.execute(f'CREATE DATABASE "{name}"')
            return
        with psycopg.connect(self.url, autocommit=True) as conn:
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')

    def close(self) -> None:
        if self.stop is not None:
            self.stop()


def _postgres_bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise ServiceUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


def _version_key(path: str) -> int:
    try:
        return int(path.split("/")[4])
    except (IndexError, ValueError):
        return 0


def start_postgres() -> PostgresServer:
    """Start a throw-away PostgreSQL cluster on a free loopback port.

    PostgreSQL refuses to run as root, so as root (CI) the cluster runs as the
    ``postgres`` account that Debian's package creates. Durability settings are off:
    the data is thrown away after the session.
    """
    bindir = _postgres_bindir()
    workdir = tempfile.mkdtemp(prefix="console-pg-")
    datadir = os.path.join(workdir, "data")
    logfile = os.path.join(workdir, "server.log")
    prefix: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            import pwd

            account = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServiceUnavailable("running as root and there is no 'postgres' account") from exc
        if runuser is None:
            raise ServiceUnavailable("running as root and 'runuser' is missing")
        os.chown(workdir, account.pw_uid, account.pw_gid)
        prefix = [runuser, "-u", "postgres", "--"]
    port = free_port()

    def run(*args: str) -> None:
        result = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = ""
            if os.path.exists(logfile):
                with open(logfile) as fh:
                    log = fh.read()[-2000:]
            raise ServiceUnavailable(
                f"{' '.join(args[:2])} failed: {result.stderr.strip()[-2000:]} {log}"
            )

    run(
        os.path.join(bindir, "initdb"),
        "-D", datadir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
    )  # fmt: skip
    options = (
        f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )

    def start() -> None:
        run(
            os.path.join(bindir, "pg_ctl"),
            "-D",
            datadir,
            "-o",
            options,
            "-l",
            logfile,
            "-w",
            "start",
        )

    def halt(mode: str = "immediate") -> None:
        subprocess.run(
            [*prefix, os.path.join(bindir, "pg_ctl"), "-D", datadir, "-m", mode, "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )

    def stop() -> None:
        halt()
        shutil.rmtree(workdir, ignore_errors=True)

    start()
    return PostgresServer(
        url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        stop=stop,
        pause=lambda: halt("fast"),
        resume=start,
    )


# --- SMTP ---------------------------------------------------------------------------


class SmtpServer:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

    ``stop()`` and ``start()`` take it down and bring it back on the same port, so a
    test can play an outage of the mail relay.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.messages: list = []
        self._controller = None

    def _handler(self):
        import email
        from email import policy

        server = self

        class Handler:
            async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 - aiosmtpd's API
                parsed = email.message_from_bytes(envelope.content, policy=policy.default)
                server.messages.append((list(envelope.rcpt_tos), parsed))
                return "250 Message accepted for delivery"

        return Handler()

    @property
    def received(self) -> list:
        """The messages received so far, without their envelopes."""
        return [message for _, message in self.messages]

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self._handler(), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None


def start_smtp() -> SmtpServer:
    """Start an SMTP server on a free loopback port."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError as exc:
        raise ServiceUnavailable("aiosmtpd is not installed") from exc
    return SmtpServer().start()


# --- Redis --------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A throw-away redis-server on loopback; ``stop()``/``start()`` play an outage."""

    port: int
    workdir: str
    binary: str
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        import time

        import redis

        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.workdir,
                "--save", "", "--appendonly", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise ServiceUnavailable("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis() -> RedisServer:
    """Start redis-server (the machine's binary) on a free loopback port."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        raise ServiceUnavailable("redis-server is not installed")
    server = RedisServer(
        port=free_port(), workdir=tempfile.mkdtemp(prefix="console-redis-"), binary=binary
    )
    return server.start()
