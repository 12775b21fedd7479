"""Every string a person reads is marked for translation, and the catalogues are complete.

Templates are walked with Jinja's own lexer: text outside Jinja tags (and outside
``{% trans %}`` blocks) is read as HTML, and any visible text or user-visible attribute
with letters in it is an unmarked string. Python modules are walked with ``ast``: a
``flash(...)`` given a literal, an f-string or a formatted literal is unmarked.
The German and French catalogues must hold every extracted message, translated, with
the same placeholders as the English text (babel's own checkers).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment

from console.database import db
from console.script_texts import PLURAL_TEXTS, SCRIPT_TEXTS
from console.services import notifications
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.fixtures.apps import from_fixture
from tests.helpers import alerts, form_token, parse, text_of

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(p for p in (ROOT / "templates").rglob("*") if p.suffix in {".html", ".txt"})
MODULES = sorted((ROOT / "console").rglob("*.py"))
CATALOGUES = ROOT / "console" / "translations"
LANGUAGES = ("de", "fr")
EXTRACT_KEYWORDS = (
    "-k",
    "lazy_gettext",
    "-k",
    "N_",
    "-k",
    "pgettext:1c,2",
    "-k",
    "lazy_pgettext:1c,2",
)
"""The keywords of the extract command in docs/languages.md: a word read in several
vocabularies (order "Cancelled", job "Cancelled") is one message per context."""

VISIBLE_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "aria-description"}
"""Attributes a person reads (or hears from a screen reader)."""
BUTTON_INPUTS = {"submit", "button", "reset"}
"""``<input type=...>`` whose ``value`` is the button's visible text."""
HIDDEN_CONTENT = {"script", "style"}
JINJA_MARK = "\x00"
"""Stands in for a Jinja tag in the HTML that is checked: it holds no letters."""


def _outside_jinja(source: str) -> str:
    """The template's text with every Jinja tag and ``{% trans %}`` block blanked out.

    Newlines are kept, so line numbers of the result are the template's.
    """
    env = Environment(extensions=["jinja2.ext.i18n", "jinja2.ext.do"])
    parts: list[str] = []
    in_trans = False
    expect_block_name = False
    for _lineno, kind, value in env.lex(source):
        if kind == "block_begin":
            expect_block_name = True
        elif kind == "name" and expect_block_name:
            in_trans = value == "trans" or (in_trans and value != "endtrans")
            expect_block_name = False
        if kind == "data" and not in_trans:
            parts.append(value)
        else:
            parts.append(JINJA_MARK * bool(value.strip()) + "\n" * value.count("\n"))
    return "".join(parts)


def _has_words(text: str) -> bool:
    return any(char.isalpha() for char in text)


class _VisibleText(HTMLParser):
    """Collects ``(line, text)`` of the visible text and attributes of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            visible = name in VISIBLE_ATTRIBUTES or (
                tag == "input" and name == "value" and values.get("type") in BUTTON_INPUTS
            )
            if visible and value and _has_words(value):
                shown = re.sub(f"{JINJA_MARK}+", "…", value)
                self.found.append((self.getpos()[0], f"{name}={shown!r}"))
        if tag in HIDDEN_CONTENT:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_CONTENT:
            self.hidden = max(0, self.hidden - 1)

    def handle_data(self, data: str) -> None:
        if not self.hidden and _has_words(data):
            line = self.getpos()[0]
            self.found.append((line, re.sub(f"{JINJA_MARK}+", "…", data.strip())))


def _shown(path: Path) -> Path:
    """``path`` relative to the repository when it is in it (the tests' own files are not)."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def unmarked_in_template(path: Path) -> list[str]:
    """``file:line: text`` of each string of a template that is not marked for translation."""
    text = _outside_jinja(path.read_text())
    relative = _shown(path)
    if path.suffix == ".txt":
        return [
            f"{relative}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), start=1)
            if _has_words(line)
        ]
    parser = _VisibleText()
    parser.feed(text)
    parser.close()
    return [f"{relative}:{line}: {found}" for line, found in parser.found]


def _is_plain_text(node: ast.expr) -> bool:
    """A literal, an f-string, a concatenation or ``%``/``.format`` of a literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_plain_text(node.left) or _is_plain_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format" and _is_plain_text(node.func.value)
    return False


def unmarked_flashes(path: Path) -> list[str]:
    """``file:line`` of each ``flash(...)`` in ``path`` whose message is not a gettext call."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name != "flash":
            continue
        messages = node.args[:1] + [kw.value for kw in node.keywords if kw.arg == "message"]
        if any(_is_plain_text(message) for message in messages):
            found.append(f"{_shown(path)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


SCRIPTS = sorted((ROOT / "console" / "static" / "js").glob("*.js"))
NOT_PROSE = {
    "Accept",
    "Backspace",
    "Content-Type",
    "DOMContentLoaded",
    "Delete",
    "Enter",
    "Escape",
    "GET",
    "KeyN",
    "POST",
    "X-CSRFToken",
}
"""Words scripts use that nobody reads: HTTP and DOM names, keys of the keyboard."""
TEXT_KEY = re.compile(r"[a-z]+\.[a-z_]+")
"""A key of ``console.script_texts.SCRIPT_TEXTS``: ``session.stay``."""


def script_literals(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of each string literal of a script, comments left out."""
    found, i, line = [], 0, 1
    while i < len(source):
        char = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i) if "\n" in source[i:] else len(source)
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            line += source.count("\n", i, end)
            i = end + 2
        elif char in "\"'`":
            j, text = i + 1, []
            while j < len(source) and source[j] != char:
                if source[j] == "\\":
                    j += 1
                text.append(source[j])
                j += 1
            found.append((line, "".join(text)))
            line += source.count("\n", i, j)
            i = j + 1
        else:
            line += char == "\n"
            i += 1
    return found


def is_prose(text: str) -> bool:
    """Words a person would read: a capitalised word, words run on with a space at an
    end, or three plain words (a CSS class list has no such run)."""
    if text in NOT_PROSE or not re.search("[A-Za-z]{2}", text):
        return False
    if re.match("[A-Z][a-z]", text) or (text != text.strip() and text.strip()):
        return True
    return len([word for word in text.split() if re.fullmatch("[a-z]+", word)]) >= 3


def unmarked_in_script(path: Path) -> list[str]:
    """``file:line`` of each literal in a script that a person would read."""
    return [
        f"{_shown(path)}:{line}: {text[:60]!r}"
        for line, text in script_literals(path.read_text())
        if is_prose(text)
    ]


def test_the_checker_sees_prose_in_scripts_and_lets_keys_and_names_pass(tmp_path):
    script = tmp_path / "page.js"
    script.write_text(
        '// "Not read": a comment\n/* "Nor this" */ var a = consoleText("session.stay");\n'
        'el.className = "btn btn-primary btn-sm ml-2"; fetch(url, { method: "POST" });\n'
        'show("Stay signed in"); count + " rows"; x = \'your session may have ended\';\n'
    )
    assert [line.split(":", 1)[1].split(":")[0] for line in unmarked_in_script(script)] == [
        "4",
        "4",
        "4",
    ]


def test_scripts_hold_no_words_of_their_own():
    """Scripts ask ``consoleText`` for what they show (``console/script_texts.py``)."""
    unmarked = [line for path in SCRIPTS for line in unmarked_in_script(path)]
    assert unmarked == [], "words written in scripts:\n" + "\n".join(unmarked)


def test_every_key_a_script_asks_for_has_a_text_and_every_text_is_used():
    used = {text for path in SCRIPTS for _, text in script_literals(path.read_text())}
    used |= {
        key
        for path in TEMPLATES
        for key in re.findall(r"console(?:Text|Plural)\(['\"]([^'\"]+)['\"]", path.read_text())
    }
    keys = {text for text in used if TEXT_KEY.fullmatch(text)}
    assert keys == set(SCRIPT_TEXTS) | set(PLURAL_TEXTS)


def test_the_checker_sees_unmarked_text_and_lets_marked_text_pass(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '<p class="lead">{{ _("Orders") }}</p>\n'
        "{% trans count=n %}{{ count }} order{% pluralize %}{{ count }} orders{% endtrans %}\n"
        '<script>let label = "not read";</script><b title="Approve">{{ n }}</b>\n'
        '<input type="submit" value="Save"><input type="hidden" name="x" value="id">\n'
        "<p>Pending {{ n }}</p>\n"
    )
    assert [line.split(":", 1)[1] for line in unmarked_in_template(page)] == [
        "3: title='Approve'",
        "4: value='Save'",
        "5: Pending …",
    ]
    code = tmp_path / "view.py"
    code.write_text(
        'flash(_("Saved."))\nflash("Saved.")\nflash(f"Saved {x}.", "error")\n'
        'flash(message="%s" % x)\nflash(str(error))\n'
    )
    assert [line.split(":", 2)[1] for line in unmarked_flashes(code)] == ["2", "3", "4"]


def test_every_template_string_is_marked():
    unmarked = [line for path in TEMPLATES for line in unmarked_in_template(path)]
    assert unmarked == [], "unmarked template strings:\n" + "\n".join(unmarked)


def test_every_flash_message_is_marked():
    unmarked = [line for path in MODULES for line in unmarked_flashes(path)]
    assert unmarked == [], "unmarked flash messages:\n" + "\n".join(unmarked)


def _catalogue(language: str):
    with (CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[tuple[str | None, str]]:
    """The msgids pybabel extracts from the code and templates as they are now."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "-q", "extract", *EXTRACT_KEYWORDS]
        + ["-F", "babel.cfg", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as handle:
        return {_key(message) for message in read_po(handle) if message.id}


def _key(message) -> tuple[str | None, str]:
    """A catalogue entry's context and (singular) msgid."""
    return message.context, message.id if isinstance(message.id, str) else message.id[0]


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_holds_every_extracted_string(language, extracted):
    catalogue = _catalogue(language)
    held = {_key(m) for m in catalogue if m.id}
    missing = sorted(extracted - held)
    assert missing == [], f"run pybabel extract and update ({language}): {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_translated_with_matching_placeholders(language):
    catalogue = _catalogue(language)
    untranslated = [
        message.id
        for message in catalogue
        if message.id
        and (
            message.fuzzy
            or not all(message.string if isinstance(message.string, tuple) else (message.string,))
        )
    ]
    assert untranslated == [], f"empty or fuzzy in {language}: {untranslated}"
    errors = [
        f"{message.id!r}: {error}" for message, problems in catalogue.check() for error in problems
    ]
    assert errors == [], "\n".join(errors)
    obsolete = sorted(str(message_id) for message_id in catalogue.obsolete)
    assert obsolete == [], f"obsolete entries in {language} (pybabel update drops them): {obsolete}"


@pytest.fixture(scope="module")
def compiled_catalogues(tmp_path_factory) -> str:
    """The German and French catalogues compiled (``pybabel compile``) into a folder."""
    target = tmp_path_factory.mktemp("translations")
    for language in LANGUAGES:
        folder = target / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with (folder / "messages.mo").open("wb") as handle:
            write_mo(handle, _catalogue(language))
    return str(target)


@pytest.mark.settings(BABEL_TRANSLATION_DIRECTORIES=from_fixture("compiled_catalogues"))
@pytest.mark.parametrize(
    ("language", "subject", "greeting", "total"),
    [
        ("en", "we received your order", "Thank you for your order", "Total:"),
        ("de", "Wir haben Ihre Bestellung", "Vielen Dank für Ihre Bestellung", "Summe:"),
        ("fr", "nous avons bien reçu votre commande", "Merci pour votre commande", "Total :"),
    ],
)
def test_an_order_email_is_written_in_the_customers_language(
    app, language, subject, greeting, total
):
    customer, products = catalogue({"A": 5})
    customer.language = language
    order = OrderFactory(
        customer=customer, lines={products["A"]: 1}, actor=StaffFactory(role="clerk")
    )
    message = notifications.enqueue_order_email(db.session, order, "order_received")
    assert subject in message.subject and order.number in message.subject
    assert f"{greeting} {order.number}" in message.body_text
    assert total in message.body_text
    assert f"{greeting} <strong>{order.number}</strong>" in (message.body_html or "")


@pytest.mark.settings(
    BABEL_TRANSLATION_DIRECTORIES=from_fixture("compiled_catalogues"), DEFAULT_LOCALE="de"
)
def test_a_manager_works_in_german(app, client, auth):
    auth.login_as("manager")
    customer, products = catalogue({"A": 5})
    clerk = StaffFactory(role="clerk")
    order = OrderFactory(customer=customer, lines={products["A"]: 1}, actor=clerk)
    listing = parse(client.get("/admin/order/").get_data(as_text=True))
    menu = text_of(listing.select_one("nav"))
    assert "Bestellungen" in menu and "Zur Genehmigung" in menu and "Preise" in menu
    headers = [text_of(th) for th in listing.select("table.model-list thead th")]
    assert "Bestellung" in headers and "Kunde" in headers
    token = form_token(client, f"/admin/order/details/?id={order.id}")
    page = client.post(
        f"/admin/order/{order.id}/do/approve/",
        data={"csrf_token": token, "version": order.version},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"Bestellung {order.number} genehmigt." in alerts(page)
    details = text_of(parse(page))
    assert "Zurück zur Liste" in details and "Summe" in details


@pytest.mark.parametrize(
    ("locale", "forms"),
    [
        ("en", {"one": "%(count)s second", "other": "%(count)s seconds"}),
        ("de_DE", {"one": "%(count)s Sekunde", "other": "%(count)s Sekunden"}),
        (
            "fr_FR",
            {
                "one": "%(count)s seconde",
                "many": "%(count)s de secondes",
                "other": "%(count)s secondes",
            },
        ),
    ],
)
def test_a_plural_script_text_carries_each_form_of_the_language(app, locale, forms):
    from flask_babel import force_locale

    from console.script_texts import script_texts

    with app.test_request_context(), force_locale(locale):
        texts = script_texts()
    assert texts["session.seconds"] == forms
    assert set(texts["jobs.rows_of"]) == set(forms)


def test_script_texts_are_kept_per_language(app):
    """The texts are worked out once per language and app: a page in one language
    never carries another's."""
    from flask_babel import force_locale

    from console.script_texts import script_texts

    with app.test_request_context():
        seen = {}
        for locale in ("de_DE", "en", "fr_FR", "de_DE", "en"):
            with force_locale(locale):
                seen.setdefault(locale, []).append(script_texts()["session.stay"])
    assert seen == {
        "de_DE": ["Angemeldet bleiben"] * 2,
        "en": ["Stay signed in"] * 2,
        "fr_FR": [seen["fr_FR"][0]],
    }
    assert seen["fr_FR"][0] not in ("Stay signed in", "Angemeldet bleiben")
