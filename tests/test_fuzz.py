"""The API fuzzed by schemathesis against its own /openapi.json (in process, through WSGI).

Every generated request, valid or not, must get an answer that is no 5xx and that matches the
document: its status is one the document lists, its body the schema given for that status.
The number of cases is bounded (hypothesis max_examples per operation and mode).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app import create_app
from tests.helpers import copy_project

CASES: list[tuple[str, str, int]] = []  # (method, path, status) of every request made
MAX_EXAMPLES = 200  # per operation and generation mode


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, redeployed_template):
    """The schema of an app serving version 2 of a temporary project, as schemathesis loads it."""
    from cycle.estimating import run_estimate
    from pipeline.core.deployed import current_deployment
    from reporting import build_risk_list

    production = copy_project(redeployed_template, tmp_path_factory.mktemp("fuzz"))
    build_risk_list(production)
    run_estimate(production, current_deployment(production.deployment_folder))  # /estimate
    app = create_app(production.config_path)
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def _fuzz(strategy) -> list[int]:
    """Run up to MAX_EXAMPLES cases of a strategy; the statuses answered."""
    made: list[int] = []

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def one_case(case):
        # Not checked: that every schema-valid body is accepted. The document cannot say that
        # a dataframe_split row is as long as its columns, nor that they name the features.
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        made.append(response.status_code)
        CASES.append((case.method, case.path, response.status_code))
        assert response.status_code < 500

    one_case()
    return made


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_5xx_and_every_answer_matches_the_document(api_schema, mode):
    # schemathesis.pytest.from_fixture does not run on pytest 9 (it reads Function._nodeid), so
    # the cases come from each operation's hypothesis strategy, in a test of our own.
    tried = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            statuses = _fuzz(operation.as_strategy(generation_mode=mode))
        except Unsatisfiable:  # a negative case needs an input to break: a body, a query
            assert mode == GenerationMode.NEGATIVE and not operation.body
            statuses = []
        tried[f"{operation.method.upper()} {operation.path}"] = len(statuses)
    # schemathesis leaves out the operation that serves the document itself (/openapi.json).
    assert set(tried) == {"POST /prediction", *(f"GET /{name}" for name in (
        "prediction", "scoring", "summarystats", "diagnostics", "risk", "health",
        "metrics", "estimate"))}, tried
    if mode == GenerationMode.POSITIVE:
        assert all(tried.values()), tried
    assert tried["POST /prediction"] >= MAX_EXAMPLES // 2 and tried["GET /risk"], tried
    assert tried["GET /prediction"] >= MAX_EXAMPLES // 2, tried
    print(f"{mode.value}: {sum(tried.values())} cases: {tried}")
