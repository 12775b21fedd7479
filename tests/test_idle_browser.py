"""The idle timeout in Chromium: the warning, "Stay signed in", typing keeps the session
alive, and a form pressed Save on after the end comes back filled in after sign-in.

Time is moved, never waited for: the server's clock by the ``clock`` fixture, the
page's by Playwright's ``page.clock``, both by the same amount (``Clocks.move``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from console.admin.drafts import RESTORED_MESSAGE
from console.database import db
from console.models import Customer
from tests.factories import StaffFactory
from tests.helpers import STAFF_PASSWORD, count_rows

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.settings(CONSOLE_IDLE_TIMEOUT=dt.timedelta(minutes=10)),
]

MINUTE = 60
NOTICE = "#session-notice [role=alert]"
KEEPALIVE = "/admin/keepalive/"


class Clocks:
    """The server's clock and the page's, moved together."""

    def __init__(self, server, page) -> None:
        self.server = server
        self.page = page

    def move(self, seconds: float) -> None:
        self.server.shift(seconds)
        self.page.clock.fast_forward(int(seconds * 1000))


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.clock.install()
    yield page
    context.close()
    assert problems == [], problems


@pytest.fixture
def clocks(clock, page) -> Clocks:
    return Clocks(clock, page)


def sign_in(page, email: str, landing: str) -> None:
    """Sign in on the page the console sent to; wait to land on ``landing``."""
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"**{landing}")


def open_signed_in(page, path: str) -> None:
    StaffFactory(email="clerk@staff.test", role="clerk")
    page.goto(path)
    sign_in(page, "clerk@staff.test", path)


def keepalive_posts(page) -> list[str]:
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.url)
            if request.method == "POST" and request.url.endswith(KEEPALIVE)
            else None
        ),
    )
    return sent


def test_warning_before_the_timeout_and_stay_signed_in(page, clocks):
    open_signed_in(page, "/admin/customer/")
    assert page.locator(NOTICE).count() == 0

    clocks.move(8 * MINUTE + 30)  # 90 seconds left: the warning is due
    warning = page.locator(NOTICE)
    warning.wait_for()
    assert "Without activity you will be signed out in about" in warning.inner_text()
    stay = page.get_by_role("button", name="Stay signed in")

    with page.expect_response(lambda r: r.url.endswith(KEEPALIVE)) as answer:
        stay.click()
    assert answer.value.request.method == "POST"
    assert answer.value.status == 200
    assert answer.value.json()["seconds_left"] == 600
    warning.wait_for(state="detached")

    # The session was extended on the server: past the first deadline it still serves.
    clocks.move(5 * MINUTE)
    page.reload()
    page.wait_for_url("**/admin/customer/")


def test_typing_keeps_the_session_alive_at_most_once_a_quarter(page, clocks):
    open_signed_in(page, "/admin/customer/new/")
    sent = keepalive_posts(page)
    for word in ("Ada", "Augusta", "Ada Augusta"):
        page.fill("input[name=first_name]", word)
    assert sent == []  # loading the page was activity: the next call waits a quarter

    with page.expect_response(lambda r: r.url.endswith(KEEPALIVE)):
        clocks.move(150)  # a quarter of the 10-minute timeout
    page.fill("input[name=last_name]", "Lovelace")
    assert len(sent) == 1

    # 9 minutes after that call (11.5 after the page loaded) the session still lives.
    clocks.move(9 * MINUTE)
    assert "ended" not in page.locator("#session-notice").inner_text()
    page.goto("/admin/customer/")
    page.wait_for_url("**/admin/customer/")


def test_after_the_end_save_leads_through_sign_in_back_to_the_filled_form(page, clocks):
    open_signed_in(page, "/admin/customer/new/")
    page.fill("input[name=first_name]", "Ada")
    page.fill("input[name=last_name]", "Lovelace")
    page.fill("input[name=email]", "ada@example.com")
    # The typing is sent a quarter later, then nothing more happens. The clocks move on
    # only once that call is answered: a request must not straddle a move of the clock.
    with page.expect_response(lambda r: r.url.endswith(KEEPALIVE)) as answer:
        clocks.move(150)
    assert answer.value.status == 200

    clocks.move(10 * MINUTE + 5)
    notice = page.locator(NOTICE)
    notice.filter(has_text="Your session has ended").wait_for()
    assert "press Save" in notice.inner_text()

    page.locator("form.admin-form input[type=submit]").first.click()
    page.wait_for_url("**/login?**")
    assert "without activity" in page.inner_text("body")
    sign_in(page, "clerk@staff.test", "/admin/customer/new/?draft=*")
    assert str(RESTORED_MESSAGE) in page.inner_text("body")
    assert page.input_value("input[name=first_name]") == "Ada"
    assert page.input_value("input[name=email]") == "ada@example.com"
    assert count_rows(Customer) == 0

    page.locator("form.admin-form input[type=submit]").first.click()
    page.wait_for_url("**/admin/customer/")
    db.session.expire_all()
    assert db.session.scalar(select(Customer.email)) == "ada@example.com"
