"""A serving process's link to Redis (WebSocketBroadcast): it publishes this process's
broadcasts into each location's one total order, and delivers every location's messages
in that order, its own included, repairing gaps from the history Redis keeps.

Two connections, redis-py under gevent: one publishes (one Lua script per broadcast: the
location's next seq, the message appended to its history Stream, PUBLISH), one
subscribes (a channel per location) and is probed with a PING every
BROADCAST_PROBE_INTERVAL. Any failure ends both, and the link connects again after a
jittered, growing pause; meanwhile a broadcast reaches this host only (through the
master, as with WebSocketBroadcast Off) and says so (scope "local"). Nothing is retried
blindly: redis-py's own retries are off, and a publish whose outcome is unknown is looked
up in the history once Redis answers again (geows.cluster.order does the ordering).

Keys, for each location name L under WebSocketBroadcastPrefix P: `P:L:order` (a hash:
the epoch, its number, the run_id of the Redis that made it, the last seq), `P:L:history`
(the Stream, entry IDs `number-seq`), and the channel `P:L`. For the count across hosts
(broadcast's count_timeout, geows.cluster.counts): `P:L:links` (a sorted set: each
linked process, scored by when its probe last registered it) and, for each counted
message, `P:L:count:ID` (a hash: each process's count), both expiring.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import gevent
import redis
from gevent.event import AsyncResult
from gevent.lock import Semaphore
from redis.backoff import NoBackoff
from redis.retry import Retry

from geows import limits
from geows.cluster import counts
from geows.cluster.figures import LinkFigures, LocationFigures
from geows.cluster.order import Deliver, Entry, Fetch, Lost, NewEpoch, Order, Position
from geows.cluster.url import BroadcastSettings
from geows.messages import CLUSTER, LOCAL, TEXT, Broadcast

log = logging.getLogger("geows.broadcast")

# KEYS: the location's order hash, its history Stream, its live links. ARGV: a new
# epoch's token, the history's length, the channel, room, type, message id, data, and ''
# or (a count asked) BROADCAST_LINK_LIVE in ms: then the links registered within it are
# returned too, read in the same step as the seq (a link registers once it knows its
# position, so each of them delivers this message). A new epoch starts when the
# hash is gone (Redis lost its data) or was made by a Redis of another run_id (restarted:
# from a snapshot older than the last seq it handed out, it could hand one out again). Its
# number follows the last one, or the history's last entry's if that is higher.
PUBLISH = """
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local order = redis.call('HMGET', KEYS[1], 'epoch', 'run', 'number')
local epoch, number = order[1], order[3]
if not epoch or order[2] ~= run then
  number = redis.call('HINCRBY', KEYS[1], 'number', 1)
  local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
  if top then
    local last = tonumber(string.match(top[1], '^(%d+)'))
    if last >= number then
      number = last + 1
    end
  end
  epoch = number .. '.' .. ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'run', run, 'number', number, 'seq', 0)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local id = number .. '-' .. seq
local counted = ARGV[8] ~= '' and '1' or ''
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id, 'epoch', epoch, 'room', ARGV[4],
           'type', ARGV[5], 'id', ARGV[6], 'count', counted, 'data', ARGV[7])
local function field(value) return #value .. ':' .. value end
redis.call('PUBLISH', ARGV[3], field(id) .. field(epoch) .. field(ARGV[4]) .. field(ARGV[5])
           .. field(ARGV[6]) .. field(counted) .. ARGV[7])
local links = {}
if counted ~= '' then
  local now = redis.call('TIME')
  local ms = now[1] * 1000 + math.floor(now[2] / 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ms - tonumber(ARGV[8]))
  links = redis.call('ZRANGE', KEYS[3], 0, -1)
end
return {epoch, seq, links}
"""



class Host(Protocol):
    """What the link asks of the server it serves (geows.runtime.server.Server)."""

    def deliver_relayed(self, name: str, type: int, data: str | bytes,
                        room: str | None = None) -> int:
        """Deliver to this process's connections of the location (or of its room)."""

    def broadcast_here(self, name: str, type: int, data: str | bytes,
                       room: str | None = None) -> int:
        """Deliver to this host's connections of the location: this process's, and the
        other workers' through the master."""

    def make_room(self, name: str, deadline: float) -> None:
        """Before a message read from history: let the location's connections that read
        take what they hold (until `deadline` at most)."""

    def report_gap(self, name: str, first: int, last: int) -> None:
        """Broadcasts first..last of the location are lost for good."""


@dataclass
class _Unsettled:
    """A broadcast whose publish had an unknown outcome."""

    name: str
    type: int
    data: str | bytes
    room: str | None
    id: str
    sent: float  # time.monotonic()
    # Where this process's order of the location stood when it published: (epoch, last
    # seq delivered). History that still reaches back past it says whether it ran.
    after: tuple[str | None, int]


class LinkLost(Exception):
    """The link is lost for the reason said."""


class Link:
    """One serving process's link to Redis, for the locations of WebSocketBroadcastScope
    cluster."""

    def __init__(self, settings: BroadcastSettings, names: Iterable[str], host: Host):
        self.settings = settings
        self.host = host
        self.names = list(names)
        self._orders = {name: Order(settings.history) for name in self.names}
        self._figures = LinkFigures(url=settings.url.redacted, up=False, since=time.time(),
                                    locations={name: LocationFigures() for name in self.names})
        self._id = f"{socket.gethostname()}:{os.getpid()}"  # in P:L:links
        self._ids = (f"{self._id}:{n}" for n in itertools.count(1))
        self._waiting: dict[str, AsyncResult] = {}  # message id -> this worker's count
        self._unsettled: list[_Unsettled] = []
        self._started = False  # whether the orders have a starting position
        self._publisher: redis.Redis | None = None
        self._subscriber: redis.client.PubSub | None = None
        self._script = ""
        self._register_refused = False  # whether the error log said it was
        self._runner: gevent.Greenlet | None = None
        # Why the error log last said the link is down (None: it is up, or never was down)
        self._said_down: str | None = None
        self._refusals = 0  # publishes Redis refused since it last took one
        self._publishing = Semaphore()  # one publish at a time (see _publish)

    def start(self) -> None:
        """Connect (in a greenlet of its own, again whenever the link is lost)."""
        self._runner = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.kill()
        self._close()

    def figures(self) -> LinkFigures:
        return self._figures

    def publish(self, name: str, type: int, data: str | bytes, room: str | None = None,
                count_timeout: float | None = None) -> Broadcast:
        """Broadcast through Redis, then wait (limits.BROADCAST_WAIT at most) for this
        process to deliver it in its place in the order; while the link is down, to this
        host only. With `count_timeout`, then wait for every live process's count too,
        until count_timeout after the call at most (see messages.Broadcast)."""
        asked = time.monotonic()
        message_id = next(self._ids)
        waiter = self._waiting[message_id] = AsyncResult()
        try:
            with self._publishing:
                place = self._publish(name, type, data, room, message_id,
                                      count_timeout is not None)
            if place is None:
                return self._here(name, type, data, room)
            count = waiter.wait(limits.BROADCAST_WAIT) or 0
            if not place or count_timeout is None:  # () when its outcome is unknown
                return Broadcast(count, CLUSTER, *place[:2])
            seq, epoch, links = place  # and this process, registered or not
            total, missing = self._count(name, message_id, links | {self._id},
                                         asked + count_timeout)
            return Broadcast(count, CLUSTER, seq, epoch, total, missing)
        finally:
            del self._waiting[message_id]

    def _count(self, name: str, message_id: str, links: set[str],
               deadline: float) -> tuple[int, int]:
        """(the connections the processes that reported the message counted, how many of
        `links` had not) once each of them reported, or at `deadline`."""
        counted: dict[str, int] = {}
        publisher = self._publisher
        if publisher is not None:
            try:
                counts.wait(publisher, self._key(name, f"count:{message_id}"), links,
                            deadline, counted)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._fail(f"reading a broadcast's count: {exc}")
        return (sum(counted[link] for link in links if link in counted),
                len(links - counted.keys()))

    def _publish(self, name: str, type: int, data: str | bytes, room: str | None,
                 message_id: str, counted: bool
                 ) -> tuple[int, str, set[str]] | tuple[()] | None:
        """One publish, while no other runs: (seq, epoch, the live links when `counted`);
        () when its outcome is unknown (looked up once Redis answers again); None when it
        was not published (the link is down, or went down while this one waited its turn:
        it is not tried against a Redis that just timed out; or Redis refused it)."""
        publisher = self._publisher
        if not self._figures.up or publisher is None:
            return None
        try:
            publisher.connection.connect()  # a failure here published nothing
        except redis.RedisError as exc:
            self._fail(f"connecting to publish: {exc}")
            return None
        try:
            epoch, seq, links = self._run_script(publisher, name, type, data, room,
                                                 message_id, counted)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            order = self._orders[name]
            self._unsettled.append(_Unsettled(name, type, data, room, message_id,
                                              time.monotonic(), (order.epoch, order.last)))
            self._fail(f"publishing: {exc}; whether that broadcast was published is "
                       "looked up once Redis answers again")
            return ()
        except redis.RedisError as exc:  # refused (out of memory...): not published
            self._refused(name, exc)
            return None
        self._figures.published += 1
        if self._refusals:
            log.warning("WebSocketBroadcast %s: Redis takes broadcasts again after "
                        "refusing %d", self._figures.url, self._refusals)
            self._refusals = 0
        return seq, epoch, links

    def _refused(self, name: str, exc: redis.RedisError) -> None:
        """Redis refused a publish: said once until it takes one again (a full Redis
        refuses every broadcast, each of which reaches this host only)."""
        if not self._refusals:
            log.error("WebSocketBroadcast %s: Redis refused a broadcast of %s (%s): it "
                      "reaches this host only, as every broadcast will until Redis takes one "
                      "again", self._figures.url, name, exc)
        self._refusals += 1

    def _here(self, name: str, type: int, data: str | bytes, room: str | None) -> Broadcast:
        self._figures.local_only += 1
        return Broadcast(self.host.broadcast_here(name, type, data, room), LOCAL)

    def _run_script(self, publisher: redis.Redis, name: str, type: int, data: str | bytes,
                    room: str | None, message_id: str, counted: bool = False
                    ) -> tuple[str, int, set[str]]:
        """Publish; NOSCRIPT (Redis restarted, or SCRIPT FLUSH) means it did not run, so it
        is loaded and run once more."""
        keys = (self._key(name, "order"), self._key(name, "history"),
                self._key(name, "links"))
        # A new token each time: the epoch this publish may start must be named unlike any
        # before it, this process's own included (the number alone starts at 1 again when
        # Redis lost its data).
        arguments = (os.urandom(6).hex(), self.settings.history, self._key(name),
                     _room_field(room), type, message_id, data,
                     int(limits.BROADCAST_LINK_LIVE * 1000) if counted else "")
        try:
            epoch, seq, links = publisher.evalsha(self._script, 3, *keys, *arguments)
        except redis.exceptions.NoScriptError:
            self._script = publisher.script_load(PUBLISH)
            epoch, seq, links = publisher.evalsha(self._script, 3, *keys, *arguments)
        return epoch.decode(), int(seq), {link.decode() for link in links}

    def _key(self, name: str, what: str | None = None) -> str:
        return f"{self.settings.prefix}:{name}" + (f":{what}" if what else "")

    def _run(self) -> None:
        pause = limits.BROADCAST_RECONNECT
        down_since = time.monotonic()
        while True:
            try:
                self._connect()
                if self._said_down is not None:
                    log.warning("WebSocketBroadcast %s: the link to Redis is up again after "
                                "%.1f s", self._figures.url, time.monotonic() - down_since)
                else:
                    log.info("WebSocketBroadcast %s: the link to Redis is up",
                             self._figures.url)
                self._said_down = None
                pause = limits.BROADCAST_RECONNECT
                self._listen()
            except (redis.RedisError, OSError, LinkLost) as exc:
                if self._said_down is None:
                    down_since = time.monotonic()
                self._lose(str(exc))
                self._close()
            gevent.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 2, limits.BROADCAST_RECONNECT_MAX)

    def _connect(self) -> None:
        self._close()
        arguments = {**self.settings.url.connection_arguments(),
                     "socket_timeout": limits.BROADCAST_SOCKET_TIMEOUT,
                     "socket_connect_timeout": limits.BROADCAST_SOCKET_TIMEOUT,
                     "socket_keepalive": True, "socket_keepalive_options": _KEEPALIVE,
                     "retry": Retry(NoBackoff(), 0)}  # never a blind retry
        self._publisher = redis.Redis(**arguments, single_connection_client=True)
        self._script = self._publisher.script_load(PUBLISH)
        self._subscriber = redis.Redis(**arguments).pubsub()
        self._subscriber.subscribe(*(self._key(name) for name in self.names))
        confirmed = 0
        deadline = time.monotonic() + limits.BROADCAST_SOCKET_TIMEOUT
        while confirmed < len(self.names):
            message = self._subscriber.get_message(
                timeout=max(0.0, deadline - time.monotonic()))
            if message is None and time.monotonic() >= deadline:
                raise LinkLost("Redis did not confirm the subscriptions")
            confirmed += message is not None and message["type"] == "subscribe"
        for name in self.names:
            position = self._position(name)
            if self._started:
                self._apply(name, self._orders[name].resume(position))
            else:
                self._orders[name].start(position)
        self._register_link()  # once its position is known: it delivers what follows
        if self._started:
            self._figures.reconnects += 1
        self._started = True
        self._figures.up, self._figures.since = True, time.time()
        self._settle()

    def _register_link(self) -> None:
        """This process is live in every location's P:L:links (geows.cluster.counts); a
        refusal (Redis full, an ACL) leaves the link up, and is said once."""
        assert self._publisher is not None
        try:
            counts.register(self._publisher, [self._key(name, "links") for name in self.names],
                            self._id)
        except redis.ResponseError as exc:
            if not self._register_refused:
                log.error("WebSocketBroadcast %s: Redis refused to register this process for "
                          "the counts across hosts (%s): counted broadcasts leave its "
                          "connections out until it takes a registration again",
                          self._figures.url, exc)
            self._register_refused = True
            return
        if self._register_refused:
            log.warning("WebSocketBroadcast %s: Redis takes this process's registration for "
                        "the counts across hosts again", self._figures.url)
            self._register_refused = False

    def _position(self, name: str) -> Position | None:
        assert self._publisher is not None
        epoch, number, seq = self._publisher.hmget(self._key(name, "order"),
                                                   "epoch", "number", "seq")
        if epoch is None:
            return None
        return Position(epoch.decode(), int(number), int(seq))

    def _listen(self) -> None:
        """Deliver what arrives, and probe: a PING unanswered for
        limits.BROADCAST_PROBE_TIMEOUT, while nothing else arrives either, ends the link
        (an answer queued behind messages, or behind a long repair, is not late)."""
        assert self._subscriber is not None
        asked: float | None = None
        next_probe = time.monotonic() + limits.BROADCAST_PROBE_INTERVAL
        while self._figures.up:
            now = time.monotonic()
            if asked is None and now >= next_probe:
                self._subscriber.ping()
                asked = now
            wait = (asked + limits.BROADCAST_PROBE_TIMEOUT if asked is not None
                    else next_probe) - now
            message = self._subscriber.get_message(timeout=max(wait, 0.0))
            if message is None:
                if asked is not None and \
                        time.monotonic() - asked > limits.BROADCAST_PROBE_TIMEOUT:
                    raise LinkLost(f"Redis did not answer a PING within "
                                   f"{limits.BROADCAST_PROBE_TIMEOUT:g} s")
                continue
            if message["type"] == "pong":
                self._register_link()
                asked = None
                next_probe = time.monotonic() + limits.BROADCAST_PROBE_INTERVAL
            elif message["type"] == "message":
                name = message["channel"].decode()[len(self.settings.prefix) + 1:]
                try:
                    entry = _published_entry(message["data"])
                except ValueError:
                    # Another program publishing on the channel: a prefix shared by mistake.
                    log.error("%s: a message on Redis channel %s that geows did not publish "
                              "(%r...): ignored; is WebSocketBroadcastPrefix shared with "
                              "another program?", name, self._key(name), message["data"][:40])
                    continue
                self._apply(name, self._orders[name].arrived(entry))
        raise LinkLost(self._said_down or "a publish failed")  # as _fail said it

    def _apply(self, name: str, decisions: list[Any]) -> None:
        """Carry the order's decisions out, reading history where it asks."""
        order, figures = self._orders[name], self._figures.locations[name]
        work = list(reversed(decisions))
        pace_until = time.monotonic() + limits.BROADCAST_REPAIR_PACE
        while work:
            decision = work.pop()
            if isinstance(decision, Deliver):
                if decision.repaired:
                    self.host.make_room(name, pace_until)
                self._deliver(name, decision)
            elif isinstance(decision, Fetch):
                work += reversed(order.fetched(self._read(name, decision)))
            elif isinstance(decision, Lost):
                figures.gaps_lost += 1
                figures.lost_messages += decision.last - decision.first + 1
                self.host.report_gap(name, decision.first, decision.last)
            elif isinstance(decision, NewEpoch) and decision.old is not None:
                log.warning("%s: Redis began a new epoch of broadcasts, %s, after %s (delivered "
                            "here up to seq %d): Redis restarted or lost its data; what it "
                            "kept of the old one was delivered first", name, decision.new,
                            decision.old, decision.old_last)

    def _deliver(self, name: str, decision: Deliver) -> None:
        room, type, data, counted = decision.entry.message
        count = self.host.deliver_relayed(name, type, data, room)
        if counted and self._publisher is not None:
            try:
                counts.report(self._publisher, self._key(name, f"count:{decision.entry.id}"),
                              self._id, count)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._fail(f"reporting a broadcast's count: {exc}")
            except redis.ResponseError as exc:  # refused: the sender says it missing
                log.error("%s: Redis refused this process's count of a broadcast (%s)",
                          name, exc)
        figures = self._figures.locations[name]
        # Together, so that the status page never shows one ahead of the other.
        figures.epoch, figures.last_seq = decision.entry.epoch, decision.entry.seq
        figures.delivered += 1
        figures.repaired += decision.repaired
        waiter = self._waiting.get(decision.entry.id)
        if waiter is not None:
            waiter.set(count)

    def _read(self, name: str, fetch: Fetch) -> list[Entry]:
        """The history's entries that the Fetch asks for, read in bounded batches."""
        assert self._publisher is not None
        if fetch.last is not None and fetch.last < fetch.first:
            return []
        start = f"{fetch.number}-{fetch.first}"
        end = f"{fetch.number}-{fetch.last if fetch.last is not None else (1 << 64) - 1}"
        entries: list[Entry] = []
        while True:
            batch = self._publisher.xrange(self._key(name, "history"), start, end,
                                           count=limits.BROADCAST_FETCH)
            for entry_id, fields in batch:
                try:
                    entries.append(_history_entry(entry_id, fields))
                except (KeyError, ValueError):
                    # Another program's entry: a prefix shared by mistake. Its seq is
                    # reported lost, as any missing from history.
                    log.error("%s: an entry %s in Redis' history %s that geows did not "
                              "write: ignored", name, entry_id.decode(),
                              self._key(name, "history"))
            if len(batch) < limits.BROADCAST_FETCH:
                return entries
            start = f"({batch[-1][0].decode()}"

    def _settle(self) -> None:
        """Settle each broadcast whose publish had an unknown outcome by its history
        (_published): published again only when history shows it never ran."""
        assert self._publisher is not None
        unsettled, self._unsettled = self._unsettled, []
        for index, message in enumerate(unsettled):
            history = self._publisher.xrevrange(self._key(message.name, "history"),
                                                count=self.settings.history)
            published = _published(message, history, self.settings.history)
            if published is not False:
                log.log(logging.WARNING if published else logging.ERROR, "%s: the broadcast "
                        "whose publish was cut off %s: not published again", message.name,
                        "had been published (it is in Redis' history)" if published else
                        "may have been published: that cannot be told (Redis' history no "
                        "longer reaches back to it); if it was not, it is lost")
                continue
            if time.monotonic() - message.sent > limits.BROADCAST_SETTLE_LIMIT:
                log.error("WebSocketBroadcast %s: a broadcast of %s whose publish was cut off "
                          "is not in Redis, and Redis was away for more than %g s: it reaches "
                          "this host only", self._figures.url, message.name,
                          limits.BROADCAST_SETTLE_LIMIT)
                self._here(message.name, message.type, message.data, message.room)
                continue
            log.warning("%s: the broadcast whose publish was cut off had not been published "
                        "(it is not in Redis' history): published now", message.name)
            try:  # not counted: its caller was told the outcome is unknown
                self._run_script(self._publisher, message.name, message.type, message.data,
                                 message.room, message.id)
            except (redis.ConnectionError, redis.TimeoutError):
                self._unsettled = unsettled[index:] + self._unsettled
                raise
            self._figures.published += 1

    def _fail(self, reason: str) -> None:
        """A publish failed: broadcasts reach this host only from now on; the link's
        greenlet, which owns the connections, ends them when it next looks (between two
        deliveries, never during one) and connects again, and says why it cannot (a
        publish failing while the link is down already is no news)."""
        if self._figures.up:
            self._lose(reason)

    def _lose(self, reason: str) -> None:
        """The link is down; the error log says so once for each reason."""
        if self._figures.up:
            self._figures.up, self._figures.since = False, time.time()
            log.error("WebSocketBroadcast %s: the link to Redis is lost (%s): broadcasts "
                      "reach this host only until it is back", self._figures.url, reason)
        elif reason != self._said_down:
            # At start, or a reconnection failing otherwise than the log last said (Redis
            # back, but refusing the password): said once, however often it is tried.
            log.error("WebSocketBroadcast %s: Redis cannot be reached (%s): broadcasts reach "
                      "this host only until it can", self._figures.url, reason)
        self._said_down = reason

    def _close(self) -> None:
        for connection in (self._subscriber, self._publisher):
            if connection is not None:
                try:
                    connection.close()
                except (redis.RedisError, OSError):
                    pass  # closing what is already broken
        self._subscriber = self._publisher = None


# TCP keepalive on both connections: a peer silent for good is noticed by the kernel too.
_KEEPALIVE = {socket.TCP_KEEPIDLE: int(limits.BROADCAST_PROBE_TIMEOUT),
              socket.TCP_KEEPINTVL: 1, socket.TCP_KEEPCNT: 2}


def _room_field(room: str | None) -> str:
    """A room travels as '#name'; no room as ''."""
    return "" if room is None else f"#{room}"


def _message(room: bytes, type: bytes, data: bytes,
             counted: bytes) -> tuple[str | None, int, str | bytes, bool]:
    """(room, type, data) as Server.deliver_relayed takes them (a text message's data as
    str), and whether its sender asked for a count."""
    kind = int(type)
    return (room[1:].decode() if room else None, kind,
            data.decode() if kind == TEXT else data, counted == b"1")


def _published_entry(payload: bytes) -> Entry:
    """What PUBLISH sent: netstrings (stream ID, epoch, room, type, id, counted), then the
    data (ValueError if it is not that)."""
    fields, at = [], 0
    for _ in range(6):
        colon = payload.index(b":", at)
        start = colon + 1
        end = start + int(payload[at:colon])
        fields.append(payload[start:end])
        at = end
    stream_id, epoch, room, type, message_id, counted = fields
    number, seq = map(int, stream_id.split(b"-"))
    return Entry(epoch.decode(), number, seq, message_id.decode(),
                 _message(room, type, payload[at:], counted))


def _published(message: _Unsettled, history: list, bound: int) -> bool | None:
    """Whether a cut-off publish ran, from its location's newest `bound` history entries;
    None when they no longer reach back to where its process stood when it published
    (trimmed by later broadcasts, or a new epoch began): then it cannot be told."""
    if any(fields.get(b"id") == message.id.encode() for _, fields in history):
        return True
    if len(history) < bound:
        return False  # MAXLEN ~ never trims below the bound: nothing was trimmed
    oldest_id, oldest = history[-1]
    epoch, last = message.after
    if oldest.get(b"epoch") == (epoch or "").encode() and \
            int(oldest_id.split(b"-")[1]) <= last + 1:
        return False
    return None


def _history_entry(entry_id: bytes, fields: dict[bytes, bytes]) -> Entry:
    """An entry of a location's history (KeyError or ValueError if geows did not write it)."""
    number, seq = map(int, entry_id.split(b"-"))
    return Entry(fields[b"epoch"].decode(), number, seq, fields[b"id"].decode(),
                 _message(fields[b"room"], fields[b"type"], fields[b"data"],
                          fields.get(b"count", b"")))
