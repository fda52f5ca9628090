"""What a serving process's Redis link reports for the status page (Server.link_figures):
plain data, made by geows.cluster.link and rendered by geows.runtime.status."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LocationFigures:
    """One location's ordered delivery on this process.

    epoch: the history's epoch last seen (None before the first message);
    last_seq: the sequence number of the last message delivered (0: none yet);
    delivered: messages delivered from Redis, in order;
    repaired: of those, the ones read from history to fill a gap;
    gaps_lost: gaps that history no longer covered (each reported once);
    lost_messages: the messages in those gaps."""

    epoch: str | None = None
    last_seq: int = 0
    delivered: int = 0
    repaired: int = 0
    gaps_lost: int = 0
    lost_messages: int = 0


@dataclass
class LinkFigures:
    """This process's link to Redis.

    url: WebSocketBroadcast's URL with any password replaced by '***';
    up: whether the link is up now; since: when it last went up or down (Unix time);
    reconnects: times it came up again after being down;
    published: broadcasts published through Redis;
    local_only: broadcasts delivered on this host only, since Redis could not be reached;
    locations: per location name, its LocationFigures."""

    url: str
    up: bool
    since: float
    reconnects: int = 0
    published: int = 0
    local_only: int = 0
    locations: dict[str, LocationFigures] = field(default_factory=dict)
