"""The core: configuration, schema, file names, safe writes, the history database, model files,
the deployment layout, recorded outputs, the dependency rules and CSV text a spreadsheet will not
run.

Standard library only, so that the cron cycle can use it before deciding whether there is work
(``names`` is read by the quick path itself); ``packages`` imports ``packaging`` (PEP 440, pip's
own version rules) when it compares versions and ``requests`` when it asks a package index, and
``spreadsheet`` imports pyarrow when it protects or reads back a whole column.
Imports nothing of the project outside ``core``.
"""
