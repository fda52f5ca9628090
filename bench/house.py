#!/usr/bin/env python3
"""Issue 17's figures of the house, for one tree: the largest modules and classes, and
what the layers' first imports load.

    python bench/house.py [TREE]     (default: this checkout)

Counts lines as `wc -l` does and a class's lines from its first to its last line (ast).
Imports run each in a fresh interpreter with TREE first on sys.path. Prints a Markdown table.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMPORTS = ("from geows.plugin import Plugin", "import geows.config",
           "import geows.protocols", "import geows.process.master", "import geows.master",
           "import geows.__main__")
CHILD = ("import sys, time; before = set(sys.modules); start = time.perf_counter(); {}; "
         "print(len([m for m in set(sys.modules) - before if m.startswith('geows')]), "
         "len(set(sys.modules) - before), round((time.perf_counter() - start) * 1000))")


def sizes(tree: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    modules, classes = [], []
    for path in sorted((tree / "geows").rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(tree))
        modules.append((text.count("\n"), name))
        classes += [(node.end_lineno - node.lineno + 1, f"{name}: {node.name}")
                    for node in ast.walk(ast.parse(text)) if isinstance(node, ast.ClassDef)]
    return sorted(modules, reverse=True), sorted(classes, reverse=True)


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
    modules, classes = sizes(tree)
    print(json.dumps({
        "modules": len(modules), "lines": sum(n for n, _ in modules),
        "over 700": [f"{name} {n}" for n, name in modules if n > 700],
        "largest modules": [f"{name} {n}" for n, name in modules[:5]],
        "classes over 400": [f"{name} {n}" for n, name in classes if n > 400],
        "largest classes": [f"{name} {n}" for n, name in classes[:5]],
        "imports": {statement: loads(tree, statement) for statement in IMPORTS},
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
