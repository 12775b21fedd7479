"""Flask-Security-Too's e-mails, in the recipient's language, routed through the
console's outbox."""

from __future__ import annotations

import datetime as dt
from email.utils import formataddr, parseaddr
from typing import Any

from flask import current_app
from flask_babel import gettext
from flask_security import MailUtil
from flask_security.utils import _td_format, localize_callback

from console.database import commit_at_end_of_request, db
from console.i18n import writing_for
from console.services.notifications import SECURITY_TEMPLATE_PREFIX, enqueue_rendered

SECURITY_MAILS: dict[str, tuple[str, str | None]] = {
    # template setting: (subject setting, validity setting its ``within`` tells)
    "EMAIL_TEMPLATE_PASSWORD_RESET": ("EMAIL_SUBJECT_PASSWORD_RESET", "RESET_PASSWORD_WITHIN"),
    "EMAIL_TEMPLATE_PASSWORD_RESET_NOTICE": ("EMAIL_SUBJECT_PASSWORD_NOTICE", None),
    "EMAIL_TEMPLATE_PASSWORD_CHANGE_NOTICE": ("EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE", None),
    "TWO_FACTOR_EMAIL_TEMPLATE": ("EMAIL_SUBJECT_TWO_FACTOR", "TWO_FACTOR_MAIL_VALIDITY"),
    "EMAIL_TEMPLATE_CONFIRM": ("EMAIL_SUBJECT_CONFIRM", "CONFIRM_EMAIL_WITHIN"),
    "EMAIL_TEMPLATE_PASSWORDLESS": ("EMAIL_SUBJECT_PASSWORDLESS", None),
    "CHANGE_USERNAME_EMAIL_TEMPLATE": ("EMAIL_SUBJECT_USERNAME_CHANGE_NOTICE", None),
    "USERNAME_RECOVERY_EMAIL_TEMPLATE": ("EMAIL_SUBJECT_USERNAME_RECOVERY", None),
}
"""The e-mails Flask-Security-Too sends to an account's own address, by the settings
that name their template, subject and validity (``SECURITY_`` left off)."""


class ConsoleMailUtil(MailUtil):
    """Sends Flask-Security-Too's e-mails (reset instructions, password notices).

    They are written in the recipient's language, else the shop's, like the console's
    own staff e-mails (``console.i18n.writing_for``): a reset is asked anonymously, and
    the asking browser's language must not decide what an account with a language
    reads. Flask-Security renders a mail (and formats its validity, "2 hours") in the
    request's language before it reaches this class, its only hook for mails, so the
    mail is written again here in the recipient's.

    They take the same path as customers' e-mails: the rendered message is committed to
    the outbox and delivered (and retried) by ``console.notify``, so the request never
    waits on SMTP; a reset asked for a known address then answers as fast as one for an
    unknown address. The Notifications view hides their content, which holds reset
    links. Without a relay (the embedded default) they wait in the outbox, unsent.
    """

    def send_mail(
        self,
        template: str,
        subject: str,
        recipient: str | tuple[str, str],
        sender: str | tuple[str, str],
        body: str | None,
        html: str | None,
        **kwargs: Any,
    ) -> None:
        user = kwargs.get("user")
        if user is not None and _same_address(recipient, user.email):
            subject, body, html = _written_for(user, template, subject, kwargs)
        if not current_app.config.get("MAIL_SERVER"):
            current_app.logger.warning(
                "No MAIL_SERVER configured: security e-mail %r to %s waits in the outbox",
                template,
                recipient,
            )
        enqueue_rendered(
            db.session,
            _address(recipient),
            subject,
            body or "",
            html,
            template=SECURITY_TEMPLATE_PREFIX + template,
            sender=_address(sender) if sender else None,
        )
        # Committed with the request's own work when the view is done, so a mail never
        # commits half of a larger change (a forced reset), and a request that fails
        # queues no mail. Flask-Security's reset view commits nothing itself.
        commit_at_end_of_request("a security e-mail")


def _written_for(
    user: Any, template: str, subject: str, context: dict[str, Any]
) -> tuple[str, str | None, str | None]:
    """Subject, text and HTML of Flask-Security's ``template`` as ``user`` reads them.

    The subject setting is looked up in the console's catalogue first (the console's own
    wording, ``SECURITY_EMAIL_SUBJECT_PASSWORD_RESET``), then in Flask-Security's; a mail
    missing from ``SECURITY_MAILS`` keeps the subject it came with.
    """
    config = current_app.config
    settings = {config[f"SECURITY_{key}"]: value for key, value in SECURITY_MAILS.items()}
    subject_key, validity_key = settings.get(template, (None, None))
    security = current_app.extensions["security"]
    context = dict(context)
    with writing_for(user):
        if validity_key is not None:
            validity = config[f"SECURITY_{validity_key}"]
            if not isinstance(validity, dt.timedelta):
                validity = dt.timedelta(seconds=validity)
            # Flask-Security's own wording of a validity ("2 Stunden").
            context["within"] = _td_format(validity)
        body = html = None
        if config["SECURITY_EMAIL_PLAINTEXT"]:
            body = security.render_template(f"{template}.txt", **context)
        if config["SECURITY_EMAIL_HTML"]:
            html = security.render_template(f"{template}.html", **context)
        if subject_key is not None:
            wording = str(config[f"SECURITY_{subject_key}"])
            translated = gettext(wording)
            subject = translated if translated != wording else localize_callback(wording)
    return subject, body, html


def _same_address(recipient: str | tuple[str, str], email: str) -> bool:
    address = recipient[1] if isinstance(recipient, tuple) else parseaddr(recipient)[1]
    return address.casefold() == (email or "").casefold()


def _address(value: str | tuple[str, str]) -> str:
    """``("Shop", "shop@example.com")`` -> ``"Shop <shop@example.com>"``."""
    return formataddr(value) if isinstance(value, tuple) else value
