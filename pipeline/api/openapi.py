"""The OpenAPI 3.1 description of the HTTP API (served at /openapi.json, checked by the tests)."""

from __future__ import annotations

from pipeline.api.request_source import LOCATION_KEYS, ROW_KEYS
from pipeline.core.schema import FEATURES

# A number, or a string holding one as the ingestion rules read it (finite, not negative).
_NUMERIC_TEXT = r"^\s*\+?(\d{1,15}(\.\d{0,15})?|\.\d{1,15})([eE][+-]?\d{1,2})?\s*$"
_NUMBER = {"oneOf": [{"type": "number", "minimum": 0},
                     {"type": "string", "pattern": _NUMERIC_TEXT}]}
_RECORD = {
    "type": "object",
    "required": list(FEATURES),
    "properties": {name: _NUMBER for name in FEATURES},
    "additionalProperties": True,
}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_FRACTION = {"type": "number", "minimum": 0, "maximum": 1}
_NULLABLE_FRACTION = {"oneOf": [_FRACTION, {"type": "null"}]}
# The deployed version's cross-validation: every candidate's scores (mean and spread over the
# folds, whether it ranks, its excess loss over the best), the chosen one and why, its decision
# threshold (and the fallback that gave it) and its reference log-loss for the drift test.
_SELECTION = {
    "type": "object",
    "required": ["chosen", "table", "threshold", "rows", "folds"],
    "properties": {
        "chosen": {"type": "string"},
        "threshold": _FRACTION,
        "threshold_f1": {"type": ["number", "null"]},
        "rows": {"type": "integer"},
        "folds": {"type": "integer"},
        "rule": {"type": "string"},
        "note": {"type": "string"},
        "not_ranking": {"type": "array", "items": {"type": "string"}},
        "reference": {"type": "object", "properties": {
            "mean": {"type": "number"}, "sd": {"type": "number"}, "rows": {"type": "integer"}}},
        "table": {"type": "array", "items": {
            "type": "object",
            "required": ["model", "log_loss", "roc_auc", "brier", "f1"],
            "properties": {"model": {"type": "string"}, "description": {"type": "string"},
                           "folds": {"type": "integer"},
                           "oof_roc_auc": {"type": ["number", "null"]},
                           "ranks": {"type": "boolean"},
                           "excess_log_loss": {"type": ["number", "null"]},
                           "excess_log_loss_se": {"type": ["number", "null"]},
                           **{f"{m}{s}": {"type": "number"} for m in
                              ("log_loss", "roc_auc", "brier", "f1") for s in ("", "_sd")}}}},
    },
}

# One estimate (pipeline.monitor.estimate, cycle/estimating.py): on the current book or a batch.
_ESTIMATE = {
    "type": "object",
    "required": ["name", "model_version", "rows", "f1", "f1_low", "f1_high", "precision",
                 "recall", "roc_auc", "based_on"],
    "properties": {
        "name": {"type": "string", "description": "'current book', or the batch's file name"},
        "model_version": {"type": "integer"},
        "rows": {"type": "integer"},
        "f1": _FRACTION, "f1_low": _FRACTION, "f1_high": _FRACTION,
        "level": _FRACTION,
        "precision": _FRACTION, "recall": _FRACTION, "roc_auc": _NULLABLE_FRACTION,
        "flagged": {"type": "integer"}, "expected_exits": {"type": "number"},
        "spread": {"type": "number"}, "deployed_f1": {"type": "number"},
        "finding": {"type": "boolean", "description": "estimated F1 and its whole band below "
                                                      "the deployed score (by the tolerance)"},
        "holds": {"type": "boolean", "description": "false when the latest self-check of "
                                                    "this version found its estimates broken"},
        "based_on": {"type": "string"}},
}
_SELF_CHECK = {
    "type": "object",
    "required": ["rows", "realised_f1", "expected_f1", "low", "high", "p_value", "holds"],
    "properties": {
        "rows": {"type": "integer"}, "realised_f1": _FRACTION, "expected_f1": _FRACTION,
        "low": _FRACTION, "high": _FRACTION, "p_value": _FRACTION, "alpha": _FRACTION,
        "holds": {"type": "boolean"}, "model_version": {"type": "integer"},
        "files": {"type": "array", "items": {"type": "string"}},
        "checked_at": {"type": "string"}},
}


# /health: the model's part, and the cycle's verdict (pipeline.watch.health.as_json).
_TIME = {"type": ["string", "null"]}
_HEALTH = {
    "type": "object",
    "required": ["status", "model_version", "cycle"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "model_version": {"type": ["integer", "null"]},
        "deployed_at": _TIME,
        "error": {"type": "string"},
        "cycle": {"type": "object", "required": ["ok", "recorded", "reasons"], "properties": {
            "ok": {"type": "boolean"}, "recorded": {"type": "boolean"},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "last_success": _TIME, "last_success_outcome": {"type": ["string", "null"]},
            "last_failure": _TIME, "last_error": {"type": ["string", "null"]},
            "failed_in_a_row": {"type": "integer"}}},
    },
}


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_FAILURE = {  # an unexpected error: its request id finds its traceback in the server log
    "description": "an unexpected error; request_id (also the X-Request-Id header) finds its "
                   "traceback in the server log",
    "headers": {"X-Request-Id": {"schema": {"type": "string"}}},
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["error", "request_id"],
        "properties": {"error": {"type": "string"}, "request_id": {"type": "string"}}}}}}
_COMMON_ERRORS = {"401": _error("a bearer token is configured and was not sent"),
                  "429": _error("too many wrong tokens from this address: wait Retry-After "
                                "seconds"),
                  "500": _FAILURE,
                  "503": _error("no valid model or data is available yet")}


def _prediction() -> dict:
    """The operation of /prediction, by POST or GET: the same request body, query and answers."""
    location = {"type": "string", "minLength": 1, "pattern": r"\S",
                "example": "testdata/testdata.csv",
                "description": "a CSV file inside the data folders (the input, test data and "
                               "output folders): relative to the project folder, or absolute; "
                               "'..' and paths resolving outside them are refused (403)"}
    named = [{"type": "object", "required": [key], "properties": {key: location}}
             for key in LOCATION_KEYS]
    rows = [
        {"type": "object", "required": ["records"],
         "properties": {"records": {"type": "array", "items": _RECORD, "minItems": 1}}},
        {"type": "object", "required": ["dataframe_records"],
         "properties": {"dataframe_records": {"type": "array", "items": _RECORD, "minItems": 1}}},
        {"type": "object", "required": ["dataframe_split"],
         "properties": {"dataframe_split": {
             "type": "object", "required": ["columns", "data"],
             "properties": {"columns": {"type": "array", "items": {"type": "string"}},
                            "data": {"type": "array", "items": {"type": "array"}}}}}},
    ]
    upload = {"type": "string", "contentMediaType": "text/csv",
              "description": "the CSV file, uploaded as a file part (`curl -F file=@testdata.csv`; "
                             "any field name): a header row and the three features; other "
                             "columns such as corporation and exited are not read. As a text "
                             "field, file names a CSV file like the other keys."}
    def query_names_it(keys: tuple[str, ...]) -> dict:
        """A body that names no source (say {} or a form of other fields) leaves the query
        string to name the file: other keys and fields are not read, as the server reads them
        (a form's rows are not read either: rows come only in JSON)."""
        return {"type": "object", "not": {"anyOf": [{"required": [key]} for key in keys]},
                "description": "no source in the body (other keys are not read): the file is "
                               "named in the query string"}

    parts = tuple(dict.fromkeys((*LOCATION_KEYS, "file")))  # file: a name or an upload
    body = {"required": False, "content": {
        "application/json": {"schema": {
            "oneOf": [*named, *rows, query_names_it((*LOCATION_KEYS, *ROW_KEYS))]}},
        "application/x-www-form-urlencoded": {"schema": {
            "oneOf": [*named, query_names_it(LOCATION_KEYS)]}},
        "multipart/form-data": {"schema": {
            "type": "object",
            "description": "one uploaded file or one named location, or neither when the query "
                           "string names the file; other text fields are not read. Two uploaded "
                           "files, under any names, are refused (400) as two sources.",
            "properties": {**{key: location for key in LOCATION_KEYS}, "file": upload},
            "not": {"anyOf": [{"required": [a, b]} for i, a in enumerate(parts)
                              for b in parts[i + 1:]]}}},
        "text/csv": {"schema": {"type": "string"}},
    }}
    return {
        "summary": "Attrition predictions and probabilities of the deployed model",
        "description": "The rows come from exactly one place: a CSV file named under one of "
                       f"{', '.join(LOCATION_KEYS)} in a JSON body, a form body or the query "
                       "string; a CSV file uploaded as multipart/form-data; rows under one of "
                       f"{', '.join(ROW_KEYS)} in a JSON body; or a text/csv body. Two at once "
                       "(say a JSON filepath and a data_path in the query string) are refused "
                       "with 400 naming both. A pickled body (application/octet-stream, "
                       "application/x-pickle, or pickle bytes under any type) is refused with "
                       "415: unpickling runs whatever code the sender put in it.",
        "parameters": [{"name": key, "in": "query", "required": False, "schema": location}
                       for key in LOCATION_KEYS],
        "requestBody": body,
        "responses": {
            "200": _ok("one prediction and probability per row", {
                "type": "object",
                "required": ["predictions", "probabilities", "model_version"],
                "properties": {
                    "predictions": {"type": "array", "items": {"type": "integer", "enum": [0, 1]}},
                    "probabilities": {"type": "array", "items": _FRACTION},
                    "model_version": {"type": "integer"},
                }}),
            "400": _error("no source of rows, two at once (both are named), or an invalid body "
                          "or row (the row is named)"),
            "403": _error("the named file is outside the data folders"),
            "404": _error("the named file does not exist"),
            "413": _error("the body is larger than the configured limit"),
            "415": _error("a pickled body, or a content type that is neither JSON, CSV nor a "
                          "form"),
            **_COMMON_ERRORS,
        }}


def openapi_document() -> dict:
    """The OpenAPI 3.1 document of every endpoint."""
    stats = {"type": "object", "additionalProperties": {
        "type": "object", "additionalProperties": {"type": ["number", "null"]}}}
    paths = {
        "/prediction": {"post": _prediction(), "get": _prediction()},
        "/scoring": {"get": {
            "summary": "F1 and other scores of the deployed model on the test data",
            "description": "F1, precision, recall and the confusion counts are those of the "
                           "model's predictions, at its decision threshold (tuned for F1 at "
                           "training); ROC AUC, log-loss and the Brier score those of its "
                           "probabilities.",
            "responses": {"200": _ok("scores", {
                "type": "object", "required": ["f1", "model_version"],
                "properties": {
                    "f1": _FRACTION, "precision": _FRACTION, "recall": _FRACTION,
                    "roc_auc": _NULLABLE_FRACTION, "model_version": {"type": "integer"},
                    "log_loss": {"type": "number", "minimum": 0}, "brier": _FRACTION,
                    "threshold": _FRACTION,
                    "rows": {"type": "integer"}, "tn": {"type": "integer"},
                    "fp": {"type": "integer"}, "fn": {"type": "integer"},
                    "tp": {"type": "integer"}, "test_data": {"type": "string"},
                }}), **_COMMON_ERRORS}}},
        "/summarystats": {"get": {
            "summary": "Mean, median, std, min, max, quartiles and mode of each numeric column",
            "responses": {"200": _ok("statistics by column", stats), **_COMMON_ERRORS}}},
        "/diagnostics": {"get": {
            "summary": "Missing data, recorded timings, the dependency check, and how the "
                       "deployed model was chosen",
            "responses": {"200": _ok("diagnostics", {
                "type": "object",
                "required": ["missing_data", "execution_time", "outdated_packages"],
                "properties": {
                    "model_version": {"type": ["integer", "null"]},
                    "missing_data": {"type": "object", "additionalProperties": _FRACTION},
                    "execution_time": {"type": ["object", "null"],
                                       "additionalProperties": {"type": "number"}},
                    "outdated_packages": {"type": ["array", "null"], "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"},
                                       "pinned": {"type": ["string", "null"]},
                                       "installed": {"type": ["string", "null"]},
                                       "latest": {"type": ["string", "null"]}}}},
                    "measured_at": {"type": ["string", "null"]},
                    "model_selection": {"oneOf": [_SELECTION, {"type": "null"}]},
                }}), **_COMMON_ERRORS}}},
        "/risk": {"get": {
            "summary": "The clients most likely to leave, highest risk first",
            "parameters": [{"name": "top", "in": "query", "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 10000,
                                       "default": 20}}],
            "responses": {
                "200": _ok("ranked clients", {
                    "type": "object", "required": ["clients", "count"],
                    "properties": {
                        "count": {"type": "integer"},
                        "clients": {"type": "array", "items": {
                            "type": "object",
                            "required": ["corporation", "probability", "rank"],
                            "properties": {
                                "corporation": {"type": "string"},
                                "probability": _FRACTION,
                                "rank": {"type": "integer", "minimum": 1},
                                **{name: {"type": "number", "minimum": 0,
                                          "description": "the client's latest record"}
                                   for name in FEATURES},
                                "top_factor": {
                                    "type": "string", "enum": ["", *FEATURES],
                                    "description": "the feature that raises this client's "
                                                   "risk most: the one whose actual value, "
                                                   "against the median of the training "
                                                   "sample, adds most to the model's logit; "
                                                   "empty when none raises it"},
                                "top_contribution": {
                                    "type": "number", "minimum": 0,
                                    "description": "what top_factor adds to the logit "
                                                   "(log-odds); exp() of it multiplies the "
                                                   "odds of leaving"},
                                **{f"contribution_{name}": {
                                    "type": "number",
                                    "description": f"what {name} adds to the logit"}
                                   for name in FEATURES}}}}}}),
                "400": _error("top is not a whole number from 1 to 10000"),
                **_COMMON_ERRORS}}},
        "/estimate": {"get": {
            "summary": "The deployed model's scores estimated before the labels come",
            "description": "Confidence-based estimates from the model's calibrated "
                           "probabilities, on the current book (every current client, from "
                           "its latest record) and on each unlabelled batch, with the 90% "
                           "band of the F1 the labels will show if the probabilities hold; "
                           "and the latest self-check, which sets a labelled batch's "
                           "realised F1 against the estimate for its rows. The estimate "
                           "cannot see concept drift (cannot_see); the self-check can.",
            "responses": {
                "200": _ok("the latest estimate", {
                    "type": "object",
                    "required": ["model_version", "estimated_at", "current_book", "batches"],
                    "properties": {
                        "model_version": {"type": "integer"},
                        "estimated_at": {"type": "string"},
                        "deployed_f1": {"type": "number"},
                        "current_book": _ESTIMATE,
                        "batches": {"type": "array", "items": _ESTIMATE},
                        "self_check": {"oneOf": [_SELF_CHECK, {"type": "null"}]},
                        "cannot_see": {"type": "string"},
                        "retrain_asked": {"type": "boolean"}}}),
                **_COMMON_ERRORS}}},
        "/health": {"get": {
            "summary": "Whether a valid model is deployed and the cycle healthy (its last "
                       "success recent enough, its last cycles not all failed)",
            "responses": {
                "200": _ok("a valid model is deployed and the cycle is healthy", _HEALTH),
                "503": _ok("no valid model is deployed, or the cycle is not healthy: error "
                           "says why", {**_HEALTH, "required": ["status", "error", "cycle"]}),
                "500": _FAILURE,
            }}},
        "/metrics": {"get": {
            "summary": "The Prometheus text format: the deployed model's scores, the cycle's "
                       "runs and times, the last drift test, the last ingestion, the alerts, "
                       "and requests by route",
            "responses": {"200": {"description": "the metrics", "content": {
                "text/plain": {"schema": {"type": "string"}}}},
                          "401": _COMMON_ERRORS["401"]}}},
        "/openapi.json": {"get": {
            "summary": "This document",
            "responses": {"200": _ok("the OpenAPI document", {"type": "object"}),
                          "401": _COMMON_ERRORS["401"], "429": _COMMON_ERRORS["429"],
                          "500": _FAILURE}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dynamic risk assessment API", "version": "1.0.0",
                 "description": "Client attrition risk from the deployed model. When the "
                                "RISK_API_TOKEN environment variable is set, every endpoint "
                                "but /health needs 'Authorization: Bearer <token>'."},
        "servers": [{"url": "http://127.0.0.1:8000"}],
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
        "paths": paths,
    }
