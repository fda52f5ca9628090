"""mod_proxy_http's framing, sans-I/O: what goes to a ProxyPass backend and what comes back.

`RequestStream` takes the client's bytes and returns the bytes for the backend: each head
as mod_proxy makes it from the parsed request (the target rewritten from the decoded
path, the vhost's host, `X-Forwarded-For` added), each body exactly as framed (found
without re-encoding it). `ResponseReader` takes the backend's bytes and cuts them into
responses, passed on exactly as sent. As mod_proxy_http does, what a client sends after an
upgrade request waits for the backend's answer to it: only a 101 naming the protocol asked
for (and allowed by the ProxyPass line) makes the rest a byte tunnel; after any other
answer the connection stays HTTP, and its next request is checked as the first was (but
after a draft-76 handshake whose 8 key bytes the backend got unannounced, the connection
ends with that answer: RequestStream.answered). A later request that geows answers itself
(refused by the rules, `OPTIONS *`) is answered in its place among the backend's answers,
as httpd answers it, and the connection goes on when httpd's would. geows/forward.py
drives both over the two sockets.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from geows import http, limits
from geows.config.paths import ProxyPass
from geows.config.vhosts import RequestLimits
from geows.errors import HttpError, RoutedElsewhere
from geows.http import Headers, Request, RequestParser
from geows.protocols.hixie76 import KEY3_SIZE, is_draft76

_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _TUNNEL, _UNTIL_CLOSE = range(8)


# What ap_proxy_canonenc leaves as it is in a path (enc_path); every other byte is %XX.
_PATH_AS_IS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        b"/~$-_.+!*'(),;:@&=")


def rewrite_target(request: Request, entry: ProxyPass) -> str:
    """The request target mod_proxy sends (ap_proxy_trans_match, proxy_http_canon): the
    decoded and normalised path, which the ProxyPass line matched, with its prefix
    replaced by the target URL's path, re-encoded as ap_proxy_canonenc encodes it; the
    query as received. Never the raw target: `/%64ocs/x` matched `/docs` and goes out as
    the backend path it maps to."""
    rewritten = entry.rewrite(request.path)
    path = request.path if rewritten is None else rewritten  # None: a path it does not map
    encoded = "".join(chr(byte) if byte in _PATH_AS_IS else f"%{byte:02X}"
                      for byte in path.encode("utf-8", "surrogateescape"))
    return encoded + (f"?{request.query}" if "?" in request.origin_form else "")


def forwarded_head(request: Request, entry: ProxyPass, client_ip: str) -> bytes:
    """The head the backend gets, made from the parsed request as mod_proxy makes it:
    the method, the rewritten target (origin-form) and the version (HTTP/1.1 for any
    above it, as mod_proxy_http speaks; HTTP/1.0 stays, so that the backend frames its
    answer for the client); each field as `name: value`, folded lines joined; the host
    that picked the vhost as the Host field (an absolute-form's, which httpd put in place
    of the client's), so that the backend picks the same; `Connection: close` in place of
    the client's for a request httpd closes after (Request.last), as mod_proxy_http then
    closes its backend connection; and `X-Forwarded-For: client_ip` last. A second
    X-Forwarded-For line rather than an edited one: httpd joins repeated request fields
    with ", ", so the backend reads "earlier, client_ip", as mod_proxy's append would
    give."""
    version = "HTTP/1.0" if request.version == "HTTP/1.0" else "HTTP/1.1"
    fields = [(name, value) for name, value in request.headers
              if not (request.last and name.lower() == "connection")]
    lines = [f"{request.method} {rewrite_target(request, entry)} {version}",
             *(f"{name}: {value}" for name, value in fields)]
    if request.host is not None and "Host" not in request.headers:
        lines.append(f"Host: {request.host}")  # HTTP/1.0 with an absolute-form
    if request.last:
        lines.append("Connection: close")
    lines.append(f"X-Forwarded-For: {client_ip}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def is_upgrade(request: Request) -> bool:
    """An `Upgrade` request (RFC 6455, draft-76, anything): the backend may switch protocols
    in its answer, so what follows it waits for that answer."""
    return "Upgrade" in request.headers and "upgrade" in request.headers.tokens("Connection")


# A chunk-size line as httpd's parse_chunk_size takes it under HttpProtocolOptions Strict:
# ASCII hex digits, then at most 10 spaces or tabs (RFC 7230 erratum 4667's leniency),
# then an extension from ';' holding no control byte but tab, then CRLF.
_CHUNK_DIGITS = re.compile(rb"[0-9A-Fa-f]+")
_CHUNK_AFTER_DIGITS = re.compile(rb"[ \t]{0,10}(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?\r\n")


def chunk_size(line: bytes) -> int:
    """The size a chunk-size line (CRLF included) announces, read as httpd reads it, for a
    client's body and a backend's alike: no sign, space, "0x" or "_" before the digits,
    leading zeros ignored, trailing spaces and an extension allowed (see _CHUNK_DIGITS).
    OverflowError for a size past 2^63 - 1 (httpd checks it first, digit by digit, and
    answers 413), ValueError for any other line (400)."""
    digits = _CHUNK_DIGITS.match(line)
    if digits is None:
        raise ValueError(f"chunk-size line not starting with a hex digit: {line[:20]!r}")
    size = int(digits[0], 16)
    if size > http.MAX_OFF_T:
        raise OverflowError(f"chunk size past 2^63 - 1: {line[:20]!r}")
    if not _CHUNK_AFTER_DIGITS.fullmatch(line, digits.end()):
        raise ValueError(f"malformed chunk-size line {line[:20]!r}")
    return size


class _Framing:
    """Where each message's body ends, for both directions of a forwarded connection (RFC
    9112 6.3 and 7.1): Content-Length's bytes, chunks up to the empty line after the
    trailers, or (a response) all until the backend closes. Body bytes pass on as they
    come; a chunk-size line, the CRLF after a chunk and a trailer line pass on once read
    whole and valid, each bounded by LimitRequestFieldSize."""

    _bad_frame = 400  # the answer to a frame that cannot be read (a client's: 400)
    _too_large = 413  # ... and to a chunk size past httpd's bounds (parse_chunk_size's ENOSPC)

    def __init__(self) -> None:
        self._state = _HEAD
        self._remaining = 0            # body or chunk bytes still to pass on
        self._line = bytearray()       # a line of the chunked framing being read

    def _body(self, data: bytes, out: bytearray) -> bytes:
        """Pass on (into out) the body bytes at the start of data; returns the rest."""
        if self._state in (_TUNNEL, _UNTIL_CLOSE):
            out += data
            return b""
        if self._state in (_BODY, _CHUNK_DATA):
            taken = data[:self._remaining]
            out += taken
            self._remaining -= len(taken)
            if not self._remaining:
                self._state = _CHUNK_END if self._state == _CHUNK_DATA else _HEAD
            return data[len(taken):]
        return self._chunk_line(data, out)

    def _chunk_line(self, data: bytes, out: bytearray) -> bytes:
        """Read a line of the chunked framing from data (the CRLF after a chunk's data, a
        chunk-size line, or a trailer line after the last chunk), to find where the chunk
        or the body ends; once whole and valid, it goes into out. Returns the rest."""
        end = data.find(b"\n")
        self._line += data if end < 0 else data[:end + 1]
        if self._state == _CHUNK_END and not b"\r\n".startswith(self._line):
            raise HttpError(self._bad_frame, "chunk data not followed by CRLF")
        if len(self._line) > limits.LIMIT_REQUEST_FIELD_SIZE:
            if self._state == _CHUNK_SIZE:
                raise HttpError(self._too_large, "chunk-size line longer than "
                                                 "LimitRequestFieldSize")
            raise HttpError(self._bad_frame, "trailer line longer than LimitRequestFieldSize")
        if end < 0:
            return b""
        line = bytes(self._line)
        self._line.clear()
        if self._state == _CHUNK_SIZE:
            try:
                size = chunk_size(line)
            except OverflowError as exc:
                raise HttpError(self._too_large, str(exc)) from None
            except ValueError as exc:
                raise HttpError(self._bad_frame, str(exc)) from None
            self._state, self._remaining = (_CHUNK_DATA, size) if size else (_TRAILER, 0)
        elif self._state == _CHUNK_END:
            self._state = _CHUNK_SIZE
        elif not line.endswith(b"\r\n"):
            raise HttpError(self._bad_frame, "trailer line not ended by CRLF")
        elif line == b"\r\n":
            self._state = _HEAD  # the empty line after the trailers ends the body
        out += line
        return data[end + 1:]


_CORE_LIMITS = RequestLimits()  # httpd core's LimitRequest* defaults


@dataclass
class Answer:
    """geows' own answer to a later request of a forwarded connection, which the backend
    never sees: it goes to the client once the backend has answered the `after` requests
    forwarded before it, as httpd answers pipelined requests in order."""

    after: int       # how many forwarded requests are answered before it
    status: int
    reason: str      # why, for the error log
    data: bytes      # the whole response
    last: bool       # the connection ends with it


class RequestStream(_Framing):
    """The client's side of a forwarded connection, sans-I/O: `feed` takes what the client
    sent and returns what goes to the backend; `requests` lists the heads forwarded so
    far, `answers` what geows answers itself, in the order the client gets them.

    Framing follows RFC 9112 6.3 for requests, as httpd frames them: chunked when
    Transfer-Encoding is (chunked last), else Content-Length, else no body; draft-76's 8
    key bytes are its handshake's body. After an upgrade request (`upgrade`), what the
    client sends is held, neither parsed nor passed on, until `answered` says how the
    backend answered it: a 101 that switched makes the rest a tunnel, anything else leaves
    it HTTP, every request checked by `admit` again (after draft-76's unannounced key3,
    anything else ends it: `answered`). (The caller reads no more from the
    client while `holding`.) A later request refused by `admit` (HttpError), `OPTIONS *`,
    or one mod_proxy_http refuses, is answered in its place (an Answer) and its body
    skipped, never forwarded; the connection goes on if httpd's would
    (http.connection_after).
    Nothing is read past the end of the connection (`stopped` says why): an answer after
    which httpd closes it, a head or a frame that cannot be read (answered with httpd's
    400 or 413, in the backend's place when the request's head went on), a request for
    another backend or location (RoutedElsewhere, unanswered), the body of a request
    httpd closes after (Request.last), or an exception that is a bug of geows' (kept in
    `failure` for the caller to log: what came before it still goes on, to be answered).
    """

    def __init__(self, entry: ProxyPass, client_ip: str,
                 admit: Callable[[Request], None] = lambda request: None,
                 secure: bool = False, request_limits: RequestLimits = _CORE_LIMITS):
        super().__init__()
        self.entry = entry
        self.client_ip = client_ip
        # How its later requests are parsed: as the first was, on TLS or not, under the
        # LimitRequest* of the connection's address:port (httpd reads each head so).
        self.secure = secure
        self.request_limits = request_limits
        # Raises HttpError (answered in the request's place) or RoutedElsewhere (not) for a
        # later request that may not go on.
        self.admit = admit
        self.stopped: str | None = None
        self.failure: Exception | None = None
        self.requests: list[Request] = []
        self.answers: deque[Answer] = deque()  # geows' own, until the ResponseReader takes them
        self.upgrade: Request | None = None   # the upgrade request waiting for its answer
        self._parser = self._new_parser()
        self._held = bytearray()       # what came after it meanwhile
        self._skipping = False         # the body being framed is a request geows answered
        self._closing: str | None = None  # why nothing is read after the current body
        self._key3_unannounced = False  # draft-76's key3 went on as the upgrade's body

    @property
    def tunnel(self) -> bool:
        return self._state == _TUNNEL

    @property
    def holding(self) -> bool:
        """Whether what the client sends now waits for the backend's answer to `upgrade`."""
        return self.upgrade is not None and self._state == _HEAD

    def answered(self, switched: bool) -> None:
        """The backend answered `upgrade`: with a 101 that opens a tunnel (switched), or
        with anything else. What was held goes on at the next `feed`, unless draft-76's
        key3 went to the backend unannounced: then, its answer not a 101, the backend may
        read those 8 bytes as a request of its own (`GET /a\r\n` is one, unchecked by
        any rule), and its connection is out of step with the client's. Nothing more is
        forwarded on it (`stopped`), and nothing the backend sends after that answer is
        passed back (ResponseReader): httpd's front would read the 8 bytes as the
        client's next request, which geows cannot once the backend has them."""
        self.upgrade = None
        if switched:
            self._state = _TUNNEL
        elif self._key3_unannounced:
            self.stopped = ("the backend answered a draft-76 handshake without a 101, its 8 "
                            "key bytes sent on unannounced")

    def feed(self, data: bytes) -> bytes:
        """What goes to the backend for `data` (and for what was held, once answered).
        Past the end of the connection (`stopped`), nothing more does; what came before
        it is still returned, to be answered."""
        out = bytearray()
        if self._held and not self.holding:
            data = bytes(self._held) + data
            self._held.clear()
        try:
            self._feed(data, out)
        except RoutedElsewhere as elsewhere:
            self.stopped = elsewhere.reason
        except HttpError as bad:
            if self._state == _HEAD:  # a later request's head
                self._last_answer(bad, after=len(self.requests))
            elif not self._skipping:  # a forwarded request's body: answered in the backend's place
                self._last_answer(bad, after=len(self.requests) - 1)
            else:  # the body of a request answered already: httpd closes after that answer
                self.stopped = bad.reason
        except Exception as bug:  # the requests before it still go on, and are answered
            self.failure = bug
            self.stopped = "internal error"
        return bytes(out)

    def _feed(self, data: bytes, out: bytearray) -> None:
        while data and self.stopped is None:
            if self._state != _HEAD:
                data = self._body(data, bytearray() if self._skipping else out)
            elif self.upgrade is not None:
                self._held += data  # the backend may switch protocols: not HTTP, maybe
                break
            else:
                request = self._parser.feed(data)
                if request is None:
                    break
                data = self.start(request, out)
            if self._closing is not None and self._state == _HEAD:
                self.stopped = self._closing

    def start(self, request: Request, out: bytearray) -> bytes:
        """Begin `request`: forwarded (its head into out), or, a later one geows answers
        itself, answered in its place; returns the bytes after its head, still to be fed.
        The first request was routed and checked by the caller; HttpError when
        mod_proxy_http refuses it, before anything goes to the backend."""
        self._parser = self._new_parser()
        self._skipping = False
        if self.requests and request.path == "*":
            # httpd's core answers OPTIONS * itself, before any rule (http_send_options).
            connection = http.connection_after(request, 200)
            return self._answer(request, 200, "OPTIONS * answered",
                                http.options_answer(connection=connection), connection)
        try:
            if self.requests:
                self.admit(request)
            refuse_unsupported_coding(request)
        except HttpError as refused:
            if not self.requests:
                raise
            connection = http.connection_after(request, refused.status)
            data = http.response(refused.status, refused.headers,
                                 head_only=request.method == "HEAD", connection=connection)
            return self._answer(request, refused.status, refused.reason, data, connection)
        self.requests.append(request)
        out += forwarded_head(request, self.entry, self.client_ip)
        self._state, self._remaining = _body_framing(request)
        if request.last:
            self._closing = "Transfer-Encoding with Content-Length: httpd closes after it"
        if is_upgrade(request):
            self.upgrade = request
            if self._state == _HEAD and is_draft76(request.headers):
                # Key3 follows the head unannounced, and the backend needs it to answer.
                self._state, self._remaining = _BODY, KEY3_SIZE
                self._key3_unannounced = True
        return request.trailing

    def _new_parser(self) -> RequestParser:
        return RequestParser(**asdict(self.request_limits), secure=self.secure)

    def _answer(self, request: Request, status: int, reason: str, data: bytes,
                connection: str | None) -> bytes:
        """Answer `request` in its place with data (whose Connection field is
        `connection`: "close" ends the connection); its body, framed as any, is skipped."""
        last = connection == "close"
        self.answers.append(Answer(len(self.requests), status, reason, data, last))
        if last:
            self.stopped = reason
        else:
            self._state, self._remaining = _body_framing(request)
            self._skipping = True
        return request.trailing

    def _last_answer(self, error: HttpError, after: int) -> None:
        """httpd's answer to what cannot be read, after which the connection ends."""
        self.answers.append(Answer(after, error.status, error.reason,
                                   http.response(error.status, error.headers), True))
        self.stopped = error.reason


def refuse_unsupported_coding(request: Request) -> None:
    """HttpError(500) for a Transfer-Encoding other than `chunked` alone (any case), which
    httpd's core lets through with chunked last ("gzip, chunked", "chunked, chunked", two
    fields): mod_proxy_http forwards chunked only (AH01093), and refuses the rest before
    it reaches the backend."""
    coding = request.headers.get("Transfer-Encoding")
    if coding is not None and coding.lower() != "chunked":
        raise HttpError(500, f"{coding[:40]} Transfer-Encoding is not supported by "
                             "mod_proxy_http")


def _body_framing(request: Request) -> tuple[int, int]:
    """The state after `request`'s head and its body length (RFC 9112 6.3), as the parser
    found them (chunked, else Content-Length, else no body)."""
    if request.chunked:
        return _CHUNK_SIZE, 0
    if request.content_length:
        return _BODY, request.content_length
    return _HEAD, 0


@dataclass
class Response:
    """A response head from the backend, as sent, and the request it answers (None when
    the backend answers more than it was asked)."""

    status: int
    headers: Headers
    head: bytes
    request: Request | None


_STATUS_LINE = re.compile(rb"HTTP/[0-9]\.[0-9] ([0-9]{3})")  # apr_date_checkmask's "HTTP/#.# ###*"


class ResponseReader(_Framing):
    """The backend's side of a forwarded connection, sans-I/O: `feed` takes what the
    backend sent and yields it cut into response heads (Response) and the bytes between
    them, exactly as sent, answering `stream`'s requests in order; geows' own answers
    (Answer) come in their turn among them (`due`).

    Framing follows RFC 9112 6.3 for responses: 1xx interim responses before the final
    one; no body for HEAD, 204 and 304; chunked when Transfer-Encoding is (chunked last),
    else until the backend closes if Transfer-Encoding is set; else Content-Length, else
    until the backend closes. A 101 to the upgrade request that `switch_refused` lets
    through makes the rest the new protocol's; the final answer to it, whatever it is,
    releases what `stream` held. A 101 it refuses, or a head or chunk that cannot be read,
    raises HttpError(502), as mod_proxy_http answers them, and so does `closed` where the
    backend's closing owes the client one. Once geows' answer that ends the connection has
    come, or the backend's last answer to a stream that stopped, the reader is `finished`:
    nothing more is passed on.
    """

    _bad_frame = _too_large = 502  # a backend's

    def __init__(self, stream: RequestStream):
        super().__init__()
        self.stream = stream
        self.answered = 0              # requests whose final response has begun
        self.finished = False
        self._head = bytearray()       # the head being read
        self._line_start = 0           # where its unfinished line starts

    @property
    def between(self) -> bool:
        """Whether no response is partly passed on (a head is passed on once whole)."""
        return self._state == _HEAD

    @property
    def idle(self) -> bool:
        """Whether every request sent is answered in full, and nothing more came."""
        return self.between and not self._head and self.answered == len(self.stream.requests)

    def due(self) -> list[Answer]:
        """geows' own answers whose turn has come: no response is partly passed on, and
        the backend has answered in full the forwarded requests before each. One in place
        of a forwarded request whose answer had begun is dropped (the backend's stands);
        the connection's last one finishes the reader, and so does the backend's last
        answer once the stream has stopped: whatever it sends after that answers nothing
        the client asked."""
        answers = []
        queue = self.stream.answers
        while queue and self._state == _HEAD and not self.finished \
                and queue[0].after <= self.answered:
            answer = queue.popleft()
            if answer.after == self.answered:
                answers.append(answer)
            self.finished = answer.last
        if self._state == _HEAD and self.stream.stopped is not None \
                and self.answered == len(self.stream.requests):
            self.finished = True
        return answers

    def feed(self, data: bytes) -> Iterator[Response | Answer | bytes]:
        out = bytearray()
        while not self.finished:
            if self._state != _HEAD:
                if not data:
                    break
                data = self._body(data, out)
                continue
            answers = self.due()
            if answers or self.finished:
                if out:
                    yield bytes(out)
                    out.clear()
                yield from answers
                continue
            if not data:
                break
            head, data = self._read_head(data)
            if head is None:
                break
            if out:
                yield bytes(out)
                out.clear()
            yield self._start(head)
        if out:
            yield bytes(out)

    def closed(self) -> None:
        """The backend closed its connection: HttpError(502) where mod_proxy_http answers
        one (checked against Debian's apache2 2.4.71): in the middle of a head whose first
        line came (AH01106), or before answering the first request sent (AH01102, on a
        client connection's first request). After an answer, or in the middle of a body, it
        closes the client's connection with no more, for the client to ask again
        (ap_proxy_backend_broke)."""
        if self.finished or self._state != _HEAD:
            return
        if b"\n" in self._head.lstrip(b"\r\n"):
            raise HttpError(502, "the backend closed its connection in the middle of a "
                                 "response head")
        if self.answered == 0:
            raise HttpError(502, "the backend closed its connection before answering")

    def _read_head(self, data: bytes) -> tuple[bytes | None, bytes]:
        """Read head lines from data: the head once whole, and the rest of data."""
        while data:
            end = data.find(b"\n")
            self._head += data if end < 0 else data[:end + 1]
            data = b"" if end < 0 else data[end + 1:]
            if len(self._head) - self._line_start > limits.RESPONSE_FIELD_SIZE:
                raise HttpError(502, "response header line longer than ResponseFieldSize")
            if len(self._head) > limits.RESPONSE_HEAD_SIZE:
                raise HttpError(502, "response head longer than limits.RESPONSE_HEAD_SIZE")
            if end < 0:
                break
            line = self._head[self._line_start:].rstrip(b"\r\n")
            self._line_start = len(self._head)
            # The blank line ends the head; one before the status line is skipped, as
            # mod_proxy_http skips a stray CRLF.
            if not line and self._head.strip():
                head = bytes(self._head)
                self._head.clear()
                self._line_start = 0
                return head, data
        return None, b""

    def _start(self, head: bytes) -> Response:
        """The response `head` begins: what it answers, and how its body is framed."""
        lines = head.strip().replace(b"\r\n", b"\n").split(b"\n")
        status_line = _STATUS_LINE.match(lines[0])
        if status_line is None:
            raise HttpError(502, f"malformed response status line {lines[0][:40]!r}")
        status = int(status_line[1])
        interim = 100 <= status < 200 and status != 101
        requests = self.stream.requests
        request = requests[self.answered] if self.answered < len(requests) else None
        response = Response(status, _response_headers(lines[1:]), head, request)
        upgrade = self.stream.upgrade
        if status == 101:
            refused = switch_refused(response, upgrade, self.stream.entry)
            if refused is not None:
                raise HttpError(502, refused)
            self._state = _TUNNEL
        elif not (interim or status in (204, 304) or (request and request.method == "HEAD")):
            self._state, self._remaining = _response_framing(response.headers)
        if not interim and request is not None:
            self.answered += 1
            if request is upgrade:
                self.stream.answered(switched=status == 101)
        return response


def _response_headers(lines: list[bytes]) -> Headers:
    """A response head's fields, folded lines joined (ap_proxygetline's AP_GETLINE_FOLD); a
    line that is no field is a 502 (ProxyBadHeader's default, IsError)."""
    fields: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.decode("latin-1")
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise HttpError(502, f"malformed response header line {raw[:40]!r}")
        fields.append((name.strip(), value.strip(" \t")))
    return Headers(fields)


def _response_framing(headers: Headers) -> tuple[int, int]:
    """The state after a response head that may have a body, and its length (RFC 9112
    6.3, items 4 to 7)."""
    coding = headers.get("Transfer-Encoding")
    if coding is not None:
        return (_CHUNK_SIZE if http.is_chunked(coding) else _UNTIL_CLOSE), 0
    fields = headers.get_all("Content-Length")
    if not fields:
        return _UNTIL_CLOSE, 0
    lengths = {value.strip() for value in ",".join(fields).split(",")}  # "5, 5" is one 5
    try:
        if len(lengths) > 1:
            raise ValueError("different lengths")
        length = http.parse_decimal(lengths.pop())
    except ValueError:
        raise HttpError(502, "invalid Content-Length in a response") from None
    return (_BODY, length) if length else (_HEAD, 0)


def switch_refused(response: Response, upgrade: Request | None, entry: ProxyPass) -> str | None:
    """Why the backend's 101 may not open a tunnel, or None: it must answer `upgrade`, the
    upgrade request waiting, whose `Upgrade` the ProxyPass line allows, and name that same
    protocol (mod_proxy_http compares the two values whole, without case, and answers 502
    with this reason when they differ)."""
    asked = upgrade.headers.get("Upgrade") if upgrade is not None else None
    if asked is not None and not entry.allows_upgrade(asked):
        asked = None
    given = response.headers.get("Upgrade")
    if response.request is upgrade and asked is not None and given is not None \
            and given.lower() == asked.lower():
        return None
    return f"Unexpected Upgrade: {given or 'n/a'} (expecting {asked or 'n/a'})"
