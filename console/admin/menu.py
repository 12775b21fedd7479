"""The main menu of every admin page, rendered once per kind of reader and page.

Flask-Admin renders the menu on each request: for each of its twenty-odd entries it
asks whether the reader may open it, builds its address and translates its name, about
a sixth of a simple page's time. What it writes depends only on:

- the permissions the reader holds, and whether they hold a role at all (the home
  page's entry): every view decides its entry from those (``SecuredViewMixin``);
- the page's view (its entry is marked active);
- the language of the page (the entries' names);
- the address the console is served under (``SCRIPT_NAME``).

So the HTML is kept per process under exactly that key, and a change of a role's
permissions, of the reader's language or of the page gives another key. Nothing
personal is in it (no name, no count, no token). Entries are still refused at their
endpoints whatever the menu shows. A view whose entry came to depend on anything else
(a count, a setting changed at run time) would have to add it to the key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask import Flask, current_app, g, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

MENU_EXTENSION = "console_menus"
KEPT = 512
"""Menus kept per process: a kind of reader (a role's permissions) per page and
language; a shop has a handful of roles, three languages and about thirty pages."""


class MenuCache:
    """The rendered menus of one app, the least recently used dropped past ``size``."""

    def __init__(self, size: int = KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, Markup] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], Any]) -> Markup:
        with self._lock:
            menu = self._kept.get(key)
            if menu is not None:
                self._kept.move_to_end(key)
                return menu
        menu = Markup(render())
        with self._lock:
            self._kept[key] = menu
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return menu

    def __len__(self) -> int:
        return len(self._kept)


def init_app(app: Flask) -> None:
    app.extensions[MENU_EXTENSION] = MenuCache()
    app.jinja_env.globals["main_menu"] = main_menu


def reader_key() -> Hashable:
    """What decides which entries the reader sees: the permissions their identity holds
    (Flask-Security gives one ``fsperm`` need per permission of their roles) and
    whether they are signed in and hold a role."""
    identity = g.get("identity")
    provides = identity.provides if identity is not None else ()
    held = frozenset(need.value for need in provides if need.method == "fsperm")
    signed_in = bool(current_user.is_authenticated)
    return held, signed_in, signed_in and bool(current_user.roles)


def main_menu(render: Callable[[], Any], view: Any) -> Markup:
    """The menu ``render()`` writes (Flask-Admin's ``layout.menu`` macro) on ``view``'s
    page, rendered once per reader key, page and language."""
    key = (reader_key(), view.endpoint, str(get_locale()), request.script_root)
    return current_app.extensions[MENU_EXTENSION].get(key, render)
