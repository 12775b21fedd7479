"""Staff changes need the password entered within the freshness window: it does not slide."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest


@pytest.mark.settings(CONSOLE_STAFF_FRESHNESS=dt.timedelta(minutes=1))
def test_staff_freshness_does_not_slide_with_activity(client, auth, clock):
    auth.login_as("admin")
    for _ in range(3):  # a staff page every 25 seconds, within the window
        assert client.get("/admin/staff_user/new/").status_code == 200
        clock.shift(25)
    response = client.get("/admin/staff_user/new/")  # 75 s after the password
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/verify"
    assert client.get("/admin/staff_user/").status_code == 200  # reading is fine
