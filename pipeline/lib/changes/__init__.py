"""What changed between two published versions or editions of a report, and which figures were revised.

Readers of a recurring report have read the previous one: they want to know which figures moved, which are new,
and which figures an earlier version printed differently. The package is split by job, like ``publish/``:

- :mod:`.snapshot`: the figures of a build as deterministic JSON (``figures.json`` in a version folder) and back;
- :mod:`.compare`: two sets of figures → what moved, what was added or removed;
- :mod:`.revisions`: figures an earlier published version printed with another value for the same period;
- :mod:`.predecessor`: which version or edition a version is compared against;
- :mod:`.narrative`: Jinja helpers that pick a direction word from the data and refuse a contradicting one;
- :mod:`.plain`: values and changes as plain text (the download site's compare page).

This ``__init__`` imports nothing, so the archive can read snapshots without loading the rest. No Dagster here.
"""
