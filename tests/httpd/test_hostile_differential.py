"""Requests an attacker would send, to geows in front of Apache and to httpd's own
mod_proxy front with the same rules (front_lab.FRONT): the same verdict from both.

Each row is sent as raw bytes, in one write (a pipelined row's requests together), to
each front. Its verdict: the status of each response in order (a front that closes the
connection or goes silent answers fewer), the WebSocket handler behind a 101 (see
front_lab.outcome), and what the backend served that front: each request its log shows
arriving (method and target, as received) with the status it answered, leaving out those
it refused as messages (front_lab.REFUSED_BY_BACKEND). The rows of issue 21's table carry
httpd's answer as the issue states it, so that a change in the oracle shows rather than
hides a difference. After each row, both fronts must still answer (geows is restarted if
not, so that one wedged worker fails one row) and neither may have logged a control byte
as it came.

Not compared, on purpose: bodies and reason phrases of a front's own error pages, headers
a front adds (Server, Date, X-Forwarded-*), the protocol version of a forwarded request
line: they are wording, not access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.httpd import front_lab
from tests.httpd.front_lab import Fronts

UPGRADE = ("Upgrade: websocket", "Connection: Upgrade",
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")
# draft-76 section 1.3's example keys; its 8 key bytes follow the head.
DRAFT76 = ("Upgrade: WebSocket", "Connection: Upgrade", "Origin: http://public.test",
           "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5", "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00")
DRAFT76_KEY3 = b"^n:ds[4U"
CLOSE = "Connection: close"


def request(target: str, *headers: str, method: str = "GET", host: str | None = "public.test",
            body: bytes = b"", version: str = "HTTP/1.1", eol: str = "\r\n") -> bytes:
    """One request's bytes: latin-1, so that any byte can be written as \\xhh."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += headers
    return (eol.join([*lines, "", ""])).encode("latin-1") + body


def post(body: bytes, *headers: str, target: str = "/public/index.html") -> bytes:
    return request(target, *headers, method="POST", body=body)


SMUGGLED = request("/private/secret.html")   # a request hidden in a body


@dataclass(frozen=True)
class Row:
    requests: tuple[bytes, ...]
    httpd: tuple[int, ...] | None = None   # issue 21's table: what httpd answers
    backend: tuple[str, ...] | None = None  # ... and the targets its backend then receives
    # A deliberate difference (docs/explanation/protocols.md): compared is only that
    # neither front serves it (every answer a refusal) and that the backend sees nothing
    # from either.
    neither_serves: bool = False
    # Another (docs/explanation/beside-apache.md): geows ends the connection after its first answer
    # where httpd reads on. Compared are that answer and what the backend served.
    ends_after_first: bool = False

    @property
    def raw(self) -> bytes:
        return b"".join(self.requests)


def row(*requests: bytes, httpd: tuple[int, ...] | None = None,
        backend: tuple[str, ...] | None = None, neither_serves: bool = False,
        ends_after_first: bool = False) -> Row:
    return Row(requests, httpd, backend, neither_serves, ends_after_first)


def path(target: str, host: str = "public.test") -> Row:
    return row(request(target, CLOSE, host=host))


ROWS: dict[str, Row] = {
    # Issue 21's table.
    "upgrade-foo-forwarded-then-pipelined-private": row(
        request("/public/index.html", "Connection: Upgrade", "Upgrade: foo"),
        request("/private/secret.html", CLOSE), httpd=(200, 403)),
    "websocket-upgrade-forwarded-then-pipelined-private": row(
        request("/public/index.html", *UPGRADE), request("/private/secret.html", CLOSE),
        httpd=(200, 403)),
    "double-slash-private": row(request("//private/secret.html", CLOSE), httpd=(403,)),
    "double-slash-admin-chat-upgrade": row(request("//admin/chat", *UPGRADE), httpd=(403,)),
    "absolute-form-admin-vhost-host-header-public": row(
        request("http://admin.test/adminonly.html", CLOSE), httpd=(403,)),
    "encoded-letter-docs-prefix-maps-to-public": row(
        request("/%64ocs/index.html", CLOSE), httpd=(200,),
        backend=("/public//index.html",)),
    "content-length-non-ascii-digit-forwarded": row(
        post(b"x", "Content-Length: \xb2", CLOSE), httpd=(400,)),
    "content-length-non-ascii-digit-handshake": row(
        request("/chat", *UPGRADE, "Content-Length: \xb2"), httpd=(400,)),
    "escape-sequence-in-target": row(
        request("/private/\x1b[1;31mFORGED", CLOSE), httpd=(400,)),
    "bare-cr-in-header-value-forwarded": row(
        request("/public/index.html", "X-Note: a\rb", CLOSE), httpd=(400,)),
    "bare-cr-in-host-draft76-handshake": row(
        request("/chat", *DRAFT76, host="public.test\rX-Evil: 1", body=DRAFT76_KEY3),
        httpd=(400,)),

    # What held up: framing. A body that hides a request for /private, then a request that
    # must be framed after it.
    "content-length-and-chunked": row(
        post(b"0\r\n\r\n" + SMUGGLED, f"Content-Length: {5 + len(SMUGGLED)}",
             "Transfer-Encoding: chunked"), request("/public/index.html", CLOSE)),
    "chunked-and-content-length": row(
        post(b"0\r\n\r\n" + SMUGGLED, "Transfer-Encoding: chunked", "Content-Length: 5"),
        request("/public/index.html", CLOSE)),
    "duplicate-content-length-different": row(
        post(b"12345" + SMUGGLED, "Content-Length: 5", f"Content-Length: {5 + len(SMUGGLED)}"),
        request("/public/index.html", CLOSE)),
    "duplicate-content-length-same": row(
        post(b"12345", "Content-Length: 5", "Content-Length: 5"),
        request("/public/index.html", CLOSE)),
    "content-length-list": row(post(b"12345", "Content-Length: 5, 5", CLOSE)),
    "content-length-plus-sign": row(post(b"12345", "Content-Length: +5", CLOSE)),
    "content-length-negative": row(post(b"", "Content-Length: -1", CLOSE)),
    "content-length-hex": row(post(b"12345", "Content-Length: 0x5", CLOSE)),
    "content-length-huge": row(post(b"", "Content-Length: 99999999999999999999999", CLOSE)),
    "content-length-space-before-colon": row(
        post(b"0\r\n\r\n", "Content-Length : 5", "Transfer-Encoding: chunked", CLOSE)),
    "transfer-encoding-space-before-colon": row(
        post(b"5\r\n" + b"12345", "Transfer-Encoding : chunked", "Content-Length: 5", CLOSE)),
    "transfer-encoding-gzip": row(post(b"12345", "Transfer-Encoding: gzip", CLOSE)),
    "transfer-encoding-chunked-not-last": row(
        post(b"0\r\n\r\n", "Transfer-Encoding: chunked, identity", CLOSE)),
    "transfer-encoding-uppercase-chunked": row(
        post(b"0\r\n\r\n", "Transfer-Encoding: CHUNKED"), request("/public/index.html", CLOSE)),
    # httpd: mod_proxy_http refuses any Transfer-Encoding but a lone "chunked" with 500
    # (AH01093); its core takes "chunked, chunked" from geows.
    "transfer-encoding-twice": row(
        post(b"0\r\n\r\n", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked", CLOSE)),
    "transfer-encoding-gzip-then-chunked": row(
        post(b"0\r\n\r\n", "Transfer-Encoding: gzip, chunked", CLOSE)),
    "transfer-encoding-twice-pipelined": row(
        request("/public/index.html"),
        post(b"0\r\n\r\n", "Transfer-Encoding: chunked, chunked"),
        request("/public/index.html", CLOSE)),
    "transfer-encoding-chunked-trailing-comma": row(
        post(b"0\r\n\r\n", "Transfer-Encoding: chunked,", CLOSE)),
    "transfer-encoding-tab-before-chunked": row(
        post(b"0\r\n\r\n", "Transfer-Encoding: gzip,\tchunked", CLOSE)),
    "transfer-encoding-http10": row(
        request("/public/index.html", "Transfer-Encoding: chunked", method="POST",
                version="HTTP/1.0", body=b"0\r\n\r\n")),
    **{f"chunk-size-{name}": row(
        post(chunk + b"12345\r\n0\r\n\r\n", "Transfer-Encoding: chunked"), SMUGGLED,
        request("/public/index.html", CLOSE))
       for name, chunk in {
           "plain": b"5\r\n", "leading-zeros": b"0000005\r\n", "uppercase": b"A\r\n",
           "hex-prefix": b"0x5\r\n", "plus-sign": b"+5\r\n", "negative": b"-5\r\n",
           "overflow": b"10000000000000005\r\n", "trailing-space": b"5 \r\n",
           "leading-space": b" 5\r\n", "extension": b"5;name=value\r\n",
           "extension-with-quoted-crlf": b'5;name="a\r\nb"\r\n', "bare-lf": b"5\n",
           "empty": b"\r\n", "too-small": b"3\r\n", "non-ascii-digit": b"\xb5\r\n",
           "underscore": b"0_5\r\n", "tab": b"5\t\r\n", "ten-spaces": b"5" + b" " * 10 + b"\r\n",
           "eleven-spaces": b"5" + b" " * 11 + b"\r\n", "space-then-extension": b"5 ;x=1\r\n",
           "many-leading-zeros": b"0" * 30 + b"5\r\n", "past-2-63": b"8000000000000000\r\n",
           "control-in-extension": b"5;a\x01\r\n", "fullwidth-digit": b"\xef\xbc\x95\r\n",
           }.items()},
    # Numbers of more than 4,300 digits, int()'s limit: httpd reads leading zeros as any.
    "content-length-4401-digits-forwarded": row(
        post(b"hello", "Content-Length: " + "0" * 4400 + "5", CLOSE)),
    "content-length-4401-digits-handshake": row(
        request("/chat", *UPGRADE, "Content-Length: " + "0" * 4401)),
    "content-length-4401-digits-pipelined": row(
        request("/public/index.html"),
        post(b"hello", "Content-Length: " + "0" * 4400 + "5", CLOSE)),
    "content-length-4401-nines": row(post(b"", "Content-Length: " + "9" * 4401, CLOSE)),
    "host-port-4402-digits": row(
        request("/public/index.html", CLOSE, host="public.test:" + "0" * 4400 + "80")),
    "host-port-past-long-max": row(
        request("/public/index.html", CLOSE, host="public.test:" + "9" * 30)),
    "chunk-data-not-followed-by-crlf": row(
        post(b"5\r\n12345XY0\r\n\r\n", "Transfer-Encoding: chunked"),
        request("/public/index.html", CLOSE)),
    "chunk-trailer-fields": row(
        post(b"0\r\nX-Trailer: 1\r\n\r\n", "Transfer-Encoding: chunked"),
        request("/public/index.html", CLOSE)),

    # Later requests on a forwarded connection that the front answers itself: in their
    # place, the connection going on, or not, as httpd's does.
    "pipelined-refused-then-forwarded": row(
        request("/public/index.html"), request("/private/secret.html"),
        request("/admin/x"), request("/public/index.html", CLOSE)),
    "pipelined-refused-with-a-body": row(
        request("/public/index.html"),
        post(SMUGGLED, f"Content-Length: {len(SMUGGLED)}", target="/private/secret.html"),
        request("/public/index.html", CLOSE)),
    "pipelined-refused-connection-close": row(
        request("/public/index.html"), request("/private/secret.html", CLOSE),
        request("/public/index.html", CLOSE)),
    "pipelined-refused-http10": row(
        request("/public/index.html"), request("/private/secret.html", version="HTTP/1.0"),
        request("/public/index.html", CLOSE)),
    "pipelined-refused-http10-keep-alive": row(
        request("/public/index.html"),
        request("/private/secret.html", "Connection: keep-alive", version="HTTP/1.0"),
        request("/public/index.html", CLOSE)),
    "pipelined-refused-expect-100-continue": row(
        request("/public/index.html"),
        post(b"12345", "Expect: 100-continue", "Content-Length: 5",
             target="/private/secret.html"),
        request("/public/index.html", CLOSE)),
    "pipelined-options-asterisk": row(
        request("/public/index.html"), request("*", method="OPTIONS"),
        request("/public/index.html", CLOSE)),
    "pipelined-bad-head": row(
        request("/public/index.html"), request("/public/index.html", "X-A: a\rb"),
        request("/public/index.html", CLOSE)),
    # ... whose reasons quote what the client sent: escaped in the logs, as httpd's.
    "pipelined-escape-sequence-in-target": row(
        request("/public/index.html"), request("/private/\x1b[1;31mFORGED\x07\x9b", CLOSE)),
    "pipelined-escape-sequence-in-header": row(
        request("/public/index.html"),
        request("/public/index.html", "X-Note: a\x1b]0;x\x07\x9bb", CLOSE)),

    # Heads.
    "folded-header": row(request("/public/index.html", "X-Note: a", " folded", CLOSE)),
    "folded-host-header": row(request("/adminonly.html", "Host: public.test", " admin.test",
                                      CLOSE, host=None)),
    "fold-before-first-header": row(request("/adminonly.html", " Host: admin.test", CLOSE,
                                            host=None)),
    # A fold after an empty value: httpd reads the joined value after the colon and the
    # whitespace there, so no leading space is left to make these unreadable.
    "folded-transfer-encoding-after-empty-value": row(
        post(b"0\r\n\r\n", "Transfer-Encoding:", " chunked", CLOSE), httpd=(200,)),
    "folded-content-length-after-empty-value": row(
        post(b"hello", "Content-Length:", "\t5", CLOSE), httpd=(200,)),
    "folded-host-after-empty-value": row(
        request("/adminonly.html", "Host:", " admin.test", CLOSE, host=None), httpd=(403,)),
    # LimitRequestFieldSize (8190) on a folded field: httpd counts the field as it came,
    # the fold's whitespace made one space, and its NUL (protocol.c, fold_len).
    "folded-header-just-under-the-field-size": row(
        request("/public/index.html", "X-A: " + "a" * 8181, " b", CLOSE), httpd=(200,)),
    "folded-header-at-the-field-size": row(
        request("/public/index.html", "X-A: " + "a" * 8182, " b", CLOSE), httpd=(400,)),
    "folded-header-spaces-count-toward-the-field-size": row(
        request("/public/index.html", "X-A:" + " " * 10 + "a" * 8173, " \t b", CLOSE),
        httpd=(400,)),
    "folded-header-tab": row(request("/public/index.html", "X-Note: a", "\tfolded", CLOSE)),
    "folded-host-header-tab": row(request("/adminonly.html", "Host: public.test", "\tadmin.test",
                                          CLOSE, host=None)),
    "host-tab-padded": row(request("/adminonly.html", "Host:\tadmin.test\t", CLOSE, host=None)),
    # httpd reads a line of LimitRequestLine or LimitRequestFieldSize (8190) + 1 bytes, its
    # CRLF not counted, and refuses one more.
    "header-at-the-field-size": row(
        request("/public/index.html", "X-A: " + "a" * 8185, CLOSE), httpd=(200,)),
    "header-one-past-the-field-size": row(
        request("/public/index.html", "X-A: " + "a" * 8186, CLOSE), httpd=(200,)),
    "header-two-past-the-field-size": row(
        request("/public/index.html", "X-A: " + "a" * 8187, CLOSE), httpd=(400,)),
    "request-line-one-past-the-limit": row(
        request("/public/index.html?" + "a" * 8159, CLOSE), httpd=(200,)),
    "request-line-two-past-the-limit": row(
        request("/public/index.html?" + "a" * 8160, CLOSE), httpd=(414,)),
    # httpd skips empty lines before a request line (protocol.c read_request_line).
    "blank-lines-before-request-line": row(b"\r\n\r\n" + request("/private/secret.html", CLOSE),
                                           httpd=(403,)),
    "blank-line-before-forwarded-request": row(
        b"\r\n" + request("/public/index.html", CLOSE), httpd=(200,)),
    "host-name-space-before-colon-pipelined": row(
        request("/public/index.html"), request("/adminonly.html", "Host : admin.test", CLOSE)),
    "bare-lf-head": row(request("/private/secret.html", CLOSE, eol="\n")),
    "bare-lf-head-forwarded": row(request("/public/index.html", CLOSE, eol="\n")),
    "bare-lf-between-headers": row(b"GET /public/index.html HTTP/1.1\r\nHost: admin.test\n"
                                   b"X-A: 1\r\nConnection: close\r\n\r\n"),
    "header-name-space-before-colon": row(
        request("/adminonly.html", "Host : admin.test", CLOSE, host=None)),
    "header-without-colon": row(request("/public/index.html", "NoColonHere", CLOSE)),
    "header-name-with-space": row(request("/public/index.html", "X A: b", CLOSE)),
    "nul-in-header-value": row(request("/public/index.html", "X-Note: a\x00b", CLOSE)),
    "control-byte-in-header-value": row(request("/public/index.html", "X-Note: a\x1bb", CLOSE)),
    "obs-text-in-header-value": row(request("/public/index.html", "X-Note: caf\xe9", CLOSE)),
    "header-line-too-long": row(request("/public/index.html", "X-Long: " + "a" * 9000, CLOSE)),
    "request-line-too-long": path("/public/" + "a" * 9000),
    "lowercase-http-version": row(request("/private/secret.html", CLOSE, version="http/1.1")),
    # httpd takes any HTTP/d.d in a request line (403 here), and answers HTTP/0.9 (no
    # version: Allow0.9 is its default) with a body alone. geows does not implement
    # HTTP/0.9 and answers 400: a deliberate difference, documented in
    # docs/explanation/protocols.md, that serves nothing more openly. For that row alone,
    # only that is compared.
    "http-version-2": row(request("/private/secret.html", CLOSE, version="HTTP/2.0")),
    "http-version-1-2": row(request("/private/secret.html", CLOSE, version="HTTP/1.2")),
    "http-version-9-9-forwarded": row(request("/public/index.html", CLOSE, version="HTTP/9.9")),
    "http-version-2-absolute-form-no-host": row(
        request("http://public.test/public/index.html", CLOSE, host=None, version="HTTP/2.0")),
    "http-version-2-no-host": row(request("/public/index.html", CLOSE, host=None,
                                          version="HTTP/2.0")),
    "http-version-0-9-named": row(request("/public/index.html", CLOSE, version="HTTP/0.9")),
    "http-version-09-simple-request": row(b"GET /private/secret.html\r\n\r\n",
                                          neither_serves=True),
    "double-space-in-request-line": row(b"GET  /private/secret.html HTTP/1.1\r\n"
                                        b"Host: public.test\r\nConnection: close\r\n\r\n"),
    "tab-in-request-line": row(b"GET\t/private/secret.html HTTP/1.1\r\n"
                               b"Host: public.test\r\nConnection: close\r\n\r\n"),
    "space-in-target": path("/private/secret .html"),
    "lowercase-method": row(request("/private/secret.html", CLOSE, method="get")),
    "unknown-method": row(request("/private/secret.html", CLOSE, method="FOO")),

    # Paths that name /private (or /admin, /docs, /chat) another way. httpd: %00 and %2f in
    # a path are 404 (util.c unescape_url), a bad %-escape or '..' above the root 400
    # (ap_normalize_path), both before access control.
    **{f"path-{name}": path(target) for name, target in {
        "dot-segment": "/./private/secret.html",
        "dot-dot-segment": "/public/../private/secret.html",
        "dot-dot-above-root": "/../private/secret.html",
        "dot-dot-twice-above-root": "/public/../../private/secret.html",
        "encoded-dot-dot": "/public/%2e%2e/private/secret.html",
        "encoded-dot-dot-uppercase": "/public/%2E%2E/private/secret.html",
        "half-encoded-dot-dot": "/public/.%2e/private/secret.html",
        "encoded-dot-segment": "/%2e/private/secret.html",
        "encoded-slash": "/private%2fsecret.html",
        "encoded-slash-uppercase": "/private%2Fsecret.html",
        "encoded-slash-public": "/public%2Findex.html",
        "encoded-slash-dot-dot": "/public/..%2fprivate/secret.html",
        "encoded-letter": "/%70rivate/secret.html",
        "encoded-letter-uppercase-hex": "/%70RIVATE/secret.html",
        "semicolon-parameter": "/private;x/secret.html",
        "semicolon-segment": "/public/;/../private/secret.html",
        "uppercase": "/PRIVATE/secret.html",
        "mixed-case": "/Private/secret.html",
        "backslash": "/private\\secret.html",
        "backslash-dot-dot": "/public\\..\\private\\secret.html",
        "encoded-nul": "/private%00/secret.html",
        "encoded-nul-suffix": "/public/index.html%00",
        "bad-escape": "/private/%zzsecret.html",
        "truncated-escape": "/private/secret.html%2",
        "query": "/private/secret.html?x=/public/",
        "fragment": "/public/index.html#/../private/secret.html",
        "triple-slash": "///private//secret.html",
        "trailing-slashes": "/private//",
        "prefix-boundary": "/privatex",
        "no-leading-slash": "private/secret.html",
        "docs-dot-dot": "/docs/../private/secret.html",
        "docs-encoded-dot-dot": "/docs/%2e%2e/private/secret.html",
        "docs-double-slash": "/docs//index.html",
        "double-slash-docs": "//docs/index.html",
        "docs-bare": "/docs",
        "docs-prefix-boundary": "/docsx/index.html",
        "admin-chat": "/admin/chat",
        "admin-chat-mixed-case": "/Admin/chat",
        "chat-trailing-slash": "/public/chat/",
        "chat-encoded": "/public/%63hat",
        "ws-on-public": "/ws/x",
        "private-open-on-public": "/private/open/index.html",
    }.items()},
    "path-private-open-on-other-vhost": path("/private/open/index.html", host="other.test"),
    "path-private-open-dot-dot-on-other-vhost": path("/private/open/../secret.html",
                                                     host="other.test"),
    "chat-upgrade": row(request("/public/chat", *UPGRADE)),
    "chat-upgrade-encoded": row(request("/public/%63hat", *UPGRADE)),
    "chat-upgrade-admin-vhost": row(request("/chat", *UPGRADE, host="admin.test")),
    "ws-upgrade-other-vhost": row(request("/ws", *UPGRADE, host="other.test")),
    "ws-upgrade-alias-vhost": row(request("/ws", *UPGRADE, host="x.other.test")),
    "chat-draft76": row(request("/chat", *DRAFT76, body=DRAFT76_KEY3)),
    # A draft-76 handshake geows forwards goes with its 8 key bytes, which httpd's front
    # reads as the client's next bytes (here the start of a bad request line: 400). The
    # backend answers 200, not 101: geows ends the connection there, neither forwarding
    # nor answering what follows (the backend has the key bytes, and may read them as a
    # request of its own).
    "draft76-forwarded-then-pipelined-private": row(
        request("/public/index.html", *DRAFT76, body=DRAFT76_KEY3),
        request("/private/secret.html", CLOSE), httpd=(200, 400), ends_after_first=True),
    "draft76-forwarded-then-pipelined-public": row(
        request("/public/index.html", *DRAFT76, body=DRAFT76_KEY3),
        request("/public/index.html", CLOSE), httpd=(200, 400), ends_after_first=True),
    "websocket-upgrade-private": row(request("/private/secret.html", *UPGRADE)),

    # Odd request targets. httpd: OPTIONS * is answered by its core (200); an absolute-form
    # names the vhost only with the connection's own scheme (protocol.c ap_parse_uri: not
    # https:// on a plain port), other schemes are 400; CONNECT's authority names it too.
    "asterisk-get": row(request("*", CLOSE)),
    "asterisk-options": row(request("*", CLOSE, method="OPTIONS")),
    "authority-form-get": row(request("admin.test:80", CLOSE)),
    "connect-authority-form": row(request("admin.test:80", CLOSE, method="CONNECT")),
    "absolute-form-public-vhost-host-header-admin": row(
        request("http://public.test/adminonly.html", CLOSE, host="admin.test")),
    "absolute-form-uppercase": row(request("HTTP://ADMIN.TEST/adminonly.html", CLOSE)),
    "absolute-form-trailing-dot": row(request("http://admin.test./adminonly.html", CLOSE)),
    "absolute-form-port": row(request("http://admin.test:1/adminonly.html", CLOSE)),
    "absolute-form-userinfo": row(request("http://public.test@admin.test/adminonly.html",
                                          CLOSE)),
    "absolute-form-no-path": row(request("http://admin.test", CLOSE)),
    "absolute-form-double-slash-path": row(request("http://public.test//private/secret.html",
                                                   CLOSE)),
    "absolute-form-https": row(request("https://admin.test/adminonly.html", CLOSE)),
    "absolute-form-other-scheme": row(request("ftp://admin.test/adminonly.html", CLOSE)),
    "absolute-form-no-host-header": row(request("http://admin.test/adminonly.html", CLOSE,
                                                host=None)),

    # Host header tricks.
    **{f"host-{name}": row(request("/adminonly.html", CLOSE, host=host)) for name, host in {
        "admin": "admin.test", "admin-uppercase": "ADMIN.TEST",
        "admin-trailing-dot": "admin.test.", "admin-other-port": "admin.test:1",
        "admin-empty-port": "admin.test:", "admin-with-path": "admin.test/x",
        "userinfo": "public.test@admin.test", "space-inside": "admin .test",
        "empty": "", "alias-wildcard": "x.other.test", "unknown": "unknown.test",
        "ipv6-literal": "[::1]", "comma-list": "public.test, admin.test",
        "trailing-whitespace": "admin.test \t", "percent-encoded": "admin%2etest",
    }.items()},
    "host-twice-public-then-admin": row(request("/adminonly.html", "Host: admin.test", CLOSE)),
    "host-missing-http11": row(request("/adminonly.html", CLOSE, host=None)),
    "host-missing-http10": row(request("/adminonly.html", host=None, version="HTTP/1.0")),
}


# A byte a terminal would act on, as a client may send it, C1 ones (CSI, NEL...) included:
# httpd's logs escape these (ap_escape_logitem: \xhh); newlines and tabs are the logs' own.
# The logs are read as latin-1, so a C1 character written in UTF-8 shows its second byte.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def verdicts(fronts: Fronts, case: Row) -> dict[str, tuple]:
    """front name -> (the outcome of each response, what the backend served that front);
    fails if a front stops answering after the row, or logs a control byte raw."""
    fronts.backend.received()   # anything late from an earlier row is not this row's
    for front in fronts.both:
        fronts.new_log_lines(front)
    answers = {front.name: front_lab.exchange(front.port, case.raw, len(case.requests))
               for front in fronts.both}
    seen = fronts.backend.received()
    got = {front.name: (tuple(front_lab.outcome(r) for r in answers[front.name]),
                        front_lab.served(seen.get(front.backend_port, [])))
           for front in fronts.both}
    silent = fronts.still_answering()
    assert not silent, f"{silent} stopped answering after this request: {got}"
    for front in fronts.both:
        raw = [line for line in fronts.new_log_lines(front) if RAW_CONTROL.search(line)]
        assert not raw, f"{front.name} logged a control byte as it came: {raw}"
    return got


@pytest.mark.parametrize("name", ROWS)
def test_geows_answers_as_httpd(fronts, name):
    case = ROWS[name]
    got = verdicts(fronts, case)
    httpd = got["httpd"]
    if case.httpd is not None:
        assert tuple(status for status, _ in httpd[0]) == case.httpd, \
            f"the oracle moved: httpd answers {httpd}"
    if case.backend is not None:
        assert tuple(seen.target for seen in httpd[1]) == case.backend, httpd
    if case.neither_serves:
        for outcomes, served in got.values():
            assert outcomes and all(status >= 400 for status, _ in outcomes), got
            assert served == (), got
        return
    if case.ends_after_first:
        assert got["geows"] == (httpd[0][:1], httpd[1]), got
        return
    assert got["geows"] == httpd
