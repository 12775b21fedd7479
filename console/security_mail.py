"""Flask-Security-Too's e-mails, routed through the console's outbox.

Kept apart from ``console.security`` because ``console.extensions`` builds the
``Security`` extension with this class (Flask-Security takes it only in its
constructor, not in ``init_app``), and must not import the app's other modules.
"""

from __future__ import annotations

from email.utils import formataddr
from typing import Any

from flask import after_this_request, current_app, has_request_context
from flask_security import MailUtil


class ConsoleMailUtil(MailUtil):
    """Sends Flask-Security-Too's e-mails (reset instructions, password notices).

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
        # Imported here: this module is loaded by console.extensions itself.
        from console.extensions import db
        from console.services.notifications import SECURITY_TEMPLATE_PREFIX, enqueue_rendered

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
        if has_request_context():
            # Committed with the request's own work when the view is done, so a mail
            # never commits half of a larger change (a forced reset), and a request that
            # fails queues no mail. Flask-Security's reset view commits nothing itself.
            after_this_request(_commit_then_respond)
        else:
            db.session.commit()


def _commit_then_respond(response):
    from console.extensions import db

    db.session.commit()
    return response


def _address(value: str | tuple[str, str]) -> str:
    """``("Shop", "shop@example.com")`` -> ``"Shop <shop@example.com>"``."""
    return formataddr(value) if isinstance(value, tuple) else value
