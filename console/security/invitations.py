"""The invitation page: a new staff member chooses a password and the account opens.

``/invitation/<token>`` is the link of the invitation e-mail (``console.services.
invitations``). It is public, like the password reset page: the signed token is what
admits the visitor. A dead link (used, revoked, replaced by a newer one, expired or
mangled) gets a page saying why and what to do. The form is CSRF-protected and rate
limited per client address (``console.security.limits.INVITATION_LIMIT``); the chosen
password must pass Flask-Security-Too's rules, as on its password change form. Once
it is set, the person signs in on ``/login`` like everyone else, so that their session
starts (server-side row, second factor when their role requires one) the usual way.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import PasswordField, SubmitField
from wtforms.validators import EqualTo, InputRequired

from console.database import db
from console.security.limits import INVITATION_LIMIT
from console.services import invitations
from console.services.invitations import InvitationRefused, PasswordRefused

bp = Blueprint("invitations", __name__)

ACCEPTED = lazy_gettext(
    "Your password is set and your account is active. Sign in with your e-mail address "
    "and the password you chose."
)


class AcceptInvitationForm(FlaskForm):
    """The password the person chooses, typed twice."""

    password = PasswordField(
        lazy_gettext("Choose a password"),
        validators=[InputRequired(message=lazy_gettext("Choose a password."))],
        render_kw={"autocomplete": "new-password"},
    )
    password_confirm = PasswordField(
        lazy_gettext("Type it again"),
        validators=[
            InputRequired(message=lazy_gettext("Type the password a second time.")),
            EqualTo(
                "password",
                message=lazy_gettext("The two passwords differ; type the same one twice."),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(lazy_gettext("Set my password"))


def _page(template: str, **context: Any) -> str:
    """``template`` in the look of the sign-in pages (the admin theme)."""
    admin = current_app.extensions["console_admin"]
    return render_template(
        template, theme=admin.theme, console_name=current_app.config["CONSOLE_NAME"], **context
    )


def _refused(refusal: InvitationRefused):
    """The page for a link that no longer works (410), or never did (404)."""
    db.session.rollback()
    status = 404 if refusal.reason == invitations.INVALID else 410
    return _page("security/invitation_refused.html", message=refusal.message), status


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@INVITATION_LIMIT
def accept(token: str):
    """Show the password form of a live invitation; on a valid POST, accept it."""
    try:
        invitation = invitations.check(db.session, token)
    except InvitationRefused as refusal:
        return _refused(refusal)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            invitations.accept(db.session, token, form.password.data or "")
        except InvitationRefused as refusal:
            return _refused(refusal)
        except PasswordRefused as weak:
            form.password.errors = [*form.password.errors, *weak.problems]
        else:
            flash(str(ACCEPTED), "success")
            return redirect(url_for("security.login"))
    return _page(
        "security/accept_invitation.html",
        form=form,
        email=invitation.user.email,
        expires_at=invitation.expires_at,
    )
