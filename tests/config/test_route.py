"""Config.route: everything a request's path, Host and local address decide, in one vhost
selection and one pass over the <Location>s (tests/runtime/test_route_once.py counts the
same for a whole handshake)."""

from __future__ import annotations

from collections import Counter

import pytest

from geows.config import model, vhosts

ROUTED = """\
    Listen 8080
    ServerName main.test
    CustomLog main.log common
    ProxyPass /app http://127.0.0.1:9000/app
    <Location /ws>
      SetHandler websocket-handler
      WebSocketHandler main.py main_init
      Require all granted
    </Location>
    <Location /status>
      SetHandler geows-status
    </Location>
    <Location /files>
      Alias /srv/files
    </Location>
    <VirtualHost *:8080>
      ServerName one.test
    </VirtualHost>
    <VirtualHost *:8080>
      ServerName two.test
      CustomLog two.log common
      ProxyPass /two http://127.0.0.1:9001/two
      <Location /ws/two>
        WebSocketHandler two.py two_init
        Require ip 127.0.0.1
      </Location>
    </VirtualHost>
    """


def test_a_route_holds_what_the_request_is_served_by(root):
    config = root.load(ROUTED)
    two = config.virtual_hosts[1]
    route = config.route("/ws/two/x", "two.test", 8080, "127.0.0.1")
    assert route.vhost is two
    assert [s.pattern for s in route.sections] == ["/ws", "/ws/two"]  # main's first
    assert route.handler == "websocket-handler"
    assert route.endpoint.settings.init == "two_init"  # the last of mod_websocket's, whole
    assert route.proxy_pass is None
    assert route.file_name == "/var/www/html/ws/two/x"
    assert route.logs is two.logs
    assert [line.args for s in route.access_locations for line in s.lines] == [
        ("all", "granted"), ("ip", "127.0.0.1")]


def test_a_route_tells_the_status_page_proxy_pass_and_alias(root):
    config = root.load(ROUTED)
    status = config.route("/status", "one.test", 8080, "127.0.0.1")
    assert (status.handler, status.endpoint) == ("geows-status", None)
    assert status.logs is config.virtual_hosts[0].logs
    assert status.logs.access_logs == config.logs.access_logs  # one.test has none of its own
    # mod_proxy merges a vhost's lines after the main server's.
    assert config.route("/app/x", "two.test", 8080).proxy_pass.prefix == "/app"
    assert config.route("/two/x", "two.test", 8080).proxy_pass.prefix == "/two"
    assert config.route("/two/x", "one.test", 8080).proxy_pass is None
    assert config.route("/files/a", "one.test", 8080).file_name == "/srv/files"
    assert config.route("/elsewhere", "one.test", 8080).access_locations == []


def test_without_port_only_the_main_servers_sections_apply(root):
    config = root.load(ROUTED)
    route = config.route("/ws/two/x", "two.test")
    assert route.vhost is None and route.endpoint.settings.init == "main_init"
    assert route.logs is config.logs


@pytest.fixture
def counts(monkeypatch) -> Counter:
    """Calls of vhost selection and of the sections' matching, counted (and delegated)."""
    counted: Counter = Counter()
    for cls, name in ((vhosts.VirtualHostTable, "select"), (vhosts.VirtualHostTable, "default"),
                      (model.LocationSection, "matches"), (model.AccessSection, "matches")):
        original = getattr(cls, name)

        def counting(*args, _original=original, _key=f"{cls.__name__}.{name}", **kwargs):
            counted[_key] += 1
            return _original(*args, **kwargs)
        monkeypatch.setattr(cls, name, counting)
    return counted


def test_a_route_selects_the_vhost_once_and_walks_each_location_at_most_once(root, counts):
    config = root.load(ROUTED)
    route = config.route("/ws/two/x", "two.test", 8080, "127.0.0.1")
    config.access_sections(route)
    assert counts == {"VirtualHostTable.select": 1, "LocationSection.matches": 4}
