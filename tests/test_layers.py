"""The layer rules of the Layout table (docs/explanation/layout.md), checked: a plugin's
first line, `import geows.config`, `import geows.protocols`, `import geows.proxy_http`
and `import geows.process.master`, each run alone in a fresh interpreter, load none of the modules
their rows leave out; only the entry points monkeypatch; and no room grows past what a
newcomer can hold in their head."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.geows_process import REPO

# The house's sizes (docs/explanation/layout.md): lines per module, lines per class.
MAX_MODULE_LINES = 700
MAX_CLASS_LINES = 400

# geows' modules that do I/O or drive it (sockets, processes, log files, DNS, certificates).
IO_MODULES = ("geows.runtime", "geows.process", "geows.cli", "geows.access",
              "geows.plugin.loading", "geows.cluster.link")

FORBIDDEN = {
    # every name plugins/, examples/ and the tests import from geows.plugin
    "from geows.plugin import BINARY, CLOSE, PING, PONG, TEXT, ConnectionClosed, Plugin, "
    "WebSocketServer, run_in_thread":
        ("gevent", "ssl", "ctypes", "websockets", "geows.config", "geows.protocols",
         *IO_MODULES),
    # the reader asks its caller to look names up (config/names.py) and loads no certificate
    "import geows.config": ("gevent", "ssl", "socket", "redis", "geows.dns", *IO_MODULES),
    # WebSocketBroadcast's URL is read with the config; the order of a location's messages
    # is sans-I/O, as the protocols are
    "import geows.cluster.url": ("gevent", "ssl", "socket", "redis", "geows.config",
                                 *IO_MODULES),
    "import geows.cluster.order": ("gevent", "ssl", "socket", "redis", "geows.config",
                                   *IO_MODULES),
    # the link to Redis is driven by callbacks: it knows no server, process or plugin
    "import geows.cluster.link": ("geows.runtime", "geows.process", "geows.cli",
                                  "geows.plugin", "geows.protocols", "geows.access"),
    "import geows.protocols": ("gevent", "ssl", "geows.config", *IO_MODULES),
    # mod_proxy_http's framing is sans-I/O: forward.py drives it over the sockets
    "import geows.proxy_http": ("gevent", "ssl", *IO_MODULES),
    # the master binds, spawns and relays: it serves no client and loads no plugin (it
    # builds the access rules only to refuse a reload that would not serve)
    "import geows.process.master": ("websockets", "ctypes", "redis", "geows.cluster.link",
                                    "geows.protocols", "geows.plugin",
                                    "geows.runtime.server", "geows.runtime.forward",
                                    "geows.runtime.status", "geows.runtime.fairness"),
    # the runtime serves what it is handed: the processes make it, never the other way
    "import geows.runtime.server": ("geows.process", "geows.cli"),
    # the master's process: `python -m geows` without -X runs the master in it
    "import geows.__main__": ("websockets", "ctypes", "redis", "geows.cluster.link",
                              "geows.protocols", "geows.plugin",
                              "geows.runtime.server", "geows.runtime.forward",
                              "geows.runtime.status", "geows.runtime.fairness"),
}

# Only the entry points monkeypatch (python -m geows and the console script, python -m
# geows.process.worker): a module any other imports patches nothing.
PATCHES = {"import geows.__main__": True, "import geows.process.worker": True,
           "import geows.cli": False, "import geows.process.startup": False,
           "import geows.process.master": False}

# Prints what the statement loaded (the modules new in sys.modules after it) and from where.
CHILD = """
import json, sys
before = set(sys.modules)
{statement}
print(json.dumps([sorted(set(sys.modules) - before), sys.modules["geows"].__file__]))
"""


def load(statement: str) -> tuple[list[str], str]:
    """The modules `statement` loads in a fresh interpreter, and the interpreter's
    -X importtime tree."""
    child = subprocess.run([sys.executable, "-X", "importtime", "-c",
                            CHILD.format(statement=statement)],
                           cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    loaded, geows_file = json.loads(child.stdout)
    assert geows_file == str(REPO / "geows" / "__init__.py")  # this tree's geows
    return loaded, child.stderr


def is_in(name: str, rules: tuple[str, ...]) -> bool:
    """Whether module `name` is one of `rules` or inside one of them."""
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


def import_chains(importtime: str) -> dict[str, list[str]]:
    """For each module in -X importtime's tree, the chain of imports that loaded it,
    outermost first. In the tree a module's line comes after those of the modules it
    imported, which are indented more. (Extension modules a C module imports are not in it.)"""
    rows = [line.split("|")[2] for line in importtime.splitlines()
            if line.startswith("import time:") and line.count("|") == 2]
    names = [(len(row) - len(row.lstrip()), row.strip()) for row in rows]
    chains = {}
    for start, (depth, module) in enumerate(names):
        chain = [module]
        for indent, name in names[start + 1:]:
            if indent < depth:
                depth = indent
                chain.append(name)
        chains[module] = chain[::-1]
    return chains


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_a_layer_loads_none_of_what_its_row_leaves_out(statement):
    loaded, importtime = load(statement)
    rules = FORBIDDEN[statement]
    forbidden = [name for name in loaded if is_in(name, rules)]
    # How each was reached, up to the first forbidden module on the way.
    chains = set()
    for chain in map(import_chains(importtime).get, forbidden):
        if chain is not None:
            first = next(index for index, step in enumerate(chain) if is_in(step, rules))
            chains.add(" -> ".join(chain[:first + 1]))
    assert not forbidden, (f"`{statement}` loads {len(loaded)} modules, {len(forbidden)} "
                           f"of them forbidden, reached by\n" + "\n".join(sorted(chains))
                           + f"\nall it loads: {' '.join(loaded)}")


@pytest.mark.parametrize("statement", PATCHES)
def test_only_the_entry_points_monkeypatch(statement):
    child = subprocess.run([sys.executable, "-c", f"{statement}\nfrom gevent import monkey\n"
                            "print(monkey.is_anything_patched())"],
                           cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert child.stdout.split() == [str(PATCHES[statement])]


def room_sizes(tree: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Every geows module's lines (as `wc -l` counts them) and every class's (first line to
    last), largest first."""
    modules, classes = [], []
    for path in sorted((tree / "geows").rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(tree))
        modules.append((text.count("\n"), name))
        classes += [(node.end_lineno - node.lineno + 1, f"{name}: {node.name}")
                    for node in ast.walk(ast.parse(text)) if isinstance(node, ast.ClassDef)]
    return sorted(modules, reverse=True), sorted(classes, reverse=True)


def test_no_room_is_too_big():
    modules, classes = room_sizes(REPO)
    assert [room for room in modules if room[0] > MAX_MODULE_LINES] == []
    assert [room for room in classes if room[0] > MAX_CLASS_LINES] == []
    assert modules[0][0] > 300 and classes[0][0] > 100  # it measured something
