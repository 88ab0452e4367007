"""The HTTP API's internals: the blueprint of its routes, the per-worker state (deployed model,
caches), the kept answers served in front of Flask, who may call (the token, sessions and the
limit on wrong tokens, shared by the workers in a small SQLite file), request bodies, the fast
prediction path, the OpenAPI document, and the client that calls every endpoint (the server
it calls, when none serves, is started by the cycle: cycle.local_server).

May import every other package of ``pipeline`` but ``pipeline.web`` (which builds on it), and
Flask; app.py only builds the application.
"""
