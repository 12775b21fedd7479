"""The suite's fixtures, loaded as plugins, one module per concern.

- ``tests/fixtures/databases.py``: a fresh database per test, on SQLite and PostgreSQL
  (``postgres`` marker: PostgreSQL only).
- ``tests/fixtures/apps.py``: ``app`` (settings from the ``settings`` marker), ``client``,
  ``runner``, ``auth``, ``make_app``.
- ``tests/fixtures/servers.py``: real SMTP and Redis servers on loopback.
- ``tests/fixtures/browser.py``: Chromium through Playwright, ``live_server``, ``screenshot``.
- ``tests/fixtures/clock.py``: ``clock``, a stopped wall clock the test moves on itself.
- ``tests/fixtures/documents.py``: ``team`` (a clerk and a manager), ``priced`` (a priced shop).

Records are made with the factories of ``tests/factories.py``; pages are read with the
helpers of ``tests/helpers.py``.
"""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.apps",
    "tests.fixtures.servers",
    "tests.fixtures.browser",
    "tests.fixtures.clock",
    "tests.fixtures.documents",
]
