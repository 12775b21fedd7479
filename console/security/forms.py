"""Flask-Security's sign-in and password-change forms, telling the lockout what failed."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user
from flask_security import verify_password
from flask_security.forms import ChangePasswordForm, Form, LoginForm
from flask_security.utils import get_message

from console.security.lockout import note_failed_authentication


class ConsoleLoginForm(LoginForm):
    """Flask-Security's login form without "remember me"; a sign-in naming no account
    counts as a failure.

    A remember-me cookie would restore a session on its own, without the second factor
    and past the idle timeout; back-office sessions end with the browser, the idle
    timeout or sign-out instead (docs/access.md). Without the field, Flask-Security
    signs in with ``remember=None`` and sets no remember cookie.

    Flask-Security sends ``user_failed_authn`` only for a known account; guessing at
    addresses must use up the allowance too. A form that never got as far as looking
    the account up (a malformed address, an empty field) counts nothing.
    """

    remember = None  # type: ignore[assignment]

    def validate(self, **kwargs: Any) -> bool:
        valid = super().validate(**kwargs)
        if not valid and self.ifield is not None and self.user is None:
            note_failed_authentication()
        return valid


class ConsoleChangePasswordForm(ChangePasswordForm):
    """Flask-Security's password change, checking the current password last.

    Flask-Security checks the current password first and then the new one, so a wrong
    guess answered "Invalid password" while the right one answered with the new
    password's problem: the form confirmed a guess. Here every rule about the new
    password is checked first (its answer does not depend on the current password);
    only then the current password, whose every wrong answer gets the one message and
    counts toward the account's lockout.
    """

    def validate(self, **kwargs: Any) -> bool:
        if not Form.validate(self, **kwargs):  # the fields' own validators
            return False
        assert isinstance(self.password.errors, list)
        assert isinstance(self.new_password.errors, list)
        security = current_app.extensions["security"]
        given = self.password.data or ""
        if current_user.password:
            if not given.strip():
                self.password.errors.append(get_message("PASSWORD_NOT_PROVIDED")[0])
                return False
            given = security.password_util.normalize(given)
            if given == self.new_password.data:
                self.password.errors.append(get_message("PASSWORD_IS_THE_SAME")[0])
                return False
        problems, self.new_password.data = security.password_util.validate(
            self.new_password.data, False, user=current_user
        )
        if problems:
            self.new_password.errors.extend(problems)
            return False
        if current_user.password:
            self.password.data = given
            if not verify_password(given, current_user.password):
                note_failed_authentication()
                self.password.errors.append(get_message("INVALID_PASSWORD")[0])
                return False
        return True
