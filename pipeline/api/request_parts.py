"""Reading the Flask request of /prediction into plain values (RequestParts), which
pipeline.api.request_source then judges without Flask.

What is read here is bounded: the body is held to the configured limit (also when it is sent
without Content-Length), and a broken form, which Werkzeug would read as an empty one, becomes a
4xx with its reason.
"""

from __future__ import annotations

from flask import abort, request

from pipeline.api.request_body import BadRequest
from pipeline.api.request_source import FORM_TYPES, RequestParts


def read_body(limit: int) -> bytes:
    """The request body; 413 for a body sent without Content-Length that runs past the limit.

    Werkzeug stops reading such a (chunked) body at the limit and hands over what it read, so a
    cut JSON or CSV body would be answered as if it were whole.
    """
    data = request.get_data(cache=False)
    if request.content_length is None and len(data) >= limit and \
            request.environ["wsgi.input"].read(1):
        abort(413, description=f"the body is larger than {limit} bytes")
    return data


def _form() -> tuple[list[tuple[str, str]], list[tuple[str, bytes]]]:
    """(fields, files) of a form body. A file part with neither a file name nor content is a
    file input left empty, and is left out."""
    parser = request.make_form_data_parser()
    parser.silent = False  # Werkzeug would read a broken form as an empty one
    try:  # its files are closed when the request ends, also a file cut short (hooks.Request)
        _, form, files = parser.parse(request.stream, request.mimetype, request.content_length,
                                      request.mimetype_params)
        uploads = [(field, content) for field, storage in files.items(multi=True)
                   if (content := storage.read()) or storage.filename]
    except ValueError as exc:
        raise BadRequest(f"the form body cannot be read: {exc}"[:300]) from None
    return list(form.items(multi=True)), uploads


def read_parts(limit: int) -> RequestParts:
    """The request as plain values: its query string, and its body or its form."""
    # Most calls send none: not building Werkzeug's MultiDict saves a few microseconds each.
    # A query string that is not UTF-8 was refused before any route (pipeline.api.hooks).
    query = list(request.args.items(multi=True)) if request.query_string else []
    mimetype = request.mimetype  # parsed from the header at each use
    if mimetype in FORM_TYPES:
        fields, files = _form()
        return RequestParts(mimetype, form=fields, files=files, query=query)
    return RequestParts(mimetype, read_body(limit), query=query)
