"""The signed-in person's own sessions: where they are signed in, and "sign out everywhere".

Open to everyone signed in (their own sessions only); ending another person's sessions
is on the staff account page (``StaffUserAdmin.end_sessions``, ``staff.manage``).
"""

from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_login import current_user

from console.admin.base import SecuredBaseView
from console.database import db
from console.security.sessions import current_session_key
from console.services import sessions as sessions_service
from console.services.errors import DomainError


def session_rows(user) -> list[dict]:
    """``user``'s active sessions as the sessions table shows them."""
    key = current_session_key()
    return [
        {
            "started_at": row.started_at,
            "last_seen_at": row.last_seen_at,
            "address": row.address or "",
            "browser": row.browser or "",
            "current": user.id == current_user.id and sessions_service.is_current(row, key),
        }
        for row in sessions_service.active_sessions(
            db.session, user, current_app.config["CONSOLE_IDLE_TIMEOUT"]
        )
    ]


class SessionsView(SecuredBaseView):
    """``/admin/sessions/``: the person's own active sessions, and signing the others out."""

    read_permission = None  # every signed-in person, for their own sessions

    def is_visible(self) -> bool:
        """Reached from the user menu in the header, not from the main menu."""
        return False

    @expose("/")
    def index(self):
        return self.render("admin/sessions.html", sessions=session_rows(current_user))

    @expose("/end-others/", methods=("POST",))
    def end_others(self):
        """End every session of the person except this one."""
        user = current_user._get_current_object()
        try:
            ended = sessions_service.sign_out_everywhere(
                db.session, user, user, keep=current_session_key()
            )
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(gettext("Signed out of %(count)s other session(s).", count=ended), "success")
        return redirect(url_for(".index"))
