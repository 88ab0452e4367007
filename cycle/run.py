"""The full fullprocess.py cycle: find what is new by checksum, then hand over to the work.

Standard library only until there is work to do (then cycle.steps brings pandas and the rest).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cycle.changes import config_recorded, find_changes, load_state, save_state
from cycle.errors import CycleError
from cycle.quick import acquire_lock, deployed_model_sha, outputs_current
from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from cycle.steps import ApiCalls

logger = logging.getLogger(__name__)


def _check_deployed_model(settings: Settings, deployed) -> None:
    """Raise CycleError, saying how to recover, when the deployed model fails its checksum."""
    if deployed_model_sha(str(settings.deployment_folder)) is None:
        raise CycleError(
            f"the deployed model of version {deployed.version} is missing or does not match its "
            f"manifest (the API answers 503 and will not load it): run deployment.py --rollback "
            f"--config {settings.config_path}, or add new data to retrain")


def run_cycle(settings: Settings, *, call_api: ApiCalls) -> str:
    """One cycle; returns its one-line summary. Raises CycleError when it cannot do its job.
    call_api: see cycle.steps.ApiCalls."""
    from pipeline.core.deployed import NoDeployment, current_deployment, existing_model

    started = time.perf_counter()
    adopted = ""
    if existing_model(settings.deployment_folder, settings.model_folder) is not None:
        from cycle import steps  # a model this system did not deploy: keep it before all else

        adopted = steps.adopt(settings) + "; "
    before = load_state(settings)
    changes = find_changes(settings, before)
    try:
        deployed = current_deployment(settings.deployment_folder)
    except NoDeployment:
        deployed = None
    if deployed is not None and not changes.any:
        _check_deployed_model(settings, deployed)
        # Touched but unchanged files: remember their new times; an edited config: that it is
        # a valid one (the quick path relies on it).
        if changes.seen != before or not config_recorded(settings):
            save_state(settings, changes.seen)
        if outputs_current(str(settings.model_folder), deployed.manifest["model_sha256"]):
            logger.info("decision: nothing new in %s", settings.input_folder)
            elapsed = time.perf_counter() - started
            return f"{adopted}nothing new in {settings.input_folder} ({elapsed:.3f} s)"
        from cycle import steps

        logger.info("decision: the reports do not describe deployed version %d: refreshing them",
                    deployed.version)
        summary = steps.refresh_only(settings, deployed, call_api=call_api)
        return f"{adopted}{summary} ({time.perf_counter() - started:.1f} s)"

    from cycle import steps  # the heavy part: pandas, scikit-learn, reports

    try:
        if deployed is None:
            summary = steps.first_deployment(settings, call_api=call_api)
        else:
            summary = steps.check_and_redeploy(settings, changes, deployed, call_api=call_api)
            # A cycle killed between deploying and reporting saved no state, so this one saw
            # its files as new and kept the version: finish its reports now, not a cycle later.
            now = current_deployment(settings.deployment_folder)
            if not outputs_current(str(settings.model_folder), now.manifest["model_sha256"]):
                summary += "; " + steps.refresh_only(settings, now, call_api=call_api)
    except CycleError as exc:
        if exc.handled:
            save_state(settings, changes.seen)
        raise
    save_state(settings, changes.seen)
    return f"{adopted}{summary} ({time.perf_counter() - started:.1f} s)"


def main(argv: list[str] | None, description: str,
         make_app: Callable[[Path], object] | None = None) -> int:
    """The full cycle's entry point (fullprocess.py hands over to it, with the app factory its
    API calls use when no server of the deployment runs). Every cycle that gets this far is
    recorded beside its config and raises its alerts (cycle.watching), a cycle that cannot read
    its config or lock its deployment included."""
    from cycle.watching import CycleWatch

    parser = base_parser(description)
    parser.add_argument("--no-api", action="store_true",
                        help="skip calling the API after a re-deployment")
    args = parser.parse_args(argv)
    if make_app is None and not args.no_api:  # a caller's mistake, not the user's
        raise TypeError("cycle.run.main calls the API with the app make_app makes: give it, "
                        "or --no-api")
    setup_logging(args.verbose)
    watch = CycleWatch(args.config)
    settings = None
    try:
        settings = load_settings(args.config)
        lock = acquire_lock(str(settings.deployment_folder))
    except (ConfigError, OSError) as exc:
        print(f"cycle failed: {exc}", file=sys.stderr)
        watch.failed_early(exc, settings)
        return 1
    if lock is None:
        print(f"another cycle is running on {settings.deployment_folder}; nothing done")
        return 0
    try:
        watch.begin(settings)
        try:
            summary = run_cycle(settings, call_api=False if args.no_api else make_app)
        except BaseException as exc:  # recorded as failed, KeyboardInterrupt and bugs included
            watch.end(error=exc)
            raise
        watch.end(summary=summary)
    except (ConfigError, CycleError, OSError) as exc:
        print(f"cycle failed: {exc}", file=sys.stderr)
        return 1
    finally:
        lock.close()
    print(summary)
    return 0
