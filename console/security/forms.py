"""Flask-Security's sign-in and password-change forms, telling the lockout what failed."""

from __future__ import annotations

from typing import Any

from flask_security.forms import LoginForm

from console.security.lockout import note_failed_authentication


class ConsoleLoginForm(LoginForm):
    """Flask-Security's login form; a sign-in naming no account counts as a failure.

    Flask-Security sends ``user_failed_authn`` only for a known account; guessing at
    addresses must use up the allowance too. A form that never got as far as looking
    the account up (a malformed address, an empty field) counts nothing.
    """

    def validate(self, **kwargs: Any) -> bool:
        valid = super().validate(**kwargs)
        if not valid and self.ifield is not None and self.user is None:
            note_failed_authentication()
        return valid
