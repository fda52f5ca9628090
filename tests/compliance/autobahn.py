"""Run Autobahn's fuzzingclient cases (through kosoku) and read the report's index.json.

kosoku is a Python 3 runner of the Autobahn TestSuite's own case files; see
tests/compliance/README.md for why it and not wstest. Its command line writes
Autobahn's report format: `OUTDIR/index.json` is `{agent: {case id: {"behavior",
"behaviorClose", "remoteCloseCode", "duration", "reportfile"}}}` and `reportfile` is the
case's full report next to it. We read those files, never the runner's exit code (wstest
exits 0 whatever happens; kosoku exits 1 on a failed case, 0 otherwise).

Also a command, to point the same check at any server:
    python -m tests.compliance.autobahn ws://127.0.0.1:9001/echo [GROUP ...]
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The groups the pytest run covers (11 does not exist; 12 and 13 are deflate).
CORE_GROUPS = ("1", "2", "3", "4", "5", "6", "7", "9", "10")
DEFLATE_GROUPS = ("12", "13")

PASSING_BEHAVIOR = frozenset({"OK", "NON-STRICT", "INFORMATIONAL"})
PASSING_CLOSE = frozenset({"OK", "INFORMATIONAL"})


def kosoku_command() -> list[str] | None:
    """The kosoku console script of this interpreter's environment, else on PATH."""
    here = Path(sys.executable).parent / "kosoku"
    if here.is_file() and os.access(here, os.X_OK):
        return [str(here)]
    found = shutil.which("kosoku")
    return [found] if found else None


def kosoku_python() -> str:
    """The interpreter that has kosoku installed (the one next to its script)."""
    command = kosoku_command()
    if command:
        candidate = Path(command[0]).parent / "python"
        if candidate.exists():
            return str(candidate)
    return sys.executable


def kosoku_version() -> str:
    result = subprocess.run(
        [kosoku_python(), "-c", "import importlib.metadata as m; print(m.version('kosoku'))"],
        capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or "unknown"


def known_case_ids(groups, exclude=()) -> list[str]:
    """Every case id kosoku has in GROUPS, in its order, less those EXCLUDE's globs match.

    Asked of a child interpreter: importing kosoku.cases puts Autobahn's Python 2-era
    shims (an `autobahn` and a `pkg_resources` of its own) on sys.path, which must not
    leak into the test process.
    """
    code = ("import json; from kosoku.cases import CASES; print(json.dumps(list(CASES)))")
    result = subprocess.run([kosoku_python(), "-c", code], capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"cannot list kosoku's cases:\n{result.stderr}")
    return [case for case in json.loads(result.stdout) if in_groups(case, groups)
            and not any(fnmatch.fnmatchcase(case, pattern) for pattern in exclude)]


def in_groups(case_id: str, groups) -> bool:
    """Whether CASE_ID is in one of GROUPS: "9" holds 9.1.1 and 9.8.6, "12.1" holds 12.1.3."""
    return any(case_id == group or case_id.startswith(group + ".") for group in groups)


def case_sort_key(case_id: str) -> list[int]:
    return [int(part) for part in case_id.split(".")]


@dataclass
class Run:
    """The merged results of one or more kosoku runs."""

    url: str
    report_dir: Path
    #: case id -> index.json entry, plus "report": the case's report file (a Path)
    cases: dict[str, dict] = field(default_factory=dict)
    #: runs that produced no report (timed out, crashed): one line each
    problems: list[str] = field(default_factory=list)
    #: group -> seconds it took
    durations: dict[str, float] = field(default_factory=dict)

    def failing(self) -> list[str]:
        return sorted((case for case, entry in self.cases.items()
                       if entry["behavior"] not in PASSING_BEHAVIOR
                       or entry["behaviorClose"] not in PASSING_CLOSE), key=case_sort_key)

    def describe(self, case_id: str) -> str:
        """One line: the verdicts, the close code, and the report's explanation."""
        entry = self.cases[case_id]
        line = (f"{case_id}: behavior={entry['behavior']} behaviorClose={entry['behaviorClose']}"
                f" remoteCloseCode={entry.get('remoteCloseCode')}")
        try:
            report = json.loads(Path(entry["report"]).read_text())
        except (OSError, ValueError):
            return line
        why = [report.get("result") or ""]
        if entry["behaviorClose"] not in PASSING_CLOSE:
            why.append(report.get("resultClose") or "")
            if report.get("wasNotCleanReason"):
                why.append(f"not clean: {report['wasNotCleanReason']}")
            if report.get("remoteCloseReason"):
                why.append(f"peer's close reason: {report['remoteCloseReason']!r}")
        why = [text for i, text in enumerate(why) if text and text not in why[:i]]
        return f"{line} -- {'; '.join(why)}" if why else line

    def failure_report(self, expected_ids=None, limit: int = 80) -> str | None:
        """None when every case passed; else a message listing what did not."""
        lines = list(self.problems)
        if expected_ids is not None:
            missing = [case for case in expected_ids if case not in self.cases]
            if missing:
                shown = ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
                lines.append(f"{len(missing)} case(s) have no result: {shown}")
        failing = self.failing()
        if failing:
            lines.append(f"{len(failing)} of {len(self.cases)} cases failed "
                         "(behavior must be OK, NON-STRICT or INFORMATIONAL; "
                         "behaviorClose OK or INFORMATIONAL):")
            lines += ["  " + self.describe(case) for case in failing[:limit]]
            if len(failing) > limit:
                lines.append(f"  ... and {len(failing) - limit} more")
        if not lines:
            return None
        return "\n".join([f"Autobahn against {self.url} (reports in {self.report_dir}):",
                          *lines])

    def counts(self, group: str | None = None) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for case, entry in self.cases.items():
            if group is None or in_groups(case, [group]):
                key = (entry["behavior"], entry["behaviorClose"])
                counts[key] = counts.get(key, 0) + 1
        return counts


def read_index(outdir: Path) -> dict[str, dict]:
    """case id -> index entry (with "report"), from OUTDIR/index.json, all agents merged."""
    index = json.loads((outdir / "index.json").read_text())
    cases = {}
    for agent_cases in index.values():
        for case_id, entry in agent_cases.items():
            cases[case_id] = {**entry, "report": outdir / entry["reportfile"]}
    return cases


def run_groups(url: str, groups, report_dir: Path, *, timeout: float,
               exclude=(), log=None) -> Run:
    """Run each group ("1", "9", "12.1"...) as its own kosoku run, within TIMEOUT s in all.

    One run per group keeps a hang or a crash to one group, and tells which. Each run
    writes its report into REPORT_DIR/GROUP/.
    """
    command = kosoku_command()
    if command is None:
        raise FileNotFoundError("kosoku is not installed (pip install -e '.[test]')")
    run = Run(url=url, report_dir=report_dir)
    deadline = time.monotonic() + timeout
    for group in groups:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            run.problems.append(f"group {group}.*: not run, the {timeout:.0f}s budget was spent")
            continue
        outdir = report_dir / group
        argv = [*command, url, "--include", f"{group}.*", "--outdir", str(outdir)]
        for pattern in exclude:
            argv += ["--exclude", pattern]
        started = time.monotonic()
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=remaining,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            run.durations[group] = time.monotonic() - started
            tail = (exc.stderr or b"")[-500:]
            tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
            run.problems.append(f"group {group}.*: killed after {remaining:.0f}s, no report "
                                f"(the whole run may take {timeout:.0f}s); stderr: {tail}")
            continue
        run.durations[group] = time.monotonic() - started
        if log:
            log(f"group {group}.*: {run.durations[group]:.1f}s, exit {result.returncode}")
        if not (outdir / "index.json").exists():
            run.problems.append(f"group {group}.*: kosoku exited {result.returncode} without "
                                f"a report:\n{result.stdout[-1000:]}{result.stderr[-2000:]}")
            continue
        run.cases.update(read_index(outdir))
    run.cases = dict(sorted(run.cases.items(), key=lambda item: case_sort_key(item[0])))
    return run


def main(argv=None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("groups", nargs="*", default=list(CORE_GROUPS))
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--report-dir", type=Path)
    args = parser.parse_args(argv)
    report_dir = args.report_dir or Path(tempfile.mkdtemp(prefix="autobahn-"))
    run = run_groups(args.url, args.groups, report_dir, timeout=args.timeout,
                     exclude=args.exclude, log=print)
    for group in args.groups:
        counts = run.counts(group)
        print(f"{group}.*: " + ", ".join(f"{b}/{c}={n}" for (b, c), n in sorted(counts.items())))
    report = run.failure_report(known_case_ids(args.groups, args.exclude))
    print(report or f"all {len(run.cases)} cases passed (reports in {report_dir})")
    return 1 if report else 0


if __name__ == "__main__":
    sys.exit(main())
