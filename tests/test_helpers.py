"""The shared test helpers themselves: what importing them does, and what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from ingestion import run_ingestion
from tests.helpers import PROJECT, assert_consistent

# Run in a fresh interpreter: this session may already have installed the hook (a test that
# watched opens), and an installed audit hook cannot be removed or detected afterwards.
NO_HOOK_ON_IMPORT = textwrap.dedent("""
    import sys

    installed = []
    sys.addaudithook = installed.append
    import tests.conftest
    import tests.helpers
    import tests.test_api_security
    import tests.test_hostile_data
    assert installed == [], installed
    with tests.helpers.watch_opens():
        pass
    with tests.helpers.watch_opens():
        pass
    assert installed == [tests.helpers._audit], installed
""")


def test_importing_the_tests_installs_no_audit_hook_and_the_first_watch_installs_one():
    proc = subprocess.run([sys.executable, "-c", NO_HOOK_ON_IMPORT], cwd=PROJECT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("built", ["deployed", "redeployed"])
def test_a_copied_project_is_its_own_and_appends_as_the_built_one_would(request, built,
                                                                        datasets):
    settings = request.getfixturevalue(built)
    template = request.getfixturevalue(f"{built}_template")
    current = settings.deployment_folder / "current"
    assert current.is_symlink() and not os.path.isabs(os.readlink(current))
    links = [path for path in settings.root.rglob("*") if path.is_symlink()]
    assert current in links
    for link in links:  # a write through a link must never reach the template
        assert link.resolve().is_relative_to(settings.root), link
    assert_consistent(settings.deployment_folder)
    # A later file: the built project would append it; so must the copy, in its own folders.
    extra = settings.input_folder / "dataset9.csv"
    datasets["testdata/testdata.csv"].head(300).to_csv(extra, index=False)
    assert run_ingestion(settings).mode == "append"
    assert not (template / extra.relative_to(settings.root)).exists()
