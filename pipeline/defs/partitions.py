"""A report edition is a partition. Editions are folders of sources/, so the set is dynamic: the sources sensor
(pipeline.defs.automation) registers a folder as a partition the first time it sees it, and so does the CLI's
`build`; no code change is needed for a new edition. Partitions are never deleted automatically: the runs and
materializations of an edition stay in the history even when its folder goes."""

from dagster import DynamicPartitionsDefinition

editions = DynamicPartitionsDefinition(name="editions")
