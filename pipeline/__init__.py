"""The library of the risk system: everything the stage scripts and the cycle share.

It never imports a top-level script (ingestion.py, app.py, fullprocess.py, ...) nor the cycle
package, and starts none as a process (``gunicorn wsgi:app`` is started by cycle.local_server):
imports only look down. Its packages, from the bottom up (each may import the ones
before it, as its own docstring says, and never one after it):

- ``core``: configuration, schema, file names, safe writes, the history database, model files,
  the deployment layout. Standard library only.
- ``ingest``: reading and validating input files, the CSV fast path, row hashes, the row index,
  merging files; one run (``update``): the append of plain files without pandas (``append``),
  the general append (``incremental``) or the rebuild (``rebuild``).
- ``model``: the candidate models, choosing one by cross-validation, evaluating it.
- ``data``: the ingested table described (summary statistics, missing values); the seeded
  generator of the shipped data.
- ``monitor``: the drift tests, the estimate before the labels come, and the cycle's decisions
  as pure functions.
- ``report``: the risk list and what raises each client's risk, the PDF report's pages and
  layout, and every matplotlib figure (``figures``: the report's, and the pages' SVG charts).
- ``api``: the HTTP API's blueprint, its per-worker state and credentials, request bodies, fast
  prediction, the OpenAPI document, and the client that calls every endpoint.
- ``web``: the pages people open in a browser, on the API's state and caches.

tests/test_layers.py checks these rules on every module, lazy imports included.
"""
