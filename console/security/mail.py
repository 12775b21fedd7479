"""Flask-Security-Too's e-mails, routed through the console's outbox."""

from __future__ import annotations

from email.utils import formataddr
from typing import Any

from flask import current_app
from flask_security import MailUtil

from console.database import commit_at_end_of_request, db
from console.services.notifications import SECURITY_TEMPLATE_PREFIX, enqueue_rendered


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


def _address(value: str | tuple[str, str]) -> str:
    """``("Shop", "shop@example.com")`` -> ``"Shop <shop@example.com>"``."""
    return formataddr(value) if isinstance(value, tuple) else value
