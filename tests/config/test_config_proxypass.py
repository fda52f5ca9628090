"""ProxyPass: the backends geows forwards to when it takes the public port (geows/forward.py)."""

import logging

import pytest

CONFIG = """
Listen 127.0.0.1:8080
ProxyPass /private !
ProxyPass /app http://127.0.0.1:8081/v2/
ProxyPass /tls https://127.0.0.1/
ProxyPass /slow http://127.0.0.1:8081/ timeout=5
ProxyPass /ws ws://[::1]:8082
ProxyPass / http://backend.test/
<VirtualHost *:8080>
  ServerName vhost.test
  ProxyPass /app http://127.0.0.1:9999/
  ProxyPass /own http://127.0.0.1:9998/own/
</VirtualHost>
<VirtualHost *:8080>
  ServerName other.test
</VirtualHost>
"""


def forwarding(config, path, host="vhost.test"):
    entry = config.route(path, host, 8080, "127.0.0.1").proxy_pass
    return entry and (entry.backend, entry.rewrite(path), entry.line)


def test_first_match_wins_main_server_before_vhost(root):
    config = root.load(CONFIG)
    assert forwarding(config, "/app/x") == (("127.0.0.1", 8081), "/v2//x", 4)
    assert forwarding(config, "/apple") == (("backend.test", 80), "/apple", 8)
    assert forwarding(config, "/private/x") == (None, "/x", 3)
    assert forwarding(config, "/ws/a") == (("::1", 8082), "/a", 7)
    # mod_proxy appends a vhost's lines to the main server's: "/" took /own already.
    assert forwarding(config, "/own/a") == (("backend.test", 80), "/own/a", 8)
    assert forwarding(config, "/x", host="other.test") == (("backend.test", 80), "/x", 8)


def test_not_honoured_lines_warn_and_forward_nothing(root, caplog):
    with caplog.at_level(logging.WARNING, "geows.config"):
        config = root.load(CONFIG)
    assert forwarding(config, "/tls/a") == (None, "/a", 5)
    assert forwarding(config, "/slow") == (None, "/", 6)
    messages = [r.getMessage() for r in caplog.records]
    assert f"{root.conf}:5: ProxyPass /tls https://127.0.0.1/: geows forwards to http:// and " \
           "ws:// only, not https:; geows answers 404 for /tls" in messages
    assert f"{root.conf}:6: ProxyPass /slow http://127.0.0.1:8081/: parameters (timeout=5) " \
           "are not honoured by geows; geows answers 404 for /slow" in messages


def test_in_a_location_is_a_warning(root, caplog):
    with caplog.at_level(logging.WARNING, "geows.config"):
        config = root.load("Listen 80\n<Location /a>\n  ProxyPass http://b/\n</Location>\n")
    assert config.route("/a", None, 80).proxy_pass is None
    assert "ProxyPass inside <Location> is not honoured by geows" in caplog.text


@pytest.mark.parametrize(("line", "message"), [
    ("ProxyPass /a", "ProxyPass needs a path when not defined in a location"),
    ("ProxyPass /a backend", "ProxyPass URL must be absolute!"),
    ("ProxyPass /a http://b:x/", "ProxyPass URL http://b:x/: invalid port"),
])
def test_errors(root, line, message):
    assert root.error(f"Listen 80\n{line}\n") == f"{root.conf}:2: {message}"


def test_the_upgrade_parameter_is_read_as_mod_proxy_reads_it(root, caplog):
    with caplog.at_level(logging.WARNING, "geows.config"):
        config = root.load("Listen 80\n"
                           "ProxyPass /any http://b/ upgrade=ANY\n"
                           "ProxyPass /two ws://b/ UPGRADE=Foo,bar\n"
                           "ProxyPass /empty http://b/ upgrade=\n"
                           "ProxyPass /more http://b/ upgrade=foo timeout=5\n"
                           "ProxyPass / http://b/\n")
    upgrades = {path: config.route(path, None, 80).proxy_pass.upgrade
                for path in ("/any", "/two", "/empty", "/")}
    assert upgrades == {"/any": ("*",), "/two": ("foo", "bar"), "/empty": ("websocket",),
                        "/": ("websocket",)}
    assert config.route("/two", None, 80).proxy_pass.allows_upgrade("FOO")
    assert not config.route("/two", None, 80).proxy_pass.allows_upgrade("foo, bar")  # one, whole
    assert not config.route("/", None, 80).proxy_pass.allows_upgrade("h2c")
    assert config.route("/more", None, 80).proxy_pass.backend is None  # timeout= is not honoured
    assert f"{root.conf}:5: ProxyPass /more http://b/: parameters (timeout=5) are not " \
           "honoured by geows; geows answers 404 for /more" in caplog.text


def test_an_upgrade_protocol_too_long_for_httpd_is_refused(root):
    assert root.error("Listen 80\nProxyPass / http://b/ upgrade=abcdefghijklmnop\n") == \
        f"{root.conf}:2: ProxyPass upgrade protocol length must be < 16 characters"
    assert root.load("Listen 80\nProxyPass / http://b/ upgrade=abcdefghijklmno\n")
