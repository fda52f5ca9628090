"""<VirtualHost>: which vhost serves a request, and how its Locations merge with the main
server's. tests/httpd checks the same against the real httpd."""

import pytest

from geows.errors import ConfigError

VHOSTS = """\
    Listen 8080
    Listen 8081
    ServerName main.test
    <Location /ws>
      SetHandler websocket-handler
      WebSocketHandler main.py main_init
    </Location>
    <VirtualHost *:8080>
      ServerName one.test
      <Location /ws/off>
        SetHandler None
      </Location>
    </VirtualHost>
    <VirtualHost *:8080>
      ServerName two.test
      ServerAlias *.two.test www.?.test
      <Location /ws>
        WebSocketHandler two.py two_init
      </Location>
    </VirtualHost>
    <VirtualHost 127.0.0.1:8081>
      <Location /ws>
        WebSocketHandler ip.py ip_init
      </Location>
    </VirtualHost>
    """


def init(config, path, host, port, local_ip="127.0.0.1"):
    endpoint = config.route(path, host=host, port=port, local_ip=local_ip).endpoint
    return endpoint and endpoint.settings.init


@pytest.mark.parametrize(("host", "port", "local_ip", "expected"), [
    ("two.test", 8080, "127.0.0.1", "two_init"),
    ("TWO.test.:8080", 8080, "127.0.0.1", "two_init"),  # lowercased, port and dot dropped
    ("a.b.two.test", 8080, "127.0.0.1", "two_init"),    # '*' matches dots too
    ("www.x.test", 8080, "127.0.0.1", "two_init"),
    ("www.xy.test", 8080, "127.0.0.1", "main_init"),    # the default vhost: one.test
    ("nobody.test", 8080, "::1", "main_init"),
    ("two.test", 8081, "127.0.0.1", "ip_init"),         # one vhost on the address: no names
    ("two.test", 8081, "::1", "main_init"),             # no vhost: the main server
    ("two.test", 9999, "127.0.0.1", "main_init"),
])
def test_vhost_selection(root, host, port, local_ip, expected):
    assert init(root.load(VHOSTS), "/ws/x", host, port, local_ip) == expected


def test_main_server_sections_come_first_and_the_vhost_overrides(root):
    config = root.load(VHOSTS)
    assert init(config, "/ws/off", "one.test", 8080) is None
    assert init(config, "/ws/off", "two.test", 8080) == "two_init"
    assert [s.line for s in config.route("/ws/off", "one.test", 8080, "127.0.0.1").sections] \
        == [4, 10]
    # Without a port, as before virtual hosts: the main server alone.
    assert config.route("/ws/off").endpoint.settings.init == "main_init"


def test_vhost_names_and_addresses(root):
    config = root.load("""\
        Listen 80
        ServerName main.test:80
        <VirtualHost *:80 [::1]:81 _default_:* 127.0.0.1>
          ServerAlias a.test
        </VirtualHost>
        """)
    (vhost,) = config.virtual_hosts
    assert vhost.server_name == "main.test"  # a wildcard vhost without one takes the main's
    assert vhost.aliases == ("a.test",)
    assert [(a.ip, a.port, a.text) for a in vhost.addresses] == [
        (None, 80, "*"), ("::1", 81, "::1"), (None, 0, "_default_"),
        ("127.0.0.1", 0, "127.0.0.1")]


@pytest.mark.parametrize(("text", "message"), [
    ("<VirtualHost 80>\n</VirtualHost>", "Missing address for VirtualHost"),
    ("<VirtualHost *:0>\n</VirtualHost>", "The address or port is invalid"),
    ("<VirtualHost :80>\n</VirtualHost>", "The address or port is invalid"),
    ("ServerAlias a.test", "ServerAlias only used in <VirtualHost>"),
    ("ServerName a:0", 'The port number "a:0" is outside the appropriate range (i.e., 1..65535).'),
    ("ServerName *.test", 'Invalid ServerName "*.test" use ServerAlias to set multiple server '
                          "names."),
    ("<VirtualHost *:80>\nSetHandler websocket-handler\n</VirtualHost>",
     "SetHandler websocket-handler outside <Location> is not served by this version of geows"),
])
def test_vhost_errors(root, text, message):
    with pytest.raises(ConfigError) as info:
        root.load(f"Listen 80\n{text}\n")
    assert info.value.message == message


def test_unresolvable_vhost_address_is_ignored(root):
    config = root.load("Listen 80\n<VirtualHost 127.0.0.1:8a>\n</VirtualHost>\n")
    assert config.virtual_hosts[0].addresses == ()


SERVERS = """\
    Listen 127.0.0.1:8080
    Listen 127.0.0.2:8080
    LimitRequestLine 500
    <Location /ws>
      SetHandler websocket-handler
      WebSocketHandler main.py main_init
    </Location>
    <VirtualHost 127.0.0.1:8080>
      ServerName a.test
      DocumentRoot {vdoc}
      LimitRequestLine 100
    </VirtualHost>
    <VirtualHost 127.0.0.2:*>
      ServerName any.test
      <Location /ws>
        SetHandler None
      </Location>
    </VirtualHost>
    """


def test_the_servers_of_each_address(root):
    """Found by the mutation run: a listener's servers (the main server's only where no
    vhost covers its address), the head limits of the server answering on an address, and
    a route without a port, which no vhost serves (not even one on every port)."""
    vdoc = str(root.path / "vdoc")
    (root.path / "vdoc").mkdir()
    config = root.load(SERVERS.format(vdoc=vdoc))
    first, second = config.listeners
    one, every_port = config.virtual_hosts
    assert config.servers_on(first) == [one]
    assert config.servers_on(second) == [every_port]
    assert config.request_limits_for(8080, "127.0.0.1").limit_request_line == 100
    assert config.request_limits_for(8080, "::1").limit_request_line == 500
    assert config.route("/ws/x", "any.test", 8080, "127.0.0.2").endpoint is None
    assert config.route("/ws/x", "any.test", None, "127.0.0.2").endpoint.settings.init == \
        "main_init"
    assert config.route("/x", "a.test", 8080, "127.0.0.1").file_name == f"{vdoc}/x"


def test_each_websocket_handler_is_named_by_its_section(root):
    config = root.load(VHOSTS)
    names = {settings.init: name for settings, name in config.location_names().items()}
    assert sorted(names) == ["ip_init", "main_init", "two_init"]
    assert names["main_init"] == "<Location /ws>"
    assert names["two_init"] == "<Location /ws> in <VirtualHost *:8080> two.test"
    # an IP-based vhost is named by its address' reverse lookup, whatever this machine's is
    assert names["ip_init"].startswith("<Location /ws> in <VirtualHost 127.0.0.1:8081>")
