"""The score of the last mutation run (tests/mutation.sh), per module: mutants caught (a
test failed, or the run outgrew its time) out of those not listed as equivalent in
tests/mutation/equivalent.txt, and each survivor left with its diff. Exits 1 when a module
scores under 95%, or when equivalent.txt names a mutant that is no survivor (stale: the
code moved and mutmut renumbered its mutants, or the last run did not try it).
Usage: python tests/mutation/score.py [--quiet | --left] MODULE.py ...  (from the repository's
root); --left prints only the names of the mutants left (neither caught nor equivalent)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

GOAL = 0.95
CAUGHT = {"killed", "timeout", "segfault"}
EQUIVALENT_LIST = Path(__file__).with_name("equivalent.txt")


def equivalents() -> dict[str, str]:
    """Mutant name -> why it cannot change what geows does."""
    listed = {}
    for line in EQUIVALENT_LIST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            listed[name] = reason.strip()
    return listed


def statuses(module: str) -> dict[str, str]:
    meta = json.loads(Path("mutants", module + ".meta").read_text())
    return {name: status_by_exit_code[code] for name, code in meta["exit_code_by_key"].items()}


def main(args: list[str]) -> int:
    quiet, names_only = "--quiet" in args, "--left" in args
    modules = [arg for arg in args if arg not in ("--quiet", "--left")]
    listed = equivalents()
    failed = False
    for module in modules:
        status = statuses(module)
        stale = {name for name in listed.keys() & status.keys() if status[name] != "survived"}
        for name in sorted(stale):
            print(f"{module}: {name} is listed as equivalent but {status[name]}",
                  file=sys.stderr)
        failed = failed or bool(stale)
        for name in listed.keys() & status.keys():
            status[name] = "equivalent"
        left = sorted(name for name, s in status.items() if s not in CAUGHT | {"equivalent"})
        if names_only:  # a stale entry is judged again too
            for name in sorted(set(left) | stale):
                print(name)
            continue
        counts = Counter(status.values())
        caught = sum(counts[s] for s in CAUGHT)
        judged = len(status) - counts["equivalent"]
        score = caught / judged if judged else 1.0
        print(f"{module}: {score:.1%} caught ({caught} of {judged});",
              ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        if not quiet:
            for name in left:
                print(f"-- {name}: {status[name]}")
                print(get_diff_for_mutant(name, path=module))
        failed = failed or score < GOAL
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
