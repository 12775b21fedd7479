"""The SMTP transport: Flask-Mail, with a time limit on the relay.

Flask-Mail opens its SMTP connection without a timeout, so a relay that accepts the TCP
connection and then never answers would hold a delivery worker forever. This connection
class is Flask-Mail's own with the one difference that every socket operation gives up
after ``MAIL_TIMEOUT`` seconds; the resulting ``TimeoutError`` counts as a failed attempt
and the message is retried later like any other SMTP error.
"""

from __future__ import annotations

import smtplib

from flask import current_app
from flask_mail import Connection, Message


class TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout."""

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        timeout = current_app.config["MAIL_TIMEOUT"]
        if self.mail.use_ssl:
            host: smtplib.SMTP = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        host.set_debuglevel(int(self.mail.debug))
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def send(message: Message) -> None:
    """Send one message through the configured relay, or fail within ``MAIL_TIMEOUT``."""
    with TimedConnection(current_app.extensions["mail"]) as connection:
        connection.send(message)
