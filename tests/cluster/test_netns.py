"""The hosts fixture itself: geows in namespaces of their own reached by real clients from
the clients' namespace, nothing added to the root namespace, a partition that cuts one host
from Redis and is lifted, and nothing left behind when a test fails."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.cluster.clients import Clients
from tests.cluster.netns import Namespace, geows_on, network
from tests.cluster.netns_redis import RedisServer

ECHO = """
Listen @ADDRESS@:@PORT@
{workers}
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""


def root_namespace() -> str:
    """The root namespace's links and addresses, as `ip` shows them."""
    return subprocess.run(["ip", "-brief", "address"], capture_output=True, text=True,
                          check=True, timeout=10).stdout


def namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                          check=True, timeout=10).stdout


def test_geows_in_two_hosts_one_alone_one_with_two_workers_serves_the_clients_namespace():
    before = root_namespace()
    with network(2) as net:
        alone = geows_on(net.hosts[0], ECHO.format(workers=""), extra_args=("-X",))
        pair = geows_on(net.hosts[1], ECHO.format(workers="StartServers 2"))
        try:
            pair.wait_for_workers(2)
            urls = [f"ws://{alone.address}:{alone.port}/echo",
                    f"ws://{pair.address}:{pair.port}/echo"]
            plan = {"clients": [{"url": urls[i % 2], "send": [f"hello {i}"]} for i in range(20)],
                    "expect": 1, "timeout": 20}
            clients = Clients(net.clients, plan)
            assert clients.ready() == 20
            results = clients.go()["clients"]
            assert [(r["error"], r["received"]) for r in results] == [
                (None, [f"hello {i}"]) for i in range(20)]
            assert root_namespace() == before
        finally:
            assert alone.stop() == 0
            assert pair.stop() == 0
    # Each WebSocket came from the clients' namespace, 10 to each host (the other line is
    # the probe that saw geows listening, made in the host's own namespace).
    for geows in (alone, pair):
        lines = [line for line in geows.access_log.splitlines() if "GET /echo" in line]
        assert len(lines) == 10, geows.access_log
        assert all(line.startswith(f"{net.clients.address}:") for line in lines), lines
    assert net.prefix not in namespaces()
    assert root_namespace() == before


def test_a_partition_cuts_one_host_from_redis_silently_until_lifted():
    with network(2) as net:
        redis = RedisServer(net.redis)
        try:
            cut, other = net.hosts
            assert redis.ping(cut) and redis.ping(other) and redis.ping(net.clients)
            established = cut.connect((net.redis.address, redis.port), 5)
            established.sendall(b"PING\r\n")
            assert established.recv(64) == b"+PONG\r\n"
            with net.partition(cut, net.redis):
                assert not redis.ping(cut)
                assert redis.ping(other) and redis.ping(net.clients)
                # Silent: the established connection is neither reset nor answered.
                established.settimeout(1.5)
                established.sendall(b"PING\r\n")
                with pytest.raises(TimeoutError):
                    established.recv(64)
            assert redis.ping(cut, timeout=5)
            # Lifted: TCP retransmits the PING the partition dropped, and Redis answers.
            established.settimeout(10)
            assert established.recv(64) == b"+PONG\r\n"
            established.close()
        finally:
            redis.stop()


def test_the_network_is_removed_with_what_runs_in_it_when_the_test_fails():
    before = root_namespace()
    with pytest.raises(RuntimeError, match="the test failed"):
        with network(1) as net:
            made = list(net.made)
            sleeper = subprocess.Popen([*net.hosts[0].run, "sleep", "60"])
            deadline = time.monotonic() + 5
            while sleeper.pid not in net.hosts[0].pids():
                assert time.monotonic() < deadline, "sleep is not in the host's namespace"
                time.sleep(0.05)
            raise RuntimeError("the test failed")
    assert sleeper.wait(5) == -9
    listed = namespaces()
    assert made and not [name for name in made if name in listed]
    assert root_namespace() == before
    with pytest.raises(FileNotFoundError):
        Namespace(made[-1], "").socket()
