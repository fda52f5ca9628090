"""The request head parser: limits, statuses, and bytes after the head; each rule of
httpd 2.4's (HttpProtocolOptions Strict, its default) that it mirrors, with the httpd
function it comes from. What these assert was checked against Debian's apache2 2.4.71."""

import re

import pytest

from geows import limits, strings
from geows.errors import HttpError
from geows.http import (
    MAX_OFF_T,
    SERVER,
    Headers,
    RequestParser,
    connection_after,
    is_chunked,
    message,
    normalize_path,
    options_answer,
    parse_decimal,
    response,
)


def feed_all(data: bytes, **kwargs):
    return RequestParser(**kwargs).feed(data)


def status_of(data: bytes, **kwargs) -> int:
    """The status the parser refuses `data` with."""
    with pytest.raises(HttpError) as info:
        feed_all(data, **kwargs)
    return info.value.status


def head(target: str = "/", *fields: str, method: str = "GET",
         version: str = "HTTP/1.1") -> bytes:
    return "\r\n".join([f"{method} {target} {version}", *fields, "", ""]).encode("latin-1")


def test_head_in_pieces_keeps_trailing_bytes():
    parser = RequestParser()
    raw = b"GET /echo?a=1 HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\nKEY3BYTES\x00hi\xff"
    request = None
    for i in range(len(raw)):
        request = parser.feed(raw[i:i + 1])
        if request:
            break
    assert request.trailing == b""  # fed byte by byte: nothing after the blank line yet
    request = feed_all(raw)
    assert (request.method, request.path, request.query) == ("GET", "/echo", "a=1")
    assert request.headers.get("x-folded") == "a b"
    assert request.trailing == b"KEY3BYTES\x00hi\xff"


def test_repeated_headers():
    request = feed_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"
                       b"connection: Upgrade\r\n\r\n")
    assert request.headers.tokens("Connection") == ["keep-alive", "upgrade"]
    assert request.headers.get("CONNECTION") == "keep-alive, Upgrade"


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\nHost: h\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\n\n",
    b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
])
def test_bare_lf_is_400(raw):
    """ap_rgetline_core with AP_GETLINE_CRLF (Strict): every line ends with CRLF."""
    assert status_of(raw) == 400


@pytest.mark.parametrize("raw, status", [
    (b"GET /" + b"a" * limits.LIMIT_REQUEST_LINE + b" HTTP/1.1\r\n", 414),
    (b"GET /" + b"a" * limits.LIMIT_REQUEST_LINE, 414),   # no newline yet: refused early
    (b"GET / HTTP/1.1\r\nX: " + b"a" * limits.LIMIT_REQUEST_FIELD_SIZE + b"\r\n", 400),
    (b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * (limits.LIMIT_REQUEST_FIELDS + 1) + b"\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 400),
    (b"GET /\r\n\r\n", 400),
    (b"GET relative HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n folded-first\r\n\r\n", 400),
    (b"GET /a/../../etc HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET /a%2fb HTTP/1.1\r\nHost: h\r\n\r\n", 404),
    (b"GET /a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n", 404),
    (b"GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", 404),  # httpd: a decoded NUL is a 404
])
def test_bad_heads(raw, status):
    with pytest.raises(HttpError) as info:
        feed_all(raw)
    assert info.value.status == status


def test_limits_are_exact():
    """httpd (measured) reads a request line or a field line of the limit + 1 bytes, its
    CRLF not counted, and refuses one byte more; so does the parser, fed at once or a
    byte at a time (the CR may come before its LF)."""
    line = b"GET /" + b"a" * (limits.LIMIT_REQUEST_LINE + 1 - len(b"GET / HTTP/1.1")) \
        + b" HTTP/1.1"
    assert len(line) == limits.LIMIT_REQUEST_LINE + 1
    assert feed_all(line + b"\r\nHost: h\r\n\r\n") is not None
    assert status_of(line.replace(b"GET /", b"GET /a") + b"\r\nHost: h\r\n\r\n") == 414
    parser = RequestParser()
    for byte in line + b"\r":
        assert parser.feed(bytes([byte])) is None
    assert parser.feed(b"\nHost: h\r\n\r\n") is not None
    fields = b"".join(b"X%d: 1\r\n" % i for i in range(limits.LIMIT_REQUEST_FIELDS - 1))
    assert feed_all(b"GET / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n") is not None
    field = "X: " + "a" * (limits.LIMIT_REQUEST_FIELD_SIZE - 2)
    assert len(field) == limits.LIMIT_REQUEST_FIELD_SIZE + 1
    assert feed_all(head("/", "Host: h", field)).headers.get("X") == field[3:]
    assert status_of(head("/", "Host: h", field + "a")) == 400
    parser = RequestParser()
    for byte in head("/", "Host: h", field)[:-3]:
        assert parser.feed(bytes([byte])) is None
    assert parser.feed(b"\n\r\n") is not None


@pytest.mark.parametrize("raw, normal", [
    ("/", "/"), ("/echo", "/echo"), ("/echo/", "/echo/"), ("//echo//x", "/echo/x"),
    ("/a/../echo", "/echo"), ("/echo/.", "/echo/"), ("/ech%6F", "/echo"), ("/a/b/..", "/a/"),
])
def test_normalize_path(raw, normal):
    assert normalize_path(raw) == normal


def test_error_response_shape():
    data = response(426, (("Upgrade", "WebSocket"),))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nUpgrade: WebSocket\r\n" in head
    assert b"\r\nConnection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
    # To HEAD: the head alone, with the page's length; kept open: no Connection: close.
    head_only = response(426, (("Upgrade", "WebSocket"),), head_only=True)
    assert re.sub(rb"Date: [^\r]*", b"", head_only) == re.sub(rb"Date: [^\r]*", b"",
                                                               head + b"\r\n\r\n")
    assert b"Connection:" not in response(403, connection=None)
    assert b"\r\nConnection: Keep-Alive\r\n" in response(403, connection="Keep-Alive")


@pytest.mark.parametrize("line", [
    "GET  / HTTP/1.1",           # two spaces: Strict's "excess whitespace"
    "GET\t/ HTTP/1.1",           # a tab between the words
    " GET / HTTP/1.1",           # whitespace before the method
    "GET / HTTP/1.1 ",           # whitespace after the protocol
    "GET / HTTP/1.1\r",          # a stray CR before the CRLF
    "G@T / HTTP/1.1",            # not a token
    "GET / http/1.1",            # Strict takes the protocol in upper case only
    "GET / HTTP/01.1",
    "GET /private/\x1b[1;31mFORGED HTTP/1.1",   # control bytes in the target
    "GET /a\x7fb HTTP/1.1",
    "GET /a\x00b HTTP/1.1",
])
def test_request_line_is_read_as_strict_reads_it(line):
    """ap_parse_request_line under HttpProtocolOptions Strict: 400."""
    assert status_of(f"{line}\r\nHost: h\r\n\r\n".encode("latin-1")) == 400


def test_refused_request_line_is_kept_for_the_logs():
    parser = RequestParser()
    with pytest.raises(HttpError):
        parser.feed(b"GET /private/\x1b[1;31mFORGED HTTP/1.1\r\nHost: h\r\n\r\n")
    assert parser.request_line == "GET /private/\x1b[1;31mFORGED HTTP/1.1"


@pytest.mark.parametrize("field", [
    "X-A : b",          # whitespace before the colon
    "Host : h",         # ... in the field that picks the vhost
    "Host\t: h",
    "X[A]: b",          # not a token
    ": b",              # no name
    "X-A: a\rb",        # a bare CR in the value
    "X-A: a\x01b",      # a control byte
    "X-A: a\x7fb",
    "X-A: a\x00b",
    "X-A: a\r\n \x1bb",  # a control byte in a folded line
    "X-A: a\r\n  ",      # an empty folded line
])
def test_header_fields_are_read_as_strict_reads_them(field):
    """ap_get_mime_headers_core under Strict: a token before the colon, and field content
    (VCHAR, obs-text, SP, HTAB) after it; else 400."""
    assert status_of(head("/", "Host: h", field)) == 400


@pytest.mark.parametrize(("fields", "name", "value"), [
    (("X-A: a", "  \t b  "), "X-A", "a b"),
    (("X-A: a", "\tb"), "X-A", "a b"),           # a TAB folds as a space does
    (("X-A:", " b"), "X-A", "b"),                 # after an empty value: no leading space
    (("X-A:  \t", "\t\tb", " c"), "X-A", "b c"),
    (("Transfer-Encoding:", " chunked"), "Transfer-Encoding", "chunked"),
    (("X-A: a", "X-B: b", " c"), "X-B", "b c"),   # the field just before, not another
    (("X-A: a", " b\xa0"), "X-A", "a b\xa0"),     # obs-text is no whitespace to trim
    (("X-A: a", " Xb X"), "X-A", "a Xb X"),
])
def test_folded_lines_join_as_httpd_joins_them(fields, name, value):
    """ap_get_mime_headers_core: the fold's leading whitespace becomes one space, and the
    joined field's value starts after the colon and the whitespace there."""
    assert feed_all(head("/", "Host: h", *fields)).headers.get(name) == value


def test_a_folded_length_or_coding_after_an_empty_value_frames_the_body():
    request = feed_all(head("/", "Host: h", "Content-Length:", " 5", method="POST"))
    assert request.content_length == 5
    request = feed_all(head("/", "Host: h", "Transfer-Encoding:", " chunked", method="POST"))
    assert request.chunked


@pytest.mark.parametrize(("field", "fold", "accepted"), [
    ("X: " + "a" * 93, " b", True),       # 96 + 2 bytes, and httpd's NUL: 99
    ("X: " + "a" * 94, " b", False),      # ... 100: LimitRequestFieldSize reached
    ("X:" + " " * 10 + "a" * 85, "\t\tb", False),  # the whitespace as it came counts
])
def test_a_folded_field_is_limited_as_httpd_limits_it(field, fold, accepted):
    raw = head("/", "Host: h", field, fold)
    if accepted:
        assert feed_all(raw, limit_request_field_size=100) is not None
    else:
        assert status_of(raw, limit_request_field_size=100) == 400


def test_tabs_around_a_value_are_padding():
    request = feed_all(head("/", "Host:\th\t", "X-A:\t \ta b\t \t"))
    assert request.host == "h"
    assert request.headers.get("X-A") == "a b"


def test_blank_lines_before_the_request_line_are_skipped():
    """read_request_line: httpd skips empty lines before the request line; the head a
    proxy forwards starts at the request line."""
    raw = head("/x", "Host: h")
    request = feed_all(b"\r\n\r\n" + raw)
    assert (request.method, request.path, request.host) == ("GET", "/x", "h")
    assert request.head == raw


def test_field_values_keep_obs_text_and_tabs():
    request = feed_all(head("/", "Host: h", "X-A: a\xffb\tc  ", "X-B:", "X-C:\xa0c\xa0",
                            "X-D: XdX"))
    assert request.headers.get("X-A") == "a\xffb\tc"
    assert request.headers.get("X-B") == ""
    assert request.headers.get("X-C") == "\xa0c\xa0"   # obs-text, no whitespace to trim
    assert request.headers.get("X-D") == "XdX"


def test_repeated_fields_are_limited_once_joined():
    """table_do_fn_check_lengths: httpd joins repeated fields with ", " and checks the sum
    against LimitRequestFieldSize."""
    assert feed_all(head("/", "Host: h", "X: " + "a" * 50, "X: " + "b" * 47),
                    limit_request_field_size=100) is not None
    assert feed_all(head("/", "Host: h", "X: " + "a" * 50, "X: " + "b" * 48),
                    limit_request_field_size=100) is not None   # exactly the limit
    assert status_of(head("/", "Host: h", "X: " + "a" * 50, "X: " + "b" * 49),
                     limit_request_field_size=100) == 400


@pytest.mark.parametrize(("fields", "length", "chunked"), [
    ((), None, False),
    (("Content-Length: 01",), 1, False),
    (("Content-Length: " + "0" * 4400 + "5",), 5, False),   # past int()'s 4,300 digits
    (("Content-Length: 9223372036854775807",), MAX_OFF_T, False),
    (("Content-Length: 7  ",), 7, False),
    (("Content-Length: 5", "Transfer-Encoding: gzip, chunked"), None, True),
])
def test_body_framing(fields, length, chunked):
    """ap_read_request: Transfer-Encoding (chunked last) overrides Content-Length."""
    request = feed_all(head("/", "Host: h", *fields, method="POST"))
    assert (request.content_length, request.chunked) == (length, chunked)
    assert ("Content-Length" in request.headers) == (length is not None)  # TE drops it
    # ... and then closes the connection after the request (AP_CONN_CLOSE).
    assert request.last == (len(fields) == 2)


@pytest.mark.parametrize(("coding", "chunked"), [
    ("chunked", True), ("CHUNKED", True), ("gzip, chunked", True), ("gzip,chunked", True),
    ("gzip ,  chunked", True), ("chunked, chunked", True),
    ("gzip chunked", False), ("gzip,\tchunked", False), ("chunked,", False),
    ("xchunked", False), ("chunked, gzip", False), ("", False),
])
def test_is_chunked_reads_as_ap_is_chunked(coding, chunked):
    assert is_chunked(coding) == chunked


@pytest.mark.parametrize(("text", "number"), [
    ("0", 0), ("007", 7), ("0" * 5000, 0), ("0" * 5000 + "42", 42),
    ("9223372036854775807", MAX_OFF_T), ("0" * 4400 + "9223372036854775807", MAX_OFF_T),
])
def test_parse_decimal_reads_as_ap_parse_strict_length(text, number):
    assert parse_decimal(text) == number


@pytest.mark.parametrize("text", [
    "", " 5", "5 ", "+5", "-5", "0x5", "5_0", "\xb2", "\uff15", "1e3",
    "9223372036854775808", "9" * 4400, "1" + "0" * 5000,
])
def test_parse_decimal_refuses_what_httpd_refuses(text):
    """ASCII digits only (not the other digits, signs, spaces and underscores int() takes),
    and no number past what apr_strtoff reads into an apr_off_t: a ValueError, never
    int()'s own for more than 4,300 digits."""
    with pytest.raises(ValueError):
        parse_decimal(text)


@pytest.mark.parametrize("fields", [
    ("Content-Length: \xb2",),           # a digit to str.isdigit(), not to int()
    ("Content-Length: +1",),
    ("Content-Length: -1",),
    ("Content-Length: 1x",),
    ("Content-Length:",),
    ("Content-Length: 0", "Content-Length: 0"),   # joined: "0, 0"
    ("Content-Length: 9223372036854775808",),     # past apr_off_t
    ("Content-Length: " + "9" * 4400,),           # ... far past it
    ("Transfer-Encoding: chunked, gzip",),
    ("Transfer-Encoding: chunked,",),
    ("Transfer-Encoding: gzip,\tchunked",),
    ("Transfer-Encoding:",),
])
def test_bad_body_framing_is_400(fields):
    """ap_read_request: a Content-Length of ASCII digits only (ap_parse_strict_length), a
    Transfer-Encoding with chunked last (ap_is_chunked); else 400."""
    assert status_of(head("/", "Host: h", *fields, method="POST")) == 400


@pytest.mark.parametrize(("method", "target", "fields", "path", "query", "host", "origin"), [
    # A path, never an authority: ap_parse_uri drops the extra leading slashes.
    ("GET", "//private/secret.html", ("Host: public.test",), "/private/secret.html", "",
     "public.test", "//private/secret.html"),
    ("GET", "///a//b/./c/../d?x", ("Host: h",), "/a/b/d", "x", "h", "///a//b/./c/../d?x"),
    # RFC 9112 3.2.2: an absolute-form's host picks the vhost, and replaces Host.
    ("GET", "http://admin.test/adminonly.html", ("Host: public.test",), "/adminonly.html",
     "", "admin.test", "/adminonly.html"),
    ("GET", "HTTP://ADMIN.Test.:99/x?y", ("Host: a b", "Host: c"), "/x", "y", "admin.test:99",
     "/x?y"),
    ("GET", "http://admin.test", ("Host: h",), "/", "", "admin.test", "/"),
    ("GET", "http://[::1]:8//a", ("Host: h",), "/a", "", "[::1]:8", "//a"),
    ("GET", "http:/x", ("Host: h",), "/x", "", "h", "/x"),    # no authority: Host decides
    ("GET", "https://admin.test/x", ("Host: h",), "/x", "", "h", "/x"),  # not this scheme
    ("GET", "?x", ("Host: h",), "/", "x", "h", "?x"),
    ("GET", "/a?b?c", ("Host: h",), "/a", "b?c", "h", "/a?b?c"),   # the first '?' ends the path
    ("OPTIONS", "*", ("Host: h",), "*", "", "h", "*"),
    ("OPTIONS", "http://admin.test", ("Host: h",), "*", "", "admin.test", "*"),
    ("CONNECT", "admin.test:443", ("Host: h",), "/", "", "admin.test:443", "/"),
    ("CONNECT", "[::1]:443", (), "/", "", "[::1]:443", "/"),
])
def test_target_forms(method, target, fields, path, query, host, origin):
    """ap_parse_uri and apr_uri_parse (apr_uri_parse_hostinfo for CONNECT), then
    ap_update_vhost_from_headers: what the path, the query and the vhost's host are."""
    version = "HTTP/1.1" if fields else "HTTP/1.0"
    request = feed_all(head(target, *fields, method=method, version=version))
    assert (request.path, request.query, request.host, request.origin_form) == (
        path, query, host, origin)
    if fields:
        assert request.headers.get_all("Host") == [host]


@pytest.mark.parametrize(("target", "port"), [
    ("/x", None),
    ("http://h/x", None),           # none: the Host's, else the server's (request_origin)
    ("http://h:8080/x", 8080),
    ("http://h:/x", 80),            # a ':' alone: the scheme's (apr_uri_port_of_scheme)
    ("HTTPS://h:/x", 443),
    ("http://h:70000/x", 4464),     # strtol's number as an apr_port_t (16 bits)
    ("http://h:-1/x", 65535),
])
def test_an_absolute_forms_port_as_apr_uri_parse_reads_it(target, port):
    assert feed_all(head(target, "Host: h")).target_port == port


def test_https_absolute_form_picks_the_vhost_on_tls():
    request = feed_all(head("https://admin.test/x", "Host: h"), secure=True)
    assert request.host == "admin.test"
    assert feed_all(head("http://admin.test/x", "Host: h"), secure=True).host == "h"


@pytest.mark.parametrize(("method", "target"), [
    ("GET", "*"),                      # "*" is OPTIONS' alone
    ("OPTIONS", "**"),
    ("GET", "relative"),
    ("GET", "foo:bar"),
    ("GET", "public.test:80"),
    ("GET", "ftp://admin.test/x"),     # ap_post_read_request: http(s) only
    ("GET", "ws://h/x"),
    ("GET", "http://u:p@h/"),          # Strict: no userinfo
    ("GET", "/a#f"),                   # Strict: no fragment
    ("GET", "http://h:abc/"),
    ("GET", "http://[::1"),
    ("GET", "http://1.2.3/x"),         # the URL's host is checked as Host would be
    ("GET", "http://a..b/x"),
    ("GET", "http:///x"),              # RFC 9110 4.2.1 (httpd takes the default vhost)
    ("CONNECT", ":443"),
    ("CONNECT", "h"),
    ("CONNECT", "h:"),
    ("CONNECT", "/x"),
    ("CONNECT", "h:443/x"),
])
def test_bad_targets_are_400(method, target):
    """ap_parse_request_line and ap_post_read_request: 400."""
    assert status_of(head(target, "Host: h", method=method)) == 400


@pytest.mark.parametrize("host", [
    "1.2.3.4", "[::1]", "[::1]:80", "PUBLIC.TEST.", "a_b.test", "public.test:80",
    "localhost", "x-y.example.com:65535", "public.test:" + "0" * 4400 + "80",
])
def test_good_hosts(host):
    assert feed_all(head("/", f"Host: {host}")).host == host


@pytest.mark.parametrize("fields", [
    ("Host: a b",), ("Host: 1.2.3",), ("Host: 123",), ("Host: 01.2.3.4",), ("Host: a..b",),
    ("Host: a.1b",), ("Host: h:",), ("Host: h:0",), ("Host: h:99999",), ("Host: h:abc",),
    ("Host: :80",), ("Host: \xe9.test",), ("Host: a/b",), ("Host: [::1]x",),
    ("Host: h:4294967296",), ("Host: h:" + "9" * 4400,),
    ("Host: [::1%eth0]",), ("Host: [1::2::3]",), ("Host: [:::]",),
    ("Host: public.test", "Host: public.test"),   # joined: "public.test, public.test"
    ("Host:",),    # HTTP/1.1 without a host
    (),
])
def test_bad_hosts_are_400(fields):
    """fix_hostname and strict_hostname_check (server/vhost.c), ap_check_request_header."""
    assert status_of(head("/", *fields)) == 400


def test_http_1_0_needs_no_host():
    assert feed_all(head("/", version="HTTP/1.0")).host is None
    assert feed_all(head("/", "Host:", version="HTTP/1.0")).host is None


@pytest.mark.parametrize("version", ["HTTP/1.2", "HTTP/2.0", "HTTP/9.9"])
def test_versions_above_1_1_are_read_as_http_1_1(version):
    """ap_parse_request_line takes any "HTTP/" DIGIT "." DIGIT but a major 0, kept as
    sent; ap_check_request_header asks from HTTP/1.1 on for a host, and of HTTP/1.1 alone
    for a Host field."""
    request = feed_all(head("/x", "Host: h", version=version))
    assert (request.version, request.host) == (version, "h")
    assert status_of(head("/x", version=version)) == 400
    assert feed_all(head("http://h/x", version=version)).host == "h"
    assert status_of(head("http://h/x")) == 400   # HTTP/1.1 needs the field too


@pytest.mark.parametrize("raw", [
    b"GET /x\r\n\r\n",                           # HTTP/0.9: geows does not serve it
    b"GET /x HTTP/0.9\r\nHost: h\r\n\r\n",
    b"GET /x HTTP/1.10\r\nHost: h\r\n\r\n",
    b"GET /x HTTP/2\r\nHost: h\r\n\r\n",
    b"GET /x HTTP/\xb2.0\r\nHost: h\r\n\r\n",
])
def test_other_protocols_are_400(raw):
    assert status_of(raw) == 400


@pytest.mark.parametrize(("fields", "version", "status", "connection"), [
    (("Host: h",), "HTTP/1.1", 403, None),
    (("Host: h",), "HTTP/2.0", 401, None),
    (("Host: h",), "HTTP/1.1", 404, None),
    (("Host: h", "Connection: keep-alive"), "HTTP/1.0", 403, "Keep-Alive"),
    ((), "HTTP/1.0", 403, "close"),
    (("Host: h", "Connection: keep-alive, Close"), "HTTP/1.1", 403, "close"),
    (("Host: h", "Expect: 100-Continue"), "HTTP/1.1", 403, "close"),
    (("Host: h", "Transfer-Encoding: chunked", "Content-Length: 0"), "HTTP/1.1", 403, "close"),
    *((("Host: h",), "HTTP/1.1", status, "close")
      for status in (400, 408, 411, 413, 414, 500, 501, 503)),
])
def test_connection_after_as_ap_set_keepalive(fields, version, status, connection):
    request = feed_all(head("/", *fields, method="POST", version=version))
    assert connection_after(request, status) == connection


@pytest.mark.parametrize(("raw", "status"), [
    ("/a%zz", 400), ("/a%4", 400), ("/a%", 400),  # ap_normalize_path: invalid escape
    ("/%2e%2e/x", 400), ("/a/.%2E/../x", 400),    # above the root, dots decoded first
    ("/a%2Fb", 404), ("/a%00", 404),              # ap_unescape_url_ex: AllowEncodedSlashes Off
])
def test_bad_paths(raw, status):
    with pytest.raises(HttpError) as info:
        normalize_path(raw)
    assert info.value.status == status


@pytest.mark.parametrize(("raw", "normal"), [
    ("/a/%2e%2e/b", "/b"), ("/a/.%2e/b", "/b"), ("/%7e%2E/", "/~./"),
    ("/a;b%3b%25%20c", "/a;b;% c"),
    ("/%C3%A9", "/\u00e9"), ("*", "*"),
])
def test_paths_decode_as_httpd_decodes_them(raw, normal):
    """ap_normalize_path (unreserved characters first), then ap_unescape_url_ex."""
    assert normalize_path(raw) == normal


def test_path_bytes_that_are_not_utf8_encode_back_to_themselves():
    path = feed_all(head("/%e9\xe9%C3%A9", "Host: h")).path
    assert path == "/\udce9\udce9\u00e9"
    assert path.encode("utf-8", "surrogateescape") == b"/\xe9\xe9\xc3\xa9"


# Each refusal's reason, which the error log and the access record show: what a check
# refuses, and the offending text cut to 80 characters (found by tests/mutation.sh).
A = "a" * 100
A80 = "a" * 80


@pytest.mark.parametrize(("raw", "status", "reason"), [
    (b"GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "a request line or header line not ended by CRLF"),
    (head("/" + "a" * 9000, "Host: h"), 414, "request line longer than LimitRequestLine"),
    (head("/", "Host: h", "X: " + "a" * 9000), 400,
     "request header field longer than LimitRequestFieldSize"),
    (b"GET / HTTP/1.1\r\n x\r\nHost: h\r\n\r\n", 400, "header continuation line without a header"),
    (head("/", "Host: h", "X: a", " \t"), 400, "empty header continuation line"),
    (head("/", "Host: h", "X: " + A, " \x01"), 400, "malformed request header value: X: " + A80),
    (head("/", "Host: h", "Bad Name" + A + ": x"), 400,
     "malformed request header field name: Bad Name" + A80[8:]),
    (head("/", "Host: h", "X: " + A + "\x01"), 400, "malformed request header value: X: " + A80),
    (head("/", "Host: h", "X: " + "a" * 5000, "X: " + "a" * 5000), 400,
     "request header fields longer than LimitRequestFieldSize once joined"),
    (head("/", "Host: h", "X: " + "a" * 8100, " " + "b" * 100), 400,
     "request header field longer than LimitRequestFieldSize once folded"),
    (head("/", "Host: h", *(f"X-{n}: a" for n in range(limits.LIMIT_REQUEST_FIELDS))), 400,
     "more request header fields than LimitRequestFields"),
    (head("/" + A + " x", "Host: h"), 400,
     "malformed request line (not three words, single spaces): GET /" + A80[5:]),
    (head("/", "Host: h", method="G@" + A), 400, "invalid method token: G@" + A80[2:]),
    (head("/\x01" + A, "Host: h"), 400, "request target incorrectly encoded: /\x01" + A80[2:]),
    (head("/", "Host: h", version="HTTP/" + "1" * 30), 400,
     "unrecognized protocol: HTTP/" + "1" * 15),
    (head(A, "Host: h"), 400, "invalid request target: " + A80),
    (head("/a#b", "Host: h"), 400, "request target with a fragment"),
    (head("/a?q#f", "Host: h"), 400, "request target with a fragment"),     # after a query
    (head("http://h#a#b", "Host: h"), 400, "request target with a fragment"),  # the first '#'
    (head("http://u@h/", "Host: h"), 400, "request target with a username or password"),
    (head("ftp" + "p" * 30 + "://h/", "Host: h"), 400, "request target with scheme ft" + "p" * 18),
    (head("[::1]x" + A, method="CONNECT"), 400, "invalid CONNECT target: [::1]x" + A80[6:]),
    (head("[::1" + A, method="CONNECT"), 400, "invalid CONNECT target: [::1" + A80[4:]),
    (head("h" + A, method="CONNECT"), 400, "invalid CONNECT target: h" + A80[1:]),
    (head("h:x" + A, method="CONNECT"), 400, "invalid CONNECT target: h:x" + A80[3:]),
    (head("[::1]x80", method="CONNECT"), 400, "invalid CONNECT target: [::1]x80"),
    (head("[::1]:1]:2", method="CONNECT"), 400, "invalid CONNECT target: [::1]:1]:2"),
    (head("h:1:2", method="CONNECT"), 400, "invalid CONNECT target: h:1:2"),
    (head("http://[::1]:80]/", "Host: h"), 400, "request target with an invalid port: [::1]:80]"),
    (head("http://[::1" + A + "/", "Host: h"), 400,
     "request target with an unclosed IPv6 literal: [::1" + A80[4:]),
    (head("http://h:x" + A + "/", "Host: h"), 400,
     "request target with an invalid port: h:x" + A80[3:]),
    (head("http:///x", "Host: h"), 400, "request target with an empty host"),
    (head("http://123/", "Host: h"), 400, "purely numeric host name: 123"),
    (head("http://[1::2::3]/", "Host: h"), 400, "malformed IPv6 host: 1::2::3"),
    (head("http://[::.1]/", "Host: h"), 400, "malformed IPv6 host: ::.1"),
    (head("http://[::1.:2]/", "Host: h"), 400, "malformed IPv6 host: ::1.:2"),
    (head("http://[::1..2]/", "Host: h"), 400, "malformed IPv6 host: ::1..2"),
    (head("http://[::g]/", "Host: h"), 400, "malformed IPv6 host: ::g"),
    (head("/"), 400, "HTTP/1.1 request without a host (RFC 9112 3.2)"),
    (head("/", "Host: " + "1" * 100), 400, "purely numeric host name: " + "1" * 80),
    (head("/", "Host: h" + A + ":0"), 400, "malformed Host header: h" + A80[1:]),
    (head("/", "Host: [::1]x" + A), 400, "malformed Host header: [::1]x" + A80[6:]),
    (head("/", "Host: [1::2::3]"), 400, "malformed Host header: [1::2::3]"),
    (head("/", "Host: a..b" + A), 400, "malformed host name: a..b" + A80[4:]),
    (head("/", "Host: a b" + A), 400, "invalid host name: a b" + A80[3:]),
    (head("/", "Host: 1.2.3"), 400, "invalid host name: 1.2.3"),
    (head("/", "Host: " + "1." * 50 + "1"), 400, "invalid host name: " + "1." * 40),
    (head("/", "Host: h:"), 400, "invalid host name: h:"),
    (head("/", "Host: a", "Host: a"), 400, "invalid host name: a, a"),
    (head("/", "Host: [" + "1:" * 50 + "]"), 400, "malformed Host header: [" + "1:" * 39 + "1"),
    (head("http://[" + "a:" * 45 + ":.1]/", "Host: h"), 400, "malformed IPv6 host: " + "a:" * 40),
    (head("http://[" + "a:" * 45 + "1.:2]/", "Host: h"), 400,
     "malformed IPv6 host: " + "a:" * 40),
    (head("http://[" + "a:" * 45 + "g]/", "Host: h"), 400, "malformed IPv6 host: " + "a:" * 40),
    (head("/", "Host: a.1b" + A), 400, "invalid host name: a.1b" + A80[4:]),
    (head("/", "Host: h", "Content-Length: x" + A), 400, "invalid Content-Length: x" + "a" * 39),
    (head("/", "Host: h", "Transfer-Encoding: gzip"), 400,
     "request Transfer-Encoding without chunked last"),
    (head("/%zz" + A, "Host: h"), 400, "invalid %-escape in the path: /%zz" + A80[4:]),
    (head("/../x", "Host: h"), 400, "path climbs above the root"),
    (head("/a%2Fb", "Host: h"), 404, "encoded slash or NUL in the path"),
])
def test_each_refusal_says_why(raw, status, reason):
    with pytest.raises(HttpError) as info:
        feed_all(raw)
    assert (info.value.status, info.value.reason) == (status, reason)


@pytest.mark.parametrize(("target", "host"), [
    ("http://[ABCD::1]/", "[abcd::1]"),                 # fix_hostname lowercases the literal
    ("http://[::ffff:1.2.3.4]:80/", "[::ffff:1.2.3.4]:80"),
    ("http://[::1]/", "[::1]"),
    ("http://[1:2::3]/", "[1:2::3]"),                   # "::" after a single ':'
])
def test_ipv6_literals_in_an_absolute_target(target, host):
    assert feed_all(head(target, "Host: h")).host == host


@pytest.mark.parametrize(("host", "reason"), [
    ("1.02.3.4", "invalid host name: 1.02.3.4"),      # a leading zero after a dot
    ("a\\b", "malformed host name: a\\b"),
    ("a/b", "malformed host name: a/b"),
    ("a.b.1c", "invalid host name: a.b.1c"),          # the last label, not the second
    (".1.2.3", "invalid host name: .1.2.3"),          # three dots, but one leads
])
def test_host_names_strict_hostname_check_refuses(host, reason):
    with pytest.raises(HttpError) as info:
        feed_all(head("/", f"Host: {host}"))
    assert (info.value.status, info.value.reason) == (400, reason)


@pytest.mark.parametrize("host", ["1.0.0.4", "0.1.2.3", "12.3.4.5", "a.b.c1", "a:80", "h:1",
                                  "h:65535"])
def test_host_names_strict_hostname_check_takes(host):
    assert feed_all(head("/", f"Host: {host}")).host == host


def without_date(data: bytes) -> bytes:
    """A response with its Date field's value checked (IMF-fixdate, RFC 9110 5.6.7), then
    blanked."""
    date = re.search(rb"\r\nDate: ([^\r]*)\r\n", data)
    assert date and re.fullmatch(rb"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", date[1])
    return data.replace(date[1], b"-")


def test_error_responses_are_httpds_pages_byte_for_byte():
    assert without_date(response(404)) == (
        b"HTTP/1.1 404 Not Found\r\nDate: -\r\nServer: " + SERVER.encode() + b"\r\n"
        b"Content-Length: 196\r\nConnection: close\r\n"
        b"Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
        b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
        b"<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
        b"<p>The requested URL was not found on this server.</p>\n</body></html>\n")
    # A status without a reason of its own is an "Error", its page too.
    assert without_date(response(418)).startswith(b"HTTP/1.1 418 Error\r\n")
    assert b"<title>418 Error</title>\n</head><body>\n<h1>Error</h1>\n<p>Error</p>\n" in \
        response(418)


def test_options_answer_is_a_bare_200():
    assert without_date(options_answer()) == (
        b"HTTP/1.1 200 OK\r\nDate: -\r\nServer: " + SERVER.encode() + b"\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    assert b"Connection" not in options_answer(connection=None)


def test_tokens_split_on_commas_alone():
    headers = Headers([("Connection", "keep-alive,Upgrade"), ("Connection", " close ")])
    assert headers.tokens("connection") == ["keep-alive", "upgrade", "close"]


def test_headers_held_flat_count_and_show_their_fields_as_pairs():
    headers = Headers([("Host", "h"), ("X-A", "1"), ("x-a", "2")])
    assert len(headers) == 3
    assert repr(headers) == "Headers([('Host', 'h'), ('X-A', '1'), ('x-a', '2')])"
    headers.set("X-A", "3")
    assert list(headers) == [("Host", "h"), ("X-A", "3")] and len(headers) == 2
    headers.remove("host")
    assert list(headers) == [("X-A", "3")] and len(headers) == 1


def test_names_and_values_shared_but_the_values_a_connection_sends_alone():
    """Each idle connection keeps its request: the names and the values every client sends
    alike are one string for all, the WebSocket key, cookies and credentials each its own."""
    raw = head("/", "Host: example", "Upgrade: websocket", "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==",
               "Cookie: session=abc", "Authorization: Basic YTpi")
    first, second = list(feed_all(raw).headers), list(feed_all(raw).headers)
    assert first == second
    for (name, value), (same_name, same_value) in zip(first, second, strict=True):
        assert name is same_name
        if name in ("Sec-WebSocket-Key", "Cookie", "Authorization"):
            assert value is not same_value
        else:
            assert value is same_value


@pytest.mark.parametrize("coding", ["gzip, deflate", "gzip,X chunked"])
def test_is_chunked_needs_chunked_last_after_a_comma(coding):
    assert not is_chunked(coding)


def test_parse_decimal_says_why():
    with pytest.raises(ValueError) as info:
        parse_decimal("1" * 50 + "x")
    assert str(info.value) == f"not ASCII digits: {'1' * 40!r}"
    with pytest.raises(ValueError) as info:
        parse_decimal("9" * 50)
    assert str(info.value) == f"a number past 2^63 - 1: {'9' * 40!r}"


def test_a_message_closes_and_carries_its_content_unless_told():
    """The status page's answer leaves both to the defaults."""
    assert without_date(message(200, (), b"up", "text/plain")) == (
        b"HTTP/1.1 200 OK\r\nDate: -\r\nServer: " + SERVER.encode() + b"\r\n"
        b"Content-Length: 2\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nup")


def test_port_65536_is_refused_and_an_authority_ends_at_slash_query_or_fragment():
    assert status_of(head("/", "Host: h:65536")) == 400
    assert feed_all(head("http://aXb/p", "Host: h")).host == "axb"


def test_strings_many_requests_send_alike_are_kept_once_and_the_table_is_bounded(monkeypatch):
    monkeypatch.setattr(strings, "_SHARED", {})
    monkeypatch.setattr(limits, "SHARED_STRINGS", 10)

    def request(value: str):
        return feed_all(f"GET /chat?q={value} HTTP/1.1\r\nHost: h\r\nUser-Agent: {value}\r\n"
                        f"X-Same: alike\r\n\r\n".encode())

    first, second = request("a" * 5), request("a" * 5)
    assert first.headers.get("User-Agent") is second.headers.get("User-Agent")
    assert first.headers.get("X-Same") is second.headers.get("X-Same")
    assert first.path is second.path
    for n in range(100):  # clients choose them: the table stops at limits.SHARED_STRINGS
        request(f"unique-{n}")
    assert len(strings._SHARED) == 10
    assert request("a" * 5).headers.get("User-Agent") is first.headers.get("User-Agent")

    monkeypatch.setattr(strings, "_SHARED", {})
    longest, longer = ("b" * n for n in (limits.SHARED_STRING_MAX, limits.SHARED_STRING_MAX + 1))
    assert request(longer).headers.get("User-Agent") == longer
    assert request(longest).headers.get("User-Agent") == longest
    assert longest in strings._SHARED and longer not in strings._SHARED
