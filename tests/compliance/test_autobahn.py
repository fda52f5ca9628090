"""Autobahn TestSuite fuzzingclient, cases 1.* - 10.*, against the real geows echo location.

Every case must end with behavior OK, NON-STRICT or INFORMATIONAL and behaviorClose OK or
INFORMATIONAL, as read from the report's index.json. The deflate cases (12.*, 13.*) run in
tests/compliance/run_deflate.py instead: they take far longer.

Set AUTOBAHN_TIMEOUT (seconds, default 300) for the whole run's budget, and
AUTOBAHN_REPORT_DIR to keep the HTML/JSON reports somewhere of your choosing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.compliance.autobahn import (
    CORE_GROUPS,
    known_case_ids,
    kosoku_command,
    run_groups,
)
from tests.geows_process import ECHO_CONFIG, GeowsProcess, missing_tool


@pytest.fixture(scope="module")
def kosoku():
    """Fails when the runner is missing."""
    if kosoku_command() is None:
        missing_tool("kosoku (the Autobahn runner) is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def geows(kosoku):
    process = GeowsProcess(ECHO_CONFIG)
    yield process
    assert process.stop() == 0


def test_autobahn_cases_1_to_10(geows, tmp_path_factory):
    report_dir = (Path(os.environ["AUTOBAHN_REPORT_DIR"]) if os.environ.get("AUTOBAHN_REPORT_DIR")
                  else tmp_path_factory.mktemp("autobahn"))
    url = f"ws://127.0.0.1:{geows.port}/echo"
    expected = known_case_ids(CORE_GROUPS)
    assert len(expected) > 250, f"kosoku lists only {len(expected)} cases in 1.*-10.*"

    run = run_groups(url, CORE_GROUPS, report_dir,
                     timeout=float(os.environ.get("AUTOBAHN_TIMEOUT", "300")))

    report = run.failure_report(expected)
    if report:
        tail = geows.error_log.splitlines()[-30:]
        pytest.fail(report + "\n\ngeows error log (last 30 lines):\n" + "\n".join(tail),
                    pytrace=False)
    assert len(run.cases) == len(expected)
