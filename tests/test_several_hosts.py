"""Several hosts: two console instances and two worker hosts share one database and Redis.

Real processes, configured as production is, by environment variables only
(``CONSOLE_CONFIG=production``, ``REDIS_URL`` set), started once for the module:

- consoles A and B: ``gunicorn -c gunicorn.conf.py "console:create_app()"``, two worker
  processes each, on two loopback ports, as if behind a load balancer that ends TLS
  (each request carries ``X-Forwarded-Proto`` and the client's ``X-Forwarded-For``;
  ``PROXY_COUNT=1``);
- worker hosts 1 and 2: each runs ``flask --app console outbox worker`` and
  ``flask --app console jobs worker`` (RQ on the one redis-server);
- one real PostgreSQL database, one redis-server, one SMTP relay (aiosmtpd on loopback),
  one ``JOBS_RESULT_DIR`` (the volume the hosts share).

Proved here: every job (exports started on both consoles), every e-mail and every
webhook (orders placed on both consoles) is processed exactly once, counted per job id
in the workers' logs, per outbox row in the relay's mail and per event id at a webhook
receiver that checks each signature; a session made on one console works on the other
(and ends on both); the sign-in limits, the per-account lockout and the per-address
limit, hold across both consoles. Waits are polls of a condition with a deadline,
never sleeps as proof.
"""

from __future__ import annotations

import csv
import http.client
import io
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from redis import Redis
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from console.models import Customer, Job, Order, OutboxMessage, Product
from console.models.webhooks import WebhookDelivery, WebhookEndpoint
from console.notify.dispatcher import OUTBOX_ID_HEADER
from seeds.demo import DEMO_ACCOUNTS
from tests.fixtures.databases import fresh_postgres_database
from tests.helpers import csrf_token_from
from tests.services import free_port
from tests.test_contract_commands import BIN, PRODUCTION_SECRETS, ROOT, command_env, run_command
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.postgres

DEADLINE = 120.0
"""Seconds any awaited condition may take (processes start, exports run, mail goes)."""

PER_ACCOUNT, PER_ADDRESS = 5, 8
"""The sign-in limits the consoles run with (failed attempts per 5 minutes)."""


# --- processes ------------------------------------------------------------------------


@dataclass
class Process:
    """A command run in the background from the repository root, its output in a file."""

    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> Process:
        with self.log.open("wb") as output:
            self.popen = subprocess.Popen(
                self.args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        return self

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def terminate(self) -> None:
        if self.alive():
            self.popen.terminate()

    def wait(self) -> None:
        """Wait for the process to end after ``terminate``; kill it after 30 s."""
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def wait_until(condition: Callable[[], object], what: str, processes: list[Process]) -> None:
    """Poll ``condition`` until it holds; fail (with the processes' output) at the deadline
    or as soon as one of ``processes`` has stopped."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        stopped = [p for p in processes if not p.alive()]
        if stopped or time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}:\n{p.output[-3000:]}" for p in processes)
            reason = f"{[p.name for p in stopped]} stopped" if stopped else "deadline passed"
            pytest.fail(f"waiting for {what}: {reason}\n{logs}")
        time.sleep(0.2)


# --- a browser of sorts ------------------------------------------------------------------


@dataclass
class Visitor:
    """A person's browser behind the load balancer: cookies kept, sent to any console.

    The balancer ends TLS, so the consoles see ``https`` through ``X-Forwarded-Proto``
    and set ``Secure`` cookies, which this client sends back over the loopback.
    """

    port: int
    address: str = "198.51.100.10"
    cookies: dict[str, str] = field(default_factory=dict)

    def at(self, port: int) -> Visitor:
        """The same browser (its cookies, its address) sent to another console."""
        return Visitor(port, self.address, self.cookies)

    def request(self, method: str, path: str, form: dict[str, str] | None = None):
        headers = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": self.address,
            # Flask-WTF checks that an https form post comes from this site.
            "Referer": f"https://127.0.0.1:{self.port}{path}",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                cookie_name, cookie_value = value.split(";", 1)[0].split("=", 1)
                self.cookies[cookie_name] = cookie_value
        return response, content

    def get(self, path: str):
        return self.request("GET", path)

    def post_form(self, page: str, form: dict[str, str], target: str | None = None):
        """Post ``form`` with the CSRF token of ``page`` (to ``target``, else ``page``)."""
        _, content = self.get(page)
        token = csrf_token_from(content.decode())
        return self.request("POST", target or page, {**form, "csrf_token": token})

    def login(self, email: str, password: str) -> int:
        response, _ = self.post_form("/login", {"email": email, "password": password})
        return response.status


# --- the deployment ------------------------------------------------------------------------


@dataclass
class Deployment:
    database_url: str
    redis_url: str
    smtp: object
    consoles: dict[str, int]
    workers: dict[str, Process]
    processes: list[Process]
    engine: Engine

    def session(self) -> Session:
        return Session(self.engine)

    def jobs_logs(self) -> str:
        return "".join(p.output for name, p in self.workers.items() if name.startswith("jobs"))

    def queue_idle(self, name: str) -> bool:
        """No trigger waits in RQ queue ``name`` and none is running."""
        connection = Redis.from_url(self.redis_url)
        try:
            return (
                Queue(name, connection=connection).count == 0
                and StartedJobRegistry(name, connection=connection).count == 0
            )
        finally:
            connection.close()


@pytest.fixture(scope="module")
def deployment(
    postgres, postgres_template, module_redis_server, module_smtp_server, tmp_path_factory
) -> Iterator[Deployment]:
    """Two consoles and two worker hosts on one PostgreSQL database and one Redis."""
    folder = tmp_path_factory.mktemp("hosts")
    database = fresh_postgres_database(postgres, postgres_template)
    database_url = next(database)
    env = command_env(
        CONSOLE_CONFIG="production",
        DATABASE_URL=database_url,
        REDIS_URL=module_redis_server.url,
        MAIL_SERVER=module_smtp_server.host,
        MAIL_PORT=str(module_smtp_server.port),
        MAIL_DEFAULT_SENDER="Shop <shop@example.com>",
        CONSOLE_TRUSTED_HOSTS="127.0.0.1",
        PROXY_COUNT="1",
        JOBS_RESULT_DIR=str(folder / "shared-results"),
        JOBS_POLL_SECONDS="1",
        OUTBOX_POLL_SECONDS="1",
        EXPORT_INLINE_MAX_ROWS="1",
        CONSOLE_LOGIN_LIMIT_PER_ACCOUNT=f"{PER_ACCOUNT} per 5 minutes",
        CONSOLE_LOGIN_LIMIT_PER_ADDRESS=f"{PER_ADDRESS} per 5 minutes",
        # The webhook receiver listens on plain HTTP on loopback.
        WEBHOOK_ALLOW_HTTP="true",
        WEBHOOK_ALLOW_PRIVATE_ADDRESSES="true",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
        PYTHONUNBUFFERED="1",
        **PRODUCTION_SECRETS,
    )
    run_command("flask", "--app", "console", "seed", "--force", env=env)

    consoles = {"A": free_port(), "B": free_port()}
    processes = [
        Process(
            f"console {name}",
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "console:create_app()"],
            folder / f"console-{name}.log",
        ).start({**env, "GUNICORN_BIND": f"127.0.0.1:{port}"})
        for name, port in consoles.items()
    ]
    workers = {
        f"{kind}-{host}": Process(
            f"{kind} worker on host {host}",
            [str(BIN / "flask"), "--app", "console", kind, "worker"],
            folder / f"{kind}-worker-{host}.log",
        ).start(env)
        for host in (1, 2)
        for kind in ("outbox", "jobs")
    }
    processes += workers.values()
    engine = create_engine(database_url)
    try:
        for port in consoles.values():
            wait_until(lambda port=port: _answers(port), f"console on {port}", processes)
        for worker in workers.values():
            wait_until(lambda w=worker: "RQ worker on queue" in w.output, worker.name, processes)
        yield Deployment(
            database_url,
            module_redis_server.url,
            module_smtp_server,
            consoles,
            workers,
            processes,
            engine,
        )
    finally:
        for process in processes:  # all at once: each ends its work in its own time
            process.terminate()
        for process in processes:
            process.wait()
        engine.dispose()
        database.close()


def _answers(port: int) -> bool:
    try:
        response, _ = Visitor(port).get("/status")
    except OSError:
        return False
    return response.status == 200


def signed_in(port: int, role: str = "manager") -> Visitor:
    visitor = Visitor(port)
    assert visitor.login(*DEMO_ACCOUNTS[role]) == 302
    return visitor


# --- sessions -------------------------------------------------------------------------------


def test_a_session_made_on_one_console_works_on_the_other(deployment):
    a, b = deployment.consoles["A"], deployment.consoles["B"]
    on_a = signed_in(a)
    on_b = on_a.at(b)
    response, content = on_b.get("/admin/order/")
    assert response.status == 200
    assert DEMO_ACCOUNTS["manager"][0] in content.decode()
    # Control: without the cookie, B sends the visitor to sign in.
    assert Visitor(b).get("/admin/order/")[0].status == 302

    # Signing out on B ends the session on A as well (the session rows are shared).
    assert on_b.post_form("/admin/", {}, target="/logout")[0].status == 302
    assert Visitor(a, cookies=dict(on_a.cookies)).get("/admin/order/")[0].status == 302


# --- jobs -------------------------------------------------------------------------------------


EXPORTS = [
    "/admin/order/export/csv/",
    "/admin/customer/export/csv/",
    "/admin/product/export/xlsx/",
    "/admin/order/export/jsonl/?of=order_lines",
]


def test_every_export_job_runs_exactly_once(deployment):
    visitors = {name: signed_in(port) for name, port in deployment.consoles.items()}
    started: dict[int, str] = {}
    for name, visitor in visitors.items():
        for path in EXPORTS:
            # As the list's Export menu starts one: a POST with the CSRF token.
            response, _ = visitor.post_form("/admin/", {}, target=path)
            assert response.status == 302, (name, path)
            job_id = int(re.fullmatch(r"/admin/jobs/(\d+)/", response.headers["Location"])[1])
            started[job_id] = name
    assert len(started) == 2 * len(EXPORTS)

    def finished() -> bool:
        with deployment.session() as s:
            states = s.scalars(select(Job.state).where(Job.id.in_(started))).all()
        return all(state in {"done", "failed", "cancelled"} for state in states)

    wait_until(finished, "the export jobs", deployment.processes)
    wait_until(lambda: deployment.queue_idle("jobs"), "the jobs queue", deployment.processes)
    with deployment.session() as s:
        jobs = s.scalars(select(Job).where(Job.id.in_(started))).all()
        assert {(job.id, job.state, job.error) for job in jobs} == {
            (job_id, "done", None) for job_id in started
        }

    # Exactly once: each job's run is logged by the one worker that claimed it.
    ran = Counter(int(n) for n in re.findall(r"job (\d+) done", deployment.jobs_logs()))
    assert {job_id: ran[job_id] for job_id in started} == dict.fromkeys(started, 1)

    # Each result is downloaded from the console that did not start the job (one
    # shared result folder), complete.
    other = {"A": visitors["B"], "B": visitors["A"]}
    for job in jobs:
        response, content = other[started[job.id]].get(f"/admin/jobs/{job.id}/download/")
        assert response.status == 200, job.id
        if job.result_name.endswith(".csv"):
            rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
            assert len(rows) == job.progress_done + 1  # the header row
        elif job.result_name.endswith(".jsonl"):
            assert len(content.splitlines()) == job.progress_done
        else:
            assert content.startswith(b"PK")  # a zip container: XLSX


# --- e-mail -----------------------------------------------------------------------------------


def place_order(visitor: Visitor, customer_id: int, product_ids: list[int]) -> None:
    form = {"customer": str(customer_id)}
    for index, product_id in enumerate(product_ids):
        form[f"lines-{index}-product"] = str(product_id)
        form[f"lines-{index}-quantity"] = "1"
    response, content = visitor.post_form("/admin/order/new/", form)
    assert response.status == 302, content.decode()[:2000]


def orders_placed_on_both_consoles(deployment: Deployment, count: int) -> set[int]:
    """``count`` orders of two products in stock, placed by managers on consoles A and B
    in turn, one customer each; their ids."""
    with deployment.session() as s:
        customers = s.scalars(select(Customer.id).order_by(Customer.id).limit(count)).all()
        products = s.scalars(
            select(Product.id).where(Product.active, Product.stock >= 20).order_by(Product.id)
        ).all()[:2]
        orders_before = set(s.scalars(select(Order.id)).all())
    assert len(customers) == count and len(products) == 2
    visitors = [signed_in(port) for port in deployment.consoles.values()]
    for index, customer_id in enumerate(customers):
        place_order(visitors[index % 2], customer_id, products)
    with deployment.session() as s:
        return set(s.scalars(select(Order.id)).all()) - orders_before


def test_every_email_is_delivered_exactly_once(deployment):
    placed = orders_placed_on_both_consoles(deployment, 6)

    def all_sent() -> bool:
        with deployment.session() as s:
            statuses = s.scalars(select(OutboxMessage.status)).all()
        return bool(statuses) and set(statuses) == {"sent"}

    wait_until(all_sent, "the outbox to be sent", deployment.processes)
    wait_until(lambda: deployment.queue_idle("outbox"), "the outbox queue", deployment.processes)
    with deployment.session() as s:
        rows = s.execute(select(OutboxMessage.id, OutboxMessage.order_id)).all()
    assert len(placed) == 6
    # Each new order queued its "order received" mail, and every outbox row (those and
    # whatever the demo data queued) reached the relay exactly once.
    assert placed <= {order_id for _, order_id in rows}
    delivered = Counter(message[OUTBOX_ID_HEADER] for message in deployment.smtp.received)
    assert delivered == Counter({str(row_id): 1 for row_id, _ in rows})


def test_every_webhook_is_delivered_exactly_once(deployment):
    """An endpoint hears of the orders placed on both consoles: each "order.created"
    event is posted once, by one of the two hosts' outbox workers, signed with the
    endpoint's secret. (The endpoint is written to the database as the admin's form
    writes it, tested in ``test_webhooks_console.py``: here an admin would need a
    second factor to sign in.)"""
    receiver = WebhookReceiver(secret="whsec_" + "s" * 40).start()
    try:
        with deployment.session() as s:
            s.execute(
                insert(WebhookEndpoint.__table__).values(
                    url=receiver.url, description="Warehouse", events=["order.created"],
                    secret=receiver.secret, active=True,
                )
            )  # fmt: skip
            s.commit()
        placed = orders_placed_on_both_consoles(deployment, 4)

        def all_delivered() -> bool:
            with deployment.session() as s:
                statuses = s.scalars(select(WebhookDelivery.status)).all()
            return len(statuses) == len(placed) and set(statuses) == {"delivered"}

        wait_until(all_delivered, "the webhooks to be delivered", deployment.processes)
        wait_until(
            lambda: deployment.queue_idle("outbox"), "the outbox queue", deployment.processes
        )
        with deployment.session() as s:
            numbers = s.scalars(select(Order.number).where(Order.id.in_(placed))).all()
            events = s.scalars(select(WebhookDelivery.event_id)).all()
        assert receiver.refused == []
        assert Counter(event.event_id for event in receiver.received) == Counter(
            dict.fromkeys(events, 1)
        )
        assert sorted(event.body["data"]["order"]["number"] for event in receiver.received) == (
            sorted(numbers)
        )
        assert set(receiver.types()) == {"order.created"}
    finally:
        receiver.stop()


# --- sign-in limits ---------------------------------------------------------------------------


def test_sign_in_limits_hold_across_consoles(deployment):
    """The lockout (database) and the per-address limit (Flask-Limiter on Redis) are
    counted once for both consoles: attempts spread over A and B add up."""
    a, b = deployment.consoles["A"], deployment.consoles["B"]
    clerk, clerk_password = DEMO_ACCOUNTS["clerk"]
    guesser = Visitor(a, address="203.0.113.7")
    for attempt in range(PER_ACCOUNT):
        on = guesser if attempt % 2 == 0 else guesser.at(b)
        assert on.login(clerk, f"wrong guess {attempt}") == 200
    # The account is locked on both consoles, even with the right password.
    assert guesser.at(b).login(clerk, clerk_password) == 429
    assert guesser.login(clerk, clerk_password) == 429

    # The same address guesses other accounts on B until its allowance is used up there
    # and on A together: then A refuses it a sign-in to yet another account.
    for attempt in range(PER_ADDRESS - PER_ACCOUNT):
        assert guesser.at(b).login(f"nobody{attempt}@example.com", "a guess") == 200
    viewer, viewer_password = DEMO_ACCOUNTS["viewer"]
    assert guesser.login(viewer, viewer_password) == 429
    # Control: the limit is per address; another one signs the viewer in.
    assert Visitor(a, address="198.51.100.77").login(viewer, viewer_password) == 302
