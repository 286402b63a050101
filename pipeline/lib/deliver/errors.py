"""The delivery engine's own errors, both `ReportError`s so the CLI and Dagster print them without a traceback."""

from __future__ import annotations

from pipeline.lib.errors import ReportError


class SubscriptionError(ReportError):
    """`subscriptions.toml` is wrong: a fix for the operator who edits it, so the message names file and line."""


class DeliveryError(ReportError):
    """Delivery cannot start at all (settings, or a PDF that is not the published one); no subscriber is tried."""
