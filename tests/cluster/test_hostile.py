"""A hostile plugin, client or Redis neighbour against the link: what it sends through
Redis never ends the link for the others (real geows, real redis-server)."""

from __future__ import annotations

import time

import pytest

from tests.cluster.hosts import CONFIG, UP, results, start_host, wait_until
from tests.cluster.redis_server import Reader, RedisServer
from tests.geows_process import GeowsProcess

# "!name" broadcasts one of BAD's messages, which no client could be sent, and answers
# what broadcast() said; anything else is broadcast as it came.
PLUGIN = """
from geows.plugin import PING, TEXT, Plugin

BAD = {"!text": (TEXT, b"\\xff\\xfe"), "!ping": (PING, "x" * 200), "!type": (99, "x"),
       "!surrogate": (TEXT, "\\ud800")}


def cast_init():
    def on_message(state, server, type, data):
        if data in BAD:
            try:
                server.broadcast(*BAD[data])
                server.send(TEXT, f"taken: {data}")
            except ValueError as exc:
                server.send(TEXT, f"refused: {data} {exc}")
        else:
            server.broadcast(TEXT, data)

    return Plugin(on_message=on_message)
"""


@pytest.fixture
def host(redis_server):
    process = GeowsProcess(CONFIG.format(url=redis_server.url(), workers=1, history=100,
                                         prefix="geows"),
                           extra_files={"cast.py": PLUGIN})
    try:
        wait_until(lambda: UP in process.error_log, 20,
                   lambda: f"no link:\n{process.error_log}")
        yield process
    finally:
        process.stop()


@pytest.mark.parametrize("bad", ["!text", "!ping", "!type", "!surrogate"])
def test_a_broadcast_no_client_could_be_sent_is_refused_and_the_link_lives(host, bad):
    """Text that is not UTF-8, a ping over 125 bytes, an unknown type: broadcast() raises
    ValueError in the plugin, as send() does, and nothing reaches Redis, whose subscribers
    on every host would fail on it."""
    reader = Reader(host.port)
    try:
        reader.send(bad)
        assert reader.wait_for(1, f"refused: {bad}", timeout=10)
        reader.send("after")
        reader.wait_for(1, "after", timeout=10)
        assert "Traceback" not in host.error_log
    finally:
        reader.close()


@pytest.mark.parametrize("payload", [b"garbage", b"3:1-1", b"3:1-15:x.abc0:1:z1:zx", b""])
def test_a_message_geows_did_not_publish_on_its_channel_is_logged_and_ignored(
        host, redis_server, payload):
    """Another program publishing on a location's channel (a prefix shared by mistake):
    the error log says so, and the link delivers what geows publishes after it."""
    reader = Reader(host.port)
    try:
        assert redis_server.client().publish("geows:<Location /chat>", payload) == 1
        wait_until(lambda: "did not publish" in host.error_log, 10,
                   lambda: f"nothing said:\n{host.error_log}")
        reader.send("after")
        reader.wait_for(1, "after", timeout=10)
        assert "Traceback" not in host.error_log
    finally:
        reader.close()


def test_redis_back_with_another_password_is_said_once_without_either_password(tmp_path):
    """Redis restarted with another requirepass while geows was linked: the error log
    says why the link cannot come back (the authentication), once however often it tries,
    and shows neither password."""
    server = RedisServer(password="first-secret")
    process = GeowsProcess(CONFIG.format(url=server.url(), workers=1, history=100,
                                         prefix="geows"),
                           extra_files={"cast.py": PLUGIN})
    try:
        wait_until(lambda: UP in process.error_log, 20, lambda: process.error_log)
        server.kill()
        server.args[server.args.index("--requirepass") + 1] = "second-secret"
        server.password = "second-secret"
        server.start()
        wait_until(lambda: "invalid username-password pair" in process.error_log, 15,
                   lambda: f"the reason is not said:\n{process.error_log}")
        time.sleep(6)  # more reconnection attempts (limits.BROADCAST_RECONNECT_MAX apart)
        assert process.error_log.count("invalid username-password pair") == 1
        assert "secret" not in process.error_log
    finally:
        process.stop()
        server.stop()


def test_redis_refusing_broadcasts_is_said_once_and_its_end_too(redis_server):
    """Redis at its maxmemory (noeviction) refuses every publish: each broadcast reaches
    this host only (scope local, delivered once), and the error log says so once, not once
    a broadcast, then says when Redis takes them again."""
    host = start_host(redis_server.url(), workers=1)
    reader = Reader(host.port)
    try:
        client = redis_server.client()
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", 1)
        for n in range(30):
            reader.send(f"?full{n}")
        reader.wait_for(30, "=", timeout=20)
        assert {result.scope for result in results(reader)} == {"local"}
        assert sorted(reader.got("full")) == sorted(f"full{n}" for n in range(30))
        assert host.error_log.count("refuse") == 1, host.error_log
        client.config_set("maxmemory", 0)
        reader.send("?room again")
        reader.wait_for(31, "=", timeout=20)
        assert results(reader)[-1].scope == "cluster"
        assert "takes broadcasts again after refusing 30" in host.error_log
    finally:
        reader.close()
        host.stop()


def test_broadcasts_caught_in_a_partition_are_not_held_one_after_another(redis_server):
    """Redis stops answering (SIGSTOP) while 20 clients of one worker broadcast at once:
    the first publish times out (3 s) and waits for its outcome (5 s); the others, which
    waited their turn, reach this host at once rather than each try Redis for 3 s more
    (they took a minute and more, and a plugin got an exception from the link); the
    error log says the link is down once, not once a broadcast."""
    host = start_host(redis_server.url(), workers=1)
    readers = [Reader(host.port) for _ in range(20)]
    try:
        readers[0].send("warm")
        readers[0].wait_for(1, "warm", timeout=10)
        redis_server.pause()
        started = time.monotonic()
        for n, reader in enumerate(readers):
            reader.send(f"?cut{n}")
        for reader in readers:
            reader.wait_for(1, "=", timeout=15)
        assert time.monotonic() - started < 15
        waited = [results(reader)[-1] for reader in readers]
        assert sorted(result.text for result in waited) == sorted(f"cut{n}" for n in range(20))
        assert sorted(result.scope for result in waited) == ["cluster"] + ["local"] * 19
        assert host.error_log.count("publishing: ") == 1
    finally:
        redis_server.resume()
        for reader in readers:
            reader.close()
        host.stop()


def test_a_history_entry_geows_did_not_write_is_logged_and_counted_lost(host, redis_server):
    """Another program's entry in a location's history, where a repair reads: the error
    log says so, that seq is reported lost, and what follows is delivered."""
    reader = Reader(host.port)
    try:
        reader.send("first")
        reader.wait_for(1, "first", timeout=10)
        client = redis_server.client()
        number = int(client.hget("geows:<Location /chat>:order", "number"))
        client.xadd("geows:<Location /chat>:history", {"not": "geows"}, id=f"{number}-2")
        client.hincrby("geows:<Location /chat>:order", "seq", 1)
        reader.send("second")
        reader.wait_for(1, "second", timeout=10)
        assert "did not write" in host.error_log
        assert "broadcasts 2 to 2 are lost" in host.error_log
        assert "Traceback" not in host.error_log
    finally:
        reader.close()
