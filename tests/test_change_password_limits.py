"""``/change`` takes the current password: limited per account like sign-in, and the same
answer for every wrong current password whatever else the form holds."""

from __future__ import annotations

import pytest

from tests.helpers import STAFF_PASSWORD, csrf_token_from, parse, text_of

NEW_PASSWORD = "a brand new passphrase for the console"

pytestmark = pytest.mark.settings(
    CONSOLE_LOGIN_LIMIT_PER_ACCOUNT="3 per 5 minutes",
    CONSOLE_LOGIN_LIMIT_PER_ADDRESS="100 per 5 minutes",
)


def change(client, current: str, new: str = NEW_PASSWORD):
    token = csrf_token_from(client.get("/change").get_data(as_text=True))
    return client.post(
        "/change",
        data={
            "password": current,
            "new_password": new,
            "new_password_confirm": new,
            "csrf_token": token,
        },
    )


def form_messages(response) -> list[str]:
    page = parse(response.get_data(as_text=True))
    return [text_of(e) for e in page.select(".fs-error-msg, .alert, li.error") if text_of(e)]


def test_wrong_current_passwords_are_limited_per_account(client, auth):
    auth.login_as("clerk")
    for guess in ["guess one is wrong", "guess two is wrong", "guess three is wrong"]:
        assert change(client, guess).status_code == 200
    refused = change(client, STAFF_PASSWORD)  # even the right one waits
    assert refused.status_code == 429
    assert "Too many" in refused.get_data(as_text=True)


def test_the_answer_does_not_tell_a_right_current_password(client, auth):
    auth.login_as("clerk")
    for new in ["password1234", "short"]:  # a weak and a too-short new password
        wrong = change(client, "not the current password", new)
        right = change(client, STAFF_PASSWORD, new)
        assert wrong.status_code == right.status_code == 200
        assert form_messages(wrong) == form_messages(right), new
        assert form_messages(wrong)
    same_wrong = change(client, "not the current password", "not the current password")
    same_right = change(client, STAFF_PASSWORD, STAFF_PASSWORD)
    assert form_messages(same_wrong) == form_messages(same_right)


def test_a_right_current_password_changes_it(client, auth):
    auth.login_as("clerk")
    assert change(client, "not the current password").status_code == 200
    assert change(client, STAFF_PASSWORD).status_code == 302
