"""WeasyPrint's URL fetcher for the console's documents: the console's own files only.

Kept apart from ``console.services.pdf`` so that importing the console does not load
WeasyPrint; ``render_pdf`` imports this module when it renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse

from console.services.pdf import FONT_DIR, TEMPLATE_DIR, RefusedURL


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
