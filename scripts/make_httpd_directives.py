"""Regenerate geows/config/httpd_directives.json from the installed httpd: every directive of
every module it ships (the compiled-in ones, the MPMs and each mods-available/*.load), which
module declares it and where it may appear, as `apache2 -L` lists them.

Usage: python scripts/make_httpd_directives.py [--apache2 /usr/sbin/apache2]
           [--mods /etc/apache2/mods-available] [--out geows/config/httpd_directives.json]

httpd lists a module's directives only once it is loaded, and names each module by its
source file (mod_ssl.c) where LoadModule names it by its identifier (ssl_module): the
modules are loaded one more at a time, in the order their `# Depends:` lines need, and each
run's new source files belong to the module just added. The MPMs exclude each other: each
is the first module of its own runs.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# `apache2 -L`'s "Allowed in *.conf ..." (show_overrides in httpd's config.c): where
# invoke_cmd lets a directive run. Outside sections httpd's override is RSRC_CONF and the
# OR_ALL bits but AuthConfig and Limit; inside, OR_ALL and ACCESS_CONF.
_WHERE = {"anywhere": "anywhere",
          "only outside <Directory>, <Files>, <Location>, or <If>": "server",
          "only inside <Directory>, <Files>, <Location>, or <If>": "dir"}
_HEAD = re.compile(r"(\S+) \((\S+\.c)\)")  # "SSLEngine (mod_ssl.c)"
_ALLOWED = re.compile(r"\tAllowed in \*\.conf (.*?)(?: \[no per-dir config\])?"
                      r"( and in \.htaccess)?")
_OVERRIDES = re.compile(r"\twhen AllowOverride (?:isn't None|includes (.*))")


def run_list(apache2: str, loads: list[tuple[str, str]], work: Path) -> list[tuple[str, ...]]:
    """`apache2 -L` with these (identifier, .so) loaded: (directive, source, where, overrides)."""
    conf = work / "list.conf"
    conf.write_text("".join(f"LoadModule {name} {path}\n" for name, path in loads)
                    + "ServerName localhost\nErrorLog /dev/null\n")
    done = subprocess.run([apache2, "-d", str(work), "-f", str(conf), "-L"],
                          capture_output=True, text=True, check=True, env={"LANG": "C"})
    entries = []
    lines = done.stdout.splitlines()
    for n, line in enumerate(lines):  # a description may run over several lines
        head = _HEAD.fullmatch(line)
        allowed = head and next(filter(None, map(_ALLOWED.fullmatch, lines[n + 1:])))
        if not head or not allowed:
            continue
        overrides = ""
        if allowed[2]:
            when = _OVERRIDES.fullmatch(lines[lines.index(allowed[0], n) + 1])
            overrides = "All" if when[1] is None else when[1].replace(" or ", ",")
        entries.append((head[1], head[2], _WHERE[allowed[1]], overrides))
    return entries


def load_files(mods: Path) -> dict[str, tuple[list[tuple[str, str]], list[str]]]:
    """Each mods-available/*.load: its LoadModule lines and the .load names it depends on."""
    found = {}
    for path in sorted(mods.glob("*.load")):
        text = path.read_text()
        loads = re.findall(r"^\s*LoadModule\s+(\S+)\s+(\S+)", text, re.MULTILINE)
        depends = re.search(r"^# Depends:(.*)$", text, re.MULTILINE)
        found[path.stem] = (loads, depends[1].split() if depends else [])
    return found


def dependency_order(files: dict[str, tuple[list[tuple[str, str]], list[str]]]) -> list[str]:
    order: list[str] = []

    def visit(name: str) -> None:
        if name not in order:
            for dependency in files[name][1]:
                visit(dependency)
            order.append(name)

    for name in files:
        visit(name)
    return order


def static_modules(apache2: str, work: Path, mpm: tuple[str, str]) -> dict[str, str]:
    """The compiled-in modules, source file -> identifier (`-l` and DUMP_MODULES agree in
    order)."""
    sources = [line.strip() for line in subprocess.run(
        [apache2, "-l"], capture_output=True, text=True, check=True).stdout.splitlines()[1:]]
    conf = work / "dump.conf"
    conf.write_text(f"LoadModule {mpm[0]} {mpm[1]}\nServerName localhost\nErrorLog /dev/null\n")
    dump = subprocess.run([apache2, "-d", str(work), "-f", str(conf), "-t", "-D",
                           "DUMP_MODULES"], capture_output=True, text=True, check=True).stdout
    names = re.findall(r"^ (\S+) \(static\)$", dump, re.MULTILINE)
    if len(names) != len(sources):
        raise SystemExit(f"apache2 -l lists {sources}, DUMP_MODULES {names}")
    return dict(zip(sources, names, strict=True))


def generate(apache2: str, mods: Path) -> tuple[str, dict, dict, list[str], list[str]]:
    files = load_files(mods)
    mpms = [name for name in files if name.startswith("mpm_")]
    others = [name for name in dependency_order(files) if name not in mpms]
    modules: dict[str, str | None] = {}  # identifier -> source file (None: declares nothing)
    directives: dict[str, list[tuple[str, str, str, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        source_of = static_modules(apache2, work, files[mpms[0]][0][0])
        static = list(source_of.values())
        modules.update({name: source for source, name in source_of.items()})
        for mpm in mpms:  # each MPM with the compiled-in modules
            (name, path), = files[mpm][0]
            for directive, source, where, overrides in run_list(apache2, [(name, path)], work):
                if source not in source_of:
                    source_of[source] = name
                    modules[name] = source
                add(directives, directive, source_of[source], where, overrides)
        loaded = [files[mpms[0]][0][0]]
        seen = {entry[:2] for entry in run_list(apache2, loaded, work)}
        for name in others:
            for identifier, path in files[name][0]:
                loaded.append((identifier, path))
                modules[identifier] = None
                for entry in run_list(apache2, loaded, work):
                    if entry[:2] in seen:
                        continue
                    seen.add(entry[:2])
                    directive, source, where, overrides = entry
                    if source not in source_of:
                        source_of[source] = identifier
                        modules[identifier] = source
                    add(directives, directive, source_of[source], where, overrides)
        version = subprocess.run([apache2, "-v"], capture_output=True, text=True,
                                 check=True).stdout.splitlines()[0].split(": ", 1)[1]
    mpm_names = [identifier for mpm in mpms for identifier, _ in files[mpm][0]]
    return version, modules, directives, static, mpm_names


def add(directives: dict, directive: str, module: str, where: str, overrides: str) -> None:
    declared = directives.setdefault(directive.lower(), [])
    if (directive, module, where, overrides) not in declared:
        declared.append((directive, module, where, overrides))


def write(out: Path, version: str, modules: dict, directives: dict, static: list[str],
          mpms: list[str]) -> None:
    """The table as JSON, one module or directive a line (for readable diffs)."""
    def items(mapping: dict) -> str:
        return ",\n".join(f"    {json.dumps(key)}: {json.dumps(value)}"
                          for key, value in sorted(mapping.items()))

    out.write_text(
        f'{{\n  "httpd": {json.dumps(version)},\n'
        f'  "static": {json.dumps(static)},\n  "mpms": {json.dumps(mpms)},\n'
        f'  "modules": {{\n{items(modules)}\n  }},\n'
        f'  "directives": {{\n{items(directives)}\n  }}\n}}\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apache2", default="/usr/sbin/apache2")
    parser.add_argument("--mods", type=Path, default=Path("/etc/apache2/mods-available"))
    parser.add_argument("--out", type=Path, default=REPO / "geows/config/httpd_directives.json")
    args = parser.parse_args()
    version, modules, directives, static, mpms = generate(args.apache2, args.mods)
    write(args.out, version, modules, directives, static, mpms)
    print(f"{args.out}: {len(directives)} directives of {len(modules)} modules ({version})")


if __name__ == "__main__":
    main()
