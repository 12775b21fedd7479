"""The idle sign-out notice counts its minutes in words a person reads ("1 minute")."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from console.security import sessions
from tests.helpers import parse, text_of


class Clock:
    """The idle timeout's clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(sessions, "time", fake)
    return fake


def timeout(minutes: int, notice: str):
    marker = pytest.mark.settings(CONSOLE_IDLE_TIMEOUT=dt.timedelta(minutes=minutes))
    return pytest.param(minutes, notice, marks=marker, id=f"{minutes}min")


@pytest.mark.parametrize(
    ("minutes", "notice"),
    [
        timeout(1, "after 1 minute without activity"),
        timeout(30, "after 30 minutes without activity"),
    ],
)
def test_idle_notice_pluralises_minutes(client, auth, clock, minutes, notice):
    auth.login_as("clerk")
    clock.now += minutes * 60 + 1
    response = client.get("/admin/", follow_redirects=True)
    assert response.request.path == "/login"
    assert notice in text_of(parse(response.get_data(as_text=True)))
