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

from flask import render_template

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "documents"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
"""Where Debian's fonts-dejavu-core puts DejaVu Sans (installed by .ci/run)."""


class RefusedURL(ValueError):
    """A document asked for a resource outside the files the console ships."""


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """Render ``templates/documents/<template>.html`` with ``context`` to PDF bytes.

    Needs an app context (the templates are the app's). The fonts' folder is passed
    to the template as ``font_dir`` (a file URL).
    """
    # WeasyPrint (with its fonts and layout engine, some 25 MB) is loaded by the first
    # document a process renders, not by every worker that only serves pages.
    from weasyprint import HTML

    from console.services.pdf_fetcher import LocalFilesOnly

    html = render_template(
        f"documents/{template}.html", font_dir=FONT_DIR.resolve().as_uri(), **context
    )
    document = HTML(string=html, base_url=TEMPLATE_DIR.as_uri() + "/", url_fetcher=LocalFilesOnly())
    return document.write_pdf()
