#!/usr/bin/env python3
"""What importing a layer costs, before and after, in one run (issue 17's layer rules):
the modules a plugin's first line, `import geows.config` and `import geows.protocols` load
in a fresh interpreter, and how long they take.

    python bench/imports.py --against COMMIT [--runs 30]

For each tree (COMMIT, exported with git archive, and this one) and each statement: the
modules it loads (new in sys.modules; geows' own and all) and sys.modules' size after it,
and its time over --runs fresh interpreters, the trees alternately (time.perf_counter
around the statement: the interpreter's own start-up is not counted). Prints a Markdown
table; nothing is left running.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))
from fairness import export  # noqa: E402  (a sibling script, not a package)
from websocket_echo import REPO, machine_info  # noqa: E402

STATEMENTS = ("from geows.plugin import Plugin", "import geows.config", "import geows.protocols")

CHILD = """
import json, sys, time
before = set(sys.modules)
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
new = set(sys.modules) - before
print(json.dumps({{"seconds": seconds, "modules": len(new), "total": len(sys.modules),
                  "geows": sum(name == "geows" or name.startswith("geows.") for name in new),
                  "file": sys.modules["geows"].__file__}}))
"""


def measure(tree: Path, statement: str) -> dict:
    """One fresh interpreter in `tree` (its geows first on sys.path) running `statement`."""
    child = subprocess.run([sys.executable, "-c", CHILD.format(statement=statement)],
                           cwd=tree, capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(child.stdout)
    if not result["file"].startswith(str(tree) + "/"):
        raise SystemExit(f"{tree}: imported the geows of {result['file']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the base commit")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    info = machine_info()
    print(f"{info['date']}; {info['nproc']} CPUs, {info['cpu_model']}; Python {info['python']}; "
          f"geows {info['geows_commit']}")
    with tempfile.TemporaryDirectory() as scratch:
        trees = {f"before ({args.against})": export(args.against, Path(scratch) / "base"),
                 "after (this tree)": REPO}
        results: dict[tuple[str, str], list[dict]] = {}
        for _ in range(args.runs):
            for name, tree in trees.items():
                for statement in STATEMENTS:
                    results.setdefault((statement, name), []).append(measure(tree, statement))
    print("\n| statement | tree | geows modules | modules loaded | sys.modules after "
          "| time, median (best) |")
    print("|---|---|---|---|---|---|")
    for (statement, name), runs in results.items():
        first = runs[0]
        times = [run["seconds"] * 1000 for run in runs]
        print(f"| `{statement}` | {name} | {first['geows']} | {first['modules']} | "
              f"{first['total']} | {statistics.median(times):.1f} ms ({min(times):.1f}) |")


if __name__ == "__main__":
    main()
