"""Which sections httpd merges for a request, in which order, beside geows'
Config.access_sections on the same config and the same files on disk.

Every section carries `Header always add X-Route <name>` (mod_headers adds the lines of
every merged section, in merge order) and `AuthName <name>` (an access line geows
records; without AuthType it changes nothing in httpd).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from geows.config import load_config
from tests.httpd import harness

MODULES = harness.MODULES
SECTIONS = """\
Include ${{GEOWS_PRELUDE}}
<IfModule !alias_module>
LoadModule alias_module {modules}/mod_alias.so
</IfModule>
<IfModule !authn_core_module>
LoadModule authn_core_module {modules}/mod_authn_core.so
</IfModule>
DocumentRoot {top}/doc
Alias /al {top}/alias
Alias /al/x/ {top}/doc/sub/
AliasMatch ^/am(.*)$ {top}/alias$1
Alias /slash/ {top}/alias/
<If "true">
{mark if-main}
<If "true">
{mark if-in-if}
</If>
</If>
<Files echo>
{mark files-echo}
<Files echo>
{mark files-in-files}
</Files>
<If "true">
{mark if-in-files}
</If>
</Files>
<Files "">
{mark files-empty}
</Files>
<FilesMatch "^(a|sub)$">
{mark files-match}
</FilesMatch>
<DirectoryMatch "^{top}/doc/echo">
{mark dm-echo}
</DirectoryMatch>
<DirectoryMatch "sub$">
{mark dm-sub}
</DirectoryMatch>
<Directory {top}/doc/sub>
{mark dir-sub}
</Directory>
<Directory {top}/doc/echo>
{mark dir-echo}
</Directory>
<Directory {top}/doc/f.txt>
{mark dir-file}
</Directory>
<Directory />
{mark dir-root}
</Directory>
<Directory {top}/doc>
{mark dir-doc}
<Files echo>
{mark files-in-doc}
</Files>
<If "true">
{mark if-in-doc}
</If>
</Directory>
<Directory {top}/*/x>
{mark dir-glob}
</Directory>
<Directory {top}/alias>
{mark dir-alias}
</Directory>
<Location />
{mark loc-root}
<Limit GET>
AuthName in-limit
Header always add X-Route in-limit
</Limit>
</Location>
<LocationMatch "^/echo">
{mark loc-match}
</LocationMatch>
<Location /pa>
{mark loc-pa}
Alias {top}/alias/x
</Location>
<VirtualHost *:${{GEOWS_PORT_A}}>
ServerName v.test
Alias /al {top}/doc
<Location /echo>
{mark loc-vhost}
</Location>
<Files echo>
{mark files-vhost}
</Files>
<If "true">
{mark if-vhost}
</If>
<Directory {top}>
{mark dir-top-vhost}
<Files echo>
{mark files-in-top-vhost}
</Files>
</Directory>
<Directory {top}/doc>
{mark dir-doc-vhost}
</Directory>
</VirtualHost>
<VirtualHost *:${{GEOWS_PORT_A}}>
ServerName w.test
DocumentRoot {top}/alias
</VirtualHost>
"""
PATHS = ["/echo", "/echo/a/b", "/sub", "/sub/", "/sub/a", "/sub/deeper/x", "/f.txt",
         "/f.txt/x", "/", "/al/x/echo", "/am/x/echo", "/al", "/alx", "/al//x/echo", "/slash",
         "/slash/x", "/x/echo", "/pa", "/pa/y"]


def marked(text: str) -> str:
    """Each `{mark NAME}` as the marker header and the AuthName of that name."""
    parts = text.split("{mark ")
    out = [parts[0]]
    for part in parts[1:]:
        name, rest = part.split("}", 1)
        out.append(f"Header always add {harness.ROUTE} {name}\nAuthName {name}{rest}")
    return "".join(out)


@pytest.fixture
def top() -> Iterator[Path]:
    """A tree httpd's www-data can walk: doc/{sub/deeper/, f.txt} and alias/x/."""
    path = Path(tempfile.mkdtemp(prefix="geows-access-sections-"))
    try:
        for directory in ("doc/sub/deeper", "alias/x"):
            (path / directory).mkdir(parents=True)
        (path / "doc/f.txt").write_text("x")
        for each in (path, *path.rglob("*")):
            each.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_sections_and_order_match_httpd(lab, tmp_path, monkeypatch, top):
    conf = tmp_path / "httpd.conf"
    conf.write_text(marked(SECTIONS).format(modules=MODULES, top=top))
    for name, value in lab.env.items():
        monkeypatch.setenv(name, value)
    config = load_config(conf, server_root=tmp_path, guard=False)
    port = lab.ports["A"]
    mismatches = []
    with harness.running_httpd(conf, tmp_path, lab.env, [port], lab.error_log) as httpd:
        for host in ("v.test", "w.test"):
            for path in PATHS:
                routes = httpd.get(path, host, port).routes
                sections = config.access_sections(config.route(path, host, port, "127.0.0.1"))
                names = tuple(line.args[0] for section in sections for line in section.lines)
                if routes != names:
                    mismatches.append(f"{host} {path}: httpd {routes}, geows {names}")
    assert not mismatches, "\n".join(mismatches)
