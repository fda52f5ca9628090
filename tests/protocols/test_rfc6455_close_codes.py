"""A client's close code, judged as the maintained mod_websocket judges it: reserved and
unassigned codes refused (1002) unless WebSocketAllowReservedStatusCodes is On, then
answered 1000; codes no endpoint may send refused either way."""

from __future__ import annotations

import struct

import pytest

from geows.protocols import CloseReceived, ProtocolError, State
from geows.protocols.rfc6455 import is_reserved_code
from tests.protocols.test_rfc6455 import frame, opened

RESERVED = (1004, 1014, 1016, 2000, 2999)
PROHIBITED = (0, 999, 1005, 1006, 1015, 5000, 65535)
ASSIGNED = (1000, 1001, 1003, 1008, 1011, 1012, 1013, 3000, 4999)


def close_with(code: int, allow: bool, reason: bytes = b"") -> tuple[list, bytes, object]:
    protocol = opened(allow_reserved_codes=allow)
    protocol.receive_data(frame(8, struct.pack("!H", code) + reason))
    events = protocol.events_received()
    return events, protocol.data_to_send(), protocol.state


def answered_code(out: bytes) -> int:
    assert out[:1] == b"\x88", out
    return struct.unpack("!H", out[2:4])[0]


def test_the_modules_reserved_codes():
    assert [code for code in range(0, 5001) if is_reserved_code(code)] == \
        [1004, 1014, *range(1016, 3000)]


@pytest.mark.parametrize("code", RESERVED)
def test_reserved_codes_are_refused_by_default(code):
    events, out, state = close_with(code, allow=False)
    assert isinstance(events[-1], ProtocolError) and events[-1].code == 1002
    reason = f"close code {code} is reserved (WebSocketAllowReservedStatusCodes Off)"
    assert events[-1].reason == reason
    assert answered_code(out) == 1002 and state is State.CLOSED
    assert out[4:] == reason.encode()   # the client reads why too


def test_reserved_codes_are_refused_when_nothing_says_otherwise():
    """WebSocketAllowReservedStatusCodes is Off by default, and so is RFC6455's own."""
    protocol = opened()
    protocol.receive_data(frame(8, struct.pack("!H", 1004)))
    assert protocol.events_received()[-1] == ProtocolError(
        1002, "close code 1004 is reserved (WebSocketAllowReservedStatusCodes Off)")


@pytest.mark.parametrize("code", RESERVED)
def test_reserved_codes_are_answered_1000_when_allowed(code):
    events, out, state = close_with(code, allow=True, reason=b"why")
    assert events == [CloseReceived(1000, "why")]
    assert out == b"\x88\x05\x03\xe8why" and state is State.CLOSED


@pytest.mark.parametrize("allow", [False, True])
@pytest.mark.parametrize("code", PROHIBITED)
def test_prohibited_codes_are_refused_either_way(code, allow):
    events, out, state = close_with(code, allow=allow)
    assert isinstance(events[-1], ProtocolError) and events[-1].code == 1002
    assert answered_code(out) == 1002 and state is State.CLOSED


@pytest.mark.parametrize("allow", [False, True])
@pytest.mark.parametrize("code", ASSIGNED)
def test_assigned_codes_are_answered_either_way(code, allow):
    events, out, state = close_with(code, allow=allow)
    assert events == [CloseReceived(code, "")]
    assert answered_code(out) == code and state is State.CLOSED


def test_a_close_without_a_code_is_answered_without_one():
    protocol = opened(allow_reserved_codes=True)
    protocol.receive_data(frame(8, b""))
    assert protocol.events_received() == [CloseReceived(1005, "")]
    assert protocol.data_to_send() == b"\x88\x00"


def test_the_plugins_close_has_no_code():
    protocol = opened()
    protocol.close()
    assert protocol.data_to_send() == b"\x88\x00"   # the client reads 1005
    assert protocol.close_expected()
