"""The HTTP/1.1 request head, sans-I/O: bytes in, a Request (or an HttpError) out.

geows owns this parser because draft-76 sends 8 key bytes right after the head:
whatever follows the blank line is handed over untouched in `Request.trailing`.

The head is read as httpd 2.4 reads it with its defaults (HttpProtocolOptions Strict,
MergeSlashes On, AllowEncodedSlashes Off; server/protocol.c, server/vhost.c,
server/util.c): what httpd refuses, this refuses with the same status, and every
decision about a request (its location, vhost, access rules, ProxyPass, the logs, the
plugin's view) reads the one Request made here. Limits and statuses follow httpd's core
(LimitRequestLine -> 414, LimitRequestFields / LimitRequestFieldSize -> 400).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

from geows import __version__, limits
from geows.errors import HttpError
from geows.strings import shared

SERVER = f"geows/{__version__}"

REASONS = {
    101: "Switching Protocols",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    426: "Upgrade Required",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

# Why a status is sent, in the words of httpd's error pages.
_BODIES = {
    400: "Your browser sent a request that this server could not understand.",
    401: "This server could not verify that you are authorized to access the document "
         "requested.",
    403: "You don't have permission to access this resource.",
    404: "The requested URL was not found on this server.",
    405: "The requested method is not allowed for this URL.",
    408: "Server timeout waiting for the HTTP request from the client.",
    414: "The requested URL's length exceeds the capacity limit for this server.",
    426: "This resource is only served over the WebSocket protocol.",
    500: "The server encountered an internal error and was unable to complete your request.",
    502: "The proxy server received an invalid response from an upstream server.",
}


class Headers:
    """Request header fields in arrival order; names compare case-insensitively.

    Held flat, name, value, name, value...: every idle connection keeps its request's, and a
    tuple per field would cost 56 bytes more each."""

    __slots__ = ("_flat",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        self._flat: tuple[str, ...] = tuple(part for item in items for part in item)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The field's value; repeated fields are joined with ", " (RFC 9110 5.3)."""
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for field_name, value in self if field_name.lower() == key]

    def tokens(self, name: str) -> list[str]:
        """A comma-separated token list, lowercased (Connection, Upgrade)."""
        return [t.strip().lower() for v in self.get_all(name) for t in v.split(",") if t.strip()]

    def set(self, name: str, value: str) -> None:
        """Replace every field of that name by one, where the first was (apr_table_setn)."""
        key = name.lower()
        items = list(self)
        first = next(i for i, (field_name, _) in enumerate(items) if field_name.lower() == key)
        items[first] = (items[first][0], value)
        self._flat = tuple(part for i, item in enumerate(items)
                           if i == first or item[0].lower() != key for part in item)

    def remove(self, name: str) -> None:
        """Drop every field of that name (apr_table_unset)."""
        key = name.lower()
        self._flat = tuple(part for item in self if item[0].lower() != key for part in item)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        parts = iter(self._flat)
        return zip(parts, parts, strict=False)  # pairs: name, value

    def __len__(self) -> int:
        return len(self._flat) // 2

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"


# Fields whose value a connection sends alone: the WebSocket handshake's keys, and
# credentials (see RequestParser._add_field).
_OWN_VALUES = frozenset({"sec-websocket-key", "sec-websocket-key1", "sec-websocket-key2",
                         "cookie", "authorization"})
# RFC 9110 5.6.2 token: a method or a field name (ap_scan_http_token).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A request target: visible ASCII and obs-text, no control byte (ap_scan_vchar_obstext).
_TARGET = re.compile(r"[\x21-\x7e\x80-\xff]+")
# A field value: visible ASCII, obs-text, SP and HTAB (ap_scan_http_field_content).
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# The protocol under HttpProtocolOptions Strict: "HTTP/" DIGIT "." DIGIT, the major not 0.
# httpd takes every such version (HTTP/2.0, HTTP/9.9) as at least HTTP/1.1.
_PROTOCOL = re.compile(r"HTTP/[1-9]\.[0-9]")
# An absolute-form's scheme: what apr_uri_parse reads up to the first ':'.
_SCHEME = re.compile(r"([^:/?#]+):")
# What strtol takes whole as an absolute-form's or CONNECT's port (apr_uri_parse).
_PORT = re.compile(r"[+-]?[0-9]+")
# RFC 3986 2.3: the characters ap_normalize_path decodes before it merges slashes and
# removes dot segments.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789abcdefABCDEF")
# What an apr_off_t holds: the largest Content-Length or chunk size httpd reads (past it,
# apr_strtoff and parse_chunk_size overflow, and httpd refuses the number).
MAX_OFF_T = 2**63 - 1


@dataclass(slots=True, kw_only=True)
class Request:
    method: str
    target: str          # as received: "/echo?x=1", "http://host/echo", "*", "host:443"
    version: str         # "HTTP/1.1"
    headers: Headers     # an absolute-form's host replaces the Host field, as httpd's does
    path: str            # decoded and normalised (httpd's r->uri): what <Location> and
                         # ProxyPass match; "*" for OPTIONS *, "/" for CONNECT
    query: str           # raw, without "?"
    host: str | None = None  # the host that picks the vhost: an absolute-form's (or
                             # CONNECT's) host[:port] when its scheme is the connection's,
                             # else the Host field; None: neither
    origin_form: str = "/"   # the path and query as sent (an absolute-form's own)
    target_port: int | None = None  # an absolute-form's port, whatever its scheme (httpd's
                                    # r->parsed_uri.port, where the Host sets none)
    content_length: int | None = None  # the body's length; None: none announced, or chunked
    chunked: bool = False    # Transfer-Encoding, chunked last: the body is chunked
    last: bool = False       # httpd answers nothing after it on the connection (ap_read_request:
                             # Transfer-Encoding with Content-Length)
    trailing: bytes = field(default=b"", repr=False)   # bytes after the head
    head: bytes = field(default=b"", repr=False)       # the head as received, blank line included


class _Target(NamedTuple):
    """A request target split as ap_parse_uri splits it."""

    path: str             # as sent, not yet decoded ("/" or "*" when the target has none)
    query: str | None     # None: no "?"
    host: str | None      # the absolute-form's or CONNECT's host[:port] that picks the vhost
    origin_form: str
    port: int | None = None  # an absolute-form's port, as apr_uri_parse reads it


class RequestParser:
    """Feed bytes until `feed` returns a Request; raises HttpError on a bad head.

    Each line is checked against its limit as it arrives, so nothing is ever
    buffered beyond LimitRequestLine / LimitRequestFieldSize. `secure`: the connection is
    TLS, so "https" (not "http") is the scheme whose absolute-form host picks the vhost.
    """

    def __init__(
        self,
        *,
        limit_request_line: int = limits.LIMIT_REQUEST_LINE,
        limit_request_fields: int = limits.LIMIT_REQUEST_FIELDS,
        limit_request_field_size: int = limits.LIMIT_REQUEST_FIELD_SIZE,
        secure: bool = False,
    ):
        self._limit_line = limit_request_line
        self._limit_fields = limit_request_fields
        self._limit_field_size = limit_request_field_size
        self._secure = secure
        self._buffer = bytearray()
        self._request_line: str | None = None
        self._fields: list[tuple[str, str]] = []
        self._field_size = 0  # the last field's length as received, folded lines joined
        self._head = bytearray()  # the lines read so far, as they came (a proxy forwards them)

    @property
    def request_line(self) -> str | None:
        """The request line as received, once it has come: what the logs of a refused
        request show, as httpd's do."""
        return self._request_line

    def feed(self, data: bytes) -> Request | None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                self._check_length(len(self._buffer) - self._buffer.endswith(b"\r"))
                return None
            line = bytes(self._buffer[:end])
            self._check_length(len(line) - line.endswith(b"\r"))
            if not line.endswith(b"\r"):
                # HttpProtocolOptions Strict: ap_rgetline takes CRLF only (AP_GETLINE_CRLF).
                raise HttpError(400, "a request line or header line not ended by CRLF")
            line = line[:-1]
            if self._request_line is not None or line:
                self._head += self._buffer[: end + 1]
            del self._buffer[: end + 1]
            if self._request_line is None:
                if line:  # httpd skips blank lines before the request line
                    self._request_line = line.decode("latin-1")
            elif line:
                self._add_field(line.decode("latin-1"))
            else:
                return self._finish()

    def _check_length(self, length: int) -> None:
        """A line's length, its CRLF not counted, against its limit: httpd reads a line
        into limit + 2 bytes (ap_rgetline), and takes one of limit + 1 bytes (measured:
        tests/httpd/test_hostile_differential.py)."""
        if self._request_line is None:
            if length > self._limit_line + 1:
                raise HttpError(414, "request line longer than LimitRequestLine")
        elif length > self._limit_field_size + 1:
            raise HttpError(400, "request header field longer than LimitRequestFieldSize")

    def _add_field(self, line: str) -> None:
        """One header line, as ap_get_mime_headers_core reads it under Strict: each line's
        trailing spaces and tabs dropped; an obs-fold line (RFC 9112 5.2) joined to the
        field before it, its leading whitespace made one space, and the value of the
        joined line read after the colon and the whitespace there, as any (after an
        empty value, "X:" then " a" is "a"). The field so far, as it came, is
        `_field_size` long; once joined, it must stay below LimitRequestFieldSize - 1
        (httpd counts the NUL that ends it, and refuses reaching the limit)."""
        if line[0] in " \t":
            if not self._fields:
                raise HttpError(400, "header continuation line without a header")
            more = line.strip(" \t")
            if not more:
                raise HttpError(400, "empty header continuation line")
            name, value = self._fields[-1]
            self._field_size += 1 + len(more)
            if self._field_size + 1 >= self._limit_field_size:
                raise HttpError(400, "request header field longer than LimitRequestFieldSize "
                                     "once folded")
            value = f"{value} {more}" if value else more
            if not _FIELD_VALUE.fullmatch(more):
                raise HttpError(400, f"malformed request header value: {name}: {value[:80]}")
            self._fields[-1] = (name, value)
            return
        line = line.rstrip(" \t")
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HttpError(400, f"malformed request header field name: {line[:80]}")
        value = value.lstrip(" \t")
        if not _FIELD_VALUE.fullmatch(value):
            raise HttpError(400, f"malformed request header value: {name}: {value[:80]}")
        if self._limit_fields and len(self._fields) >= self._limit_fields:  # 0: no limit
            raise HttpError(400, "more request header fields than LimitRequestFields")
        # Shared: most names and values are the same on every client's request, and each
        # idle connection keeps its request (the plugin's, the access log's); not the values
        # each connection sends its own, which would only fill the table.
        if name.lower() not in _OWN_VALUES:
            value = shared(value)
        self._fields.append((shared(name), value))
        self._field_size = len(line)

    def _finish(self) -> Request:
        """The request, checked in ap_read_request's order: the line, the fields, the body's
        framing, the host, then the path (whose %2F and %00 are a 404, not a 400)."""
        method, target, version = _split_request_line(self._request_line)
        merged: dict[str, int] = {}
        for name, value in self._fields:
            key = name.lower()
            merged[key] = merged[key] + 2 + len(value) if key in merged else len(value)
        if any(size > self._limit_field_size for size in merged.values()):
            # httpd joins repeated fields with ", " and checks the sum too.
            raise HttpError(400, "request header fields longer than LimitRequestFieldSize "
                                 "once joined")
        split = _split_target(method, target, self._secure)
        headers = Headers(self._fields)
        both = "Transfer-Encoding" in headers and "Content-Length" in headers
        content_length, chunked = _body_framing(headers)
        host = _vhost_host(headers, split.host, version)
        return Request(
            method=method,
            target=target,
            version=version,
            headers=headers,
            path=shared(normalize_path(split.path)),  # as the fields' values
            query=split.query or "",
            host=host,
            origin_form=split.origin_form,
            target_port=split.port,
            content_length=content_length,
            chunked=chunked,
            last=both,
            trailing=bytes(self._buffer),
            head=bytes(self._head),
        )


def _split_request_line(line: str) -> tuple[str, str, str]:
    """Method, target and protocol, as ap_parse_request_line takes them under Strict: one
    SP between them, none around, a token for the method, no control byte in the target."""
    parts = line.split(" ")
    if len(parts) != 3:
        raise HttpError(400, f"malformed request line (not three words, single spaces): "
                             f"{line[:80]}")
    method, target, version = parts
    if not _TOKEN.fullmatch(method):
        raise HttpError(400, f"invalid method token: {method[:80]}")
    if not _TARGET.fullmatch(target):
        raise HttpError(400, f"request target incorrectly encoded: {target[:80]}")
    if not _PROTOCOL.fullmatch(version):
        raise HttpError(400, f"unrecognized protocol: {version[:20]}")
    return shared(method), target, shared(version)


def _split_target(method: str, target: str, secure: bool) -> _Target:
    """The target split as ap_parse_uri and apr_uri_parse split it: CONNECT's authority;
    else a path (leading slashes are one: "//a/b" is the path /a/b, not the host a), an
    absolute URI, or "*" for OPTIONS. 400 for what httpd refuses under Strict."""
    if method == "CONNECT":
        return _authority_form(target)
    sent = target
    while target.startswith("//"):
        target = target[1:]
    scheme = authority = None
    rest = target
    match = None if target.startswith("/") else _SCHEME.match(target)
    if match:
        scheme, rest = match[1], target[match.end():]
        if rest.startswith("//"):
            end = len(rest)
            for delimiter in "/?#":
                found = rest.find(delimiter, 2)
                if found >= 0:
                    end = min(end, found)
            authority, rest = rest[2:end], rest[end:]
    path_end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    path, after = rest[:path_end] or None, rest[path_end:]
    query = fragment = None
    if after.startswith("?"):
        query, hash_mark, fragment_text = after[1:].partition("#")
        fragment = fragment_text if hash_mark else None
    elif after.startswith("#"):
        fragment = after[1:]
    if path is None:
        path = "*" if method == "OPTIONS" else "/"
    elif not path.startswith("/") and not (method == "OPTIONS" and path == "*"):
        # RFC 9112 3.2: origin-form, absolute-form, or "*" for OPTIONS.
        raise HttpError(400, f"invalid request target: {sent[:80]}")
    if fragment is not None:
        raise HttpError(400, "request target with a fragment")
    host = target_port = None
    if authority is not None:
        if "@" in authority:
            raise HttpError(400, "request target with a username or password")
        hostname, port = _host_and_port(authority)
        if scheme.lower() == ("https" if secure else "http"):
            host = _url_host(hostname, port)
        if port is not None:  # strtol's, as an apr_port_t; none written: the scheme's
            target_port = int(port) % 65536 if port else 443 if scheme.lower() == "https" else 80
    if scheme is not None and scheme.lower() not in ("http", "https"):
        # ap_post_read_request: only http(s) without a forward proxy.
        raise HttpError(400, f"request target with scheme {scheme[:20]}")
    origin_form = sent if scheme is None else path + ("" if query is None else f"?{query}")
    return _Target(path, query, host, origin_form, target_port)


def _authority_form(target: str) -> _Target:
    """CONNECT's host:port (apr_uri_parse_hostinfo): its host picks the vhost, its path
    is "/" (the target has none)."""
    if target.startswith("["):
        end = target.find("]")
        if end < 0 or target[end + 1:end + 2] != ":":
            raise HttpError(400, f"invalid CONNECT target: {target[:80]}")
        hostname, port = target[1:end], target[end + 2:]
    else:
        hostname, colon, port = target.partition(":")
        if not colon:
            raise HttpError(400, f"invalid CONNECT target: {target[:80]}")
    if not _PORT.fullmatch(port):
        raise HttpError(400, f"invalid CONNECT target: {target[:80]}")
    return _Target("/", None, _url_host(hostname, port), "/")


def _host_and_port(authority: str) -> tuple[str, str | None]:
    """An absolute-form's host (an IPv6 literal without its brackets) and port, as
    apr_uri_parse splits them."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise HttpError(400, f"request target with an unclosed IPv6 literal: "
                                 f"{authority[:80]}")
        if authority[end + 1:end + 2] != ":":
            return authority[1:-1], None
        hostname, port = authority[1:end], authority[end + 2:]
    else:
        hostname, colon, port = authority.partition(":")
        if not colon:
            return hostname, None
    if port and not _PORT.fullmatch(port):
        raise HttpError(400, f"request target with an invalid port: {authority[:80]}")
    return hostname, port


def _url_host(hostname: str, port: str | None) -> str:
    """What httpd takes from a URL's host for the Host field (fix_hostname, then
    construct_host_header): lowercased, without a trailing dot, an IPv6 literal in
    brackets, with the port when it is one. An empty host ("http:///x") is refused, as
    RFC 9110 4.2.1 says: httpd would take the default vhost and put an empty Host in
    place of the client's, which a backend refuses or reads as another vhost."""
    if not hostname:
        raise HttpError(400, "request target with an empty host")
    if _is_digits(hostname):
        raise HttpError(400, f"purely numeric host name: {hostname}")
    if ":" in hostname:
        _check_ipv6_literal(hostname)
        hostname = f"[{hostname.lower()}]"
    else:
        hostname = _checked_name(hostname)
    return hostname + (f":{port}" if port and _is_digits(port) else "")


def _vhost_host(headers: Headers, url_host: str | None, version: str) -> str | None:
    """The host that picks the vhost (ap_update_vhost_from_headers, ap_check_request_header):
    the URL's when it names one, which then replaces the Host field (RFC 9112 3.2.2), else
    the Host field, checked as fix_hostname checks it under Strict. From HTTP/1.1 on a
    request needs a host, and HTTP/1.1 itself a Host field (ap_check_request_header:
    HTTP/2.0 with an absolute-form may go without)."""
    fields = headers.get_all("Host")
    if url_host is not None:
        host: str | None = url_host
        if fields:
            headers.set("Host", url_host)
    else:
        host = ", ".join(fields) if fields else None
        if host:
            _check_host_field(host)
        host = host or None
    if (version != "HTTP/1.0" and host is None) or (version == "HTTP/1.1" and not fields):
        raise HttpError(400, f"{version} request without a host (RFC 9112 3.2)")
    return host


def _check_host_field(value: str) -> None:
    """fix_hostname's checks of a Host field: a name, IPv4 or [IPv6] literal, an optional
    port from 1 to 65535 (apr_parse_addr_port), no scope id. Repeated fields, joined with
    ", ", fail."""
    if _is_digits(value):
        raise HttpError(400, f"purely numeric host name: {value[:80]}")
    digits = len(value)
    while digits and value[digits - 1] in _DIGITS:
        digits -= 1
    hostname = value
    if digits < len(value) and value[digits - 1] == ":":
        # apr_parse_addr_port reads the port with atoi: leading zeros are nothing, and a
        # port past LONG_MAX is -1, refused. (atoi keeps the low 32 bits of a port past
        # 2^31, which makes 4294967376 its 80: geows refuses every port past 65535.)
        try:
            port = parse_decimal(value[digits:])
        except ValueError:
            port = -1
        if digits == 1 or not 1 <= port <= 65535:
            raise HttpError(400, f"malformed Host header: {value[:80]}")
        hostname = value[:digits - 1]
    if hostname.startswith("["):
        literal = hostname[1:-1]
        if hostname.find("]") != len(hostname) - 1 or "%" in literal:
            raise HttpError(400, f"malformed Host header: {value[:80]}")
        try:
            socket.inet_pton(socket.AF_INET6, literal)
        except OSError:
            raise HttpError(400, f"malformed Host header: {value[:80]}") from None
        _check_ipv6_literal(literal)
    else:
        _checked_name(hostname)


def _check_ipv6_literal(host: str) -> None:
    """fix_hostname_v6_literal: hex digits, colons ("::" once, never ":."), dots (never
    ".:" or "..")."""
    double_colon = False
    for i, char in enumerate(host):
        following = host[i + 1:i + 2]
        if char == ":":
            if following == "." or (following == ":" and double_colon):
                raise HttpError(400, f"malformed IPv6 host: {host[:80]}")
            double_colon = double_colon or following == ":"
        elif char == ".":
            if following in (":", "."):
                raise HttpError(400, f"malformed IPv6 host: {host[:80]}")
        elif char not in _HEX:
            raise HttpError(400, f"malformed IPv6 host: {host[:80]}")


def _checked_name(host: str) -> str:
    """A host name or IPv4 address, lowercased and without its trailing dot, as
    fix_hostname_non_v6 and (HttpProtocolOptions Strict) strict_hostname_check take it:
    letters, digits, '-', '_' and single dots; an all-numeric one a dotted quad without
    leading zeros; the last label starting with a letter."""
    if ".." in host or "/" in host or "\\" in host:
        raise HttpError(400, f"malformed host name: {host[:80]}")
    host = host.lower().removesuffix(".")
    dotted_decimal, leading_zero, dots = True, False, 0
    for i, char in enumerate(host):
        if char in _LETTERS or char in "-_":
            dotted_decimal = False
        elif char == ".":
            dots += 1
            leading_zero = leading_zero or (host[i + 1:i + 2] == "0"
                                            and host[i + 2:i + 3] in _DIGITS)
        elif char not in _DIGITS:
            raise HttpError(400, f"invalid host name: {host[:80]}")
    if dotted_decimal:
        if host.startswith(".") or (host[:1] == "0" and host[1:2] in _DIGITS):
            leading_zero = True
        if leading_zero or dots != 3:
            raise HttpError(400, f"invalid host name: {host[:80]}")
    elif "." in host:
        label = host.rpartition(".")[2]
        if label and label[0] not in _LETTERS:
            raise HttpError(400, f"invalid host name: {host[:80]}")
    return host


def _body_framing(headers: Headers) -> tuple[int | None, bool]:
    """The body's Content-Length and whether it is chunked, as ap_read_request checks them:
    a Content-Length of ASCII digits only (repeated fields are joined, and fail), in
    range; a Transfer-Encoding with chunked last, which overrides Content-Length: that
    field is then dropped (RFC 9112 6.3), so that no one downstream reads it (and the
    connection closes after the request: Request.last)."""
    field = headers.get("Content-Length")
    try:
        length = None if field is None else parse_decimal(field)
    except ValueError:
        raise HttpError(400, f"invalid Content-Length: {field[:40]}") from None
    if "Transfer-Encoding" in headers:
        if not is_chunked(headers.get("Transfer-Encoding")):
            raise HttpError(400, "request Transfer-Encoding without chunked last")
        headers.remove("Content-Length")
        return None, True
    return length, False


def is_chunked(coding: str) -> bool:
    """Whether a Transfer-Encoding value ends with the chunked coding, as ap_is_chunked
    reads it: "chunked" in any case, alone or last after a comma (and spaces); "gzip
    chunked", "gzip,\tchunked" and "chunked," are not."""
    if len(coding) < 7 or coding[-7:].lower() != "chunked":
        return False
    before = coding[:-7].rstrip(" ")
    return not before or before.endswith(",")


def _is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes '²' and other digits int() refuses."""
    return text.isascii() and text.isdigit()


def parse_decimal(text: str) -> int:
    """A decimal number a peer sent (a Content-Length, a Host field's port, draft-76's key
    digits), read as httpd reads one (ap_parse_strict_length: a digit first, then
    apr_strtoff in base 10 to the end): ASCII digits only, leading zeros however many,
    and at most MAX_OFF_T, past which apr_strtoff overflows and httpd refuses the number.
    ValueError for anything else. Never int() alone on a peer's digits: it takes '²',
    '+5', ' 5' and '0_5', and refuses more than 4,300 digits, leading zeros included."""
    if not _is_digits(text):
        raise ValueError(f"not ASCII digits: {text[:40]!r}")
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(MAX_OFF_T)) or int(significant) > MAX_OFF_T:
        raise ValueError(f"a number past 2^63 - 1: {text[:40]!r}")
    return int(significant)


def normalize_path(raw: str) -> str:
    """A target's path as httpd makes r->uri of it (ap_process_request_internal): the
    unreserved characters decoded, slashes merged and dot segments removed
    (ap_normalize_path: MergeSlashes On, not above the root: 400), then the rest decoded
    (ap_unescape_url_ex: an encoded slash or NUL is a 404, AllowEncodedSlashes Off).
    Bytes that are not UTF-8 stay as surrogates (surrogateescape), so that the path
    encodes back to the bytes sent."""
    if raw == "*":
        return raw
    if _BAD_ESCAPE.search(raw):
        raise HttpError(400, f"invalid %-escape in the path: {raw[:80]}")
    unreserved = _ESCAPE.sub(
        lambda m: chr(int(m[1], 16)) if chr(int(m[1], 16)) in _UNRESERVED else m[0], raw)
    segments: list[str] = []
    for segment in unreserved.split("/"):
        if segment == "..":
            if not segments:
                # AP_NORMALIZE_NOT_ABOVE_ROOT: a path above "/" is refused.
                raise HttpError(400, "path climbs above the root")
            segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    trailing_slash = segments and unreserved.rsplit("/", 1)[-1] in ("", ".", "..")
    normal = "/" + "/".join(segments) + ("/" if trailing_slash else "")
    if re.search(r"%(00|2[fF])", normal):
        raise HttpError(404, "encoded slash or NUL in the path")
    return unquote_to_bytes(normal.encode("latin-1")).decode("utf-8", "surrogateescape")


# Statuses after which httpd closes the connection (ap_status_drops_connection).
_DROPS_CONNECTION = frozenset((400, 408, 411, 413, 414, 500, 501, 503))


def connection_after(request: Request, status: int) -> str | None:
    """The Connection field of httpd's own answer to `request` with `status`, as
    ap_set_keepalive decides whether to read another request after it: "close" after a
    status that drops the connection, `Connection: close`, an `Expect: 100-continue` left
    unanswered (its body may be coming or not), a request it closes after anyway
    (Request.last), or HTTP/1.0 without `Connection: keep-alive`; "Keep-Alive" to an
    HTTP/1.0 client that asked for it; None (HTTP/1.1 keeps it by default)."""
    tokens = request.headers.tokens("Connection")
    if (status in _DROPS_CONNECTION or "close" in tokens or request.last
            or (request.headers.get("Expect") or "").lower() == "100-continue"
            or (request.version == "HTTP/1.0" and "keep-alive" not in tokens)):
        return "close"
    return "Keep-Alive" if request.version == "HTTP/1.0" else None


def response(status: int, headers: tuple[tuple[str, str], ...] = (), *,
             head_only: bool = False, connection: str | None = "close") -> bytes:
    """A complete error response as httpd sends it: a small HTML body (`head_only`, for
    HEAD: its length alone); `connection`: its Connection field (connection_after)."""
    reason = REASONS.get(status, "Error")
    html = (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
        f"<html><head>\n<title>{status} {reason}</title>\n</head><body>\n"
        f"<h1>{reason}</h1>\n<p>{escape(_BODIES.get(status, reason))}</p>\n</body></html>\n"
    ).encode()
    return message(status, headers, html, "text/html; charset=iso-8859-1",
                   head_only=head_only, connection=connection)


def options_answer(*, connection: str | None = "close") -> bytes:
    """httpd's answer to OPTIONS * (http_send_options): 200 with no body, before any
    section, access rule or handler applies."""
    return message(200, (), b"", "", connection=connection)


def message(status: int, headers: tuple[tuple[str, str], ...], content: bytes,
            content_type: str, *, head_only: bool = False,
            connection: str | None = "close") -> bytes:
    """A complete response; `head_only` (HEAD): the head alone, with the Content-Length
    the content would have; `connection`: its Connection field, "close" when the
    connection closes after it (None: none, HTTP/1.1 keeps it open)."""
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
        f"Date: {formatdate(usegmt=True)}",
        f"Server: {SERVER}",
        *(f"{name}: {value}" for name, value in headers),
        f"Content-Length: {len(content)}",
        *([f"Connection: {connection}"] if connection else []),
    ]
    if content:
        lines.append(f"Content-Type: {content_type}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + content
