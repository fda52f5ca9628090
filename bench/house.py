#!/usr/bin/env python3
"""Issue 17's figures of the house, for one tree: the largest modules and classes, and
what the layers' first imports load.

    python bench/house.py [TREE]     (default: this checkout)

Sizes as tests/test_layers.py measures them (and holds them under its limits).
Imports run each in a fresh interpreter with TREE first on sys.path. Prints a Markdown table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.test_layers import MAX_CLASS_LINES, MAX_MODULE_LINES, room_sizes  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
IMPORTS = ("from geows.plugin import Plugin", "import geows.config",
           "import geows.protocols", "import geows.process.master", "import geows.master",
           "import geows.cli")
CHILD = ("import sys, time; before = set(sys.modules); start = time.perf_counter(); {}; "
         "print(len([m for m in set(sys.modules) - before if m.startswith('geows')]), "
         "len(set(sys.modules) - before), round((time.perf_counter() - start) * 1000))")


def loads(tree: Path, statement: str) -> str:
    child = subprocess.run([sys.executable, "-P", "-c", CHILD.format(statement)], cwd=tree,
                           capture_output=True, text=True, timeout=60,
                           env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
    if child.returncode:
        return "(no such module)"
    geows, everything, ms = child.stdout.split()
    return f"{geows} geows modules, {everything} in all, {ms} ms"


def main() -> int:
    tree = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO
    modules, classes = room_sizes(tree)
    print(json.dumps({
        "modules": len(modules), "lines": sum(n for n, _ in modules),
        f"over {MAX_MODULE_LINES}": [f"{name} {n}" for n, name in modules
                                     if n > MAX_MODULE_LINES],
        "largest modules": [f"{name} {n}" for n, name in modules[:5]],
        f"classes over {MAX_CLASS_LINES}": [f"{name} {n}" for n, name in classes
                                          if n > MAX_CLASS_LINES],
        "largest classes": [f"{name} {n}" for n, name in classes[:5]],
        "imports": {statement: loads(tree, statement) for statement in IMPORTS},
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
