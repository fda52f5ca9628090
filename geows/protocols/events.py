"""What a protocol reports after `receive_data`: small immutable events."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    """A whole message from the peer: `str` for TEXT, `bytes` for BINARY."""

    type: int
    data: str | bytes


@dataclass(frozen=True)
class CloseReceived:
    """The peer sent its closing handshake (`code` is None where the protocol has none)."""

    code: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class ProtocolError:
    """The peer broke the protocol; the protocol has queued its close already."""

    code: int
    reason: str


Event = Message | CloseReceived | ProtocolError
