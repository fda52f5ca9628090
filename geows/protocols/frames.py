"""The per-frame work of RFC 6455's short path (rfc6455.py), sans-I/O: cut a buffer into
frames, unmask and deliver the common ones, frame replies; and draft-76's frames cut
(hixie76.py).

Two flavours keep one contract: the pure Python here (python_*), and
geows.protocols._frames, the same in C (_frames.c), which setup.py builds when a C compiler
is there. `scan_frames`, `append_frame` and `scan_draft76` are the compiled ones when they
are built, unless the environment sets GEOWS_PURE_PYTHON (to anything but "" or "0");
`FLAVOUR` says which run (`geows --version` prints it). tests/protocols/test_frames.py
keeps the two equal on random frame streams.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

try:  # the C version websockets itself uses, when its wheel has it
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

from geows.messages import BINARY, TEXT
from geows.protocols.events import Event, Message

PURE_PYTHON_ENV = "GEOWS_PURE_PYTHON"

# Why scan_frames stopped: the bytes end inside a frame; `budget` frames were cut; the
# frame at pos is longer than max_size; the frame at pos (to end) is one the caller gives
# the engine; the text frame at pos (to end) is not UTF-8 (the caller fails it with 1007).
WAIT, BUDGET, OVERSIZED, ENGINE, INVALID_TEXT = range(5)
# And draft-76's: a closing frame (0xFF 0x00) ends at pos; a text frame is past max_size.
PEER_CLOSE, OVERSIZED_TEXT = 5, 6


def python_scan_frames(buffer: bytes | bytearray, pos: int, frames: int, budget: int | None,
                       max_size: int, deliver: bool,
                       events: list[Event]) -> tuple[int, int, int, int, int]:
    """Cut whole frames from buffer[pos:]; while `deliver`, append a Message to `events` for
    each final, masked, uncompressed text or binary frame (RFC 6455 5.2), and stop at any
    other. `frames` counts the frames cut so far, `budget` (None: no limit) the most there
    may be. Returns (stop, pos, frames, header, end): why it stopped (WAIT...) at pos, and
    for ENGINE and INVALID_TEXT the frame's header size (mask included) and end."""
    while len(buffer) - pos >= 2:
        if frames == budget:
            return BUDGET, pos, frames, 0, 0
        frames += 1
        first, second = buffer[pos], buffer[pos + 1]
        length, header = second & 0x7F, 2
        if length >= 126:  # 5.2: a 16-bit or 64-bit extended length follows
            header = 4 if length == 126 else 10
            if len(buffer) - pos < header:
                break
            length = int.from_bytes(buffer[pos + 2:pos + header], "big")
        if length > max_size:
            return OVERSIZED, pos, frames, 0, 0
        header += 4 if second & 0x80 else 0
        end = pos + header + length
        if end > len(buffer):
            break
        opcode = first & 0x0F
        # FIN, no RSV bits, masked, text or binary.
        if not (deliver and first & 0xF0 == 0x80 and second & 0x80 and opcode in (1, 2)):
            return ENGINE, pos, frames, header, end
        payload = apply_mask(buffer[pos + header:end], buffer[pos + header - 4:pos + header])
        if opcode == 2:
            events.append(Message(BINARY, payload))
        else:
            try:
                events.append(Message(TEXT, payload.decode("utf-8")))
            except UnicodeDecodeError:
                return INVALID_TEXT, pos, frames, header, end
        pos = end
    return WAIT, pos, frames, 0, 0


def python_append_frame(output: bytearray, opcode: int, payload: bytes) -> None:
    """5.2: a final frame of `opcode` around `payload`, the way a server sends it (unmasked,
    the length in as few bytes as it fits), appended to `output`."""
    length = len(payload)
    if length < 126:
        output += bytes((0x80 | opcode, length))
    elif length < 65536:
        output += struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        output += struct.pack("!BBQ", 0x80 | opcode, 127, length)
    output += payload


def python_scan_draft76(buffer: bytes | bytearray, budget: int | None, max_size: int,
                        skip: int, scanned: int, deliver: bool,
                        events: list[Event]) -> tuple[int, int, int, int]:
    """Draft-76's frames (section 5.3) from the start of `buffer`, at most `budget` steps (a
    frame, or a part of a discarded one); while `deliver`, a Message for each 0x00 text frame
    (invalid UTF-8 as U+FFFD, as the draft tells clients). `skip`: bytes left of a discarded
    length-prefixed frame; `scanned`: how far past its start the frame at the start was
    searched for its 0xFF already. Returns (stop, pos, skip, scanned): why it stopped (WAIT,
    BUDGET, PEER_CLOSE at pos, OVERSIZED: a length over max_size, OVERSIZED_TEXT: a text frame
    past max_size with no end in sight), where, and the next call's skip and scanned."""
    pos, frames = 0, 0
    while pos < len(buffer):
        if frames == budget:
            return BUDGET, pos, skip, scanned
        frames += 1
        if skip:
            dropped = min(skip, len(buffer) - pos)
            pos += dropped
            skip -= dropped
            if skip:
                break
            continue
        frame_type = buffer[pos]
        if frame_type & 0x80:
            # A length-prefixed frame, 7 bits per byte, high bit set on all but the last.
            length, at = 0, pos + 1
            while True:
                if at >= len(buffer):
                    return WAIT, pos, skip, scanned
                byte = buffer[at]
                length = length * 128 + (byte & 0x7F)
                at += 1
                if length > max_size:
                    return OVERSIZED, pos, skip, scanned
                if not byte & 0x80:
                    break
            if frame_type == 0xFF and length == 0:
                return PEER_CLOSE, at, skip, scanned
            pos, skip = at, length
            continue
        # A sentinel frame runs to the next 0xFF.
        end = buffer.find(b"\xff", pos + scanned)
        if end < 0:
            if len(buffer) - pos - 1 > max_size:
                return OVERSIZED_TEXT, pos, skip, scanned
            return WAIT, pos, skip, len(buffer) - pos
        if frame_type == 0x00 and deliver:
            events.append(Message(TEXT, bytes(buffer[pos + 1:end]).decode("utf-8", "replace")))
        pos, scanned = end + 1, 1
    return WAIT, pos, skip, scanned


def _chosen() -> tuple[str, Callable[..., tuple[int, int, int, int, int]],
                        Callable[[bytearray, int, bytes], None],
                        Callable[..., tuple[int, int, int, int]]]:
    """Which flavour runs, and its functions."""
    python = (python_scan_frames, python_append_frame, python_scan_draft76)
    if os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0"):
        return (f"pure Python ({PURE_PYTHON_ENV} is set)", *python)
    try:
        from geows.protocols import _frames  # type: ignore[attr-defined]
    except ImportError:
        return ("pure Python (geows.protocols._frames is not built)", *python)
    return ("compiled (geows.protocols._frames)", _frames.scan_frames, _frames.append_frame,
            _frames.scan_draft76)


FLAVOUR, scan_frames, append_frame, scan_draft76 = _chosen()
