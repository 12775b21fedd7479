"""New staff accounts are invited: the person chooses their password from a one-time link.

The administrator gives an e-mail and roles; the account cannot sign in until the
link of the invitation e-mail (built on ``CONSOLE_BASE_URL``, delivered through the
outbox to a real SMTP server) is used to set a password. The link works once, expires,
and dies when the invitation is sent again or revoked.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from console.database import db
from console.models import OutboxMessage, Role, StaffInvitation, User
from console.notify.dispatcher import deliver_due
from console.services import invitations
from console.services import staff as staff_service
from console.services.errors import DomainError
from tests.audit_support import events
from tests.factories import StaffFactory
from tests.fixtures.servers import mail_relay
from tests.helpers import (
    Auth,
    alerts,
    count_rows,
    csrf_token_from,
    hidden_inputs,
    parse,
    table_rows,
    text_of,
)

BASE_URL = "https://console.shop.test/backoffice"

pytestmark = pytest.mark.settings(
    **mail_relay("smtp"),
    CONSOLE_BASE_URL=BASE_URL,
    # The test client's own host stays trusted; links must not name it.
    CONSOLE_TRUSTED_HOSTS=["console.test"],
)

NEW = "new.clerk@staff.test"
CHOSEN = "a long and quiet passphrase for the new clerk"
WEEK = dt.timedelta(days=7).total_seconds()


@pytest.fixture
def smtp(module_smtp_server):
    """The module's SMTP server, emptied for this test."""
    module_smtp_server.messages.clear()
    return module_smtp_server


@pytest.fixture
def admin(auth):
    return auth.login_as("admin")


@pytest.fixture
def invitee(app):
    """The invited person's browser: its own cookies, never signed in."""
    return app.test_client()


def role_id(name: str) -> str:
    return str(db.session.scalar(select(Role.id).filter_by(name=name)))


def account(email: str = NEW) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).filter_by(email=email))


def invite(client, email: str = NEW, roles: tuple[str, ...] = ("clerk",), form=None):
    """Fill in and send the create form as a browser would (one-time token included)."""
    if form is None:
        form = hidden_inputs(client.get("/admin/staff_user/new/").get_data(as_text=True))
    data = {**form, "email": email, "roles": [role_id(name) for name in roles]}
    return client.post("/admin/staff_user/new/", data=data)


def invitation_mails(email: str = NEW) -> list[OutboxMessage]:
    db.session.expire_all()
    query = select(OutboxMessage).filter_by(recipient=email).order_by(OutboxMessage.id)
    return list(db.session.scalars(query))


def link_in(text: str) -> str:
    found = re.findall(r"\S+/invitation/[\w.\-]+", text)
    assert found, text
    return found[0]


def latest_path(email: str = NEW) -> str:
    """The path of the latest invitation link sent to ``email``, as this app serves it."""
    link = link_in(invitation_mails(email)[-1].body_text)
    assert link.startswith(f"{BASE_URL}/invitation/"), link
    return link.removeprefix(BASE_URL)


def choose_password(client, path: str, password: str = CHOSEN, confirm: str | None = None):
    """Post the invitation form at ``path`` (its CSRF token from the sign-in page)."""
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    data = {"password": password, "password_confirm": confirm or password, "csrf_token": token}
    return client.post(path, data=data)


def page_text(response) -> str:
    return text_of(parse(response.get_data(as_text=True)))


def told(response) -> str:
    """What the page tells the person: flashed messages and field errors."""
    found = parse(response.get_data(as_text=True)).select("div.alert, .invalid-feedback")
    return " ".join(text_of(element) for element in found)


def staff_action(client, action: str, user: User):
    token = csrf_token_from(client.get("/admin/staff_user/").get_data(as_text=True))
    return client.post(
        "/admin/staff_user/action/",
        data={"action": action, "rowid": [str(user.id)], "csrf_token": token},
        follow_redirects=True,
    )


# --- creating an account sends an invitation ----------------------------------------------


def test_creating_an_account_invites_the_person_and_they_cannot_sign_in_yet(client, admin, invitee):
    page = client.get("/admin/staff_user/new/").get_data(as_text=True)
    fields = {field["name"] for field in parse(page).select("form input[name], form select[name]")}
    assert "password" not in fields and "active" not in fields
    assert {"email", "roles", "submission"} <= fields

    response = invite(client, " New.Clerk@Staff.test ", roles=("clerk", "viewer"))
    assert response.status_code == 302
    created = account()
    assert created is not None
    assert created.active is False and created.password is None
    assert sorted(role.name for role in created.roles) == ["clerk", "viewer"]
    shown = alerts(client.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Invitation e-mailed to {NEW}" in shown

    [mail] = invitation_mails()
    assert mail.template == "security/staff_invitation"
    link = link_in(mail.body_text)
    assert link.startswith(f"{BASE_URL}/invitation/")
    assert link in (mail.body_html or "")
    assert "console.test/" not in mail.body_text  # never the request's host
    # Only the nonce's hash is stored; the link carries the nonce itself.
    invitation = db.session.scalar(select(StaffInvitation))
    assert invitation.nonce_hash and invitation.nonce_hash not in link

    refused = Auth(invitee).login(NEW, CHOSEN)
    assert refused.status_code == 200
    assert invitee.get("/admin/").status_code == 302


def test_the_invitation_reaches_the_smtp_server(client, admin, smtp):
    invite(client)
    deliver_due()
    [message] = smtp.received
    assert message["To"] == NEW
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert link_in(text).startswith(f"{BASE_URL}/invitation/")
    assert link_in(text) == link_in(invitation_mails()[0].body_text)


def test_an_account_needs_at_least_one_role(client, admin):
    users, mails = count_rows(User), count_rows(OutboxMessage)
    response = invite(client, roles=())
    assert response.status_code == 200
    feedback = parse(response.get_data(as_text=True)).select(".invalid-feedback")
    assert any("at least one role" in text_of(element) for element in feedback)
    assert count_rows(User) == users and count_rows(OutboxMessage) == mails
    with pytest.raises(DomainError, match="at least one role"):
        staff_service.create_staff(db.session, account("admin@staff.test"), email=NEW, roles=[])
    assert account() is None


@pytest.mark.parametrize(
    ("email", "message"),
    [("not-an-email", "valid e-mail"), ("admin@staff.test", "already exists")],
)
def test_bad_e_mail_is_explained_and_nothing_is_sent(client, admin, email, message):
    users, mails = count_rows(User), count_rows(OutboxMessage)
    response = invite(client, email)
    assert response.status_code == 200
    assert message in told(response).lower()
    assert count_rows(User) == users and count_rows(OutboxMessage) == mails


def test_the_create_form_sent_twice_makes_one_invitation(client, admin):
    form = hidden_inputs(client.get("/admin/staff_user/new/").get_data(as_text=True))
    assert invite(client, form=form).status_code == 302
    again = invite(client, form=form)
    assert again.status_code == 302
    assert "already submitted" in alerts(
        client.get(again.headers["Location"]).get_data(as_text=True)
    )
    assert len(invitation_mails()) == 1
    assert count_rows(StaffInvitation) == 1


# --- the link -------------------------------------------------------------------------------


def test_the_link_sets_the_password_once(client, admin, invitee, auth):
    invite(client)
    path = latest_path()
    page = invitee.get(path)
    assert page.status_code == 200
    assert NEW in page_text(page)

    response = choose_password(invitee, path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "Your password is set" in page_text(invitee.get("/login"))
    person = account()
    assert person.active is True
    assert person.password.startswith("$2b$") and CHOSEN not in person.password
    assert Auth(invitee).login(NEW, CHOSEN).status_code == 302
    assert invitee.get("/admin/").status_code == 200

    stranger = client.application.test_client()
    again = stranger.get(path)
    assert again.status_code == 410
    assert "already been used" in page_text(again)
    retry = choose_password(stranger, path, "another passphrase somebody else picked")
    assert retry.status_code == 410
    assert account().verify_and_update_password(CHOSEN)
    assert "Invited" not in page_text(client.get("/admin/staff_user/"))


def test_a_weak_or_mistyped_password_is_refused_and_the_link_keeps_working(client, admin, invitee):
    invite(client)
    path = latest_path()
    for password, confirm, message in [
        ("password1234", None, "common"),
        ("Tr0ub4d&r", None, "at least 12 characters"),
        (CHOSEN, CHOSEN + "!", "differ"),
    ]:
        response = choose_password(invitee, path, password, confirm)
        assert response.status_code == 200, password
        assert message in page_text(response), (password, page_text(response))
        person = account()
        assert person.active is False and person.password is None
    assert choose_password(invitee, path).status_code == 302


def test_the_link_expires(client, auth, admin, invitee, clock):
    invite(client)
    path = latest_path()
    clock.shift(WEEK - 60)
    assert invitee.get(path).status_code == 200
    clock.shift(120)
    expired = invitee.get(path)
    assert expired.status_code == 410
    assert "expired" in page_text(expired)
    assert "Ask an administrator to resend" in page_text(expired)
    assert choose_password(invitee, path).status_code == 410
    assert account().active is False and account().password is None
    auth.login_as("admin")  # the administrator's own session timed out meanwhile
    listing = parse(client.get("/admin/staff_user/").get_data(as_text=True))
    badge = listing.select_one("td .badge.invitation-badge.invitation-expired")
    assert text_of(badge) == "Invitation expired"


@pytest.mark.settings(CONSOLE_INVITATION_VALIDITY=dt.timedelta(days=2))
def test_the_validity_is_a_setting(client, admin, invitee, clock):
    invite(client)
    path = latest_path()
    clock.shift(2 * 24 * 3600 + 1)
    assert invitee.get(path).status_code == 410


@pytest.mark.parametrize(
    "mangled",
    [
        lambda token: token[:-3],
        lambda token: token + "x",
        lambda token: "x",
        lambda token: "a" * 600,
    ],
    ids=["cut", "extended", "short", "long"],
)
def test_a_mangled_link_is_refused(client, admin, invitee, mangled):
    invite(client)
    token = latest_path().rpartition("/")[2]
    response = invitee.get(f"/invitation/{mangled(token)}")
    assert response.status_code == 404
    assert "not valid" in page_text(response)
    assert choose_password(invitee, f"/invitation/{mangled(token)}").status_code == 404
    assert account().password is None


def test_a_token_signed_for_something_else_is_refused(app, client, admin, invitee):
    """A value signed with the app's key under another salt opens nothing."""
    from itsdangerous import URLSafeTimedSerializer

    invite(client)
    invitation = db.session.scalar(select(StaffInvitation))
    forged = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="other").dumps(
        {"i": invitation.id, "n": "guess"}
    )
    assert invitee.get(f"/invitation/{forged}").status_code == 404


def test_the_form_needs_its_csrf_token(client, admin, invitee):
    invite(client)
    path = latest_path()
    response = invitee.post(path, data={"password": CHOSEN, "password_confirm": CHOSEN})
    assert response.status_code == 400
    assert account().password is None


@pytest.mark.settings(CONSOLE_LOGIN_LIMIT_PER_ADDRESS="3 per 5 minutes")
def test_the_form_is_rate_limited_per_address(client, admin, invitee):
    invite(client)
    path = latest_path()
    for _ in range(3):
        assert choose_password(invitee, path, "short").status_code == 200
    refused = choose_password(invitee, path)
    assert refused.status_code == 429
    assert refused.headers.get("Retry-After")
    assert account().password is None


# --- resend and revoke --------------------------------------------------------------------


def test_resending_replaces_the_link(client, admin, invitee):
    invite(client)
    first = latest_path()
    response = staff_action(client, "resend_invitation", account())
    assert "Invitation sent again to 1 account(s)" in alerts(response.get_data(as_text=True))
    assert len(invitation_mails()) == 2
    second = latest_path()
    assert second != first

    old = invitee.get(first)
    assert old.status_code == 410
    assert "newer invitation" in page_text(old)
    assert choose_password(invitee, first).status_code == 410
    assert choose_password(invitee, second).status_code == 302
    assert account().active is True


def test_revoking_kills_the_link_until_it_is_sent_again(client, admin, invitee):
    invite(client)
    first = latest_path()
    response = staff_action(client, "revoke_invitation", account())
    assert "Invitation revoked for 1 account(s)" in alerts(response.get_data(as_text=True))
    revoked = invitee.get(first)
    assert revoked.status_code == 410
    assert "withdrawn" in page_text(revoked)
    assert choose_password(invitee, first).status_code == 410
    person = account()
    assert person.active is False and person.password is None
    listing = client.get("/admin/staff_user/").get_data(as_text=True)
    assert any(NEW in row and "Invitation revoked" in " ".join(row) for row in table_rows(listing))

    # Revoking twice has nothing left to revoke; sending again gives a working link.
    again = staff_action(client, "revoke_invitation", account())
    assert "no invitation waiting" in alerts(again.get_data(as_text=True))
    staff_action(client, "resend_invitation", account())
    assert invitee.get(first).status_code == 410
    assert choose_password(invitee, latest_path()).status_code == 302


def test_the_account_page_shows_the_invitation_and_its_buttons(client, admin):
    invite(client)
    person = account()
    url = f"/admin/staff_user/details/?id={person.id}"
    page = parse(client.get(url).get_data(as_text=True))
    state = text_of(page.select_one(".invitation-state"))
    invitation = db.session.scalar(select(StaffInvitation))
    assert state == (
        f"Invited (sent {invitation.sent_at:%Y-%m-%d %H:%M} UTC, "
        f"expires {invitation.expires_at:%Y-%m-%d %H:%M} UTC)"
    )
    badge = page.select_one(".invitation-state .badge.invitation-badge.invitation-invited")
    assert text_of(badge) == "Invited"
    form = page.select_one("form.revoke-invitation")
    data = {field["name"]: field["value"] for field in form.select("input")}
    response = client.post(form["action"], data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(url)
    page = parse(client.get(url).get_data(as_text=True))
    assert text_of(page.select_one(".invitation-state")).startswith("Invitation revoked")
    badge = page.select_one(".invitation-state .badge.invitation-badge.invitation-revoked")
    assert text_of(badge) == "Invitation revoked"
    assert page.select_one("form.revoke-invitation") is None
    assert page.select_one("form.resend-invitation") is not None


def test_nothing_to_resend_or_revoke_for_an_account_with_a_password(client, admin):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    for action, message in [
        ("resend_invitation", "there is no invitation to send"),
        ("revoke_invitation", "no invitation waiting"),
    ]:
        response = staff_action(client, action, clerk)
        assert message in alerts(response.get_data(as_text=True))
    assert count_rows(StaffInvitation) == 0 and count_rows(OutboxMessage) == 0


def test_an_invited_account_is_not_activated_or_reset_by_hand(client, admin):
    invite(client)
    person = account()
    with pytest.raises(DomainError, match="has not accepted the invitation"):
        staff_service.update_staff(
            db.session, account("admin@staff.test"), person, active=True, roles=person.roles
        )
    response = staff_action(client, "force_password_reset", person)
    assert "has not accepted the invitation" in alerts(response.get_data(as_text=True))
    assert account().active is False and account().password is None
    assert len(invitation_mails()) == 1


def test_invitations_and_their_use_are_audited(client, admin, invitee):
    invite(client)
    person = account()
    staff_action(client, "revoke_invitation", person)
    staff_action(client, "resend_invitation", person)
    assert choose_password(invitee, latest_path()).status_code == 302

    trail = events(record_type="staff_user", record_id=person.id)
    assert [event.action for event in trail] == [
        "create",
        "invited",
        "invitation_revoked",
        "invited",
        "invitation_accepted",
    ]
    assert {event.actor_email for event in trail[:4]} == {"admin@staff.test"}
    assert trail[-1].actor_email == NEW
    assert trail[-1].changes["active"] == [False, True]
    assert trail[-1].changes["password"] == ["[redacted]", "[redacted]"]


def test_two_uses_of_one_link_in_the_service_set_one_password(app, client, admin):
    """The link is claimed by one conditional UPDATE: the second use is refused."""
    invite(client)
    token = latest_path().rpartition("/")[2]
    invitations.accept(db.session, token, CHOSEN)
    with pytest.raises(invitations.InvitationRefused) as refused:
        invitations.accept(db.session, token, "a different passphrase, chosen second")
    assert refused.value.reason == invitations.USED
    assert account().verify_and_update_password(CHOSEN)


def test_the_staff_list_loads_invitations_without_a_query_per_row(client, admin):
    from tests.test_query_counts import counting_queries

    def queries() -> int:
        client.get("/admin/staff_user/")  # warm-up
        with counting_queries() as statements:
            page = client.get("/admin/staff_user/")
        assert page.status_code == 200
        return len(statements)

    invite(client, "first@staff.test")
    few = queries()
    for number in range(5):
        invite(client, f"more{number}@staff.test")
    assert "Invited (sent " in page_text(client.get("/admin/staff_user/"))
    assert queries() == few
