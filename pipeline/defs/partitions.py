"""A report edition is a partition. Editions are folders of sources/, so the set is dynamic: the sensor (and the
CLI) register a folder as a partition the first time they see it; no code change is needed for a new edition."""

from dagster import DynamicPartitionsDefinition

editions = DynamicPartitionsDefinition(name="editions")
