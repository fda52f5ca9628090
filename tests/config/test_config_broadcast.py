"""WebSocketBroadcast* as the config reads them: the Redis URL's forms, its errors at
FILE:LINE (never with the password), its redacted form, and the client's arguments."""

from __future__ import annotations

import pytest

from geows import limits
from geows.cluster.url import parse_redis_url
from geows.errors import ConfigError
from tests.geows_process import REPO

LISTEN = "Listen 127.0.0.1:8080\n"
LOCATION = (f"<Location /echo>\nSetHandler websocket-handler\n"
            f"WebSocketHandler {REPO}/plugins/echo.py echo_init\n{{}}</Location>\n")


def test_broadcast_is_off_by_default_and_with_off(root):
    assert root.load(LISTEN).broadcast is None
    assert root.load(LISTEN + "WebSocketBroadcast redis://h\nWebSocketBroadcast Off\n"
                     ).broadcast is None


def test_the_settings_and_their_defaults(root):
    settings = root.load(LISTEN + "WebSocketBroadcast redis://h:7000/3\n").broadcast
    assert (settings.url.host, settings.url.port, settings.url.db) == ("h", 7000, 3)
    assert (settings.prefix, settings.history) == (limits.BROADCAST_PREFIX,
                                                   limits.BROADCAST_HISTORY)
    assert (settings.file, settings.line) == (root.conf, 2)
    settings = root.load(LISTEN + "WebSocketBroadcast redis://h\nWebSocketBroadcastPrefix "
                         "chat\nWebSocketBroadcastHistory 50\n").broadcast
    assert (settings.url.port, settings.url.db, settings.prefix, settings.history) == (
        6379, 0, "chat", 50)


def test_the_scope_per_location(root):
    config = root.load(LISTEN + LOCATION.format(""))
    assert config.locations[0].websocket.broadcast_scope == "cluster"
    config = root.load(LISTEN + LOCATION.format("WebSocketBroadcastScope Host\n"))
    assert config.locations[0].websocket.broadcast_scope == "host"
    message = root.error(LISTEN + LOCATION.format("WebSocketBroadcastScope world\n"))
    assert message == f"{root.conf}:5: WebSocketBroadcastScope must be cluster or host"
    message = root.error(LISTEN + "WebSocketBroadcastScope host\n")
    assert message == f"{root.conf}:2: WebSocketBroadcastScope not allowed here"


@pytest.mark.parametrize(("line", "message"), [
    ("WebSocketBroadcast http://u:pw@h", "WebSocketBroadcast: expected redis://host[:port]"
     "[/db], rediss://..., unix:///path or Off, not 'http://***@h'"),
    ("WebSocketBroadcast h:6379", "WebSocketBroadcast: expected redis://host[:port][/db], "
     "rediss://..., unix:///path or Off, not 'h:6379'"),
    ("WebSocketBroadcast redis://:pw@h:99999", "WebSocketBroadcast: the port must be a "
     "number from 1 to 65535"),
    ("WebSocketBroadcast redis://h:0", "WebSocketBroadcast: the port must be a number from "
     "1 to 65535"),
    ("WebSocketBroadcast redis://:pw@/0", "WebSocketBroadcast: the URL names no host"),
    ("WebSocketBroadcast redis://h/x", "WebSocketBroadcast: the database must be a number, "
     "not 'x'"),
    ("WebSocketBroadcast redis://h?timeout=1", "WebSocketBroadcast: redis:// takes no option "
     "'timeout' (it takes db)"),
    ("WebSocketBroadcast rediss://h?ssl_cert_reqs=maybe", "WebSocketBroadcast: ssl_cert_reqs "
     "must be none, optional or required, not 'maybe'"),
    ("WebSocketBroadcast rediss://h?ssl_check_hostname=1", "WebSocketBroadcast: "
     "ssl_check_hostname must be true or false"),
    ("WebSocketBroadcast unix://", "WebSocketBroadcast: unix:// needs the socket's path, as "
     "unix:///run/redis/redis.sock"),
    ("WebSocketBroadcast unix:///s?ssl_certfile=x", "WebSocketBroadcast: unix:// takes no "
     "option 'ssl_certfile' (it takes db)"),
    ("WebSocketBroadcast redis://h#x", "WebSocketBroadcast: a Redis URL has no #fragment"),
    ("WebSocketBroadcastHistory 0", "WebSocketBroadcastHistory '0': expected a positive "
     "number of messages (digits only)"),
    ("WebSocketBroadcastPrefix a:b", "WebSocketBroadcastPrefix 'a:b': expected a prefix "
     "without blanks or ':'"),
])
def test_a_bad_value_is_an_error_at_its_line(root, line, message):
    assert root.error(LISTEN + line + "\n") == f"{root.conf}:2: {message}"


def test_redacted_forms_never_show_the_password():
    assert parse_redis_url("redis://u:p%40ss@h:1/2", "/").redacted == "redis://u:***@h:1/2"
    assert parse_redis_url("redis://:pw@h", "/").redacted == "redis://:***@h:6379/0"
    assert parse_redis_url("redis://u@h", "/").redacted == "redis://u@h:6379/0"
    assert parse_redis_url("redis://[::1]:7", "/").redacted == "redis://[::1]:7/0"
    assert parse_redis_url("unix://:pw@/run/r.sock?db=4", "/").redacted == \
        "unix://:***@/run/r.sock?db=4"
    url = parse_redis_url("rediss://:pw@h?ssl_cert_reqs=REQUIRED&ssl_ca_certs=ca.pem", "/srv")
    assert url.redacted == "rediss://:***@h:6379/0?ssl_ca_certs=/srv/ca.pem&ssl_cert_reqs=required"
    assert "pw" not in repr(url)


def test_the_clients_arguments():
    url = parse_redis_url("redis://u:p%40ss@h:1/2", "/")
    assert url.connection_arguments() == {"db": 2, "username": "u", "password": "p@ss",
                                          "host": "h", "port": 1}
    url = parse_redis_url("unix:///run/r.sock?db=4", "/")
    assert url.connection_arguments() == {"db": 4, "username": None, "password": None,
                                          "unix_socket_path": "/run/r.sock"}
    url = parse_redis_url("rediss://h?ssl_certfile=c.pem&ssl_keyfile=/k.pem"
                          "&ssl_cert_reqs=none&ssl_check_hostname=false", "/srv")
    assert url.connection_arguments() == {
        "db": 0, "username": None, "password": None, "host": "h", "port": 6379, "ssl": True,
        "ssl_certfile": "/srv/c.pem", "ssl_keyfile": "/k.pem", "ssl_cert_reqs": "none",
        "ssl_check_hostname": False}


def test_parse_raises_config_errors_only():
    with pytest.raises(ConfigError):
        parse_redis_url("redis://h:-1", "/")
