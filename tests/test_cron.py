"""cronjob.txt and `make cron`: one line, the real path, no duplicates."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.helpers import PROJECT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def test_cronjob_is_one_line_every_ten_minutes_with_the_venv():
    lines = (PROJECT / "cronjob.txt").read_text().splitlines()
    assert len(lines) == 1
    fields = lines[0].split(maxsplit=5)
    assert fields[:5] == ["*/10", "*", "*", "*", "*"]
    command = fields[5]
    assert '"@PROJECT@/.venv/bin/python" "@PROJECT@/fullprocess.py"' in command
    assert '>> "@PROJECT@/logs/fullprocess.log" 2>&1' in command


@pytest.fixture
def fake_crontab(tmp_path):
    """A crontab command on PATH that keeps the table in a file."""
    table = tmp_path / "table"
    binary = tmp_path / "bin"
    binary.mkdir()
    script = binary / "crontab"
    script.write_text(f"""#!/bin/sh
if [ "$1" = "-l" ]; then [ -f {table} ] && cat {table} || exit 1
elif [ "$1" = "-" ]; then cat > {table}.new && mv {table}.new {table}
fi
""")
    script.chmod(0o755)
    env = dict(os.environ, PATH=f"{binary}:{os.environ['PATH']}")
    return table, env


def test_make_cron_installs_the_line_once_and_replaces_an_older_copy(fake_crontab):
    table, env = fake_crontab
    table.write_text(f"0 * * * * /usr/bin/backup\n*/5 * * * * old {PROJECT}/fullprocess.py\n")
    for _ in range(2):
        subprocess.run(["make", "-s", "-C", str(PROJECT), "cron"], env=env, check=True,
                       capture_output=True)
    lines = table.read_text().splitlines()
    assert lines[0] == "0 * * * * /usr/bin/backup"
    ours = [line for line in lines if "fullprocess.py" in line]
    assert len(ours) == 1
    assert ours[0].startswith("*/10 * * * * ")
    assert f'"{PROJECT}/.venv/bin/python" "{PROJECT}/fullprocess.py"' in ours[0]
    assert "@PROJECT@" not in ours[0]
    subprocess.run(["make", "-s", "-C", str(PROJECT), "uncron"], env=env, check=True,
                   capture_output=True)
    assert table.read_text().splitlines() == ["0 * * * * /usr/bin/backup"]
