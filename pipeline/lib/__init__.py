"""The pure core: plain functions for each stage, no Dagster imports (the CLI, the assets and the tests share it)."""
