"""The count across hosts (broadcast's count_timeout) in Redis, for geows.cluster.link: each
linked process registers itself in each location's `P:L:links` (a sorted set scored by
Redis' clock, so that the hosts' clocks need not agree) when it connects and at each
probe; a counted broadcast's publish reads the links registered within
limits.BROADCAST_LINK_LIVE (link.PUBLISH); each process that delivers it adds its count
to `P:L:count:ID` (a hash: link id -> count), which the sender reads until every one of
them is there or its timeout passes, then deletes. Every key expires."""

from __future__ import annotations

import time

import gevent
import redis

from geows import limits

# KEYS: the live links of each location. ARGV: this link's id, how long the keys live
# (ms), which is also how long a registration not renewed stays in them.
REGISTER = """
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ms - tonumber(ARGV[2]))
  redis.call('ZADD', key, ms, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2])
end
"""

# KEYS: a counted message's counts (a hash: link id -> its count). ARGV: this link's id,
# its count, how long the key lives (ms).
REPORT = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
"""


def register(publisher: redis.Redis, keys: list[str], link: str) -> None:
    """`link` is live in each of `keys` (P:L:links) for limits.BROADCAST_LINK_LIVE; a
    registration not renewed for twice as long is removed, and the keys expire then."""
    publisher.register_script(REGISTER)(
        keys=keys, args=[link, int(limits.BROADCAST_LINK_LIVE * 2000)], client=publisher)


def report(publisher: redis.Redis, key: str, link: str, count: int) -> None:
    """`link` delivered a counted message to `count` connections (`key`: P:L:count:ID,
    expiring limits.BROADCAST_COUNT_MAX after its last count)."""
    publisher.register_script(REPORT)(
        keys=[key], args=[link, count, int(limits.BROADCAST_COUNT_MAX * 1000)],
        client=publisher)


def wait(publisher: redis.Redis, key: str, links: set[str], deadline: float,
         counted: dict[str, int]) -> None:
    """Fill `counted` (link id -> its count) from the counts' key until every one of
    `links` is in it, or `deadline`; then delete the key (a late count recreates it, and it
    expires)."""
    while True:
        counted.update((link.decode(), int(count))
                       for link, count in publisher.hgetall(key).items())
        if links <= counted.keys() or time.monotonic() >= deadline:
            break
        gevent.sleep(min(limits.BROADCAST_COUNT_POLL, max(0.0, deadline - time.monotonic())))
    publisher.delete(key)
