"""The HTTP/1.1 request head, sans-I/O: bytes in, a Request (or an HttpError) out.

geows owns this parser because draft-76 sends 8 key bytes right after the head:
whatever follows the blank line is handed over untouched in `Request.trailing`.
Limits and status codes follow httpd's core (LimitRequestLine -> 414,
LimitRequestFields / LimitRequestFieldSize -> 400).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from urllib.parse import unquote_to_bytes, urlsplit

from geows import __version__, limits
from geows.errors import HttpError

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
    """Request header fields in arrival order; names compare case-insensitively."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]] | None = None):
        self._items: list[tuple[str, str]] = items or []

    def get(self, name: str, default: str | None = None) -> str | None:
        """The field's value; repeated fields are joined with ", " (RFC 9110 5.3)."""
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for field_name, value in self._items if field_name.lower() == key]

    def tokens(self, name: str) -> list[str]:
        """A comma-separated token list, lowercased (Connection, Upgrade)."""
        return [t.strip().lower() for v in self.get_all(name) for t in v.split(",") if t.strip()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(slots=True)
class Request:
    method: str
    target: str          # as sent: "/echo?x=1"
    version: str         # "HTTP/1.1"
    headers: Headers
    path: str            # decoded and normalised, what <Location> matches
    query: str           # raw, without "?"
    trailing: bytes = field(default=b"", repr=False)   # bytes after the head
    head: bytes = field(default=b"", repr=False)       # the head as received, blank line included


class RequestParser:
    """Feed bytes until `feed` returns a Request; raises HttpError on a bad head.

    Each line is checked against its limit as it arrives, so nothing is ever
    buffered beyond LimitRequestLine / LimitRequestFieldSize.
    """

    def __init__(
        self,
        *,
        limit_request_line: int = limits.LIMIT_REQUEST_LINE,
        limit_request_fields: int = limits.LIMIT_REQUEST_FIELDS,
        limit_request_field_size: int = limits.LIMIT_REQUEST_FIELD_SIZE,
    ):
        self._limit_line = limit_request_line
        self._limit_fields = limit_request_fields
        self._limit_field_size = limit_request_field_size
        self._buffer = bytearray()
        self._request_line: str | None = None
        self._fields: list[tuple[str, str]] = []
        self._head = bytearray()  # the lines read so far, as they came (a proxy forwards them)

    def feed(self, data: bytes) -> Request | None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                self._check_length(len(self._buffer))
                return None
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            self._check_length(len(line))
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
        if self._request_line is None:
            if length > self._limit_line:
                raise HttpError(414, "request line longer than LimitRequestLine")
        elif length > self._limit_field_size:
            raise HttpError(400, "request header field longer than LimitRequestFieldSize")

    def _add_field(self, line: str) -> None:
        if line[0] in " \t":
            # obs-fold (RFC 9112 5.2): httpd joins it to the previous field.
            if not self._fields:
                raise HttpError(400, "header continuation line without a header")
            name, value = self._fields[-1]
            value = f"{value} {line.strip()}"
            if len(name) + 2 + len(value) > self._limit_field_size:
                raise HttpError(400, "request header field longer than LimitRequestFieldSize")
            self._fields[-1] = (name, value)
            return
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or " " in name:
            raise HttpError(400, f"malformed request header line {line[:60]!r}")
        if self._limit_fields and len(self._fields) >= self._limit_fields:  # 0: no limit
            raise HttpError(400, "more request header fields than LimitRequestFields")
        self._fields.append((name, value.strip(" \t")))

    def _finish(self) -> Request:
        parts = self._request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise HttpError(400, f"malformed request line {self._request_line[:80]!r}")
        method, target, version = parts
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            raise HttpError(400, f"unsupported protocol version {version[:20]!r}")
        split = urlsplit(target)
        if not target.startswith("/") and not split.scheme:
            raise HttpError(400, f"invalid request target {target[:80]!r}")
        return Request(
            method=method,
            target=target,
            version=version,
            headers=Headers(self._fields),
            path=normalize_path(split.path or "/"),
            query=split.query,
            trailing=bytes(self._buffer),
            head=bytes(self._head),
        )


def normalize_path(raw: str) -> str:
    """Decode %XX and remove dot segments and repeated slashes, as httpd does
    before it matches <Location> (ap_unescape_url, ap_getparents, MergeSlashes).
    """
    if "%2f" in raw.lower():
        # AllowEncodedSlashes Off: httpd answers 404 for an encoded slash.
        raise HttpError(404, "encoded slash in path")
    decoded = unquote_to_bytes(raw)
    if b"\x00" in decoded:
        raise HttpError(400, "NUL byte in path")
    try:
        path = decoded.decode("utf-8")
    except UnicodeDecodeError:
        path = decoded.decode("latin-1")
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if not segments:
                # AP_NORMALIZE_NOT_ABOVE_ROOT: a path above "/" is refused.
                raise HttpError(400, "path climbs above the root")
            segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    trailing_slash = segments and path.rsplit("/", 1)[-1] in ("", ".", "..")
    return "/" + "/".join(segments) + ("/" if trailing_slash else "")


def response(
    status: int,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    body: bool = True,
) -> bytes:
    """A complete error response as httpd sends it: small HTML body, then close."""
    reason = REASONS.get(status, "Error")
    html = (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
        f"<html><head>\n<title>{status} {reason}</title>\n</head><body>\n"
        f"<h1>{reason}</h1>\n<p>{escape(_BODIES.get(status, reason))}</p>\n</body></html>\n"
    ).encode() if body else b""
    return message(status, headers, html, "text/html; charset=iso-8859-1")


def message(status: int, headers: tuple[tuple[str, str], ...], content: bytes,
            content_type: str, *, head_only: bool = False) -> bytes:
    """A complete response, after which the connection closes; `head_only` (HEAD): the
    head alone, with the Content-Length the content would have."""
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
        f"Date: {formatdate(usegmt=True)}",
        f"Server: {SERVER}",
        *(f"{name}: {value}" for name, value in headers),
        f"Content-Length: {len(content)}",
        "Connection: close",
    ]
    if content:
        lines.append(f"Content-Type: {content_type}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + content
