"""The download site for published reports: ``python -m pipeline.web`` (``make serve``) serves the archive
that pipeline.lib.publish writes, so readers get the latest PDF and earlier ones without opening Dagster."""

from pipeline.lib.urls import download_base_url, download_url, latest_url
from pipeline.web.app import create_app

__all__ = ["create_app", "download_base_url", "download_url", "latest_url"]
