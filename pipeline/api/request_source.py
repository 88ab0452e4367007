"""Where the rows of a prediction request come from: exactly one place, or a clear 4xx reason.

Clients written for the original course name the test file in many ways: under ``filepath`` or
a similar key (LOCATION_KEYS), in a JSON body, a form body or the query string, by POST or GET,
as a relative or an absolute path; or they upload the file. ``choose_source`` takes a request as
plain values (``RequestParts``: pipeline.api.routes reads them off the request) and returns the
one source it names:

- a location: a CSV file named under one of LOCATION_KEYS (read by
  pipeline.api.request_body.resolve_data_file, which keeps it inside the data folders);
- an uploaded CSV file (a multipart file part);
- rows in a JSON body (ROW_KEYS) or a ``text/csv`` body.

Two sources at once are ambiguous (400, naming both). A pickled body is refused (415) however it
is labelled: unpickling runs whatever code the sender put in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.api.request_body import (
    BadRequest,
    frame_from_csv_bytes,
    frame_from_file,
    frame_from_rows,
    resolve_data_file,
)

# The keys a client may name the data file under: ours, then those course clients use.
LOCATION_KEYS = ("filepath", "datafile", "data_file", "data_path", "dataset_path", "filename",
                 "file", "path")
ROW_KEYS = ("records", "dataframe_records", "dataframe_split")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
PICKLE_TYPES = ("application/octet-stream", "application/x-pickle", "application/pickle",
                "application/python-pickle", "application/x-python-pickle")
# A pickle of protocol 2 or later starts with the PROTO opcode and its protocol number; no UTF-8
# text starts with the byte 0x80. Protocols 0 and 1 are text-like and fail as JSON or CSV.
_PROTO = 0x80
_PROTOCOLS = range(2, 6)
PICKLE_REASON = ("a pickled or binary body is never read: unpickling runs whatever code the "
                 "sender put in it; send the rows as JSON or CSV, or name or upload the CSV file")
SHOWN = 4  # sources named in an error, at most
# A lone surrogate enters a JSON text only by a \ud800-\udfff escape, or by bytes json.loads
# decodes with 'surrogatepass' (CESU-8 in a UTF-8 body, or a UTF-16 or UTF-32 body): an ASCII body
# without such an escape, nearly every body, is never looked at twice.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class RequestParts:
    """A request as plain values: the body unless it is a form, else its fields and files."""

    mimetype: str = ""
    body: bytes = b""
    form: Sequence[tuple[str, str]] = ()
    files: Sequence[tuple[str, bytes]] = ()  # (field name, content) of each file part
    query: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class Source:
    """Where the rows come from: kind "location", "upload", "rows" or "csv"; key (a location
    key, a row key or a form field), where it was found, and what was found there."""

    kind: str
    key: str
    where: str
    value: object

    @property
    def label(self) -> str:
        """How errors name this source: ``data_path in the query string``."""
        return f"{self.key} in {self.where}" if self.key else self.where


def looks_pickled(data: bytes) -> bool:
    """True when data starts as a pickle of protocol 2 or later does."""
    return len(data) >= 2 and data[0] == _PROTO and data[1] in _PROTOCOLS


def _json_sources(data: bytes) -> list[Source]:
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the JSON body must be an object")
    if not data.isascii() or _SURROGATE_ESCAPE.search(data):
        try:  # encoding the whole body meets a surrogate in any key or value, at any depth
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("the JSON body is not valid Unicode: it holds a lone surrogate "
                             "(a \\ud800-\\udfff escape without its pair)") from None
        except RecursionError:  # read at the limit, one call deeper here
            raise BadRequest("the body is not valid JSON") from None
    return [Source("location" if key in LOCATION_KEYS else "rows", key, "the JSON body", body[key])
            for key in (*LOCATION_KEYS, *ROW_KEYS) if key in body]


def _named(pairs: Iterable[tuple[str, str]], where: str) -> list[Source]:
    """The locations among the fields of a form or a query string; other fields are not read."""
    return [Source("location", key, where, value) for key, value in pairs if key in LOCATION_KEYS]


def _body_sources(parts: RequestParts) -> list[Source]:
    mimetype = parts.mimetype
    if mimetype in FORM_TYPES:
        uploads = [Source("upload", field[:40], "the multipart body, as a file", content)
                   for field, content in parts.files]
        return _named(parts.form, "the form body") + uploads
    if not parts.body:  # nothing sent: the query string alone names the file
        return []
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return _json_sources(parts.body)
    if mimetype == "text/csv":
        return [Source("csv", "", "the text/csv body", parts.body)]
    raise BadRequest("send application/json or text/csv, a form (application/x-www-form-"
                     "urlencoded or multipart/form-data), or name the file in the query string",
                     415)


def _needs_one(found: Sequence[Source]) -> str:
    if found:  # name them all (up to SHOWN), so the client sees which two it sent
        shown = [source.label for source in found[:SHOWN]]
        if len(found) > SHOWN:
            shown.append(f"{len(found) - SHOWN} more")
        return (f"{len(found)} sources of rows at once, which is ambiguous: "
                f"{', '.join(shown[:-1])} and {shown[-1]}; send exactly one")
    return (f"the request needs exactly one of: a CSV file named under one of "
            f"{', '.join(LOCATION_KEYS)} (in a JSON or form body or the query string), a CSV "
            f"file uploaded as multipart/form-data, rows under one of {', '.join(ROW_KEYS)} in "
            f"a JSON body, or a text/csv body")


def choose_source(parts: RequestParts) -> Source:
    """The one source of rows a request gives; BadRequest (415 for a pickle, else 400) when it
    gives none, more than one, or one that cannot be read."""
    if parts.mimetype in PICKLE_TYPES or looks_pickled(parts.body) or \
            any(looks_pickled(content) for _, content in parts.files):
        raise BadRequest(PICKLE_REASON, 415)
    found = _body_sources(parts) + _named(parts.query, "the query string")
    if len(found) != 1:
        raise BadRequest(_needs_one(found))
    return found[0]


def frame_of(source: Source, root: Path, folders: Iterable[Path]) -> pd.DataFrame:
    """The validated features of a source's rows."""
    if source.kind == "location":
        return frame_from_file(resolve_data_file(source.value, root, folders, source.label))
    if source.kind == "rows":
        return frame_from_rows(source.key, source.value)
    return frame_from_csv_bytes(source.value, source.label)  # an upload or a text/csv body
