"""``/admin/keepalive/``: how long the session has left, and keeping it alive while typing.

The pages' script (``static/js/session.js``) asks it by GET before warning that the
session is about to end; a GET is no activity (``console.security.sessions``), so
asking cannot keep an unattended page signed in. It POSTs (with the CSRF token) when
the person types or clicks in a form, which extends the session: the signed cookie's
last activity and the server-side session's "last seen" (a POST without a valid CSRF
token is refused and extends nothing).

Answers are small JSON, never a page: ``{"signed_in": true, "seconds_left": N}``, and
401 ``{"signed_in": false}`` once the session has ended (or for anyone not signed in),
so that the script can tell the person instead of following a redirect.
"""

from __future__ import annotations

from flask import jsonify, request, url_for
from flask_admin import expose
from flask_wtf.csrf import CSRFError

from console.admin.base import SecuredBaseView
from console.extensions import csrf
from console.security.sessions import note_activity, seconds_left


class KeepAliveView(SecuredBaseView):
    """The session's time left (GET) and keeping it alive (POST): any signed-in person."""

    read_permission = None  # every signed-in person, for their own session

    def is_visible(self) -> bool:
        """Asked by the pages' script, never opened from the menu."""
        return False

    def inaccessible_callback(self, name: str, **kwargs):
        """401 JSON rather than the sign-in page: the caller is a script."""
        return signed_out()

    @expose("/", methods=("GET", "POST"))
    @csrf.exempt  # checked below, once the caller is known to be signed in
    def index(self):
        if request.method == "POST":
            try:
                csrf.protect()
            except CSRFError as refused:
                response = jsonify(signed_in=True, error=refused.description)
                response.status_code = 400
                return response
            note_activity()
        return jsonify(signed_in=True, seconds_left=int(seconds_left()))


def signed_out():
    """The answer for a caller whose session has ended (or who never signed in)."""
    response = jsonify(signed_in=False, login_url=url_for("security.login"))
    response.status_code = 401
    return response
