"""What the reader hands the access rules: access lines per section, the sections httpd
merges for a request in its order, the file a URI maps to, and what it refuses.

Each order asserted here was observed on Debian's apache2 2.4.71 (the facts file of
issue 7, section (m)); tests/httpd/test_access_sections.py checks them against httpd.
"""

import logging
import os

import pytest

from geows.config import paths
from geows.config.access_lines import AccessContainer, AccessLine

WS = """\
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler echo.py echo_init
</Location>
"""


def tree(root, *names):
    """Directories (ending in /) and files under the root; returns the root's path."""
    for name in names:
        path = root.path / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
    return str(root.path)


def marked(body):
    """A config body whose sections are named by their AuthName."""
    return "Listen 80\nServerName main.test\n" + body


def names(config, path, host=None, port=None):
    return [line.args[0] for section in config.access_sections(config.route(path, host, port))
            for line in section.lines if line.key == "authname"]


# Access lines


def test_access_lines_keep_key_args_place_and_containers(root):
    config = root.load(marked("""\
        Define NET 10.0.0.0/8
        <Location /a>
          Header set X-Not access
          REQUIRE ip ${NET}
          <RequireAll>
            <Limit POST PUT>
              Require valid-user
            </Limit>
            AuthType Basic
          </RequireAll>
        </Location>
        LoadModule headers_module modules/mod_headers.so
        """.replace("        ", "")))
    (section,) = config.access
    assert (section.kind, section.pattern, section.regex, section.vhost) == (
        "location", "/a", False, None)
    require_all = AccessContainer("requireall", (), root.conf, 7)
    limit = AccessContainer("limit", ("POST", "PUT"), root.conf, 8)
    assert section.lines == (
        AccessLine("require", ("ip", "10.0.0.0/8"), root.conf, 6),
        AccessLine("require", ("valid-user",), root.conf, 9, (require_all, limit)),
        AccessLine("authtype", ("Basic",), root.conf, 11, (require_all,)))


def test_sections_without_access_lines_are_not_recorded(root):
    config = root.load(marked("<Location /a>\nHeader set X 1\n</Location>\n"
                              "<Directory /srv>\n<Files x>\nAuthName f\n</Files>\n</Directory>\n"
                              "LoadModule headers_module modules/mod_headers.so\n"))
    (directory,) = config.access
    assert (directory.kind, directory.lines) == ("directory", ())
    assert [f.pattern for f in directory.files] == ["x"]


def test_proxy_sections_are_not_recorded_provider_aliases_are_one_line(root):
    config = root.load(marked("<Proxy *>\nRequire all denied\n</Proxy>\n"
                              "<AuthnProviderAlias file other>\nAuthUserFile /x\n"
                              "</AuthnProviderAlias>\n"))
    (server,) = config.access
    assert server.kind == "server"
    assert server.lines == (AccessLine("authnprovideralias", ("file", "other"), root.conf, 6),)


def test_remoteip_lines_per_server(root):
    config = root.load(marked("RemoteIPHeader X-Forwarded-For\n<VirtualHost *:80>\n"
                              "RemoteIPTrustedProxy 10.0.0.1\n</VirtualHost>\n"))
    assert config.remoteip_lines == (
        AccessLine("remoteipheader", ("X-Forwarded-For",), root.conf, 3),)
    assert config.virtual_hosts[0].remoteip_lines == (
        AccessLine("remoteiptrustedproxy", ("10.0.0.1",), root.conf, 5),)
    assert config.access == []


@pytest.mark.parametrize(("body", "line", "message"), [
    ("Require all denied", 3, "Require not allowed here"),
    ("order allow,deny", 3, "order not allowed here"),
    ("<RequireAll>\n</RequireAll>", 3, "<RequireAll not allowed here"),
    ("<Limit GET>\n</Limit>", 3, "<Limit not allowed here"),
    ("<VirtualHost *:80>\nAuthType Basic\n</VirtualHost>", 4,
     "AuthType not allowed in <VirtualHost> context"),
    ("<Directory /srv>\nRemoteIPHeader X-Real-IP\n</Directory>", 4,
     "RemoteIPHeader not allowed in <Directory> context"),
    ("<Directory /a>\n<Directory /b>\n</Directory>\n</Directory>", 4,
     "<Directory not allowed in <Directory> context"),
    ("<If \"true\">\n<DirectoryMatch /b>\n</DirectoryMatch>\n</If>", 4,
     "<DirectoryMatch not allowed in <If> context"),
    ("<Location /a>\n<Files b>\n</Files>\n</Location>", 4,
     "<Files> cannot occur within <Location> section"),
    ("<Directory /a>\n<Limit GET>\n<FilesMatch b>\n</FilesMatch>\n</Limit>\n</Directory>", 5,
     "<FilesMatch> cannot occur within <Limit> or <LimitExcept> section"),
    ("<Directory /a>\n<Limit GET>\n<If true>\n</If>\n</Limit>\n</Directory>", 5,
     "<If> cannot occur within <Limit> or <LimitExcept> section"),
    ("<DirectoryMatch (>\n</DirectoryMatch>", 3,
     "Regex could not be compiled: missing ), unterminated subpattern at position 0"),
    ("<Files ~ (>\n</Files>", 3,
     "Regex could not be compiled: missing ), unterminated subpattern at position 0"),
    ("Alias /x", 3, "Alias must have two arguments when used globally"),
    ("<VirtualHost *:80>\n<AuthzProviderAlias ldap x>\n</AuthzProviderAlias>\n</VirtualHost>", 4,
     "<AuthzProviderAlias> cannot occur within <VirtualHost> section"),
    ("<Directory /a>\nAlias /x /y\n</Directory>", 4, "Alias cannot occur within directory context"),
    ("<Location /a>\nScriptAlias /x /y\n</Location>", 4,
     "ScriptAlias cannot occur within directory context"),
    ("<Files a>\nAlias /y\n</Files>", 4, "Alias cannot occur within <Files> section"),
    ("<Location /a>\n<If true>\nAlias /y\n</If>\n</Location>", 5,
     "Alias cannot occur within <If> section"),
    ("AliasMatch ( /x", 3, "Regular expression could not be compiled."),
    ("<Directory /a>\nAllowOverride Bogus\n</Directory>", 4, "Illegal override option Bogus"),
    ("<Directory /a>\nAllowOverrideList None Require\n</Directory>", 4,
     "'None' not allowed with other directives in AllowOverrideList"),
    ("DocumentRoot /nonexistent/x", 3,
     "DocumentRoot '/nonexistent/x' is not a directory, or is not readable"),
])
def test_refused_as_httpd_refuses(root, body, line, message):
    assert root.error(marked(body + "\n")) == f"{root.conf}:{line}: {message}"


def test_accepted_at_server_level(root):
    config = root.load(marked("SSLVerifyClient none\nAuthDigestShmemSize 1000\n"
                              "LoadModule auth_digest_module modules/mod_auth_digest.so\n"))
    assert [line.key for line in config.access[0].lines] == [
        "sslverifyclient", "authdigestshmemsize"]


# DocumentRoot and aliases


def test_document_root_default_is_debians(root):
    config = root.load(marked(""))
    assert config.document_root == paths.DEFAULT_DOCUMENT_ROOT == "/var/www/html"
    assert config.file_name("/echo/x") == "/var/www/html/echo/x"


def test_document_root_is_server_root_relative_and_inherited(root, caplog):
    tree(root, "doc/", "vdoc/")
    config = root.load(marked("DocumentRoot doc/\n<VirtualHost *:80>\nServerName v\n"
                              "DocumentRoot vdoc\n</VirtualHost>\n"
                              "<VirtualHost *:80>\nServerName w\nDocumentRoot nope\n"
                              "</VirtualHost>\n<VirtualHost *:80>\nServerName x\n</VirtualHost>\n"))
    v, w, x = config.virtual_hosts
    assert config.document_root == f"{root.path}/doc"
    assert config.file_name("//echo/", v) == f"{root.path}/vdoc/echo/"
    assert config.document_root_for(w) == f"{root.path}/nope"
    assert config.file_name("/echo", x) == f"{root.path}/doc/echo"
    assert "Warning: DocumentRoot" in caplog.text


@pytest.mark.parametrize(("path", "expected"), [
    ("/al", "/srv/alias"),
    ("/al/x/echo", "/srv/alias/x/echo"),
    ("/al//x", "/srv/alias/x"),
    ("/alx", "/doc/alx"),              # an alias ends on a segment boundary
    ("/slash", "/doc/slash"),          # "Alias /slash/" needs the slash
    ("/slash/x", "/srv/slashed/x"),
    ("/am/x/echo", "/srv/alias/x/echo"),
    ("/rel/y", "ROOT/relative/y"),     # relative targets under ServerRoot
])
def test_aliases_map_uris_as_mod_alias(root, path, expected):
    tree(root, "doc/")
    config = root.load(marked(f"DocumentRoot {root.path}/doc\nAlias /al /srv/alias\n"
                              "Alias /al/x/ /never\nAliasMatch ^/am(.*)$ /srv/alias$1\n"
                              "Alias /slash/ /srv/slashed/\nScriptAlias /rel relative\n"))
    assert config.file_name(path) == expected.replace("ROOT", str(root.path)).replace(
        "/doc/", f"{root.path}/doc/")


def test_an_alias_in_a_location_maps_all_its_requests(root):
    config = root.load(marked("Alias /pa /elsewhere\n<Location /pa>\nAlias /srv/one\n</Location>\n"
                              "<VirtualHost *:80>\n<Location /pa>\nAlias rel\n</Location>\n"
                              "</VirtualHost>\n<Location /pa/c>\nAlias /srv/two\n</Location>\n"))
    vhost = config.virtual_hosts[0]
    assert config.file_name("/pa/x/y") == "/srv/one"
    assert config.file_name("/pa/c/d") == "/srv/two"
    assert config.file_name("/pa/c/d", vhost) == f"{root.path}/rel"  # the vhost's come last


def test_an_alias_expression_near_a_websocket_location_is_refused(root):
    text = marked(WS + "<Location />\nAlias /srv/%{HTTP_HOST}\n</Location>\n")
    assert root.error(text) == (
        f"{root.conf}:8: Alias /srv/%{{HTTP_HOST}}: geows cannot evaluate this expression, so "
        "it cannot tell which <Directory> sections apply to the WebSocket location /echo "
        f"({root.conf}:3); it refuses to start rather than serve it unguarded")
    root.load(marked(WS + "<Location /other>\nAlias /srv/%{HTTP_HOST}\n</Location>\n"))


def test_vhost_aliases_come_before_the_main_servers(root):
    config = root.load(marked("Alias /al /main\n<VirtualHost *:80>\nAlias /al /vhost\n"
                              "</VirtualHost>\n"))
    vhost = config.virtual_hosts[0]
    assert [alias.real for alias in config.aliases_for(vhost)] == ["/vhost", "/main"]
    assert config.file_name("/al/x", vhost) == "/vhost/x"
    assert config.file_name("/al/x") == "/main/x"


# The walk: which sections, in which order


ORDER = """\
DocumentRoot {doc}
<Location />
AuthName loc-root
</Location>
<DirectoryMatch "^{doc}/echo">
AuthName dm-echo
</DirectoryMatch>
<Directory {doc}/sub>
AuthName dir-sub
</Directory>
<Directory {doc}/echo>
AuthName dir-echo
</Directory>
<Directory />
AuthName dir-root
</Directory>
<Directory {doc}>
AuthName dir-doc
<Files echo>
AuthName files-in-doc
</Files>
</Directory>
<Files echo>
AuthName files-echo
</Files>
<Files "">
AuthName files-empty
</Files>
<Directory {doc}/*>
AuthName dir-glob
</Directory>
"""


@pytest.mark.parametrize(("path", "expected"), [
    # echo does not exist: <Directory doc/echo> never applies, <Files echo> does, the
    # regex is matched against doc/echo.
    ("/echo", "dir-root dir-doc dm-echo files-echo files-in-doc loc-root"),
    ("/echo/a/b", "dir-root dir-doc dm-echo files-echo files-in-doc loc-root"),
    ("/sub", "dir-root dir-doc dir-sub dir-glob loc-root"),
    ("/sub/", "dir-root dir-doc dir-sub dir-glob files-empty loc-root"),
    ("/sub/deeper/x", "dir-root dir-doc dir-sub dir-glob loc-root"),
    ("/", "dir-root dir-doc files-empty loc-root"),
])
def test_walk_order_and_missing_paths(root, path, expected):
    doc = tree(root, "doc/sub/deeper/") + "/doc"
    config = root.load(marked(ORDER.format(doc=doc)))
    assert names(config, path) == expected.split()


def test_a_file_is_a_directory_to_the_walk_when_the_whole_path_exists(root):
    doc = tree(root, "doc/f.txt") + "/doc"
    config = root.load(marked(f"DocumentRoot {doc}\n<Directory {doc}/f.txt>\nAuthName dir\n"
                              "</Directory>\n<DirectoryMatch f.txt>\nAuthName dm\n"
                              "</DirectoryMatch>\n<Files f.txt>\nAuthName files\n</Files>\n"))
    assert names(config, "/f.txt") == ["dir", "dm", "files"]
    assert names(config, "/f.txt/x") == ["dm", "files"]


def test_directories_sort_by_depth_main_servers_first_regex_last(root):
    doc = tree(root, "a/b/c/") + "/a"
    config = root.load(marked(f"""\
        DocumentRoot {doc}
        <VirtualHost *:80>
        ServerName v
        <Directory {doc}>
        AuthName vhost-a
        </Directory>
        <Directory ~ "/b">
        AuthName vhost-regex
        </Directory>
        <Directory {doc}/b/c>
        AuthName vhost-c
        </Directory>
        <Location />
        AuthName vhost-location
        </Location>
        </VirtualHost>
        <Location />
        AuthName main-location
        </Location>
        <DirectoryMatch "/c$">
        AuthName main-regex
        </DirectoryMatch>
        <Directory {doc}/b>
        AuthName main-b
        </Directory>
        <Directory {doc}>
        AuthName main-a
        </Directory>
        """.replace("        ", "")))
    assert names(config, "/b/c", "v", 80) == [
        "main-a", "vhost-a", "main-b", "vhost-c", "main-regex", "vhost-regex", "main-location",
        "vhost-location"]
    assert names(config, "/b/c/x") == ["main-a", "main-b", "main-location"]  # "/c$" misses


def test_files_locations_and_ifs_in_merge_order(root):
    doc = tree(root, "doc/") + "/doc"
    config = root.load(marked(f"""\
        DocumentRoot {doc}
        <If "true">
        AuthName if-main
        </If>
        <Files echo>
        AuthName files-main
        <Files echo>
        AuthName files-in-files
        </Files>
        <If "true">
        AuthName if-in-files
        <If "true">
        AuthName if-in-if-in-files
        </If>
        </If>
        </Files>
        <Directory {doc}>
        <If "true">
        AuthName if-in-dir
        </If>
        <Files echo>
        AuthName files-in-dir
        </Files>
        </Directory>
        <Location /echo>
        AuthName loc-main
        </Location>
        <VirtualHost *:80>
        ServerName v
        <Location /echo>
        AuthName loc-vhost
        </Location>
        <Files echo>
        AuthName files-vhost
        </Files>
        <If "true">
        AuthName if-vhost
        <If "true">
        AuthName if-in-if
        </If>
        </If>
        </VirtualHost>
        """.replace("        ", "")))
    assert names(config, "/echo", "v", 80) == [
        "files-main", "files-vhost", "files-in-dir", "loc-main", "loc-vhost",
        "if-main", "if-vhost", "if-in-dir", "if-in-files", "if-in-if", "if-in-if-in-files"]
    kinds = [s.kind for s in config.access_sections(config.route("/echo", "v", 80))]
    assert kinds == ["server", "vhost", "directory", "files", "files", "files", "location",
                     "location", "if", "if", "if", "if", "if", "if"]


def test_else_and_elseif_are_if_sections(root):
    config = root.load(marked("<Location /a>\n<If \"-n %{HTTP_X}\">\nRequire all denied\n"
                              "</If>\n<ElseIf \"true\">\nRequire all granted\n</ElseIf>\n"
                              "<Else>\nRequire all denied\n</Else>\n</Location>\n"))
    (location,) = config.access
    assert [(s.kind, s.pattern, s.line) for s in location.ifs] == [
        ("if", "-n %{HTTP_X}", 4), ("if", "true", 7), ("if", "", 10)]


def test_the_vhost_comes_from_host_and_port(root):
    config = root.load(marked("<Location />\nAuthName main\n</Location>\n"
                              "<VirtualHost *:80>\nServerName v\nAuthName nope\n</VirtualHost>\n"
                              "<VirtualHost *:80>\nServerName w\n<Location />\nAuthName w\n"
                              "</Location>\n</VirtualHost>\n")
                       .replace("AuthName nope", "SSLVerifyClient none"))
    assert names(config, "/x", "w", 80) == ["main", "w"]
    assert names(config, "/x") == ["main"]
    sections = config.access_sections(config.route("/x", "v", 80))
    assert [s.kind for s in sections] == ["vhost", "location"]


# may_apply


def test_may_apply(root):
    doc = tree(root, "doc/") + "/doc"
    config = root.load(marked(f"""\
        DocumentRoot {doc}
        Alias /echo/deep /srv/deep
        {WS}
        <LocationMatch "^/ws(?<n>[0-9]+)">
        SetHandler websocket-handler
        WebSocketHandler echo.py echo_init
        </LocationMatch>
        <Location /echo/sub>
        Require all denied
        </Location>
        <Location />
        Require all denied
        </Location>
        <Location /other>
        Require all denied
        </Location>
        <Directory {doc}/echo/x>
        Require all denied
        </Directory>
        <Directory {doc}/other>
        Require all denied
        </Directory>
        <Directory /srv/deep/x>
        Require all denied
        </Directory>
        <Directory /s*/nothing>
        Require all denied
        </Directory>
        <Directory /usr>
        Require all denied
        </Directory>
        <DirectoryMatch nothing>
        Require all denied
        </DirectoryMatch>
        <Files nothing>
        Require all denied
        </Files>
        <VirtualHost *:80>
        ServerName v
        <Location /other>
        Require all denied
        </Location>
        </VirtualHost>
        <VirtualHost *:81>
        ServerName w
        DocumentRoot /usr
        </VirtualHost>
        """.replace("        ", "")), guard=False)
    echo, regex = config.websocket_sections()
    sections = {(s.kind, s.pattern, s.vhost is not None): s for s in config.access}
    may = {key[1]: config.may_apply(s, echo) for key, s in sections.items() if not key[2]}
    assert may == {
        "/echo/sub": True, "/": True, "/other": False,
        f"{doc}/echo/x": True, f"{doc}/other": False,
        "/srv/deep/x": True,  # an Alias below the location maps there
        "/s*/nothing": True,  # a glob: compared up to its first wildcard
        "/usr": True,  # vhost w maps the main server's /echo under /usr
        "nothing": True}
    vhost_other = sections["location", "/other", True]
    assert not config.may_apply(vhost_other, echo)
    assert config.may_apply(vhost_other, regex)
    assert all(config.may_apply(s, regex) for s in sections.values())


def test_may_apply_follows_an_alias_in_a_location_below(root):
    config = root.load(marked(f"{WS}<Location /echo/in>\nAlias /srv/in\n</Location>\n"
                              "<Directory /srv/in>\nRequire all denied\n</Directory>\n"
                              "<Directory /srv/out>\nRequire all denied\n</Directory>\n"),
                       guard=False)
    (ws,) = config.websocket_sections()
    assert [config.may_apply(s, ws) for s in config.access] == [True, False]


# .htaccess


@pytest.mark.parametrize("override", ["AuthConfig", "Limit", "All", "FileInfo AuthConfig",
                                      "AuthConfig=x",
                                      # RewriteRule [F], Redirect: never the handler
                                      "FileInfo", "FileInfo Indexes Options=Indexes"])
def test_htaccess_that_may_hold_access_rules_is_refused(root, override):
    doc = tree(root, "doc/") + "/doc"
    message = root.error(marked(f"DocumentRoot {doc}\n{WS}<Directory {doc}>\n"
                                f"AllowOverride {override}\n</Directory>\n"))
    assert message == (
        f"{root.conf}:9: AllowOverride {override} lets .htaccess files in {doc}/ set access "
        f"control or remap requests for the WebSocket location /echo ({root.conf}:4); geows "
        "does not read .htaccess files and refuses to start rather than serve it unguarded")


@pytest.mark.parametrize(("sections", "line"), [
    ("<Directory />\nAllowOverride All\n</Directory>\n", 9),  # a parent's .htaccess
    ("<Directory DOC/echo/sub>\nAllowOverride AuthConfig\n</Directory>\n", 9),  # below
    ("<Directory DOC/*>\nAllowOverride AuthConfig\n</Directory>\n", 9),
    ("<Directory />\nAllowOverrideList Require\n</Directory>\n", 9),
    ("<Directory />\nAllowOverrideList <RequireAll\n</Directory>\n", 9),
    ("<Directory />\nAllowOverride All\n</Directory>\n<Directory DOC>\nAllowOverride None\n"
     "</Directory>\n", 9),  # / is walked too
    ("<Directory DOC>\n<Limit GET>\nAllowOverride AuthConfig\n</Limit>\n</Directory>\n", 10),
    ("<VirtualHost *:80>\n<Directory DOC>\nAllowOverride All\n</Directory>\n</VirtualHost>\n",
     10),
])
def test_htaccess_refused_wherever_the_walk_may_read_it(root, sections, line):
    doc = tree(root, "doc/") + "/doc"
    text = marked(f"DocumentRoot {doc}\n{WS}" + sections.replace("DOC", doc))
    assert root.error(text).startswith(f"{root.conf}:{line}: AllowOverride")


@pytest.mark.parametrize("sections", [
    "<Directory DOC>\nAllowOverride AuthConfig\nAllowOverride None\n</Directory>\n",
    "<Directory DOC>\nAllowOverride All\n</Directory>\n<Directory DOC>\nAllowOverride None\n"
    "</Directory>\n",
    "<Directory DOC>\nAllowOverride None AuthConfig None\n</Directory>\n",
    "<Directory DOC>\nAllowOverride Indexes Options=Indexes\n</Directory>\n",
    "<Directory DOC>\nAllowOverrideList Header None\n</Directory>\n".replace(" None", ""),
    "<Directory DOC/other>\nAllowOverride All\n</Directory>\n",
    "<DirectoryMatch .>\nAllowOverride All\n</DirectoryMatch>\n",  # regex: no .htaccess
    "<Directory ~ .>\nAllowOverride All\n</Directory>\n",
    "<Directory DOC>\n<Files x>\nAllowOverride All\n</Files>\n</Directory>\n",
    "<Location />\nAllowOverride All\n</Location>\n",
    "<VirtualHost *:81>\nServerName x\n<Location /echo>\nSetHandler None\n</Location>\n"
    "</VirtualHost>\n",
])
def test_htaccess_that_cannot_hold_access_rules_is_accepted(root, sections):
    doc = tree(root, "doc/") + "/doc"
    config = root.load(marked(f"DocumentRoot {doc}\n{WS}" + sections.replace("DOC", doc)))
    assert config.route("/echo").endpoint is not None


def test_htaccess_is_not_checked_without_websocket_locations_or_guard(root):
    text = marked("<Directory />\nAllowOverride All\n</Directory>\n")
    assert root.load(text).overrides[0].grants_access
    root.load(marked(WS) + "<Directory />\nAllowOverride All\n</Directory>\n", guard=False)


def test_overrides_record_their_directory(root):
    config = root.load(marked("<Directory /srv/>\nAllowOverride AuthConfig\n</Directory>\n"))
    (override,) = config.overrides
    assert (override.name, override.args, override.line) == ("AllowOverride", ("AuthConfig",), 4)
    assert (override.directory.directory, override.directory.depth) == ("/srv/", 2)


@pytest.mark.parametrize(("pattern", "directory", "depth"), [
    ("/", "/", 0),                  # always applies, before any other
    ("srv/a", "/srv/a/", 3),        # relative: from /, httpd's working directory
    ("/srv/boX", "/srv/boX/", 3),
    ("/srv/a/../b/", "/srv/b/", 3),
])
def test_a_directory_is_compared_canonical_with_a_trailing_slash(root, pattern, directory, depth):
    config = root.load(marked(f"<Directory {pattern}>\nRequire all denied\n</Directory>\n"))
    (section,) = config.access
    assert (section.directory, section.depth) == (directory, depth)


# paths


@pytest.mark.parametrize(("path", "expected"), [
    ("/", "/"), ("//a//b/", "/a/b/"), ("/a/./b/../c", "/a/c"), ("/../a", "/a"),
    ("/a/b/..", "/a/"), ("/a/.", "/a/"),
])
def test_canonical(path, expected):
    assert paths.canonical(path) == expected


@pytest.mark.parametrize(("uri", "fake", "length"), [
    ("/al", "/al", 3), ("/al/x", "/al", 3), ("/alx", "/al", 0), ("/al//x", "/al/", 5),
    ("//al", "/al", 4), ("/al", "/al/", 0), ("/", "/", 1), ("/x", "/", 1),
])
def test_alias_matches(uri, fake, length):
    assert paths.alias_matches(uri, fake) == length


def test_alias_match_substitution():
    alias = paths.Alias(fake=r"^/u/(\w+)(/.*)?$", real=r"/home/$1/www$2\$3$9", regex=True,
                        file="f", line=1)
    assert alias.translate("/u/ann/a") == "/home/ann/www/a$3"
    assert alias.translate("/u/ann") == "/home/ann/www$3"
    assert alias.translate("/v") is None


def test_walk_stops_at_the_first_missing_component_or_file(root):
    base = tree(root, "d/e/", "d/f.txt")
    assert paths.walk(f"{base}/d/e/missing/x") == (
        [*_levels(base), f"{base}/d/", f"{base}/d/e/"], f"{base}/d/e/missing")
    assert paths.walk(f"{base}/d/f.txt/x") == (
        [*_levels(base), f"{base}/d/"], f"{base}/d/f.txt")
    assert paths.walk(f"{base}/d/e/") == (
        [*_levels(base), f"{base}/d/", f"{base}/d/e/"], f"{base}/d/e/")


def _levels(base):
    parts = base.strip("/").split("/")
    return ["/"] + ["/" + "/".join(parts[:n]) + "/" for n in range(1, len(parts) + 1)]


def test_walk_logs_nothing(root, caplog):
    caplog.set_level(logging.DEBUG)
    paths.walk(os.path.join(str(root.path), "nothing"))
    assert caplog.text == ""


def test_htaccess_on_the_status_page_is_refused(root):
    doc = tree(root, "doc/") + "/doc"
    message = root.error(marked(f"DocumentRoot {doc}\n<Location /geows-status>\n"
                                f"SetHandler geows-status\n</Location>\n<Directory {doc}>\n"
                                "AllowOverride AuthConfig\n</Directory>\n"))
    assert message == (
        f"{root.conf}:8: AllowOverride AuthConfig lets .htaccess files in {doc}/ set access "
        f"control or remap requests for the status page /geows-status ({root.conf}:4); geows "
        "does not read .htaccess files and refuses to start rather than serve it unguarded")
