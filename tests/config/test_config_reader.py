"""What httpd does while reading: includes, conditions, variables, and directive checks."""

import logging
import math
import os

import pytest

WS = """\
    <Location /echo>
      SetHandler websocket-handler
      WebSocketHandler echo.py echo_init
    </Location>
    """


def paths(config):
    return [section.pattern for section in config.locations]


# Include and IncludeOptional


def test_include_wildcard_reads_matches_in_name_order(root):
    root.write("conf.d/b.conf", "<Location /b>\n</Location>\n")
    root.write("conf.d/a.conf", "<Location /a>\n</Location>\n")
    root.write("conf.d/.hidden.conf", "<Location /hidden>\n</Location>\n")
    root.write("conf.d/c.txt", "<Location /c>\n</Location>\n")
    config = root.load("Listen 80\nInclude conf.d/*.conf\n")
    assert paths(config) == ["/a", "/b"]


def test_include_directory_reads_every_file_below_it_in_order(root):
    root.write("sites/b/z.conf", "<Location /bz>\n</Location>\n")
    root.write("sites/a.conf", "<Location /a>\n</Location>\n")
    root.write("sites/c", "<Location /c>\n</Location>\n")
    config = root.load("Listen 80\nInclude sites\n")
    assert paths(config) == ["/a", "/bz", "/c"]


def test_include_splices_into_the_enclosing_section(root):
    root.write("echo.inc", "SetHandler websocket-handler\nWebSocketHandler echo.py echo_init\n")
    config = root.load("Listen 80\n<Location /echo>\nInclude echo.inc\n</Location>\n")
    assert config.route("/echo").endpoint.settings.file == os.path.join(root.path, "echo.inc")


def test_missing_include_is_an_error_at_its_line(root):
    message = root.error("Listen 80\nInclude missing.conf\n")
    missing = os.path.join(root.path, "missing.conf")
    assert message == (f"{root.conf}:2: Could not open configuration file {missing}: "
                       "No such file or directory")


def test_include_wildcard_without_match_is_an_error(root):
    message = root.error("Listen 80\nInclude conf.d/*.conf\n")
    assert message == (f"{root.conf}:2: No matches for the wildcard '*.conf' in "
                       f"'{root.path / 'conf.d'}', failing (use IncludeOptional if required)")


def test_include_optional_ignores_what_is_missing(root):
    config = root.load("Listen 80\nIncludeOptional missing.conf\nIncludeOptional none/*.conf\n")
    assert config.listeners[0].port == 80


def test_include_loop_is_refused(root):
    root.write("a.conf", "Include b.conf\n")
    root.write("b.conf", "Listen 80\nInclude a.conf\n")
    message = root.error("Include a.conf\n")
    a, b = root.path / "a.conf", root.path / "b.conf"
    assert message == f"{b}:2: Include loop: {a} is already being read"


def test_include_errors_point_into_the_included_file(root):
    root.write("bad.conf", "\nMaxMessageSize 0\n")
    message = root.error("Listen 80\n<Location /x>\nInclude bad.conf\n</Location>\n")
    assert message.startswith(f"{root.path / 'bad.conf'}:2: Invalid maximum message size '0'")


# Conditions, Define and ${VAR}


def test_ifmodule_websocket_is_always_loaded(root):
    config = root.load(f"""\
        Listen 80
        <IfModule mod_websocket.c>
        <IfModule websocket_draft76_module>
        {WS}
        </IfModule>
        </IfModule>
        <IfModule !mod_websocket.c>
        Listen 81
        </IfModule>
        """)
    assert paths(config) == ["/echo"] and len(config.listeners) == 1


def test_ifmodule_follows_loadmodule_in_both_spellings(root):
    config = root.load("""\
        Listen 80
        <IfModule mod_ssl.c>
        Listen 81
        </IfModule>
        LoadModule ssl_module modules/mod_ssl.so
        <IfModule mod_ssl.c>
        Listen 82
        </IfModule>
        <IfModule ssl_module>
        Listen 83
        </IfModule>
        <IfModule !mod_rewrite.c>
        Listen 84
        </IfModule>
        """)
    assert [listener.port for listener in config.listeners] == [80, 82, 83, 84]
    assert {"ssl_module", "mod_ssl.c", "websocket_module", "mod_websocket.c"} <= config.modules


def test_ifdefine_with_command_line_defines_define_and_undefine(root):
    text = """\
        <IfDefine FOO>
        Listen 80
        </IfDefine>
        Define BAR
        <IfDefine BAR>
        Listen 81
        </IfDefine>
        UnDefine BAR
        <IfDefine !BAR>
        Listen 82
        </IfDefine>
        """
    assert [lis.port for lis in root.load(text, defines=["FOO"]).listeners] == [80, 81, 82]
    assert [lis.port for lis in root.load(text).listeners] == [81, 82]


def test_variables_come_from_define_then_environment(root, monkeypatch):
    monkeypatch.setenv("GEOWS_TEST_PORT", "81")
    monkeypatch.setenv("port", "82")
    config = root.load("Define port 80\nListen ${port}\nListen ${GEOWS_TEST_PORT}\n")
    assert [lis.port for lis in config.listeners] == [80, 81]


def test_variables_are_substituted_before_words_are_split(root):
    # As in httpd: a value with a blank in it makes two words.
    config = root.load("""\
        Listen 80
        Define echo "echo.py echo_init"
        <Location /echo>
          SetHandler websocket-handler
          WebSocketHandler ${echo}
        </Location>
        """)
    assert config.route("/echo").endpoint.settings.init == "echo_init"
    text = 'Define where "/a /b"\nListen 80\n<Location ${where}>\n</Location>\n'
    assert root.error(text) == f"{root.conf}:3: Multiple <Location> arguments not (yet) supported."


def test_define_without_value_is_not_a_variable(root, caplog):
    caplog.set_level(logging.WARNING, "geows.config")
    message = root.error("Define port\nListen ${port}\n", defines=["port"])
    assert message.startswith(f"{root.conf}:2: Invalid address or port '${{port}}'")
    assert caplog.messages == [f"{root.conf}:2: Config variable ${{port}} is not defined"]


def test_undefined_variable_warns_and_stays(root, caplog):
    caplog.set_level(logging.WARNING, "geows.config")
    config = root.load("Listen 80\n<Location /${NO_SUCH_GEOWS_VAR}>\n</Location>\n")
    assert paths(config) == ["/${NO_SUCH_GEOWS_VAR}"]
    assert caplog.messages == [
        f"{root.conf}:2: Config variable ${{NO_SUCH_GEOWS_VAR}} is not defined"]


def test_variable_name_with_colon_is_refused(root):
    assert root.error("Define a:b 1\n") == f"{root.conf}:1: Variable name must not contain ':'"


@pytest.mark.parametrize(("condition", "true"), [
    (">= 2.4", True), ("> 2.4.98", True), ("< 2.5", True), ("<= 2.4.99", True),
    ("2.4.99", True), ("= 2.4", False), ("== 2.4.99", True), ("!= 2.4", True),
    ("~ ^2\\.4", True), ("= /^2\\.4\\./", True), ("!~ ^2\\.2", True), ("< 2.4", False),
    ("!>= 2.4", False), ("> 3", False),
])
def test_ifversion_answers_as_httpd_2_4_99(root, condition, true):
    config = root.load(f"Listen 80\n<IfVersion {condition}>\nListen 81\n</IfVersion>\n")
    assert len(config.listeners) == (2 if true else 1)


@pytest.mark.parametrize(("condition", "message"), [
    ("~= 2.4", "unrecognized operator '~='"),
    (">= two", "Version appears to be invalid. It must have the format major[.minor[.patch]] "
               "where major, minor and patch are numbers."),
    ("= /2.4", "Missing delimiting / of regular expression."),
])
def test_ifversion_errors(root, condition, message):
    text = f"Listen 80\n<IfVersion {condition}>\n</IfVersion>\n"
    assert root.error(text) == f"{root.conf}:2: {message}"


def test_iffile_is_relative_to_the_server_root(root):
    root.write("present.conf", "")
    config = root.load("""\
        <IfFile present.conf>
        Listen 80
        </IfFile>
        <IfFile !absent.conf>
        Listen 81
        </IfFile>
        <IfFile absent.conf>
        Listen 82
        </IfFile>
        """)
    assert [lis.port for lis in config.listeners] == [80, 81]


def test_false_conditions_skip_their_contents_entirely(root):
    config = root.load("""\
        Listen 80
        <IfDefine NOPE>
        Include missing.conf
        Listen nonsense
        WebSocketHandler one-arg
        </IfDefine>
        """)
    assert len(config.listeners) == 1


def test_condition_without_argument(root):
    assert root.error("<IfModule>\n</IfModule>\n") == (
        f"{root.conf}:1: <IfModule> directive requires additional arguments")


# ServerRoot


def test_serverroot_directive_overrides_the_given_root(root, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    (other / "site.conf").write_text(WS)
    config = root.load(f"ServerRoot {other}\nListen 80\nInclude site.conf\n")
    assert config.server_root == str(other)
    assert config.route("/echo").endpoint.settings.plugin == str(other / "echo.py")


def test_relative_serverroot_is_relative_to_the_working_directory(root, monkeypatch):
    (root.path / "srv").mkdir()
    monkeypatch.chdir(root.path)
    config = root.load("ServerRoot srv\nListen 80\n")
    assert config.server_root == str(root.path / "srv")


def test_serverroot_must_exist(root):
    assert root.error("ServerRoot /no/such/geows/dir\n") == (
        f"{root.conf}:1: ServerRoot must be a valid directory")


def test_config_path_is_relative_to_the_server_root_and_cwd_by_default(root, monkeypatch):
    root.write("conf/httpd.conf", "Listen 80\n")
    monkeypatch.chdir(root.path)
    from geows.config import load_config
    assert load_config("conf/httpd.conf").file == str(root.path / "conf/httpd.conf")
    assert load_config("httpd.conf", server_root="conf").server_root == str(root.path / "conf")


def test_missing_main_file(root):
    assert root.error() == (f"Could not open configuration file {root.conf}: "
                            "No such file or directory")


def test_plugin_path_uses_the_final_serverroot(root, tmp_path_factory):
    other = tmp_path_factory.mktemp("late")
    config = root.load(f"Listen 80\n{WS}ServerRoot {other}\n")
    assert config.route("/echo").endpoint.settings.plugin == str(other / "echo.py")


# LogLevel, RequestReadTimeout and other directive values


def test_loglevel_main_and_module_levels(root):
    config = root.load("Listen 80\nLogLevel info websocket:debug mod_ssl.c:TRACE3\n")
    assert config.log_level == "info"
    assert config.module_log_levels == {"websocket": "debug", "ssl": "trace3"}
    assert root.load("Listen 80\n").log_level == "warn"


def test_loglevel_in_a_virtualhost_does_not_change_the_server(root):
    config = root.load("Listen 80\n<VirtualHost *:80>\nLogLevel debug\n</VirtualHost>\n")
    assert config.log_level == "warn"


def test_invalid_loglevel(root):
    assert root.error("LogLevel loud\n").startswith(
        f"{root.conf}:1: LogLevel requires level keyword: one of emerg/alert/crit/error/warn/"
        "notice/info/debug/trace1/")


@pytest.mark.parametrize(("value", "expected"), [
    ("header=10-30,MinRate=100", (10.0, 30.0, 100)),
    ("header=10", (10.0, 10.0, 0)),
    ("body=20 header=5,minrate=500", (5.0, math.inf, 500)),
    ("handshake=5 body=10-20,MinRate=1", (20.0, 40.0, 500)),
])
def test_request_read_timeout_header_stage(root, value, expected):
    config = root.load(f"Listen 80\nRequestReadTimeout {value}\n")
    assert (config.header_timeout, config.header_timeout_max, config.header_min_rate) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("header=10-20", "RequestReadTimeout: header=10-20: "
                     "Must set MinRate option if using timeout range"),
    ("header=20-10,MinRate=5", "RequestReadTimeout: header=20-10,MinRate=5: "
                               "Maximum timeout must be larger than initial timeout"),
    ("header=5,MinRate=0", "RequestReadTimeout: header=5,MinRate=0: "
                           "Minimum data rate must be larger than 0"),
    ("header", "Invalid RequestReadTimeout parameter. Parameter must be in the form 'key=value'"),
    ("footer=5", "RequestReadTimeout: footer=5: Unknown RequestReadTimeout parameter"),
    ("header=0", "RequestReadTimeout: header=0: turning the header timeout off is not "
                 "supported by geows; give a number of seconds"),
])
def test_request_read_timeout_errors(root, value, message):
    assert root.error(f"Listen 80\nRequestReadTimeout {value}\n") == f"{root.conf}:2: {message}"


def test_websocket_settings_values(root):
    config = root.load("""\
        Listen 80
        <Location /big>
          SetHandler Websocket-Handler
          WebSocketHandler /opt/big.py big_init
          MaxMessageSize 1048576
          SupportDraft75 on
        </Location>
        """)
    settings = config.route("/big").endpoint.settings
    assert (settings.plugin, settings.init, settings.max_message_size,
            settings.support_draft75, settings.line) == ("/opt/big.py", "big_init", 1048576,
                                                         True, 4)


# WebSocketDeflate, geows' own directive: whether permessage-deflate is offered


def test_websocket_deflate_is_on_by_default_and_set_per_location(root):
    config = root.load("""\
        Listen 80
        <Location /a>
          SetHandler websocket-handler
          WebSocketHandler a.py init
        </Location>
        <Location /b>
          SetHandler websocket-handler
          WebSocketHandler b.py init
          WebSocketDeflate Off
        </Location>
        <LocationMatch ^/c$>
          SetHandler websocket-handler
          WebSocketHandler c.py init
          websocketdeflate oN
        </LocationMatch>
        """)
    assert [config.route(path).endpoint.settings.deflate for path in ("/a", "/b", "/c")] == [
        True, False, True]
    assert config.route("/b").endpoint.settings.support_draft75 is False


@pytest.mark.parametrize("flag", ["off", "OFF", "Off", "off extra"])
def test_websocket_deflate_flag_is_case_insensitive_and_reads_the_first_word(root, flag):
    config = root.load(f"Listen 80\n<Location /a>\nSetHandler websocket-handler\n"
                       f"WebSocketHandler a.py init\nWebSocketDeflate {flag}\n</Location>\n")
    assert config.route("/a").endpoint.settings.deflate is False


@pytest.mark.parametrize(("text", "line", "message"), [
    ("<Location /a>\nWebSocketDeflate yes\n</Location>\n", 3,
     "WebSocketDeflate must be On or Off"),
    ("<Location /a>\nWebSocketDeflate\n</Location>\n", 3, "WebSocketDeflate must be On or Off"),
    ("WebSocketDeflate Off\n", 2, "WebSocketDeflate not allowed here"),
    ("<VirtualHost *:80>\nWebSocketDeflate Off\n</VirtualHost>\n", 3,
     "WebSocketDeflate cannot occur within <VirtualHost> section"),
])
def test_websocket_deflate_errors(root, text, line, message):
    assert root.error(f"Listen 8080\n{text}") == f"{root.conf}:{line}: {message}"


def test_websocket_deflate_replaces_the_websocket_config_like_the_modules_directives(
        root, caplog):
    # Like MaxMessageSize: a section that sets it has a WebSocket config of its own, which
    # replaces the earlier one whole (here: without a plugin).
    config = root.load("""\
        Listen 80
        <Location /a>
          SetHandler websocket-handler
          WebSocketHandler a.py init
          MaxMessageSize 100
        </Location>
        <Location /a/plain>
          WebSocketDeflate Off
        </Location>
        <Location /a/full>
          WebSocketHandler full.py init
          WebSocketDeflate Off
        </Location>
        """)
    assert config.route("/a/x").endpoint.settings.deflate is True
    assert config.route("/a/plain").endpoint is None
    full = config.route("/a/full").endpoint.settings
    assert (full.init, full.deflate, full.max_message_size) == ("init", False, 32 * 1024 * 1024)
    assert f"{root.conf}:8: WebSocketDeflate without WebSocketHandler in the same section: " \
        "mod_websocket does not merge sections, so paths matched here have no plugin" \
        in caplog.messages


def test_websocket_deflate_in_other_sections_is_read_and_ignored(root):
    config = root.load(f"Listen 80\n<Directory /srv>\nWebSocketDeflate Off\n</Directory>\n{WS}")
    assert config.route("/echo").endpoint.settings.deflate is True


@pytest.mark.parametrize(("value", "size"), [
    ("10k", 10),           # apr_atoi64 stops at the first non-digit, as the module reads it
    ("+12", 12),
    (" 7", 7),
    ("9" * 30, 2**63 - 1),  # saturates
])
def test_max_message_size_is_read_as_the_module_reads_it(root, caplog, value, size):
    config = root.load(f"""\
        Listen 80
        <Location /a>
          SetHandler websocket-handler
          WebSocketHandler a.py init
          MaxMessageSize "{value}"
        </Location>
        """)
    assert config.route("/a").endpoint.settings.max_message_size == size
    assert any("is read as" in m for m in caplog.messages) == (value in ("10k", "9" * 30))


@pytest.mark.parametrize(("line", "message"), [
    ("WebSocketHandler a.py init # note", "WebSocketHandler takes two arguments, the plugin "
                                          "file followed by the name of its initialization "
                                          "function"),
    ("MaxMessageSize 0", "Invalid maximum message size '0': expected a positive number "
                         "of bytes"),
    ("MaxMessageSize k10", "Invalid maximum message size 'k10': expected a positive number "
                           "of bytes"),
    ("MaxMessageSize -1", "Invalid maximum message size '-1': expected a positive number "
                          "of bytes"),
    ("SupportDraft75 yes", "SupportDraft75 must be On or Off"),
    ("SetHandler", "SetHandler takes one argument, a handler name that overrides any other "
                   "handler"),
    ("Listen 80", "Listen not allowed here"),
])
def test_directive_errors_inside_location(root, line, message):
    text = f"Listen 8080\n<Location /echo>\nWebSocketHandler e.py init\n{line}\n</Location>\n"
    assert root.error(text) == f"{root.conf}:4: {message}"


@pytest.mark.parametrize(("text", "line", "message"), [
    ("WebSocketHandler e.py init\n", 2, "WebSocketHandler not allowed here"),
    ("<VirtualHost *:80>\nListen 81\n</VirtualHost>\n", 3,
     "Listen cannot occur within <VirtualHost> section"),
    ("LoadModule ssl_module\n", 2, "LoadModule takes two arguments, a module name and the name "
                                   "of a shared object file to load it from"),
    ("LogLevel\n", 2, "LogLevel requires at least one argument, a level, then optional "
                      "module:level pairs"),
])
def test_directive_context_and_arity_errors(root, text, line, message):
    assert root.error(f"Listen 8080\n{text}") == f"{root.conf}:{line}: {message}"


def test_unknown_directives_and_sections_are_skipped(root, caplog):
    caplog.set_level(logging.DEBUG, "geows.config")
    config = root.load(f"""\
        Listen 80
        ServerAdmin admin@example.com
        <Directory /var/www>
          Options None
        </Directory>
        {WS}
        <Location /echo>
          Header set X-Frame-Options DENY
        </Location>
        LoadModule headers_module modules/mod_headers.so
        """)
    assert config.route("/echo").endpoint is not None
    assert f"{root.conf}:2: ServerAdmin is not used by geows" in caplog.messages
    assert f"{root.conf}:4: Options is not used by geows" in caplog.messages
