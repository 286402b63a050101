"""Dagster objects: thin wrappers that call the core in pipeline.lib and add checks, metadata and automation."""

import warnings

from dagster import BetaWarning

# Output(data_version=...) is marked beta; it is the documented way to give a source asset its own data version.
warnings.filterwarnings("ignore", category=BetaWarning)
