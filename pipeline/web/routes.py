"""The pages as a Flask blueprint: ``/`` (the state of the system), ``/clients`` (whom to call),
``/clients/<name>`` (one client), their chart, CSV download and linked files, and sign-in.

With a token configured (as for the API), every page needs the bearer token or the session
cookie that the sign-in form sets; without either it answers 401 with the sign-in form. Errors
are HTML pages here; the API's stay JSON.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import re
from functools import cache
from pathlib import Path
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    send_file,
)
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from pipeline.api.auth import SESSION_COOKIE, SESSION_SECONDS, token_ok
from pipeline.api.failures import REQUEST_ID_HEADER, record_failure
from pipeline.api.limiter import retry_after
from pipeline.api.state import api_state
from pipeline.core.schema import FEATURES
from pipeline.core.spreadsheet import format_row
from pipeline.report.explain import explain_clients
from pipeline.web import estimates, system
from pipeline.web.charts import score_history_svg
from pipeline.web.format import FILTERS, no_raw_controls
from pipeline.web.tables import (
    BY_KEY,
    COLUMNS,
    MAX_QUERY,
    PAGE_SIZE,
    client_records,
    kept_versions,
    reference_of,
    risk_view,
)

HERE = Path(__file__).resolve().parent
web = Blueprint("web", __name__, template_folder="templates")
LATEST_DECISIONS = 20
FILE_TYPES = {".pdf": "application/pdf", ".png": "image/png",
              ".txt": "text/plain"}  # Werkzeug adds "; charset=utf-8" to text types
_SAFE_NEXT = re.compile(r"^/(?![/\\])[^\s\\]*$")


@cache
def _style() -> tuple[Markup, str]:
    """The style sheet inlined in every page, and its hash for the Content-Security-Policy."""
    text = (HERE / "templates" / "style.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return Markup(text), f"'sha256-{digest}'"


@web.record_once
def _setup(setup_state) -> None:
    setup_state.app.jinja_env.filters.update(FILTERS)
    setup_state.app.jinja_env.finalize = no_raw_controls  # before any template is compiled


def client_url(name: str) -> str:
    """The address of a client's page (a name a browser would rewrite goes in the query)."""
    if name in (".", ".."):
        return "/client?name=" + quote(name, safe="")
    return "/clients/" + quote(name, safe="")


@web.context_processor
def _context() -> dict:
    return {"css": _style()[0], "client_url": client_url,
            "token_set": api_state().token is not None,
            "signed_in": bool(getattr(g, "web_cookie", False))}


# Who may see the pages -----------------------------------------------------------------------

def _signin_page(status: int = 401, error: str | None = None, target: str | None = None,
                 wait: float = 0.0):
    if wait:
        status, error = 429, (f"Too many wrong tokens from this address: try again in "
                              f"{math.ceil(wait / 60)} min.")
    response = Response(render_template("signin.html", error=error,
                                        next=target or _target()), status=status)
    if wait:
        response.headers["Retry-After"] = retry_after(wait)
    else:
        response.headers["WWW-Authenticate"] = 'Bearer realm="risk"'
    return response


def _target() -> str:
    """Where to go back after signing in: this page (a local path only)."""
    path = request.full_path if request.query_string else request.path
    return _safe_next(path if request.method == "GET" else "/")


def _safe_next(value: str | None) -> str:
    return value if value and len(value) < 2000 and _SAFE_NEXT.match(value) else "/"


@web.before_request
def guard():
    """Pages need the bearer token or the session cookie when a token is configured; a wrong
    bearer token counts against the caller's address as on the API (pipeline.api.auth)."""
    auth = api_state().auth
    if auth is None:
        return None
    if auth.session_ok(request.cookies.get(SESSION_COOKIE)):
        g.web_cookie = True
        return None
    address = auth.address(request.environ)
    authorization = request.headers.get("Authorization")
    if auth.allows(authorization, None, address, session_opens=False):
        return None
    if request.endpoint == "web.signin" and authorization is None:
        return None  # the form checks the token it was sent, and counts a wrong one
    return _signin_page(wait=auth.refused(address, authorization))


def _https() -> bool:
    """Whether the browser reached us over HTTPS: directly, or through the reverse proxy that
    terminates TLS in front of the loopback server (README: The API)."""
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


@web.post("/signin")
def signin():
    """Check the token typed into the form; on success open a session, set its cookie and go
    back. From an address waiting after too many wrong tokens, even the right one gets 429:
    the answer must not tell a guesser which guess was right."""
    auth = api_state().auth
    target = _safe_next(request.form.get("next"))
    if auth is None:
        return redirect(target, 303)
    address = auth.address(request.environ)
    wait = auth.waiting(address)
    if wait:
        return _signin_page(target=target, wait=wait)
    sent = request.form.get("token")
    if token_ok(sent, auth.token):
        response = redirect(target, 303)
        response.set_cookie(SESSION_COOKIE, auth.new_session(), max_age=SESSION_SECONDS,
                            path="/", httponly=True, samesite="Strict", secure=_https())
        return response
    if auth.allows(request.headers.get("Authorization"), None, address, session_opens=False):
        return redirect(target, 303)
    if not sent:
        return _signin_page(error="Type the token.", target=target)
    return _signin_page(error="That is not the token.", target=target, wait=auth.fail(address))


@web.post("/signout")
def signout():
    """End the session (for every worker, at once) and forget its cookie."""
    auth = api_state().auth
    if auth is not None:
        auth.end_session(request.cookies.get(SESSION_COOKIE))
    response = redirect("/", 303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict",
                           secure=_https())
    return response


@web.after_request
def _headers(response: Response) -> Response:
    # Cache-Control and nosniff are the app's, on every answer (pipeline.api.hooks).
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src {_style()[1]}; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        response.headers["X-Frame-Options"] = "DENY"
    return response


@web.errorhandler(HTTPException)
def _page_error(exc: HTTPException):
    if (exc.code or 500) == 500:  # an error raised outside a route, handed over by Flask
        return _page_bug(exc)
    return render_template("error.html", status=exc.code, title=exc.name,
                           message=exc.description), exc.code


@web.errorhandler(Exception)
def _page_bug(exc: Exception):
    request_id = record_failure(exc)
    response = Response(render_template(
        "error.html", status=500, title="Internal error",
        message=f"Something went wrong; the server log says what, under request id "
                f"{request_id}."), status=500)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


# The state of the system ---------------------------------------------------------------------

@web.get("/")
def state_page():
    """The deployed version and its health, scores and drift decisions, data drift, the latest
    ingestion and diagnostics, and links to the reports."""
    state = api_state()
    deployment = system.deployment_facts(state)
    facts = system.history_facts(state)
    version = deployment.deployed.version if deployment.deployed else None
    cause, cause_decisions = system.cause_of(version, facts)
    return render_template(
        "state.html", deployment=deployment, facts=facts, cause=cause,
        cause_decisions=cause_decisions, decisions=facts.decisions[::-1][:LATEST_DECISIONS],
        rejected=system.rejected_facts(state), diagnostics=system.diagnostics_facts(state),
        files=system.model_folder_files(state), outputs=system.outputs_record(state),
        settings=state.settings, watch=system.watch_facts(state),
        estimate=estimates.estimate_facts(state))


@web.get("/decisions")
def decisions_page():
    """Every drift decision, newest first, 50 a page."""
    decisions = system.history_facts(api_state()).decisions[::-1]
    pages = max(1, math.ceil(len(decisions) / PAGE_SIZE))
    page = _page_number(pages)
    return render_template("decisions.html", decisions=decisions[(page - 1) * PAGE_SIZE:
                                                                 page * PAGE_SIZE],
                           page=page, pages=pages, total=len(decisions))


@web.get("/charts/scores.svg")
def score_chart():
    """The score history chart, drawn once per version of the history database."""
    state = api_state()
    stamp = system.history_stamp(state)
    svg = state.cache.get("web.chart.scores", stamp, lambda: score_history_svg(
        system.history_facts(state).deployments, system.history_facts(state).decisions))
    response = Response(svg, mimetype="image/svg+xml")
    response.set_etag(hashlib.sha256(repr(stamp).encode()).hexdigest()[:32])
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)


@web.get("/charts/estimate.svg")
def estimate_chart():
    """The current book's estimated F1 and band over time, drawn once per version of its
    sources."""
    state = api_state()
    facts = estimates.estimate_facts(state)
    stamp = (*system.history_stamp(state), (facts.latest or {}).get("estimated_at"))
    svg = state.cache.get("web.chart.estimate", stamp, lambda: estimates.estimate_svg(
        facts.book_history, facts.broken_versions))
    response = Response(svg, mimetype="image/svg+xml")
    response.set_etag(hashlib.sha256(repr(stamp).encode()).hexdigest()[:32])
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)


@web.get("/files/<name>")
def model_file(name: str):
    """report.pdf, confusionmatrix.png or apireturns.txt of the model folder; nothing else."""
    if name not in system.LINKED_FILES:
        abort(404, description="The pages serve only report.pdf, confusionmatrix.png and "
                               "apireturns.txt.")
    folder = api_state().settings.model_folder
    path = folder / name
    real = os.path.realpath(path)
    if os.path.commonpath([real, os.path.realpath(folder)]) != os.path.realpath(folder):
        abort(403, description=f"{name} leads outside the model folder.")
    if not os.path.isfile(real):
        abort(404, description=f"No {name} yet: the cycle writes it after a deployment.")
    response = send_file(real, mimetype=FILE_TYPES[Path(name).suffix])
    response.headers["Cache-Control"] = "no-store"  # the report names clients, as pages do
    return response


# Whom to call --------------------------------------------------------------------------------

def _page_number(pages: int) -> int:
    text = request.args.get("page", "1")
    page = int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 1
    return min(max(page, 1), pages)


def _listing():
    """The clients table as asked by the query string: (view, rows shown, parameters)."""
    try:
        view = risk_view(api_state())
    except FileNotFoundError:
        abort(503, description="No risk list yet: reporting.py writes riskscores.csv after "
                               "each deployment.")
    query = request.args.get("q", "")[:MAX_QUERY]
    key = request.args.get("sort", "rank")
    key = key if key in BY_KEY else "rank"
    direction = request.args.get("dir")
    descending = direction == "desc" if direction in ("asc", "desc") \
        else BY_KEY[key].descending_first
    selected = view.select(query, key, descending)
    pages = max(1, math.ceil(len(selected) / PAGE_SIZE))
    page = _page_number(pages)
    shown = selected[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    params = {"q": query, "sort": key, "dir": "desc" if descending else "asc", "page": page}
    return view, shown, len(selected), pages, params


@web.get("/clients")
def clients_page():
    """The ranked risk list: search by name, sort by column, 50 a page."""
    view, shown, matches, pages, params = _listing()
    deployment = system.deployment_facts(api_state())
    facts = system.history_facts(api_state())
    version = deployment.deployed.version if deployment.deployed else None
    cause, cause_decisions = system.cause_of(version, facts)
    return render_template("clients.html", view=view, rows=view.cells(shown), matches=matches,
                           pages=pages, params=params, columns=COLUMNS, deployment=deployment,
                           page_size=PAGE_SIZE,
                           cause=cause, cause_decisions=cause_decisions,
                           outputs=system.outputs_record(api_state()))


@web.get("/clients.csv")
def clients_csv():
    """Exactly the rows and columns /clients shows for the same query string, as CSV: the text
    columns quoted and protected from being run by a spreadsheet (pipeline.core.spreadsheet)."""
    view, shown, _, _, params = _listing()
    text = [not c.numeric for c in COLUMNS]
    out = io.StringIO()
    out.write(format_row([c.heading for c in COLUMNS], [False] * len(COLUMNS)) + "\n")
    for cells in view.cells(shown):
        out.write(format_row([cells[c.key] for c in COLUMNS], text) + "\n")
    suffix = re.sub(r"[^A-Za-z0-9_-]+", "_", params["q"])[:40]
    filename = f"clients-{params['sort']}-{params['dir']}-p{params['page']}" + \
        (f"-{suffix}" if suffix else "") + ".csv"
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# One client ----------------------------------------------------------------------------------

@web.get("/clients/<path:name>")
def client_page(name: str):
    """One client: its records, its probability under each kept version, its explanation."""
    return _client(name)


@web.get("/client")
def client_by_query():
    """The same page with the name in the query string (for names like '..')."""
    name = request.args.get("name")
    if not name:
        abort(404, description="Say which client: /client?name=...")
    return _client(name)


def _client(name: str):
    state = api_state()
    try:
        records = client_records(state, name)  # with its records of unlabelled batches
    except FileNotFoundError:
        abort(503, description="No ingested data yet: run ingestion.py.")
    if records is None:
        shown = name if len(name) <= 100 else name[:100] + "…"
        abort(404, description=f"No client named “{shown}” in finaldata.csv or an unlabelled "
                               "batch.")
    import pandas as pd

    features = records[list(FEATURES)]
    latest = features.iloc[[-1]]
    deployment = system.deployment_facts(state)
    current = deployment.deployed.version if deployment.deployed else None
    versions = []
    for kept in kept_versions(state):
        probability = None
        if kept.model is not None:
            probability = float(kept.model.predict_proba(latest)[0, 1])
        versions.append({"version": kept.version, "probability": probability,
                         "problem": kept.problem, "deployed_at": kept.deployed_at,
                         "current": kept.version == current})
    explanation, record_probabilities, reference = None, None, None
    if deployment.healthy:
        model = state.models.get()[0]
        record_probabilities = [float(p) for p in model.predict_proba(features)[:, 1]]
        reference = reference_of(state, deployment.deployed.folder)
        if reference is not None:
            explained = explain_clients(model, latest, reference).iloc[0]
            explanation = [{"feature": f, "value": float(latest.iloc[0][f]),
                            "reference": reference[f],
                            "contribution": float(explained[f"contribution_{f}"])}
                           for f in FEATURES]
            explanation.sort(key=lambda e: -e["contribution"])
            explanation_top = explained["top_factor"]
            for item in explanation:
                item["top"] = item["feature"] == explanation_top
    ranked = None
    try:
        view = risk_view(state)
        position = view.row_of(name)
        if position is not None:
            ranked = {"cells": view.cells([position])[0], "of": view.size}
    except FileNotFoundError:
        pass
    return render_template(
        "client.html", name=name, records=records.to_dict(orient="records"),
        columns=list(records.columns), record_probabilities=record_probabilities,
        versions=versions, explanation=explanation, reference=reference, ranked=ranked,
        deployment=deployment, exited=bool(pd.notna(records.iloc[-1].get("exited"))
                                           and records.iloc[-1].get("exited") == 1))
