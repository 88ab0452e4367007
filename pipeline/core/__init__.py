"""The core: configuration, schema, file names, safe writes, the history database, model files,
the deployment layout, recorded outputs and the dependency rules.

Standard library only, so that the cron cycle can use it before deciding whether there is work
(``names`` is read by the quick path itself); ``packages`` imports ``packaging`` (PEP 440, pip's
own version rules) when it compares versions and ``requests`` when it asks a package index.
Imports nothing of the project outside ``core``.
"""
