"""Listeners, location matching, path resolution, and what geows refuses to serve."""

import os
import re
import textwrap
from pathlib import Path

import pytest

from geows.config import LocationSection, load_config
from geows.config.model import has_wildcard, host_port, location_matcher
from geows.config.paths import substitute

DATA = Path(__file__).parent / "data"


def location(pattern, regex=False):
    return LocationSection(pattern=pattern, regex=regex, handler=None, websocket=None,
                           file="f.conf", line=1)


# Listen


@pytest.mark.parametrize(("arg", "host", "port"), [
    ("8080", None, 8080),
    ("127.0.0.1:8080", "127.0.0.1", 8080),
    ("[::1]:8080", "::1", 8080),
    ("*:80", None, 80),
    ("localhost:81 http", "localhost", 81),
    ("65535", None, 65535),
])
def test_listen_forms(root, arg, host, port):
    (listener,) = root.load(f"\nListen {arg}\n").listeners
    assert (listener.host, listener.port, listener.file, listener.line) == (
        host, port, root.conf, 2)


@pytest.mark.parametrize(("arg", "message"), [
    ("0", "Port 0 is out of range 1-65535"),
    ("70000", "Port 70000 is out of range 1-65535"),
    ("http", "Invalid address or port 'http': expected [address:]port, with an IPv6 address "
             "in brackets as in [::1]:8080"),
    ("::1", "Invalid address or port '::1': expected [address:]port, with an IPv6 address "
            "in brackets as in [::1]:8080"),
    ("[::1]", "Invalid address or port '[::1]': expected [address:]port, with an IPv6 address "
              "in brackets as in [::1]:8080"),
    ("[nope]:80", "Invalid IPv6 address 'nope'"),
    ("[fe80::1%eth0]:80", "Scope id is not supported"),
    ("443 ftp", "Listen protocol 'ftp': geows serves http and https only"),
    ("80 http extra", "Listen takes 1-2 arguments, [address:]port and an optional protocol"),
])
def test_listen_errors(root, arg, message):
    assert root.error(f"Listen 8080\nListen {arg}\n") == f"{root.conf}:2: {message}"


def test_duplicate_listen(root):
    assert root.error("Listen 80\nListen *:80\n") == (
        f"{root.conf}:2: Cannot define multiple Listeners on the same IP:port")
    assert len(root.load("Listen 80\nListen 127.0.0.1:80\n").listeners) == 2


def test_no_listen_names_the_main_file(root):
    root.write("httpd.conf", "<IfDefine NOPE>\nListen 80\n</IfDefine>\n")
    assert root.error() == f"{root.conf}: no Listen directive, so no listening sockets available"


# Matching


@pytest.mark.parametrize(("pattern", "path", "matched"), [
    ("/echo", "/echo", True),
    ("/echo", "/echo/", True),
    ("/echo", "/echo/x", True),
    ("/echo", "/echoes", False),
    ("/echo", "/ech", False),
    ("/dir/", "/dir/", True),
    ("/dir/", "/dir/x", True),
    ("/dir/", "/dir", False),
    ("/", "/anything/at/all", True),
    ("/ws/*", "/ws/chat", True),
    ("/ws/*", "/ws/chat/x", False),
    ("/ws/ch?t", "/ws/chat", True),
    ("/ws/[!c]hat", "/ws/chat", False),
    ("/ws/[!c]hat", "/ws/xhat", True),
    ("/ws/[^c]hat", "/ws/chat", False),       # apr_fnmatch: '^' negates a set, as '!' does
    ("/ws/[^c]hat", "/ws/xhat", True),
    ("/ws[!x]chat", "/ws/chat", False),       # APR_FNM_PATHNAME: no set matches '/'
    ("/ws[^x]chat", "/ws/chat", False),
    ("/ws[/x]chat", "/ws/chat", False),
    ("/ws[/x]chat", "/wsxchat", True),
    ("/ws/[^]]x", "/ws/ax", True),            # a ']' first in a set, after '^', is a member
    ("/ws/[^]]x", "/ws/]x", False),
    ("/ws/[a-c]hat", "/ws/chat", True),
    ("/a[b", "/a[b", True),
])
def test_plain_location_matches_prefixes_on_segment_boundaries(pattern, path, matched):
    assert location(pattern).matches(path) is matched


@pytest.mark.parametrize(("pattern", "path", "matched"), [
    ("^/echo$", "/echo", True),
    ("^/echo$", "/echo/", False),
    ("cho", "/echo", True),  # unanchored, as PCRE in httpd
    (r"^/(?<room>\w+)/ws$", "/lobby/ws", True),  # PCRE's named group syntax
    (r"(?<!x)/ws", "/a/ws", True),
])
def test_regex_location_searches_the_path(pattern, path, matched):
    assert location(pattern, regex=True).matches(path) is matched


def test_location_tilde_and_locationmatch_are_regexes(root):
    config = root.load("""\
        Listen 80
        <Location ~ "^/a+$">
        </Location>
        <LocationMatch ^/b+$>
        </LocationMatch>
        <Location /c>
        </Location>
        """)
    assert [(s.pattern, s.regex, s.line) for s in config.locations] == [
        ("^/a+$", True, 2), ("^/b+$", True, 4), ("/c", False, 6)]
    assert config.locations[0].matches("/aaa") and not config.locations[0].matches("/ab")


# Resolution: sections merge in file order, later ones win


def test_resolve_merges_in_file_order(root):
    config = root.load("""\
        Listen 80
        <Location /ws>
          SetHandler websocket-handler
          WebSocketHandler chat.py chat_init
        </Location>
        <LocationMatch ^/ws/admin>
          SetHandler None
        </LocationMatch>
        <Location /ws/echo>
          WebSocketHandler echo.py echo_init
          MaxMessageSize 100
        </Location>
        <Location /ws/echo/big>
          WebSocketHandler echo.py echo_init
        </Location>
        """)
    assert config.route("/ws/room").endpoint.settings.init == "chat_init"
    assert config.route("/ws/admin").endpoint is None  # SetHandler None takes the path back
    echo = config.route("/ws/echo").endpoint
    assert (echo.settings.init, echo.settings.max_message_size, echo.section.line) == (
        "echo_init", 100, 9)
    # mod_websocket replaces its settings whole: the default size again, not 100.
    assert config.route("/ws/echo/big").endpoint.settings.max_message_size == 33554432
    assert config.route("/elsewhere").endpoint is None
    assert config.locations[1].handler == "none"


def test_handler_without_plugin_or_plugin_without_handler_is_not_an_endpoint(root):
    config = root.load("""\
        Listen 80
        <Location /a>
          SetHandler websocket-handler
        </Location>
        <Location /b>
          WebSocketHandler b.py b_init
        </Location>
        """)
    assert config.route("/a").endpoint is None and config.route("/b").endpoint is None
    assert [s.pattern for s in config.websocket_sections()] == ["/a", "/b"]


def test_module_directive_without_websockethandler_replaces_the_plugin(root, caplog):
    # httpd accepts it: the module has no merge function, so this section's config, which
    # has no plugin, replaces the earlier one and the handler declines.
    config = root.load("""\
        Listen 80
        <Location /a>
          SetHandler websocket-handler
          WebSocketHandler a.py init
        </Location>
        <Location /a/small>
          MaxMessageSize 10
        </Location>
        """)
    assert config.route("/a/x").endpoint is not None and config.route("/a/small").endpoint is None
    assert [s.pattern for s in config.websocket_sections()] == ["/a", "/a/small"]
    assert f"{root.conf}:7: MaxMessageSize without WebSocketHandler in the same section: " \
        "mod_websocket does not merge sections, so paths matched here have no plugin" \
        in caplog.messages


def test_the_readme_config():
    config = load_config("readme-echo.conf", server_root=DATA)
    endpoint = config.route("/echo").endpoint
    assert endpoint.settings.plugin == str(DATA / "libexec/apache2/mod_websocket_echo.py")
    assert (endpoint.settings.init, endpoint.section.line, endpoint.settings.line) == (
        "echo_init", 8, 10)
    assert config.route("/echo/x").endpoint is not None and config.route("/echoes").endpoint is None
    assert "websocket_module" in config.modules


def test_the_two_module_layout_resolves_to_the_last_copy():
    config = load_config(DATA / "two-modules.conf")
    assert [s.line for s in config.websocket_sections()] == [8, 15]
    endpoint = config.route("/echo").endpoint
    assert (endpoint.section.line, endpoint.settings.support_draft75) == (15, True)
    assert {"mod_websocket_draft76.c", "websocket_draft76_module"} <= config.modules
    assert config.server_root == os.getcwd()


# Section errors


@pytest.mark.parametrize(("text", "line", "message"), [
    ("<Location>\n</Location>\n", 2, "<Location> directive requires additional arguments"),
    ("<Location /a>\n<Location /b>\n</Location>\n</Location>\n", 3,
     "<Location> cannot occur within <Location> section"),
    ("<Directory />\n<LocationMatch x>\n</LocationMatch>\n</Directory>\n", 3,
     "<LocationMatch> cannot occur within <Directory> section"),
    ("<LocationMatch (>\n</LocationMatch>\n", 2,
     "Regex could not be compiled: missing ), unterminated subpattern at position 0"),
    ("<Location /a /b>\n</Location>\n", 2, "Multiple <Location> arguments not (yet) supported."),
    ("<VirtualHost *:80>\n<VirtualHost *:81>\n</VirtualHost>\n</VirtualHost>\n", 3,
     "<VirtualHost> cannot occur within <VirtualHost> section"),
])
def test_section_errors(root, text, line, message):
    assert root.error(f"Listen 80\n{text}") == f"{root.conf}:{line}: {message}"


# Refusals: what geows does not serve, it does not start with


def test_virtualhost_without_websocket_is_read(root):
    config = root.load("""\
        Listen 80
        <VirtualHost *:80>
          <Location /status>
            SetHandler server-status
          </Location>
        </VirtualHost>
        """)
    (section,) = config.locations
    assert (section.vhost.file, section.vhost.line) == (root.conf, 2)
    assert config.websocket_sections() == []


def test_virtualhost_contents_are_still_checked(root):
    text = "Listen 80\n<VirtualHost *:80>\n<Location /x>\nMaxMessageSize big\n</Location>\n" \
           "</VirtualHost>\n"
    assert root.error(text).startswith(f"{root.conf}:4: Invalid maximum message size 'big'")


def test_server_level_websocket_handler_is_refused(root):
    assert root.error("Listen 80\nSetHandler websocket-handler\n") == (
        f"{root.conf}:2: SetHandler websocket-handler outside <Location> is not served by "
        "this version of geows")
    assert root.load("Listen 80\nSetHandler none\n").locations == []


def test_websocket_handler_in_other_sections_is_refused(root):
    text = "Listen 80\n<Directory /srv>\nWebSocketHandler a.py init\n</Directory>\n"
    assert root.error(text) == (
        f"{root.conf}:3: WebSocket handlers inside <Directory> are not served by this "
        "version of geows")


ECHO = textwrap.dedent("""\
    Listen 80
    <Location /echo>
      SetHandler websocket-handler
      WebSocketHandler echo.py echo_init
    </Location>
    """)


def test_tls_without_a_certificate_is_refused(root):
    text = "LoadModule ssl_module m.so\n<IfModule ssl_module>\nSSLEngine on\n</IfModule>\n"
    assert root.error(ECHO + text) == (
        f"{root.conf}:8: SSLEngine on: the server has no certificate [Hint: SSLCertificateFile]")
    assert root.load(f"{ECHO}SSLEngine off\n").route("/echo").endpoint


def test_https_listener_needs_a_tls_server(root):
    assert root.error("Listen 443 https\n") == (
        f"{root.conf}:1: the main server answers on the TLS listener at {root.conf}:1 (https) "
        "without SSLEngine on; geows refuses to start rather than serve TLS other than "
        "configured")


def test_ssl_protocol_is_read_as_mod_ssl_reads_it(root):
    for words, versions in [("all -SSLv3", ("TLSv1", "TLSv1.3")),
                            ("-all +TLSv1.2 +TLSv1.3", ("TLSv1.2", "TLSv1.3")),
                            ("TLSv1 +TLSv1.2", ("TLSv1.2", "TLSv1.2")),  # no holes
                            ("all -TLSv1.3", ("TLSv1", "TLSv1.2"))]:
        config = root.load(f"SSLProtocol {words}\n<VirtualHost *:80>\nSSLEngine on\n"
                           "</VirtualHost>\nListen 80\n", guard=False)
        assert config.virtual_hosts[0].tls.protocols == versions


def test_tls_in_an_unloaded_module_is_accepted(root):
    text = ECHO + "<Location />\nRequire all granted\n</Location>\n" \
        "<IfModule mod_ssl.c>\nSSLEngine on\n</IfModule>\n"
    assert root.load(text).route("/echo").endpoint is not None


# The status page (SetHandler geows-status)


def test_the_status_handler_is_the_last_matching_sethandler(root):
    config = root.load(ECHO + textwrap.dedent("""\
        <Location /geows-status>
          SetHandler geows-status
        </Location>
        <Location /geows-status/off>
          SetHandler None
        </Location>
        <LocationMatch ^/echo/status>
          SetHandler GEOWS-STATUS
        </LocationMatch>
        """))
    assert config.route("/geows-status/x").handler == "geows-status"
    assert config.route("/geows-status/off").handler == "none"
    assert config.route("/elsewhere").handler is None
    # A later section takes a WebSocket path over, and a status path is no endpoint.
    assert config.route("/echo/status").handler == "geows-status"
    assert config.route("/echo/status").endpoint is None
    assert config.route("/geows-status").endpoint is None
    assert config.route("/echo/x").endpoint is not None
    assert [s.pattern for s in config.status_sections()] == ["/geows-status", "^/echo/status"]
    assert [s.pattern for s in config.websocket_sections()] == ["/echo"]


@pytest.mark.parametrize(("text", "line", "message"), [
    ("SetHandler geows-status\n", 2, "SetHandler geows-status outside <Location> is not served "
     "by this version of geows"),
    ("<VirtualHost *:80>\nSetHandler geows-status\n</VirtualHost>\n", 3,
     "SetHandler geows-status outside <Location> is not served by this version of geows"),
    ("<Directory /srv>\nSetHandler geows-status\n</Directory>\n", 3,
     "Status pages inside <Directory> are not served by this version of geows"),
])
def test_the_status_handler_outside_a_location_is_refused(root, text, line, message):
    assert root.error(f"Listen 80\n{text}") == f"{root.conf}:{line}: {message}"


# Globs as apr_fnmatch reads them, found by the mutation run (tests/mutation.sh).
@pytest.mark.parametrize(("pattern", "matched", "unmatched"), [
    ("/a\\*b*", ["/a*b", "/a*bc"], ["/axb", "/a*c"]),  # a backslash makes '*' a character
    ("/a*\\", ["/ab\\"], ["/ab"]),                   # a last backslash is one itself
    ("/x[ab]", ["/xa", "/xb"], ["/x]", "/xX", "/x"]),
    ("/x[a-c]", ["/xb", "/xc"], ["/x-", "/xd"]),     # a range
    ("/[a]b]", ["/ab]"], ["/b", "/a"]),              # the first ']' closes the set
    ("/x[!]]", ["/xa"], ["/x]", "/xa]"]),            # ']' first in a negated set: a member
])
def test_glob_sets_and_escapes(pattern, matched, unmatched):
    match = location_matcher(pattern, False)
    assert [path for path in matched + unmatched if match(path)] == matched


def test_substitute_takes_a_missing_group_as_empty():
    """ap_pregsub: $1 of a pattern without groups is empty, $0 the whole match, and a
    backslash escapes (found by the mutation run)."""
    match = re.search("/ws", "/ws/chat")
    assert substitute("/x$1y$0\\$2", match) == "/xy/ws$2"


@pytest.mark.parametrize(("pattern", "wildcard"), [
    ("/a*", True), ("/a?", True), ("/[a]", True), ("/\\a*", True),
    ("/a]", False), ("/X]", False),          # a ']' with no '[' before it
    ("/a\\*", False), ("/a\\?b", False),     # escaped
    ("/[\\]", False),                        # the ']' that would close the set is escaped
    ("/a]\\", False),                        # a last backslash escapes nothing
])
def test_has_wildcard_as_apr_fnmatch_test(pattern, wildcard):
    """Found by the mutation run: what is no wildcard is matched as a prefix."""
    assert has_wildcard(pattern) is wildcard
    assert location_matcher(pattern, False)(pattern + "/x") is not wildcard


def test_host_port_as_httpd_writes_an_address():
    assert [host_port(host, 80) for host in (None, "", "192.0.2.1", "::1")] == \
        ["*:80", "*:80", "192.0.2.1:80", "[::1]:80"]
