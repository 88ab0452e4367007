"""The HTTP API's internals: the blueprint of its routes, the per-worker state (deployed model,
caches), the kept answers served in front of Flask, who may call (the token, sessions and the
limit on wrong tokens, shared by the workers in a small SQLite file), request bodies, the fast
prediction path, the OpenAPI document, a loopback server for tools that need one for a while,
and the client that calls every endpoint.

May import every other package of ``pipeline`` but ``pipeline.web`` (which builds on it), and
Flask; app.py only builds the application.
"""
