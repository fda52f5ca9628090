"""The maintained mod_websocket's directives (WebSocketOriginCheck, WebSocketTrustedOrigin,
WebSocketMaxMessageSize, WebSocketAllowReservedStatusCodes): what they set, where they may
appear (OR_AUTHCFG) and the module's no-merge rule."""

from __future__ import annotations

import logging

import pytest

from geows import limits
from geows.config.model import WebSocketSettings

LISTEN = "Listen 127.0.0.1:8080\n"


def settings(root, lines: str):
    config = root.load(LISTEN + "<Location /ws>\nSetHandler websocket-handler\n"
                       f"WebSocketHandler p.py init\n{lines}</Location>\n")
    return config.route("/ws").endpoint.settings


def settings_of(**fields) -> WebSocketSettings:
    return WebSocketSettings(plugin="/p.py", init="init", file="f", line=1, **fields)


def test_defaults_are_the_modules(root):
    ws = settings(root, "")
    assert (ws.origin_check, ws.trusted_origins, ws.allow_reserved_codes) == ("same", (), False)


@pytest.mark.parametrize(("value", "mode"), [("Off", "off"), ("same", "same"),
                                             ("TRUSTED", "trusted")])
def test_origin_check_in_any_case(root, value, mode):
    assert settings(root, f"WebSocketOriginCheck {value}\n").origin_check == mode


def test_origin_check_refuses_other_words_with_the_modules_message(root):
    message = root.error(LISTEN + "<Location /ws>\nWebSocketOriginCheck Strict\n</Location>\n")
    assert message == f"{root.conf}:3: WebSocketOriginCheck must be Off, Same, or Trusted"


def test_trusted_origins_are_kept_as_written_and_add_up(root):
    ws = settings(root, "WebSocketOriginCheck Trusted\n"
                        "WebSocketTrustedOrigin https://A.test null\n"
                        "WebSocketTrustedOrigin http://b.test:8080\n")
    assert ws.trusted_origins == ("https://A.test", "null", "http://b.test:8080")
    assert ws.origin_refusal("https://A.test", "http://ws") is None
    assert "not a WebSocketTrustedOrigin" in ws.origin_refusal("https://a.test", "http://ws")


def test_trusted_origins_without_trusted_warn(root, caplog):
    with caplog.at_level(logging.WARNING, logger="geows.config"):
        settings(root, "WebSocketTrustedOrigin https://a.test\n")
    assert "WebSocketTrustedOrigin is not used: the location's WebSocketOriginCheck is " \
           "Same, not Trusted" in caplog.text


@pytest.mark.parametrize(("origin", "refused"), [
    (None, False),                         # not a browser: always passes
    ("http://ws.test:8080", False),
    ("http://ws.test", True),
    ("https://ws.test:8080", True),
    ("HTTP://WS.TEST:8080", True),         # byte for byte, as the module compares
    ("null", True),
])
def test_same_compares_with_the_requests_own_origin(origin, refused):
    ws = settings_of(origin_check="same")
    assert (ws.origin_refusal(origin, "http://ws.test:8080") is not None) is refused


def test_off_lets_every_origin_through():
    assert settings_of(origin_check="off").origin_refusal("http://evil.test", "http://ws") is None


def test_websocket_max_message_size_is_max_message_size(root):
    assert settings(root, "WebSocketMaxMessageSize 4\n").max_message_size == 4
    assert settings(root, "MaxMessageSize 5\n").max_message_size == 5
    assert settings(root, "MaxMessageSize 5\nWebSocketMaxMessageSize 6\n").max_message_size == 6


def test_websocket_max_message_size_is_read_as_the_module_reads_it(root, caplog):
    with caplog.at_level(logging.WARNING, logger="geows.config"):
        assert settings(root, "WebSocketMaxMessageSize 10k\n").max_message_size == 10
    assert "WebSocketMaxMessageSize 10k is read as 10 bytes" in caplog.text
    message = root.error(LISTEN + "<Location /ws>\nWebSocketMaxMessageSize 0\n</Location>\n")
    assert message.startswith(f"{root.conf}:3: Invalid maximum message size '0'")


@pytest.mark.parametrize(("value", "flag"), [("On", True), ("off", False)])
def test_allow_reserved_status_codes_is_a_flag(root, value, flag):
    assert settings(root, f"WebSocketAllowReservedStatusCodes {value}\n") \
        .allow_reserved_codes is flag
    message = root.error(LISTEN + "<Location /ws>\nWebSocketAllowReservedStatusCodes 1\n"
                                  "</Location>\n")
    assert message == f"{root.conf}:3: WebSocketAllowReservedStatusCodes must be On or Off"


@pytest.mark.parametrize("directive", [
    "WebSocketOriginCheck Off", "WebSocketTrustedOrigin http://a.test",
    "WebSocketMaxMessageSize 4", "WebSocketAllowReservedStatusCodes On"])
def test_or_authcfg_directory_sections_only(root, directive):
    """<Location> and <Directory> (and .htaccess, which geows does not read: a <Location>
    of the module's replaces what they set, as it has no merge); never the server level."""
    root.load(LISTEN + f"<Directory {root.path}>\n{directive}\n</Directory>\n")
    assert root.error(LISTEN + directive + "\n") == \
        f"{root.conf}:2: {directive.split()[0]} not allowed here"
    message = root.error(LISTEN + f"<VirtualHost *:8080>\n{directive}\n</VirtualHost>\n")
    assert message.startswith(f"{root.conf}:3: {directive.split()[0]} ")


def test_a_later_section_replaces_the_whole_config(root):
    """The module has no merge function: a later <Location> with any of its directives
    brings its own defaults (Same, 32 MiB, no reserved codes), not the earlier's values."""
    config = root.load(LISTEN + """
        <Location /ws>
          SetHandler websocket-handler
          WebSocketHandler p.py init
          WebSocketOriginCheck Off
          WebSocketMaxMessageSize 4
          WebSocketAllowReservedStatusCodes On
        </Location>
        <Location /ws/inner>
          WebSocketHandler p.py init
        </Location>
        """)
    outer = config.route("/ws").endpoint.settings
    inner = config.route("/ws/inner").endpoint.settings
    assert (outer.origin_check, outer.max_message_size, outer.allow_reserved_codes) == \
        ("off", 4, True)
    assert (inner.origin_check, inner.max_message_size, inner.allow_reserved_codes) == \
        ("same", limits.MAX_MESSAGE_SIZE, False)


def test_misspelt_directives_are_invalid_commands(root):
    message = root.error(LISTEN + "<Location /ws>\nWebSocketOrginCheck Same\n</Location>\n")
    assert message.startswith(f"{root.conf}:3: Invalid command 'WebSocketOrginCheck'")


IF_CASES = [
    # (the <Location>'s lines, the <If> and its content): the line of the directive
    ("WebSocketOriginCheck Off\n", '<If "-n %{HTTP:Origin}">\nWebSocketOriginCheck Same\n</If>\n'),
    ("", '<If "true">\nWebSocketOriginCheck Off\n</If>\n'),
    ("", '<If "false">\n</If>\n<ElseIf "true">\nWebSocketTrustedOrigin http://a.test\n'
         "</ElseIf>\n"),
    ("", '<If "false">\n</If>\n<Else>\nWebSocketMaxMessageSize 4\n</Else>\n'),
    ("", '<If "true">\n<Limit GET>\nWebSocketAllowReservedStatusCodes On\n</Limit>\n</If>\n'),
    ("", '<If "true">\nWebSocketHandler q.py init\n</If>\n'),
    ("", '<If "true">\nWebSocketPing 10\n</If>\n'),
]


@pytest.mark.parametrize(("lines", "section"), IF_CASES)
def test_directives_inside_if_are_refused(root, lines, section):
    """Where the expression matches, httpd uses the <If>'s config of the module in place of
    the <Location>'s (no merge): geows, which evaluates no expression, refuses them."""
    text = (LISTEN + "<Location /ws>\nSetHandler websocket-handler\nWebSocketHandler p.py "
            f"init\n{lines}{section}</Location>\n")
    at, name = next((at, line.split()[0]) for at, line in enumerate(section.splitlines())
                    if line.startswith("WebSocket"))
    line = 5 + lines.count("\n") + at  # after Listen, <Location>, SetHandler, WebSocketHandler
    assert root.error(text) == (
        f"{root.conf}:{line}: {name} inside <If>, <ElseIf> or <Else> is not served by this "
        "version of geows: where the expression matches, httpd uses that section's "
        "mod_websocket config in place of the <Location>'s (the module does not merge "
        "sections; without a WebSocketHandler there, a 500), and geows does not evaluate "
        "<If> expressions")


def test_directives_inside_a_server_level_if_are_refused(root):
    message = root.error(LISTEN + '<If "true">\nWebSocketOriginCheck Off\n</If>\n')
    assert message.startswith(f"{root.conf}:3: WebSocketOriginCheck inside <If>, <ElseIf> or "
                              "<Else> is not served")


@pytest.mark.parametrize("section", ["Limit GET", "LimitExcept POST", "RequireAll"])
def test_directives_inside_limit_set_the_enclosing_location(root, section):
    """httpd applies the directives inside <Limit>/<LimitExcept> that are not access
    directives to the whole enclosing section, for every method (as <Require*>'s)."""
    ws = settings(root, f"<{section}>\nRequire all granted\nWebSocketOriginCheck Trusted\n"
                        "WebSocketTrustedOrigin https://app.test\nWebSocketMaxMessageSize 4\n"
                        f"</{section.split()[0]}>\n")
    assert (ws.origin_check, ws.trusted_origins, ws.max_message_size) == \
        ("trusted", ("https://app.test",), 4)


def test_a_handler_inside_limit_sets_the_enclosing_location(root):
    config = root.load(LISTEN + "<Location /ws>\n<Limit GET>\nSetHandler websocket-handler\n"
                       "WebSocketHandler p.py init\n</Limit>\n</Location>\n")
    assert config.route("/ws").endpoint.settings.init == "init"


SAME_LOCATION = "<Location /ws>\nSetHandler websocket-handler\nWebSocketHandler p.py init\n"


@pytest.mark.parametrize(("directive", "where"), [
    ("UseCanonicalName On", "server"), ("UseCanonicalPhysicalPort on", "server"),
    ("UseCanonicalName On", "location"), ("UseCanonicalPhysicalPort On", "location")])
def test_canonical_ports_are_refused_beside_a_same_check(root, directive, where):
    """They make ap_get_server_port, whose port the module's own origin has, ServerName's
    or the connection's instead of the Host's: geows refuses rather than compare another."""
    if where == "server":
        text, line, location = LISTEN + directive + "\n" + SAME_LOCATION + "</Location>\n", 2, 3
    else:
        text, line, location = LISTEN + SAME_LOCATION + directive + "\n</Location>\n", 5, 2
    name = directive.split()[0]
    assert root.error(text) == (
        f"{root.conf}:{line}: {name} On is not served by this version of geows beside "
        f"WebSocketOriginCheck Same (the location at {root.conf}:{location}): it changes the "
        "port of the request's own origin that the check compares (ServerName's or the "
        "connection's, not the Host's), which geows does not model. Set WebSocketOriginCheck "
        f"Trusted with the origins to allow (or Off) on the location, or {name} Off")


@pytest.mark.parametrize("directive", [
    "UseCanonicalName Off", "UseCanonicalName DNS", "UseCanonicalPhysicalPort Off"])
def test_canonical_names_that_keep_the_port_are_accepted(root, directive):
    assert settings(root, directive + "\n").origin_check == "same"


def test_canonical_ports_are_accepted_where_no_location_checks_same(root):
    root.load(LISTEN + "UseCanonicalName On\nUseCanonicalPhysicalPort On\n" + SAME_LOCATION
              + "WebSocketOriginCheck Off\n</Location>\n")


@pytest.mark.parametrize(("directive", "message"), [
    ("UseCanonicalName Maybe", "parameter must be 'on', 'off', or 'dns'"),
    ("UseCanonicalPhysicalPort DNS", "parameter must be 'on' or 'off'")])
def test_canonical_values_are_httpds(root, directive, message):
    assert root.error(LISTEN + directive + "\n") == f"{root.conf}:2: {message}"


def test_a_refused_origin_is_quoted_up_to_100_characters():
    origin = "http://" + "o" * 150
    assert settings_of(origin_check="same").origin_refusal(origin, "http://ws") == (
        f"Origin '{origin[:100]}' is not the request's own origin 'http://ws' "
        "(WebSocketOriginCheck Same)")
    assert settings_of(origin_check="trusted").origin_refusal(origin, "http://ws") == (
        f"Origin '{origin[:100]}' is not a WebSocketTrustedOrigin (WebSocketOriginCheck Trusted)")
