"""Staff e-mails in the recipient's language: the invitation in the language the
administrator chose for the new account, the "job finished" e-mail in its owner's
profile language, whoever's request (or runner) sends them; else the shop's.
Read where they arrive, at the SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

import tests.job_kinds  # noqa: F401 - registers the test kind
from console.database import db
from console.models import Role, User
from console.notify.dispatcher import deliver_due
from console.services import jobs as jobs_service
from tests.factories import STAFF_PASSWORD, StaffFactory
from tests.fixtures.servers import mail_relay
from tests.helpers import hidden_inputs, parse

pytestmark = pytest.mark.settings(**mail_relay(), CONSOLE_BASE_URL="http://console.test")

ENGLISH = {"Accept-Language": "en"}


def arrived(smtp_server, to: str):
    """The one message delivered to ``to``: its subject and plain-text body."""
    deliver_due()
    messages = [message for _, message in smtp_server.messages if message["To"] == to]
    assert len(messages) == 1, [m["Subject"] for _, m in smtp_server.messages]
    return messages[0]["Subject"], messages[0].get_body(preferencelist=("plain",)).get_content()


def invite(client, email: str, language: str):
    form = hidden_inputs(client.get("/admin/staff_user/new/", headers=ENGLISH).get_data(True))
    clerk = db.session.scalar(select(Role.id).filter_by(name="clerk"))
    data = {**form, "email": email, "roles": [str(clerk)], "language": language}
    return client.post("/admin/staff_user/new/", data=data, headers=ENGLISH)


def test_an_invitation_is_written_in_the_language_chosen_for_the_account(client, auth, smtp_server):
    auth.login_as("admin")  # an English-speaking administrator
    page = parse(client.get("/admin/staff_user/new/", headers=ENGLISH).get_data(True))
    assert [o["value"] for o in page.select("select#language option")] == [
        "__None",
        "en",
        "de",
        "fr",
    ]
    assert invite(client, "neu@staff.test", "de").status_code == 302
    subject, text = arrived(smtp_server, "neu@staff.test")
    assert subject == "Ihr Konto in Back Office: Wählen Sie Ihr Passwort"
    assert "Wählen Sie hier Ihr Passwort, um das Konto zu aktivieren:" in text
    assert "http://console.test/invitation/" in text
    db.session.expire_all()
    assert db.session.scalar(select(User.language).filter_by(email="neu@staff.test")) == "de"


def test_an_invitation_without_a_language_is_in_the_shops(client, auth, smtp_server):
    auth.login_as("admin")
    assert invite(client, "new@staff.test", "__None").status_code == 302
    subject, text = arrived(smtp_server, "new@staff.test")
    assert subject == "Your account on Back Office: choose your password"
    assert db.session.scalar(select(User.language).filter_by(email="new@staff.test")) is None


def test_a_language_the_console_does_not_speak_is_refused_on_the_form(client, auth, smtp_server):
    auth.login_as("admin")
    response = invite(client, "new@staff.test", "xx")
    assert response.status_code == 200  # the form again, with the field's error
    assert db.session.scalar(select(User.id).filter_by(email="new@staff.test")) is None


def test_the_job_finished_email_is_in_its_owners_language(app, client, auth, smtp_server):
    from console.jobs.runner import run_next

    owner = StaffFactory(email="owner@staff.test", role="clerk", language="fr")
    auth.login_as("admin")  # someone else's English request starts nothing for them
    job = jobs_service.start(db.session, owner, "test.steps", {"steps": 1}, title="Comptage")
    jobs_service.set_notify(db.session, owner, job.id, True)
    run_next(app)  # the runner finishes it, outside any request
    subject, text = arrived(smtp_server, "owner@staff.test")
    assert subject == "Back Office : Comptage est prête"
    assert "Téléchargez-la depuis la console (connecté) à l’adresse :" in text


def ask_for_reset(client, email: str) -> str:
    """Ask for a password reset, anonymously, from an English-speaking browser: the page
    that answers."""
    page = client.get("/reset", headers=ENGLISH).get_data(True)
    data = {**hidden_inputs(page), "email": email}
    response = client.post("/reset", data=data, headers=ENGLISH)
    assert response.status_code == 200
    return response.get_data(True)


def test_reset_instructions_are_in_the_accounts_language_not_the_browsers(client, smtp_server):
    StaffFactory(email="vergesslich@staff.test", role="clerk", language="de")
    answer = ask_for_reset(client, "vergesslich@staff.test")
    # The page answering is in the asking browser's language, as for an unknown address.
    assert '<html lang="en">' in answer
    subject, text = arrived(smtp_server, "vergesslich@staff.test")
    assert subject == "Setzen Sie Ihr Back-Office-Passwort zurück"
    assert "Wählen Sie hier ein neues Passwort für Back Office:" in text
    assert "http://console.test/reset/" in text
    assert "Der Link funktioniert einmal und läuft in 2 Stunden ab." in text

    # Completed from the same English browser, the reset's notice is in German too.
    smtp_server.messages.clear()
    link = re.search(r"http://console\.test(/reset/\S+)", text).group(1)
    form = hidden_inputs(client.get(link, headers=ENGLISH).get_data(True))
    new = "a brand new passphrase for the console"
    data = {**form, "password": new, "password_confirm": new}
    assert client.post(link, data=data, headers=ENGLISH).status_code in (200, 302)
    subject, text = arrived(smtp_server, "vergesslich@staff.test")
    assert subject == "Das Passwort wurde zurückgesetzt"
    assert "Ihr Passwort für Back Office wurde zurückgesetzt." in text


def test_reset_instructions_without_a_language_are_in_the_shops(client, smtp_server):
    StaffFactory(email="forgetful@staff.test", role="clerk", language=None)
    ask_for_reset(client, "forgetful@staff.test")
    subject, text = arrived(smtp_server, "forgetful@staff.test")
    assert subject == "Reset your Back Office password"
    assert "Choose a new password for Back Office here:" in text
    assert "The link works once and expires in 2 hours." in text


def test_the_password_change_notice_is_in_the_accounts_language(client, auth, smtp_server):
    auth.login_as("clerk")
    clerk = db.session.scalar(select(User).filter_by(email="clerk@staff.test"))
    clerk.language = "fr"
    db.session.commit()
    page = client.get("/change", headers=ENGLISH).get_data(True)
    data = {
        **hidden_inputs(page),
        "password": STAFF_PASSWORD,
        "new_password": "a brand new passphrase for the console",
        "new_password_confirm": "a brand new passphrase for the console",
    }
    assert client.post("/change", data=data, headers=ENGLISH).status_code in (200, 302)
    subject, text = arrived(smtp_server, "clerk@staff.test")
    assert subject == "Votre mot de passe a été changé"
    assert "Votre mot de passe pour Back Office a été modifié." in text


# --- times in staff e-mails: the recipient's zone, named --------------------------------

WINTER_NIGHT = dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)


@pytest.mark.settings(SHOP_TIMEZONE="Europe/Berlin")
def test_an_invitations_expiry_is_in_the_shops_zone_not_the_senders(
    client, auth, smtp_server, clock
):
    clock.move_to(WINTER_NIGHT)
    StaffFactory(email="tokyo@staff.test", role="admin", timezone="Asia/Tokyo")
    assert auth.login("tokyo@staff.test").status_code == 302
    assert invite(client, "neu@staff.test", "de").status_code == 302
    subject, text = arrived(smtp_server, "neu@staff.test")
    # Seven days on, 23:30 UTC is 00:30 the next day in Berlin (in Tokyo: 08:30).
    assert "bis 09.12.2026, 00:30 CET." in text
    assert "UTC" not in text


def test_the_job_finished_email_tells_the_time_in_its_owners_zone(
    app, client, auth, smtp_server, clock
):
    from console.jobs.runner import run_next

    clock.move_to(WINTER_NIGHT)
    owner = StaffFactory(
        email="ny@staff.test", role="clerk", language="en", timezone="America/New_York"
    )
    job = jobs_service.start(db.session, owner, "test.steps", {"steps": 1}, title="Count")
    jobs_service.set_notify(db.session, owner, job.id, True)
    run_next(app)
    subject, text = arrived(smtp_server, "ny@staff.test")
    assert "Finished at 2026-12-01 18:30 EST." in text
