"""PDF documents rendered from HTML templates by WeasyPrint, with nothing fetched.

Templates live under ``templates/documents/``; fonts are Debian's DejaVu files
(``fonts-dejavu-core``), loaded from the disk by ``@font-face``. WeasyPrint is given a
URL fetcher that refuses every URL which is not a file of those two folders: a document
never reaches the network (a customer's name such as ``<img src=http://...>`` is
escaped by Jinja anyway; this is the second lock), and never reads another local file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "documents"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
"""Where Debian's fonts-dejavu-core puts DejaVu Sans (installed by .ci/run)."""


class RefusedURL(ValueError):
    """A document asked for a resource outside the files the console ships."""


class LocalFilesOnly(URLFetcher):
    """WeasyPrint's fetcher, limited to files under ``roots``: no network, ever."""

    def __init__(self, roots: tuple[Path, ...] = (TEMPLATE_DIR, FONT_DIR)) -> None:
        super().__init__(allowed_protocols={"file"}, fail_on_errors=False)
        self.roots = tuple(root.resolve() for root in roots)

    def allows(self, url: str) -> bool:
        """Whether ``url`` names a file under one of the roots (after resolving ``..``)."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            return False
        path = Path(unquote(parts.path)).resolve()
        return any(path.is_relative_to(root) for root in self.roots) and path.is_file()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if not self.allows(url):
            raise RefusedURL(f"documents fetch no {url[:200]!r}: only the console's own files")
        return super().fetch(url, headers)


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """Render ``templates/documents/<template>.html`` with ``context`` to PDF bytes.

    Needs an app context (the templates are the app's). The fonts' folder is passed
    to the template as ``font_dir`` (a file URL).
    """
    html = render_template(
        f"documents/{template}.html", font_dir=FONT_DIR.resolve().as_uri(), **context
    )
    document = HTML(string=html, base_url=TEMPLATE_DIR.as_uri() + "/", url_fetcher=LocalFilesOnly())
    return document.write_pdf()
