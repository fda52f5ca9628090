"""The message types plugins and protocols share: mod_websocket's values, so that C and
Python plugins agree on them (MESSAGE_TYPE_* in plugins/c/websocket_plugin.h); and what
a broadcast returns."""

from __future__ import annotations

TEXT = 0x00
BINARY = 0x80
CLOSE = 0xFF
PING = 0x100
PONG = 0x101

# Broadcast.scope's values: ordered through Redis across hosts; this host's workers through
# the master (WebSocketBroadcast Off, or the location's WebSocketBroadcastScope host); this
# host only, because Redis could not be reached (WebSocketBroadcast names it).
CLUSTER, HOST, LOCAL = "cluster", "host", "local"


class Broadcast(int):
    """What broadcast() returns: the int is how many of this worker's connections the
    message was queued for (what it returned before, so a plugin that counts keeps
    working), with `seq` and `epoch`, the message's place in the location's order through
    Redis (None unless scope is "cluster"), and `scope`: CLUSTER, HOST or LOCAL. Asked for
    a count across hosts (broadcast's count_timeout), a "cluster" one has `total`, how
    many connections of every host took it, summed over the processes that reported it
    in time, and `missing`, how many live processes had not (0: `total` is exact); both
    None otherwise."""

    seq: int | None
    epoch: str | None
    scope: str
    total: int | None
    missing: int | None

    def __new__(cls, count: int, scope: str, seq: int | None = None,
                epoch: str | None = None, total: int | None = None,
                missing: int | None = None) -> Broadcast:
        result = super().__new__(cls, count)
        result.seq, result.epoch, result.scope = seq, epoch, scope
        result.total, result.missing = total, missing
        return result

    def __str__(self) -> str:
        return int.__repr__(self)  # "3", as the int a plugin printed before

    def __repr__(self) -> str:
        return (f"Broadcast({int(self)}, scope={self.scope!r}, seq={self.seq}, "
                f"epoch={self.epoch!r}, total={self.total}, missing={self.missing})")
