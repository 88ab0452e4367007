"""The shared test helpers themselves: what importing them does, and what they promise."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.helpers import PROJECT

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
