"""The site's URLs, built from names that pass the archive's own patterns (edition, version, file name).

Both sides need them: the download site (pipeline.web) links its pages with them, and the Dagster assets show
a version's permanent link in the materialisation. They live here, beside pipeline.lib.publish, so that
building a link does not import Starlette or the web app. Every link starts with the report's id: the archive
holds one folder per report, and two reports may have editions of the same name."""

from __future__ import annotations

import os

from pipeline.lib.publish import EDITION_PATTERN, check_edition, html_name, pdf_name, version_number

#: Where the Dagster PDF materialisation points readers when REPORT_DOWNLOAD_BASE_URL is not set.
DEFAULT_DOWNLOAD_BASE_URL = "http://127.0.0.1:8000"
BASE_URL_ENV = "REPORT_DOWNLOAD_BASE_URL"


def download_base_url() -> str:
    """The site's public base URL: REPORT_DOWNLOAD_BASE_URL, else the local default of ``make serve``."""
    return os.environ.get(BASE_URL_ENV) or DEFAULT_DOWNLOAD_BASE_URL


def check_report(report: str) -> str:
    """A report id as a URL segment: the archive's name rule (as for editions), since it is also a folder name."""
    if not EDITION_PATTERN.fullmatch(report):
        raise ValueError(f"not a report id: {report!r}")
    return report


def report_url(base_url: str, report: str) -> str:
    """The report's page: its editions."""
    return f"{base_url.rstrip('/')}/{check_report(report)}"


def download_url(base_url: str, report: str, edition: str, version: str) -> str:
    """The permanent link to one version's PDF (what the Dagster materialisation shows).

    The file name is part of the URL as well as the Content-Disposition, so tools that ignore the header
    (wget, curl -O) still save ``<edition>_<version>.pdf``."""
    check_edition(edition)
    version_number(version)
    return f"{report_url(base_url, report)}/editions/{edition}/{version}/{pdf_name(edition, version)}"


def html_url(base_url: str, report: str, edition: str, version: str) -> str:
    """The permanent link to one version's HTML, viewed in the browser."""
    check_edition(edition)
    version_number(version)
    return f"{report_url(base_url, report)}/editions/{edition}/{version}/{html_name(edition, version)}"


def latest_url(base_url: str, report: str, edition: str, kind: str = "pdf") -> str:
    """The stable link that always gives the newest version (``kind`` is ``pdf`` or ``html``)."""
    check_edition(edition)
    if kind not in ("pdf", "html"):
        raise ValueError(f"kind must be 'pdf' or 'html', got {kind!r}")
    return f"{report_url(base_url, report)}/latest/{edition}.{kind}"


def edition_url(base_url: str, report: str, edition: str) -> str:
    """The page listing every version of an edition."""
    check_edition(edition)
    return f"{report_url(base_url, report)}/editions/{edition}"


def compare_url(base_url: str, report: str, edition: str, before: str, after: str, changed_only: bool = False) -> str:
    """The page comparing two versions of one edition, figure by figure (``changed_only``: moved, added and
    removed figures only)."""
    check_edition(edition)
    version_number(before)
    version_number(after)
    return f"{report_url(base_url, report)}/compare/{edition}/{before}/{after}" + ("?changed=1" if changed_only else "")


def compare_editions_url(base_url: str, report: str, before: str, after: str, changed_only: bool = False) -> str:
    """The page comparing the latest versions of two editions, each metric's latest period against the other's."""
    check_edition(before)
    check_edition(after)
    return f"{report_url(base_url, report)}/compare-editions/{before}/{after}" + ("?changed=1" if changed_only else "")
