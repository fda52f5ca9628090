"""A broadcast's count across hosts (count_timeout) through a real redis-server: two geows
hosts of two workers each on loopback, clients on both; the exact total, and "missing"
within the timeout while a worker is stopped (SIGSTOP); the timeout's bounds, and no
count for a broadcast of scope host."""

from __future__ import annotations

import os
import signal
import time

from tests.cluster.hosts import results, start_host
from tests.cluster.redis_server import Reader
from tests.cluster.test_link import hosts_with_readers, stop_after  # noqa: F401 (fixture)


def counted(reader: Reader, text: str, timeout: float) -> tuple[int, int, float]:
    """Broadcast `text` from `reader` asking for the count within `timeout`: (total,
    missing, seconds until the answer came)."""
    before = len(reader.got("+"))
    started = time.monotonic()
    reader.send(f"#{timeout:g} {text}")
    answer = reader.wait_for(before + 1, "+", timeout + 10)[before]
    took = time.monotonic() - started
    total, missing, said = answer[1:].split(" ", 2)
    assert said == text
    return int(total), int(missing), took


def test_a_count_is_for_broadcasts_through_redis_within_bounds(
        redis_server, stop_after):  # noqa: F811
    host = start_host(redis_server.url(), workers=1)
    stop_after.append(host)
    chat, local = Reader(host.port), Reader(host.port, "/host")
    host.readers = [chat, local]
    for timeout in ("0", "-1", "10.5"):
        chat.send(f"#{timeout} c:bad")
    assert chat.wait_for(3, "!") == [
        f"!count_timeout is more than 0 and at most 10 s, not {value}"
        for value in (0.0, -1.0, 10.5)]
    assert chat.got("c:") == []  # refused before anything was sent
    local.send("#1 h:scope host")
    assert local.wait_for(1, "+") == ["+None None h:scope host"]


def test_the_count_across_hosts_is_exact_and_says_when_a_worker_did_not_report(
        redis_server, stop_after):  # noqa: F811
    hosts = hosts_with_readers(redis_server.url(), stop_after, readers=3)
    host_a, host_b = hosts
    sender = host_a.readers[0]
    everyone = host_a.readers + host_b.readers

    assert counted(sender, "c:all", 2)[:2] == (6, 0)
    assert counted(host_b.readers[1], "c:from b", 2)[:2] == (6, 0)
    for reader in everyone:
        reader.wait_for(1, "c:from b")
        assert reader.got("c:") == ["c:all", "c:from b"]

    stopped = sorted(host_b.workers())[0]
    os.kill(stopped, signal.SIGSTOP)
    try:
        total, missing, took = counted(sender, "c:one stopped", 1)
        # the stopped worker registered within limits.BROADCAST_LINK_LIVE: it is waited
        # for, for the timeout, and said missing
        assert missing == 1
        assert 1 <= took < 3
        # the total is the clients that got it: host A's 3, and host B's on the worker
        # that goes on (how B's 3 spread over its two workers is the kernel's choice)
        deadline = time.monotonic() + 5
        while True:
            reached = [reader for reader in host_b.readers
                       if "c:one stopped" in reader.got("c:")]
            if 3 + len(reached) >= total or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert total == 3 + len(reached)
    finally:
        os.kill(stopped, signal.SIGCONT)
    for reader in everyone:  # the stopped worker's clients get it once it goes on
        reader.wait_for(3, "c:")
    assert counted(sender, "c:again", 2)[:2] == (6, 0)

    client = redis_server.client()
    keys = client.keys("*")
    assert {key.rsplit(b":", 1)[-1] for key in keys if b":count:" not in key} == \
        {b"history", b"links", b"order"}
    # what the count leaves behind expires: the processes' registrations, and a count a
    # process added after its sender stopped waiting (the stopped worker's)
    assert all(0 < client.pttl(key) <= 10_000 for key in keys
               if key.endswith(b":links") or b":count:" in key)


def test_a_registration_redis_refuses_is_said_once_and_the_link_stays_up(
        redis_server, stop_after):  # noqa: F811
    """An ACL user that may not ZADD: each probe's registration is refused, the error log
    says so once, broadcasts still go through Redis, and a counted one counts its
    sender's process."""
    redis_server.client().acl_setuser("geows", enabled=True, passwords=["+pw"],
                                      keys=["*"], channels=["*"],
                                      commands=["+@all", "-zadd"])
    url = redis_server.url().replace("redis://", "redis://geows:pw@")
    host = start_host(url, workers=1)
    stop_after.append(host)
    reader = Reader(host.port)
    host.readers = [reader]
    time.sleep(2.5)  # two probes or more, each refused
    assert host.error_log.count("Redis refused to register this process") == 1, \
        host.error_log
    assert "the link to Redis is lost" not in host.error_log
    reader.send("?c:still cluster")
    reader.wait_for(1, "=")
    assert results(reader)[0].scope == "cluster"
    # a counted broadcast still counts its sender's own process
    assert counted(reader, "c:counted", 1)[:2] == (1, 0)
