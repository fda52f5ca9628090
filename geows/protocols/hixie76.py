"""draft-hixie-thewebsocketprotocol-76 (draft-ietf-hybi-00), server side, sans-I/O.

The handshake answer needs the 8 bytes (key3) that follow the request head, so
the protocol takes them through `receive_data` like any other bytes; whatever
follows key3 is already frames and is parsed, never dropped. The frames are cut
by frames.py (scan_draft76: in C when it is built). Section numbers in comments
are the draft's.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

from geows import limits
from geows.errors import HttpError
from geows.http import Headers, Request, parse_decimal
from geows.messages import BINARY, CLOSE, PING, PONG, TEXT
from geows.protocols.base import State, WebSocketProtocol, unparsed
from geows.protocols.events import CloseReceived, ProtocolError
from geows.protocols.frames import BUDGET, OVERSIZED, OVERSIZED_TEXT, PEER_CLOSE, scan_draft76

KEY3_SIZE = 8
CLOSING_FRAME = b"\xff\x00"


def is_draft76(headers: Headers) -> bool:
    """Whether a handshake is draft-76's (section 4.1 sends Sec-WebSocket-Key1 and -Key2,
    and key3 after the head)."""
    return "Sec-WebSocket-Key1" in headers or "Sec-WebSocket-Key2" in headers


def key_number(key: str) -> int:
    """Section 5.2, step 4: the key's digits as a number, divided by its spaces.

    Raises ValueError for keys the draft says to refuse.
    """
    spaces = key.count(" ")
    digits = "".join(c for c in key if "0" <= c <= "9")
    if not spaces or not digits:
        raise ValueError("key has no spaces or no digits")
    # Leading zeros are nothing; past 2^63 - 1 (ValueError), the number divided by as many
    # spaces as a head can hold is still past 32 bits.
    number = parse_decimal(digits)
    if number % spaces:
        raise ValueError("key number is not a multiple of its spaces")
    if number // spaces > 0xFFFFFFFF:
        raise ValueError("key number does not fit 32 bits")
    return number // spaces


def challenge_response(key1: str, key2: str, key3: bytes) -> bytes:
    """Section 5.2, step 7: MD5 over both key numbers (big-endian) and key3."""
    return hashlib.md5(struct.pack(">II", key_number(key1), key_number(key2)) + key3).digest()


def _length_prefix(length: int) -> bytes:
    """Section 5.3: the length in 7-bit groups, most significant first, the
    high bit set on every byte but the last."""
    groups = [length & 0x7F]
    length >>= 7
    while length:
        groups.append(0x80 | (length & 0x7F))
        length >>= 7
    return bytes(reversed(groups))


class Hixie76(WebSocketProtocol):
    name = "hixie-76"
    status_line = "HTTP/1.1 101 WebSocket Protocol Handshake"
    header_prefix = "Sec-WebSocket-"
    key3_size = KEY3_SIZE

    def __init__(self, request: Request, *, secure: bool = False,
                 max_message_size: int = limits.MAX_MESSAGE_SIZE,
                 frame_budget: int | None = None):
        super().__init__(max_message_size=max_message_size, frame_budget=frame_budget)
        headers = request.headers
        if not request.host:  # the Host field, or what an absolute-form put in its place
            raise HttpError(400, f"{self.name} handshake without Host")
        self._check_keys(headers)
        # The answer's Origin and Location, written from it when accepted.
        self._request = request
        self._secure = secure
        # mod_websocket split the offer on spaces; clients that learnt RFC 6455's
        # habit send commas. Either separates.
        offered = (headers.get(f"{self.header_prefix}Protocol") or "").replace(",", " ")
        self._subprotocols = tuple(offered.split())
        self._buffer: bytes | bytearray = b""  # bytes received, not parsed yet
        self._answer: list[str] | None = None   # response head, waiting for key3
        self._skip = 0                          # bytes left of a discarded frame
        self._scanned = 1                       # where to resume looking for 0xFF

    def _check_keys(self, headers: Headers) -> None:
        self._key1 = headers.get("Sec-WebSocket-Key1", "")
        self._key2 = headers.get("Sec-WebSocket-Key2", "")
        for key in (self._key1, self._key2):
            try:
                key_number(key)
            except ValueError as exc:
                raise HttpError(400, f"invalid draft-76 key: {exc}") from None

    def _challenge_response(self, key3: bytes) -> bytes:
        return challenge_response(self._key1, self._key2, key3)

    @property
    def subprotocols(self) -> tuple[str, ...]:
        return self._subprotocols

    def accept(self, subprotocol: str | None = None,
               headers: Iterable[tuple[str, str]] = ()) -> None:
        if self.state is not State.CONNECTING or self._answer is not None:
            raise ValueError("the handshake is already answered")
        prefix, request = self.header_prefix, self._request
        lines = [self.status_line, "Upgrade: WebSocket", "Connection: Upgrade"]
        origin = request.headers.get("Origin")
        if origin is not None:
            lines.append(f"{prefix}Origin: {origin}")
        lines.append(f"{prefix}Location: {'wss' if self._secure else 'ws'}://{request.host}"
                     f"{request.origin_form}")
        if subprotocol is not None:
            lines.append(f"{prefix}Protocol: {subprotocol}")
        lines.extend(f"{name}: {value}" for name, value in headers)
        self._answer = lines
        self._parse()

    def receive_data(self, data: bytes) -> None:
        if self.state is State.CLOSED:
            return
        self._buffer += data
        self._parse()

    def send(self, type: int, data: str | bytes) -> int:
        if type == CLOSE:
            self.close()
            return 0
        if type in (PING, PONG):
            return 0  # draft-76 has no ping or pong: nothing is sent
        if type not in (TEXT, BINARY):
            raise ValueError(f"unknown message type {type}")
        if self.state is not State.OPEN:
            raise ValueError(f"cannot send while {self.state.value}")
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if type == TEXT:
            if isinstance(data, bytes):
                payload.decode("utf-8")  # 0xFF inside would end the frame early
            # Section 5.3: 0x00, the UTF-8 text, 0xFF.
            self._output_buffer().extend(b"\x00" + payload + b"\xff")
        else:
            # As mod_websocket did: a 0x80 length-prefixed frame, which draft-76
            # clients read and discard (section 5.3).
            self._output_buffer().extend(b"\x80" + _length_prefix(len(payload)) + payload)
        return len(payload)

    def close(self, code: int | None = None, reason: str = "") -> None:
        # Section 5.3: the closing handshake is 0xFF 0x00; it has no code.
        if self.state is State.OPEN:
            self._output_buffer().extend(CLOSING_FRAME)
            self.state = State.CLOSING
        elif self.state is State.CONNECTING:
            self.state = State.CLOSED

    def _parse(self) -> None:
        if self.state is State.CONNECTING:
            if self._answer is None or len(self._buffer) < self.key3_size:
                return
            key3 = bytes(self._buffer[:self.key3_size])
            self._buffer = unparsed(self._buffer, self.key3_size)
            head = "\r\n".join(self._answer) + "\r\n\r\n"
            self._answer = None  # an idle connection keeps nothing of its handshake
            self._output_buffer().extend(head.encode("latin-1") + self._challenge_response(key3))
            self.state = State.OPEN
        self.more_to_parse = False
        if self.state not in (State.OPEN, State.CLOSING):
            return
        stop, pos, self._skip, self._scanned = scan_draft76(
            self._buffer, self.frame_budget, self.max_message_size, self._skip,
            self._scanned, self.state is State.OPEN, self._event_list())
        self._buffer = unparsed(self._buffer, pos)
        if stop == BUDGET:
            self.more_to_parse = True
        elif stop == PEER_CLOSE:
            self._closing_received()
        elif stop == OVERSIZED:
            self._fail("frame longer than MaxMessageSize")
        elif stop == OVERSIZED_TEXT:
            self._fail("message longer than MaxMessageSize")

    def _closing_received(self) -> None:
        if self.state is State.OPEN:
            self._output_buffer().extend(CLOSING_FRAME)
        self._event_list().append(CloseReceived())
        self._close_now()

    def _fail(self, reason: str) -> None:
        if self.state is State.OPEN:
            self._output_buffer().extend(CLOSING_FRAME)
        self._event_list().append(ProtocolError(1009, reason))
        self._close_now()

    def _close_now(self) -> None:
        self.state = State.CLOSED
        self._buffer = b""


class Hixie75(Hixie76):
    """draft-hixie-thewebsocketprotocol-75, opt-in with `SupportDraft75 On` as in
    mod_websocket: the same frames, no keys, no key3, no closing handshake."""

    name = "hixie-75"
    status_line = "HTTP/1.1 101 Web Socket Protocol Handshake"
    header_prefix = "WebSocket-"
    key3_size = 0

    def _check_keys(self, headers: Headers) -> None:
        pass  # draft-75 has no keys

    def _challenge_response(self, key3: bytes) -> bytes:
        return b""

    def close(self, code: int | None = None, reason: str = "") -> None:
        # draft-75 ends a connection by closing TCP; 0xFF 0x00 means nothing there.
        self.state = State.CLOSED
