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

    def database_url(self, name: str) -> str:
        """SQLAlchemy URL of database ``name`` on this server (psycopg 3 driver)."""
        base = self.url.rsplit("/", 1)[0]
        return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)

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
    run(os.path.join(bindir, "pg_ctl"), "-D", datadir, "-o", options, "-l", logfile, "-w", "start")

    def stop() -> None:
        subprocess.run(
            [*prefix, os.path.join(bindir, "pg_ctl"), "-D", datadir, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(workdir, ignore_errors=True)

    return PostgresServer(url=f"postgresql://postgres@127.0.0.1:{port}/postgres", stop=stop)


class SmtpServer:
    """A real SMTP server on loopback (aiosmtpd) that keeps every message it receives.

    Use as a context manager; ``messages`` holds ``email.message.Message`` objects in
    the order they arrived.
    """

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's API)
        import email

        message = email.message_from_bytes(envelope.original_content or envelope.content)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()


@dataclass
class RedisServer:
    """A throw-away redis-server on loopback."""

    url: str
    stop: Callable[[], None]


def start_redis() -> RedisServer:
    """Start ``redis-server`` on a free loopback port with no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailable("redis-server is not installed")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="console-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None:
                raise ServiceUnavailable("redis-server exited at start") from None
            time.sleep(0.05)
    else:
        process.kill()
        raise ServiceUnavailable("redis-server did not start within 10 s")

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    return RedisServer(url=f"redis://127.0.0.1:{port}/0", stop=stop)
