"""The local channel between the master and each worker process: length-prefixed
messages on a Unix socketpair.

The master first hands a worker the config to run. A broadcast (to a location, or to one
of its rooms) travels worker -> master -> every other worker. A worker that cannot start
says why before it exits; one that can says so, then waits for the word to accept, so
that a generation refused because one of its workers failed has served no one. Each
worker reports its status figures, and the master hands every worker the others'.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator
from enum import IntEnum
from typing import Any

from gevent.lock import Semaphore

from geows import limits

HEADER = struct.Struct(">IB")  # body length, kind
# Location name length, room name length (0: the whole location), message type.
_BROADCAST = struct.Struct(">HHH")


class Kind(IntEnum):
    READY = 1      # worker -> master: serving (plugins loaded, listening)
    FAILED = 2     # worker -> master: could not start; the body says why (FILE:LINE)
    BROADCAST = 3  # both ways: one message for every connection of a location
    SNAPSHOT = 4   # worker -> master: this worker's status figures (JSON)
    VIEW = 5       # master -> worker: the other workers' latest figures (JSON)
    GO = 6         # master -> worker: start accepting (all of its generation are ready)
    CONFIG = 7     # master -> worker, first: what to run (assignment.Parsed, pickled)


def broadcast_body(location: str, type: int, data: str | bytes, room: str | None) -> bytes:
    name = location.encode("utf-8")
    room_name = b"" if room is None else room.encode("utf-8")
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return _BROADCAST.pack(len(name), len(room_name), type) + name + room_name + payload


def parse_broadcast(body: bytes) -> tuple[str, int, bytes, str | None]:
    """(location name, message type, data, room or None): Server.deliver_relayed's
    arguments."""
    name_length, room_length, type = _BROADCAST.unpack_from(body)
    start = _BROADCAST.size
    room_start = start + name_length
    data_start = room_start + room_length
    room = body[room_start:data_start].decode("utf-8") if room_length else None
    return body[start:room_start].decode("utf-8"), type, body[data_start:], room


def json_body(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


class Channel:
    """One end of the socketpair, for greenlets: `send` from any greenlet keeps each
    message whole; iterating yields (kind, body) until the other end is gone."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._lock = Semaphore()

    def send(self, kind: Kind, body: bytes = b"") -> None:
        """Raises OSError when the other end is gone."""
        with self._lock:
            self.sock.sendall(HEADER.pack(len(body), kind) + body)

    def __iter__(self) -> Iterator[tuple[Kind, bytes]]:
        buffer = bytearray()
        while True:
            while len(buffer) >= HEADER.size:
                length, kind = HEADER.unpack_from(buffer)
                if len(buffer) < HEADER.size + length:
                    break
                body = bytes(buffer[HEADER.size:HEADER.size + length])
                del buffer[:HEADER.size + length]
                yield Kind(kind), body
            try:
                data = self.sock.recv(limits.RECV_SIZE)
            except OSError:
                return
            if not data:
                return
            buffer += data

    def close(self) -> None:
        self.sock.close()
