"""The reference pages made from the code, so that they cannot fall behind it: a page holding
the line `<!-- generated: NAME -->` gets NAME's Markdown in its place when Sphinx reads it.

- directive-glance, directives: every directive of the reader's table (geows/config/
  reader.py's DIRECTIVES, from geows/config/modules/*.py), in one table and then each in
  its section, with its syntax and contexts from its Spec, and what it does and its default
  from docs/reference/directives.toml (defaults that geows/limits.py holds are written
  there as {limits.NAME} and read from it);
- cli: the options of cli.build_parser();
- c-api: the members of plugins/c/websocket_plugin.h's structs, with their comments.

tests/test_docs.py checks that each directive has its description, and builds the site.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DESCRIPTIONS = REPO / "docs/reference/directives.toml"
HEADER = REPO / "plugins/c/websocket_plugin.h"
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)

_CONTEXTS = {"server": "server config", "vhost": "`<VirtualHost>`",
             "dir": "`<Location>` (and httpd's other directory sections)"}
_SHORT_CONTEXTS = {"server": "server", "vhost": "vhost", "dir": "`<Location>`"}


def directive_tables() -> list[tuple[str, dict[str, Any]]]:
    """(module, its table) in the order the reader puts them together."""
    from geows.config import modules, reader

    tables = [("core (read while the config is walked)", reader.WALK_DIRECTIVES)]
    for module in ("core", "mpm", "mod_alias", "mod_proxy", "mod_log_config", "mod_ssl",
                   "mod_websocket", "access"):
        name = {"mpm": "MPM", "access": "access control"}.get(module, module)
        tables.append((name, importlib.import_module(f"{modules.__name__}.{module}").DIRECTIVES))
    listed = {key for _, directives in tables for key in directives}
    others = {key: spec for key, spec in reader.DIRECTIVES.items() if key not in listed}
    # A table the reader gained after this list was written still gets its pages.
    return tables + ([("other modules", others)] if others else [])


def descriptions() -> dict[str, dict[str, str]]:
    """docs/reference/directives.toml, by lowercased directive name."""
    with DESCRIPTIONS.open("rb") as file:
        return {name.lower(): entry for name, entry in tomllib.load(file).items()}


def undescribed() -> tuple[list[str], list[str]]:
    """The table's directives without a description, and descriptions of no directive."""
    known = {key: spec.name for _, table in directive_tables() for key, spec in table.items()}
    described = descriptions()
    return (sorted(name for key, name in known.items() if key not in described),
            sorted(key for key in described if key not in known))


_LIMIT = re.compile(r"\{limits\.([A-Z_]+)\}")


def _limits_value(text: str) -> str:
    """`{limits.NAME}` in a description becomes geows/limits.py's value."""
    from geows import limits

    def value(match: re.Match[str]) -> str:
        fact = getattr(limits, match[1])
        if isinstance(fact, str):
            return fact
        return f"{fact:g}" if isinstance(fact, float) else f"{fact:,}"

    return _LIMIT.sub(value, text)


def _text(text: str) -> str:
    """Plain text as Markdown: `<IfDefine>` is not an HTML tag, `|` does not end a cell."""
    return text.replace("<", "\\<").replace("|", "\\|")


def _contexts(spec: Any, names: dict[str, str]) -> str:
    return ", ".join(names[c] for c in ("server", "vhost", "dir") if c in spec.contexts)


def _arity(spec: Any) -> str:
    if spec.max_args is None:
        return f"{spec.min_args} or more arguments" if spec.min_args else "any arguments"
    if spec.min_args == spec.max_args:
        return f"{spec.min_args} argument{'s' if spec.min_args != 1 else ''}"
    return f"{spec.min_args} to {spec.max_args} arguments"


def glance_markdown() -> str:
    """Every directive in one table, by name: where it may appear and its default."""
    described = descriptions()
    out = ["| directive | context | default |", "|---|---|---|"]
    every = {key: spec for _, table in directive_tables() for key, spec in table.items()}
    for key, spec in sorted(every.items()):
        default = _limits_value(described.get(key, {}).get("default", "none"))
        out.append(f"| [{spec.name}](#{key}) | {_contexts(spec, _SHORT_CONTEXTS)} | "
                   f"{_text(default)} |")
    return "\n".join(out) + "\n"


def directives_markdown() -> str:
    """Each directive's section, module by module."""
    described = descriptions()
    out = []
    for module, table in directive_tables():
        out.append(f"## {module}\n")
        for key, spec in sorted(table.items()):
            entry = described.get(key, {})
            out.append(f"### {spec.name}\n")
            syntax = entry.get("syntax", spec.name)
            out.append(f"Syntax\n: `{syntax}` ({_arity(spec)}: {_text(spec.usage)})\n")
            out.append(f"Context\n: {_contexts(spec, _CONTEXTS)}\n")
            out.append(f"Default\n: {_limits_value(entry.get('default', 'none'))}\n")
            out.append(_limits_value(entry.get("text", "*Not described yet.*")).strip() + "\n")
    return "\n".join(out)


def cli_markdown() -> str:
    from geows.cli import build_parser

    parser = build_parser()
    out = [f"```text\n{parser.format_usage().strip()}\n```\n",
           "| option | what it does |", "|---|---|"]
    for action in parser._actions:  # argparse keeps no public list of its options
        if not action.option_strings:
            continue
        metavar = action.metavar or (action.dest.upper() if action.nargs != 0 else "")
        if action.choices:
            metavar = "\\|".join(action.choices)  # a | would end the table's cell
        names = ", ".join(f"`{name}{' ' + metavar if metavar else ''}`"
                          for name in action.option_strings)
        out.append(f"| {names} | {_text(action.help or '')} |")
    return "\n".join(out) + "\n"


_MEMBER = re.compile(r"((?:\s*/\*(?:[^*]|\*(?!/))*\*/)*)\s*([^;{}]*?\(CALLBACK \*(\w+)\)[^;]*|"
                     r"[^;{}(]*?\b(\w+));[ \t]*(/\*[^\n]*\*/)?")
_STRUCT = re.compile(r"/\*((?:[^*]|\*(?!/))*)\*/\s*struct (_\w+) \{(.*?)\n\};", re.DOTALL)


def _comment(text: str) -> str:
    words = re.sub(r"/\*|\*/|^\s*\*", " ", text, flags=re.MULTILINE)
    return " ".join(words.split())


def c_api_markdown() -> str:
    header = HEADER.read_text()
    out = []
    for about, name, body in _STRUCT.findall(header):
        out.append(f"### `{name.lstrip('_')}`\n\n{_comment(about)}\n")
        out.append("| member | declaration | what it is |\n|---|---|---|")
        for before, declaration, pointer, field, after in _MEMBER.findall(body):
            member = pointer or field
            declaration = " ".join(declaration.split()).replace("|", "&#124;")
            out.append(f"| `{member}` | `{declaration}` | {_comment(before + after)} |")
        out.append("")
    return "\n".join(out)


GENERATORS = {"directive-glance": glance_markdown, "directives": directives_markdown,
              "cli": cli_markdown, "c-api": c_api_markdown}
_TABLES = [DESCRIPTIONS, REPO / "geows/config/reader.py",
           *sorted((REPO / "geows/config/modules").glob("*.py"))]
SOURCES = {"directive-glance": _TABLES, "directives": _TABLES,
           "cli": [REPO / "geows/cli.py"], "c-api": [HEADER]}


def _fill(app: Any, docname: str, source: list[str]) -> None:
    # Sphinx's own logger, so that -W fails the build: imported here, so that the tests of
    # the generators run without Sphinx.
    from sphinx.util import logging

    logger = logging.getLogger(__name__)

    def generated(match: re.Match[str]) -> str:
        for path in SOURCES[match[1]]:
            app.env.note_dependency(str(path))  # rebuilt when the code changes
        if match[1] == "directives":
            missing, unknown = undescribed()
            for name in missing:
                logger.warning("directive %s has no entry in %s", name, DESCRIPTIONS,
                               location=docname)
            for name in unknown:
                logger.warning("%s describes %s, which is in no directive table", DESCRIPTIONS,
                               name, location=docname)
        return GENERATORS[match[1]]()

    source[0] = MARKER.sub(generated, source[0])


def setup(app: Any) -> dict[str, Any]:
    app.connect("source-read", _fill)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
