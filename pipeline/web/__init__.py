"""The pages people open in a browser: the state of the system (``/``), whom to call
(``/clients``) and one client (``/clients/<name>``), served by the same Flask app as the API.

Server-rendered Jinja templates (templates/), one small style sheet inlined in each page, no
JavaScript; charts are SVG drawn on the server (matplotlib, or by the templates). The pages read
the API's state and caches through ``pipeline.api.state.api_state()`` and check the same
credentials as the API (``pipeline.api.auth``), with a sign-in form and a session cookie.

May import ``pipeline.core``, ``pipeline.ingest``, ``pipeline.model``, ``pipeline.data``,
``pipeline.monitor``, ``pipeline.report``, ``pipeline.watch`` and ``pipeline.api``, Flask, pandas,
numpy, pyarrow and matplotlib; nothing in ``pipeline`` imports it (app.py registers it).
"""
