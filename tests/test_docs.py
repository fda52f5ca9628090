"""The documentation site (docs/): it builds with warnings as errors and every internal link
resolving, in CI too, and what it says cannot fall behind the code: every directive of the
reader's table is described (one without fails the build), every public name of the plugin
API has its docstring and its place, the status page's keys and the error messages it
quotes are still geows', and the migration guide's command and configs are those the
walkthrough runs.
"""

from __future__ import annotations

import configparser
import inspect
import re
import shutil
import sys
from pathlib import Path

from tests.docs_site import LANDING, build_site
from tests.geows_process import REPO, run_cli

DOCS = REPO / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import geows_reference  # noqa: E402  # docs/_ext: the generators the site is built with


def test_the_site_builds_without_a_warning(tmp_path):
    built = build_site(tmp_path)
    assert built.returncode == 0 and "WARNING" not in built.stderr, built.stderr[-5000:]
    directives = (tmp_path / "reference/directives.html").read_text()
    for name in ("WebSocketPing", "WebSocketHandler", "Listen", "SSLEngine", "ProxyPass"):
        assert f'id="{name.lower()}"' in directives, name
    api = (tmp_path / "reference/python-api.html").read_text()
    assert 'id="geows.plugin.WebSocketServer.send"' in api


def test_ci_runs_the_build_above():
    """.ci/run is tests/run.sh, which installs Sphinx (the `docs` extra) and runs pytest on
    its testpaths, this file among them: CI builds the site with warnings as errors."""
    assert "exec bash tests/run.sh" in (REPO / ".ci/run").read_text()
    run = (REPO / "tests/run.sh").read_text()
    assert "pip install -q -e '.[test,docs]'" in run
    assert "\n.venv/bin/python -m pytest || status=$?\n" in run  # no paths: the testpaths
    settings = configparser.ConfigParser()
    settings.read(REPO / "setup.cfg")
    assert settings["tool:pytest"]["testpaths"].split() == ["tests"]


def _copy_of_docs(root: Path) -> Path:
    """A copy of docs/ in `root`, beside the folders it includes from and documents."""
    docs = root / "docs"
    shutil.copytree(DOCS, docs, ignore=shutil.ignore_patterns("_build"))
    for folder in ("geows", "conf", "examples", "plugins"):
        (root / folder).symlink_to(REPO / folder)
    return docs


def test_a_broken_internal_link_fails_the_build(tmp_path):
    """The check the site relies on: a copy of docs/ with one link to a page that is not
    there."""
    docs = _copy_of_docs(tmp_path)
    page = docs / "howto/tls.md"
    page.write_text(page.read_text() + "\nSee [nothing](nothing.md).\n")
    built = build_site(tmp_path / "out", docs)
    assert built.returncode != 0 and "nothing.md" in built.stderr, built.stderr[-3000:]


def test_a_directive_without_its_description_fails_the_build(tmp_path):
    """CI's build, not only the test below, fails when the reference lacks a directive of
    the table: a copy of docs/ whose directives.toml lost WebSocketPing's entry."""
    docs = _copy_of_docs(tmp_path)
    descriptions = docs / "reference/directives.toml"
    entry = re.compile(r"^\[WebSocketPing\]\n(?:.+\n)*\n", re.MULTILINE)
    text, removed = entry.subn("", descriptions.read_text())
    assert removed == 1
    descriptions.write_text(text)
    built = build_site(tmp_path / "out", docs)
    assert built.returncode != 0, built.stderr[-3000:]
    assert "directive WebSocketPing has no entry" in built.stderr, built.stderr[-3000:]


def test_every_directive_of_the_table_is_described():
    missing, unknown = geows_reference.undescribed()
    assert missing == [], f"add them to docs/reference/directives.toml: {missing}"
    assert unknown == [], f"in docs/reference/directives.toml but no directive table: {unknown}"


def test_the_reference_page_lists_every_directive_with_its_context():
    from geows.config.reader import DIRECTIVES

    page = geows_reference.directives_markdown()
    for spec in DIRECTIVES.values():
        section = page.split(f"### {spec.name}\n", 1)[1].split("\n### ", 1)[0]
        assert "Context\n: " in section and geows_reference._text(spec.usage) in section, \
            spec.name
    assert "{limits." not in page  # every default geows/limits.py holds was filled in


def test_every_public_name_of_the_plugin_api_is_documented():
    import geows.plugin

    page = (DOCS / "reference/python-api.md").read_text()
    for name in geows.plugin.__all__:
        value = getattr(geows.plugin, name)
        if isinstance(value, int):  # the message types: their table
            assert f"| `{name}` | {value} |" in page, name
            continue
        assert f"geows.plugin.{name}" in page, name
        assert inspect.getdoc(value), name
        if inspect.isclass(value) and not issubclass(value, Exception):
            for member, attribute in vars(value).items():
                if not member.startswith("_") and (callable(attribute)
                                                   or isinstance(attribute, property)):
                    assert inspect.getdoc(attribute), f"{name}.{member} has no docstring"


def test_the_status_reference_names_every_key_of_the_page():
    source = (REPO / "geows/runtime/status.py").read_text()
    keys = set(re.findall(r'f"([A-Z][A-Za-z]+): ', source))
    assert len(keys) > 10, keys
    page = (DOCS / "reference/status.md").read_text()
    assert [key for key in sorted(keys) if f"| `{key}` |" not in page] == []


def _source_text() -> str:
    """geows' Python source with adjacent string literals joined, as Python joins them."""
    text = "\n".join(path.read_text() for path in (REPO / "geows").rglob("*.py"))
    return re.sub(r'"\s*\n\s*f?"', "", text)


def test_the_error_messages_the_reference_quotes_are_geows():
    source = _source_text()
    page = (DOCS / "reference/errors.md").read_text()
    messages = re.findall(r"^### `(.*)`$", page, re.MULTILINE)
    assert len(messages) > 10
    for message in messages:
        for fragment in message.split("…"):
            assert fragment.strip() in source, f"{message!r}: {fragment!r} is not in geows/"


def test_the_c_api_page_lists_every_member_of_the_header():
    header = (REPO / "plugins/c/websocket_plugin.h").read_text()
    page = geows_reference.c_api_markdown()
    rows = dict(re.findall(r"^\| `(\w+)` \| `[^`]*` \| (.*) \|$", page, re.MULTILINE))
    for member in re.findall(r"\(CALLBACK \*(\w+)\)", header):
        assert rows.get(member), f"{member} is not on the page, or without its comment"
    assert rows["close"] == "Start the closing handshake."  # the comment above it, not below
    assert page.count("| `size` |") == 2 and page.count("| `version` |") == 2


def test_the_cli_page_lists_every_option():
    from geows.cli import build_parser

    page = geows_reference.cli_markdown()
    for action in build_parser()._actions:
        for option in action.option_strings:
            assert f"`{option}" in page, option


def test_the_migration_guide_is_the_walkthrough():
    """Its configs are examples/migration/'s, in step order (tests/test_migration_walkthrough.py
    runs them), and its --apache-snippet command prints step 2's Apache lines."""
    guide = (DOCS / "migration.md").read_text()
    included = re.findall(r"\{literalinclude\} \.\./examples/migration/(\S+)", guide)
    steps = sorted(path.name for path in (REPO / "examples/migration").glob("*.conf"))
    assert sorted(included) == steps and included == sorted(included, key=lambda n: n[:5])
    command = re.search(r"^geows (-f step1-apache\.conf --apache-snippet .*)$", guide,
                        re.MULTILINE)[1].split()
    command[1] = str(REPO / "examples/migration/step1-apache.conf")
    printed = run_cli(*command, "-d", str(REPO))
    assert printed.returncode == 0, printed.stderr
    step2 = (REPO / "examples/migration/step2-apache.conf").read_text()
    proxy = [line for line in step2.splitlines() if line.startswith("ProxyPass")]
    assert proxy and all(line in printed.stdout.splitlines() for line in proxy), printed.stdout


SET_UP = """\
python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/geows -f conf/httpd.conf
bash tests/run.sh
"""


def test_the_landing_page_keeps_the_set_up_commands_and_links_into_the_docs():
    landing = LANDING.read_text()
    assert landing.startswith(f"# geows\n\n```sh\n{SET_UP}```\n")  # first, as they were
    assert "bash tests/mutation.sh" in landing.split("\n## Developing\n", 1)[1]  # issue 22
    links = re.findall(r"\]\((docs/[^)#]+)", landing)
    assert len(links) >= 5 and all((REPO / link).exists() for link in links), links
    anchored = re.findall(r"\]\((docs/[^)#]+)#([^)]+)\)", landing)
    assert anchored  # the httpd runtime's, the compiled frames': to a heading of the page
    for page, anchor in anchored:
        headings = re.findall(r"^#+ (.*)$", (REPO / page).read_text(), re.MULTILINE)
        assert anchor in {_slug(heading) for heading in headings}, (page, anchor)


def _slug(heading: str) -> str:
    """A heading's anchor, as GitHub and MyST make it: lowercased, punctuation dropped,
    spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


# Where each section of the README before it became the landing page (issue 19) now lives.
README_SECTIONS = {
    "Configuration": "reference/configuration.md",
    "TLS": "reference/configuration.md",
    "Access control": "reference/configuration.md",
    "Timeouts and liveness": "reference/configuration.md",
    "Status page": "reference/configuration.md",
    "Why geows has its own config reader": "reference/configuration.md",
    "Plugins": "reference/plugins.md",
    "Shipped plugins": "reference/plugins.md",
    "C plugins": "reference/c-plugins.md",
    "The httpd runtime for plugins": "reference/c-plugins.md",
    "Beside Apache": "explanation/beside-apache.md",
    "From mod_websocket to geows, one location at a time": "explanation/beside-apache.md",
    "Processes, signals and reloads": "reference/processes.md",
    "Across hosts: Redis": "explanation/broadcast.md",
    "What geows promises": "explanation/broadcast.md",
    "How: Redis pub/sub, a sequence, a history Stream": "explanation/broadcast.md",
    "Command line": "reference/cli.md",
    "Logs": "reference/logs.md",
    "ErrorLog": "reference/logs.md",
    "Access logs: CustomLog, TransferLog, GlobalLog, LogFormat": "reference/logs.md",
    "Files, pipes, processes and rotation": "reference/logs.md",
    "Protocols": "explanation/protocols.md",
    "Security: what a client can make geows hold or do": "explanation/security.md",
    "Layout": "explanation/layout.md",
    "Dependencies": "development.md",
    "Tests": "development.md",
    "Benchmarks": "development.md",
}


def test_every_section_of_the_old_readme_has_its_page():
    for title, page in README_SECTIONS.items():
        text = (DOCS / page).read_text()
        assert re.search(rf"^#+ {re.escape(title)}$", text, re.M), f"{title!r} left {page}"
