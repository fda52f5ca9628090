"""The guards of the locations geows serves, with vhosts and aliases: which sections may
apply to a WebSocket location's requests (Config.may_apply), and the .htaccess and Alias
expression refusals on every server that serves it. Found by the mutation run
(tests/mutation/RESULTS.md): each case is one a changed comparison would get wrong."""

import pytest

from tests.config.test_config_access import WS, marked, tree

VHOSTS = """\
DocumentRoot {main}
<Location /ws2>
SetHandler websocket-handler
WebSocketHandler echo.py echo_init
</Location>
<Location /echo/main>
Require all denied
</Location>
<Directory {main}/echo>
Require all denied
</Directory>
<Directory {vdoc}/echo>
Require all denied
</Directory>
<Directory /srv/vdeep/x>
Require all denied
</Directory>
<Directory /srv/vin>
Require all denied
</Directory>
<VirtualHost *:80>
ServerName v
DocumentRoot {vdoc}
Alias /echo/deep /srv/vdeep
{ws}
<Location /echo/sub>
Require all denied
</Location>
<Location /echo/in>
Alias /srv/vin
</Location>
<Directory {main}/ws2>
Require all denied
</Directory>
</VirtualHost>
<VirtualHost *:80>
ServerName w
<Location /echo>
Require all denied
</Location>
</VirtualHost>
"""


def test_may_apply_on_the_servers_that_serve_the_location(root):
    """A WebSocket location in vhost v: the main server's sections are v's too, with v's
    DocumentRoot, aliases and <Location> aliases; w's are not. A main server's WebSocket
    location: a vhost's section sees that vhost's mapping of it alone."""
    main, vdoc = (tree(root, "main/", "vdoc/") + name for name in ("/main", "/vdoc"))
    config = root.load(marked(VHOSTS.format(main=main, vdoc=vdoc, ws=WS)), guard=False)
    ws2, echo = config.websocket_sections()
    may = {(s.pattern, s.vhost and s.vhost.server_name): config.may_apply(s, echo)
           for s in config.access if s.kind in ("location", "directory")}
    assert may == {
        ("/echo/main", None): True, (f"{main}/echo", None): False,
        (f"{vdoc}/echo", None): True, ("/srv/vdeep/x", None): True, ("/srv/vin", None): True,
        ("/echo/sub", "v"): True, (f"{main}/ws2", "v"): False, ("/echo", "w"): False}
    (in_v,) = [s for s in config.access if s.pattern == f"{main}/ws2"]
    assert not config.may_apply(in_v, ws2)   # v maps /ws2 under its own DocumentRoot


@pytest.mark.parametrize(("aliases", "directory", "may"), [
    ("AliasMatch ^/x/(.*) /srv/x/$1", "/srv/x/sub", True),  # below the fixed part
    ("AliasMatch ^/x/(.*) /srv/x/$1", "/usr", False),
    ("AliasMatch ^/x(.*) /srv/xy$1", "/srv/xyz", True),     # the fixed part's directory
    ("AliasMatch ^/x /srv/fixed", "/srv/fixed/a", True),    # no substitution: the target
    ("AliasMatch ^/x /srv/fixed", "/srv/other", False),
    ("AliasMatch ^/x(.*) $1", "/usr", True),                  # the match: any path at all
    ("Alias /echo/deep/ /srv/deep/", "/srv/deep/x", True),
    ("Alias /echo/deep /srv/deepX", "/srv/deep", False),
    ("<Location /echo/in>\nAlias rel\n</Location>", "ROOT/rel", True),  # under ServerRoot
    ("", "/usr/a*/x", False),   # a glob compared up to its first wildcard: /usr/
    ("", "/tmp/*/x", True),
])
def test_may_apply_follows_the_aliases(root, aliases, directory, may):
    doc = tree(root, "doc/") + "/doc"
    directory = directory.replace("ROOT", str(root.path))
    config = root.load(marked(f"DocumentRoot {doc}\n{WS}{aliases}\n<Directory {directory}>\n"
                              "Require all denied\n</Directory>\n"), guard=False)
    (ws,) = config.websocket_sections()
    (section,) = [s for s in config.access if s.kind == "directory"]
    assert config.may_apply(section, ws) is may


def closing(opening: str) -> str:
    """`</Location>` for `<Location /x>`."""
    return "</" + opening[1:].split()[0] + ">"


@pytest.mark.parametrize(("ws", "section", "may"), [
    ("<Location /ec*o>", "<Directory /usr>", True),           # a glob location: anywhere
    ("<LocationMatch ^/ws>", "<Location /other>", True),       # a regex may match anything
    ("<Location /echo>", "<LocationMatch ^/nothing>", True),
    ("<Location /echo>", "<Location /ech?/x>", True),          # /echo/x is both's
    ("<Location /echo>", "<Location /x*>", True),
    ("<Location /echo>", "<Location /other>", False),
])
def test_may_apply_to_regex_and_glob_locations(root, ws, section, may):
    config = root.load(marked(f"{ws}\nSetHandler websocket-handler\n"
                              f"WebSocketHandler echo.py echo_init\n{closing(ws)}\n"
                              f"{section}\nRequire all denied\n{closing(section)}\n"),
                       guard=False)
    (served,) = config.websocket_sections()
    (guarded,) = config.access
    assert config.may_apply(guarded, served) is may


EXPRESSION = "<Location />\nAlias /srv/%{HTTP_HOST}\n</Location>\n"
WS_IN = "<VirtualHost *:80>\nServerName {name}\n{body}</VirtualHost>\n"


@pytest.mark.parametrize(("text", "refused"), [
    (EXPRESSION + WS_IN.format(name="v", body=WS), True),     # the main server's: v's too
    (WS + WS_IN.format(name="v", body=EXPRESSION), True),     # v's, for a main location
    (WS_IN.format(name="v", body=WS + EXPRESSION), True),
    (WS_IN.format(name="v", body=WS) + WS_IN.format(name="w", body=EXPRESSION), False),
])
def test_an_alias_expression_is_refused_on_the_servers_of_the_location(root, text, refused):
    if refused:
        assert "geows cannot evaluate this expression" in root.error(marked(text))
    else:
        assert root.load(marked(text)).websocket_sections()


def test_htaccess_refused_for_a_regex_location_wherever_it_is(root):
    """No knowing where a <LocationMatch>'s requests map: any override that grants is
    refused, at its own directory."""
    doc = tree(root, "doc/") + "/doc"
    message = root.error(marked(f"<LocationMatch ^/ws>\nSetHandler websocket-handler\n"
                                "WebSocketHandler echo.py echo_init\n</LocationMatch>\n"
                                f"<Directory {doc}/elsewhere>\nAllowOverride AuthConfig\n"
                                "</Directory>\n"))
    assert message.startswith(f"{root.conf}:8: AllowOverride AuthConfig lets .htaccess files "
                              f"in {doc}/elsewhere/ set access control")


@pytest.mark.parametrize(("body", "where"), [
    # the location's own directory, whose name ends in X
    ("{ws_x}<Directory DOC/echoX>\nAllowOverride AuthConfig\n</Directory>\n", "DOC/echoX/"),
    # requests mapped to / : a glob directory below it
    ("{ws_root}<Directory /*>\nAllowOverride AuthConfig\n</Directory>\n", "/*/"),
    # v's requests map under VDOC, where a main server's <Directory> lets .htaccess in
    (WS + "<Directory VDOC>\nAllowOverride AuthConfig\n</Directory>\n"
     "<VirtualHost *:80>\nServerName v\nDocumentRoot VDOC\n</VirtualHost>\n", "VDOC/"),
])
def test_htaccess_refused_where_the_requests_map(root, body, where):
    doc, vdoc = (tree(root, "doc/", "vdoc/") + name for name in ("/doc", "/vdoc"))
    ws_x = WS.replace("/echo>", "/echoX>")
    ws_root = WS.replace("</Location>", "Alias /\n</Location>")
    text = f"DocumentRoot {doc}\n" + body.format(ws_x=ws_x, ws_root=ws_root)
    message = root.error(marked(text.replace("VDOC", vdoc).replace("DOC", doc)))
    where = where.replace("VDOC", vdoc).replace("DOC", doc)
    assert f"lets .htaccess files in {where} set access control" in message


@pytest.mark.parametrize("body", [
    # another vhost's <Directory> is not v's
    "<VirtualHost *:80>\nServerName v\n{ws}</VirtualHost>\n"
    "<VirtualHost *:80>\nServerName w\n<Directory DOC>\nAllowOverride All\n</Directory>\n"
    "</VirtualHost>\n",
    # at equal depth the vhost's <Directory> merges after the main server's
    "<Directory DOC>\nAllowOverride All\n</Directory>\n"
    "<VirtualHost *:80>\nServerName v\n{ws}<Directory DOC>\nAllowOverride None\n"
    "</Directory>\n</VirtualHost>\n",
])
def test_htaccess_accepted_where_no_override_of_the_server_grants(root, body):
    doc = tree(root, "doc/") + "/doc"
    config = root.load(marked(f"DocumentRoot {doc}\n" + body.format(ws=WS).replace("DOC", doc)))
    assert config.websocket_sections()


def test_allow_override_is_judged_before_allow_override_list(root):
    doc = tree(root, "doc/") + "/doc"
    message = root.error(marked(f"DocumentRoot {doc}\n{WS}<Directory />\n"
                                "AllowOverrideList Require\n</Directory>\n"
                                f"<Directory {doc}>\nAllowOverride All\n</Directory>\n"))
    assert message.startswith(f"{root.conf}:12: AllowOverride All lets")
