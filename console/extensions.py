"""Extensions, created unbound here and bound to an app in ``create_app``.

A leaf: it imports nothing of the console, so any module may import it. The database
(``db``) has a module of its own, ``console.database``. ``Admin`` and Flask-Security's
``Security`` are deliberately absent: both keep per-app state (views, the mail and
password utilities, the datastore), so the factory builds a fresh one for every app
(``console.admin.init_admin``, ``console.security.init_security``); code reaches the
app's ``Security`` through ``flask_security.current_app.extensions["security"]``
(``console.security.accounts()``).
"""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect

mail = Mail()
# Translations of the console's own strings: catalogues in console/translations/.
babel = Babel()
csrf = CSRFProtect()
# Storage comes from RATELIMIT_STORAGE_URI (memory, or Redis when REDIS_URL is set);
# only the sign-in endpoints carry limits (see console.security).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
