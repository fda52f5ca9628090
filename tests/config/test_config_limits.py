"""LimitRequest*, as httpd's core reads them (contexts and values checked with apache2 -t
and against a running apache2: see geows.config.vhosts.RequestLimits)."""

from __future__ import annotations

import logging

import pytest

from geows import limits
from geows.config.vhosts import RequestLimits

LISTEN = "Listen 127.0.0.1:8080\n"


def test_defaults_are_httpds(root):
    config = root.load(LISTEN)
    assert config.request_limits == RequestLimits(limits.LIMIT_REQUEST_LINE,
                                                  limits.LIMIT_REQUEST_FIELDS,
                                                  limits.LIMIT_REQUEST_FIELD_SIZE)


def test_values_are_read_as_atoi(root):
    config = root.load(LISTEN + "LimitRequestLine 8k\nLimitRequestFields x\n"
                       "LimitRequestFieldSize 300\n")
    assert config.request_limits == RequestLimits(8, 0, 300)


@pytest.mark.parametrize(("directive", "message"), [
    ("LimitRequestLine -1", 'LimitRequestLine "-1" must be a non-negative integer'),
    ("LimitRequestFields -1",
     'LimitRequestFields "-1" must be a non-negative integer (0 = no limit)'),
    ("LimitRequestFieldSize -5", 'LimitRequestFieldsize "-5" must be a non-negative integer'),
])
def test_negative_values_are_refused_with_httpds_message(root, directive, message):
    assert root.error(LISTEN + directive + "\n") == f"{root.conf}:2: {message}"


def test_not_allowed_in_a_location(root):
    message = root.error(LISTEN + "<Location /x>\nLimitRequestLine 100\n</Location>\n")
    assert message == f"{root.conf}:3: LimitRequestLine not allowed here"


def test_a_vhost_sets_its_own_and_inherits_the_rest(root):
    config = root.load(LISTEN + """
        LimitRequestFields 3
        LimitRequestLine 500
        <VirtualHost *:8080>
          ServerName first
          LimitRequestLine 100
          LimitRequestFields 0
        </VirtualHost>
        <VirtualHost *:8080>
          ServerName second
        </VirtualHost>
        """)
    first, second = config.virtual_hosts
    assert first.request_limits == RequestLimits(100, 0, limits.LIMIT_REQUEST_FIELD_SIZE)
    assert second.request_limits == RequestLimits(500, 3, limits.LIMIT_REQUEST_FIELD_SIZE)
    # httpd reads the head before it picks a vhost by name: the default vhost's apply.
    assert config.request_limits_for(8080, "127.0.0.1") == first.request_limits


def test_websocket_origin_is_per_location_and_not_merged(root):
    config = root.load(LISTEN + """
        <Location /ws>
          SetHandler websocket-handler
          WebSocketHandler p.py init
          WebSocketOrigin https://A.test http://b.test:8080 null
        </Location>
        <Location /ws/open>
          WebSocketHandler p.py init
        </Location>
        """)
    ws = config.route("/ws").endpoint.settings
    # geows' older directive: WebSocketOriginCheck Trusted, with these (lowercased) origins.
    assert (ws.origin_check, ws.trusted_origins) == (
        "trusted", ("https://a.test", "http://b.test:8080", "null"))
    assert ws.origin_refusal("https://a.test", "http://h") is None
    assert ws.origin_refusal(None, "http://h") is None
    assert ws.origin_refusal("https://c.test", "http://h")
    opened = config.route("/ws/open").endpoint.settings   # the module's no-merge rule
    assert (opened.origin_check, opened.trusted_origins) == ("same", ())


def test_websocket_origin_refuses_what_is_not_an_origin(root):
    message = root.error(LISTEN + "<Location /ws>\nWebSocketOrigin https://a.test/path\n"
                         "</Location>\n")
    assert message.startswith(f"{root.conf}:3: WebSocketOrigin: 'https://a.test/path' is not")


def test_max_request_workers_at_server_level_only(root):
    assert root.load(LISTEN).max_connections is None
    assert root.load(LISTEN + "MaxRequestWorkers 5000\n").max_connections == 5000
    assert root.load(LISTEN + "MaxClients 7\n").max_connections == 7
    assert root.load(LISTEN + "MaxRequestWorkers 0\n").max_connections == 1  # raised, warned
    message = root.error(LISTEN + "<VirtualHost *:8080>\nMaxRequestWorkers 5\n</VirtualHost>\n")
    assert message == f"{root.conf}:3: MaxRequestWorkers cannot occur within <VirtualHost> section"


def test_websocket_message_memory_at_server_level_only(root):
    assert root.load(LISTEN).message_memory == limits.MESSAGE_MEMORY
    assert root.load(LISTEN + "WebSocketMessageMemory 1048576\n").message_memory == 1048576
    message = root.error(LISTEN + "<VirtualHost *:8080>\nWebSocketMessageMemory 5\n"
                                  "</VirtualHost>\n")
    assert message == (f"{root.conf}:3: WebSocketMessageMemory cannot occur within "
                       "<VirtualHost> section")
    message = root.error(LISTEN + "<Location /ws>\nWebSocketMessageMemory 5\n</Location>\n")
    assert message == f"{root.conf}:3: WebSocketMessageMemory not allowed here"


def test_websocket_watchdog_at_server_level_only(root):
    assert root.load(LISTEN).watchdog == limits.WATCHDOG
    assert root.load(LISTEN + "WebSocketWatchdog 0.25\n").watchdog == 0.25
    assert root.load(LISTEN + "WebSocketWatchdog 3\n").watchdog == 3.0
    assert root.load(LISTEN + "WebSocketWatchdog off\n").watchdog is None
    for value in ("0", "-1", "1s", "x"):
        message = root.error(LISTEN + f"WebSocketWatchdog {value}\n")
        assert message == (f"{root.conf}:2: WebSocketWatchdog '{value}': expected a number of "
                           "seconds greater than 0, or Off")
    message = root.error(LISTEN + "<Location /ws>\nWebSocketWatchdog 5\n</Location>\n")
    assert message == f"{root.conf}:3: WebSocketWatchdog not allowed here"


def test_a_max_message_size_over_websocket_message_memory_is_warned_about(root, caplog):
    caplog.set_level(logging.WARNING, "geows.config")
    text = LISTEN + """WebSocketMessageMemory 1000000
        <Location /ws>
          SetHandler websocket-handler
          WebSocketHandler p.py init
          MaxMessageSize 1000000
        </Location>
        <Location /big>
          SetHandler websocket-handler
          WebSocketHandler p.py init
          MaxMessageSize 1000001
        </Location>
        """
    config = root.load(text)
    assert config.route("/big").endpoint.settings.max_message_size == 1000001   # served as it says
    assert caplog.messages == [
        f"{root.conf}:8: MaxMessageSize 1000001 is more than WebSocketMessageMemory (1000000 "
        "bytes): a fragmented or compressed message larger than that is refused (1009)"]
    caplog.clear()
    root.load(LISTEN + "<Location /ws>\nSetHandler websocket-handler\n"
                       "WebSocketHandler p.py init\n</Location>\n")
    assert caplog.messages == []   # the defaults agree


@pytest.mark.parametrize("value", ["64M", "0", "-5", "1e9", "+5", "\u0661\u0662", "5 6"])
def test_websocket_message_memory_takes_digits_only(root, value):
    message = root.error(LISTEN + f"WebSocketMessageMemory {value}\n")
    if value == "5 6":
        assert message == (f"{root.conf}:2: WebSocketMessageMemory takes one argument, the "
                           "bytes one worker's incomplete messages may hold together")
    else:
        assert message == (f"{root.conf}:2: WebSocketMessageMemory '{value}': expected a "
                           "positive number of bytes (digits only)")


def test_websocket_ping_is_per_location_and_not_merged(root):
    config = root.load(LISTEN + """
        <Location /ws>
          SetHandler websocket-handler
          WebSocketHandler p.py init
          WebSocketPing 30
        </Location>
        <Location /ws/fast>
          WebSocketHandler p.py init
          WebSocketPing 0.5 2.5
        </Location>
        <Location /ws/fast/off>
          WebSocketHandler p.py init
          WebSocketPing off
        </Location>
        <Location /ws/open>
          WebSocketHandler p.py init
        </Location>
        """)
    assert config.route("/ws").endpoint.settings.ping == (30.0, limits.PING_TIMEOUT)
    assert config.route("/ws/fast").endpoint.settings.ping == (0.5, 2.5)
    assert config.route("/ws/fast/off").endpoint.settings.ping is None
    assert config.route("/ws/open").endpoint.settings.ping is None  # the module's no-merge rule


@pytest.mark.parametrize(("arguments", "message"), [
    ("0", "WebSocketPing interval '0': expected a number of seconds greater than 0"),
    ("-5", "WebSocketPing interval '-5': expected"),
    ("soon", "WebSocketPing interval 'soon': expected"),
    ("inf", "WebSocketPing interval 'inf': expected"),
    ("40000", "WebSocketPing interval '40000': expected a number of seconds greater than 0 "
              "and at most 32767"),
    ("10 0", "WebSocketPing timeout '0': expected"),
    ("10 1e3", "WebSocketPing timeout '1e3': expected"),
    ("Off 10", "WebSocketPing Off takes no timeout"),
    ("1 2 3", "WebSocketPing takes 1-2 arguments, the seconds of silence before a ping"),
])
def test_websocket_ping_refuses_nonsense(root, arguments, message):
    text = LISTEN + f"<Location /ws>\nWebSocketPing {arguments}\n</Location>\n"
    assert root.error(text).startswith(f"{root.conf}:3: {message}")


def test_websocket_ping_belongs_in_a_directory_section(root):
    assert root.error(LISTEN + "WebSocketPing 10\n") == \
        f"{root.conf}:2: WebSocketPing not allowed here"
