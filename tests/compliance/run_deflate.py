"""Autobahn's permessage-deflate cases (12.*, 13.*) against geows' echo; not part of pytest.

    .venv/bin/python -m tests.compliance.run_deflate            # starts geows itself
    .venv/bin/python -m tests.compliance.run_deflate --url ws://127.0.0.1:9001/echo

Writes the counts per behavior to tests/compliance/deflate-summary.md (commit it) and
keeps the HTML/JSON reports in --report-dir (a temporary folder unless given). Exits 0
when every case passed, 1 otherwise. 12.* and 13.* send 1,000 messages per case, up to
128 KiB each: this takes many minutes, and --timeout (default 3600 s) bounds it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.compliance.autobahn import (
    DEFLATE_GROUPS,
    PASSING_BEHAVIOR,
    PASSING_CLOSE,
    case_sort_key,
    known_case_ids,
    kosoku_command,
    kosoku_version,
    run_groups,
)
from tests.geows_process import ECHO_CONFIG, REPO, GeowsProcess

SUMMARY = Path(__file__).resolve().parent / "deflate-summary.md"


def git_revision() -> str:
    result = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO,
                            capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def compression(report_path: Path) -> tuple[float, float] | None:
    """(incoming, outgoing) compression ratio of one case's traffic, if it reported one."""
    try:
        stats = json.loads(report_path.read_text()).get("trafficStats") or {}
    except (OSError, ValueError):
        return None
    incoming = stats.get("incomingCompressionRatio")
    outgoing = stats.get("outgoingCompressionRatio")
    if incoming is None or outgoing is None:
        return None
    return incoming, outgoing


def summary_markdown(run, target: str, groups, expected, elapsed: float) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Autobahn permessage-deflate cases (12.*, 13.*)",
        "",
        "Written by `python -m tests.compliance.run_deflate`; do not edit by hand.",
        "",
        f"- date: {when}",
        f"- target: {target}",
        f"- revision of this tree: `{git_revision()}`",
        f"- runner: kosoku {kosoku_version()} (Autobahn TestSuite case files), "
        f"Python {platform.python_version()}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        f"- wall time: {elapsed:.0f} s "
        + "(" + ", ".join(f"{g}.*: {run.durations.get(g, 0):.0f} s" for g in groups) + ")",
        "",
        "A case passes with behavior OK, NON-STRICT or INFORMATIONAL and behaviorClose OK or "
        "INFORMATIONAL.",
        "",
        "| group | cases | passed | behavior | behaviorClose | count |",
        "|---|---|---|---|---|---|",
    ]
    for group in groups:
        counts = run.counts(group)
        total = sum(counts.values())
        passed = sum(n for (b, c), n in counts.items()
                     if b in PASSING_BEHAVIOR and c in PASSING_CLOSE)
        first = True
        for (behavior, close), count in sorted(counts.items(), key=lambda kv: -kv[1]):
            head = f"| {group}.* | {total} | {passed} |" if first else "| | | |"
            lines.append(f"{head} {behavior} | {close} | {count} |")
            first = False
        if not counts:
            lines.append(f"| {group}.* | 0 | 0 | - | - | 0 |")
    missing = [case for case in expected if case not in run.cases]
    lines.append("")
    lines.append(f"Cases with a result: {len(run.cases)} of {len(expected)}.")
    ratios = [r for r in (compression(e["report"]) for e in run.cases.values()) if r]
    if ratios:
        incoming = sum(r[0] for r in ratios) / len(ratios)
        outgoing = sum(r[1] for r in ratios) / len(ratios)
        lines.append(f"Mean compression ratio (octets on the wire / octets of the messages) "
                     f"over {len(ratios)} cases: incoming {incoming:.3f}, "
                     f"outgoing {outgoing:.3f}.")
    failing = run.failing()
    if run.problems or missing or failing:
        lines += ["", "## Not passing", ""]
        lines += [f"- {problem}" for problem in run.problems]
        if missing:
            lines.append(f"- no result for {len(missing)} case(s): "
                         + ", ".join(sorted(missing, key=case_sort_key)[:40]))
        lines += [f"- {run.describe(case)}" for case in failing[:100]]
        if len(failing) > 100:
            lines.append(f"- ... and {len(failing) - 100} more")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="test this server instead of starting geows")
    parser.add_argument("--groups", nargs="+", default=list(DEFLATE_GROUPS))
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--report-dir", type=Path)
    parser.add_argument("--summary", type=Path, default=SUMMARY)
    args = parser.parse_args(argv)

    if kosoku_command() is None:
        print("kosoku is not installed: .venv/bin/pip install -e '.[test]'", file=sys.stderr)
        return 2
    report_dir = args.report_dir or Path(tempfile.mkdtemp(prefix="autobahn-deflate-"))
    geows = None
    if args.url:
        url, target = args.url, args.url
    else:
        geows = GeowsProcess(ECHO_CONFIG)
        url, target = f"ws://127.0.0.1:{geows.port}/echo", "geows, plugins/echo.py on /echo"
    started = time.monotonic()
    try:
        expected = known_case_ids(args.groups)
        run = run_groups(url, args.groups, report_dir, timeout=args.timeout,
                         log=lambda line: print(line, flush=True))
    finally:
        if geows is not None:
            geows.stop()
    elapsed = time.monotonic() - started
    args.summary.write_text(summary_markdown(run, target, args.groups, expected, elapsed))
    print(f"wrote {args.summary}; reports in {report_dir}")
    report = run.failure_report(expected)
    if report:
        print(report)
    return 1 if report else 0


if __name__ == "__main__":
    sys.exit(main())
