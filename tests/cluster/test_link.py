"""Broadcasts across hosts through a real redis-server (WebSocketBroadcast): two geows
hosts of two workers each, on loopback, clients on both; one order everywhere, each
message once, the results' scopes, and geows without Redis."""

from __future__ import annotations

import time

import pytest

from tests.cluster.hosts import (
    UP,
    Result,
    check_delivery,
    results,
    send_all,
    start_host,
    wait_until,
)
from tests.cluster.redis_server import Reader, RedisServer
from tests.geows_process import REPO, free_port, run_cli


@pytest.fixture
def stop_after():
    started = []
    yield started
    for item in started:
        for reader in getattr(item, "readers", []):
            reader.close()
        item.stop()


def hosts_with_readers(url: str, stop_after: list, count: int = 2, readers: int = 4,
                       **options) -> dict:
    hosts = {}
    for _ in range(count):
        host = start_host(url, **options)
        stop_after.append(host)
        host.readers = [Reader(host.port) for _ in range(readers)]
        hosts[host] = host.readers
    return hosts


def test_two_hosts_deliver_every_broadcast_once_in_one_order(redis_server, stop_after):
    hosts = hosts_with_readers(redis_server.url(), stop_after)
    a, b = (readers for readers in hosts.values())
    host_a, host_b = hosts
    senders = {a[0]: [f"s:a0:{n}" for n in range(150)], a[1]: [f"s:a1:{n}" for n in range(150)],
               b[0]: [f"s:b0:{n}" for n in range(150)], b[1]: [f"s:b1:{n}" for n in range(150)]}
    send_all(senders)
    by_text = check_delivery(hosts, {a[0]: host_a, a[1]: host_a, b[0]: host_b, b[1]: host_b},
                             "s:")
    assert len(by_text) == 600
    assert {result.scope for result in by_text.values()} == {"cluster"}
    assert sorted(result.seq for result in by_text.values()) == list(range(1, 601))
    assert len({result.epoch for result in by_text.values()}) == 1
    # the count: this worker's connections that took it, the sender's included
    assert all(1 <= result.count <= 4 for result in by_text.values())


def test_scope_host_stays_on_its_host(redis_server, stop_after):
    host_a = start_host(redis_server.url())
    stop_after.append(host_a)
    host_b = start_host(redis_server.url())
    stop_after.append(host_b)
    a, b = Reader(host_a.port, "/host"), Reader(host_b.port, "/host")
    host_a.readers, host_b.readers = [a], [b]
    a.send("?from a")
    a.wait_for(1, "=")
    (result,) = results(a)
    assert (result.count, result.scope, result.seq, result.epoch) == (1, "host", None, None)
    b.send("?from b")
    b.wait_for(1, "=")
    assert b.got("from") == ["from b"]
    assert a.got("from") == ["from a"]


def test_geows_serves_without_redis_and_links_when_it_comes(stop_after):
    """Here with `geows -X`: one process, which links as a worker does."""
    port = free_port()
    host = start_host(f"redis://:pa55word@127.0.0.1:{port}", linked=False, one_process=True)
    stop_after.append(host)
    reader = Reader(host.port)
    host.readers = [reader]
    reader.send("?alone")
    reader.wait_for(1, "=")
    assert results(reader) == [Result(1, "local", None, None, "alone")]
    assert reader.wait_for(1, "alone") == ["alone"]
    assert "Redis cannot be reached" in host.error_log
    redis_server = RedisServer(port=port)
    try:
        started = time.monotonic()
        wait_until(lambda: UP in host.error_log, 5, lambda: host.error_log)
        assert time.monotonic() - started < 5
        reader.send("?linked")
        reader.wait_for(2, "=")
        assert results(reader)[1].scope == "cluster"
        assert reader.wait_for(1, "linked") == ["linked"]
    finally:
        redis_server.stop()
    assert "pa55word" not in host.error_log + host.access_log


ECHO_AT_8080 = f"""Listen 127.0.0.1:8080
<Location /echo>
SetHandler websocket-handler
WebSocketHandler {REPO}/plugins/echo.py echo_init
</Location>
"""


def test_a_bad_url_is_a_t_error_at_file_line_without_the_password(tmp_path):
    conf = tmp_path / "httpd.conf"
    conf.write_text(ECHO_AT_8080 + "WebSocketBroadcast redis://u:s3cret@h:x\n")
    result = run_cli("-t", "-f", str(conf))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"{conf}:6: WebSocketBroadcast: the port must be a "
                                     "number from 1 to 65535")
    conf.write_text(ECHO_AT_8080 + "WebSocketBroadcast redis://u:s3cret@h\n")
    result = run_cli("-t", "-f", str(conf))
    assert (result.returncode, result.stderr.strip()) == (0, "Syntax OK")


def test_rediss_with_the_ca_links_and_without_it_serves_locally(stop_after):
    """rediss:// to a redis-server that speaks TLS only: with its certificate as
    ssl_ca_certs the link is up; with ssl_cert_reqs=required and no CA, the certificate is
    refused, the error log says Redis cannot be reached, and broadcasts stay local."""
    redis_server = RedisServer(tls=True)
    try:
        base = f"rediss://127.0.0.1:{redis_server.port}/0"
        trusted = start_host(f"{base}?ssl_ca_certs={redis_server.cert}", one_process=True)
        stop_after.append(trusted)
        untrusted = start_host(f"{base}?ssl_cert_reqs=required", linked=False,
                               one_process=True)
        stop_after.append(untrusted)
        for host, scope in ((trusted, "cluster"), (untrusted, "local")):
            reader = Reader(host.port)
            host.readers = [reader]
            reader.send("?over tls")
            reader.wait_for(1, "=")
            assert results(reader)[0].scope == scope
        assert "Redis cannot be reached" in untrusted.error_log
        assert "certificate verify failed" in untrusted.error_log
    finally:
        redis_server.stop()


def test_fleets_with_their_own_prefix_share_a_redis_apart(redis_server, stop_after):
    hosts = []
    for prefix in ("fleet1", "fleet2"):
        host = start_host(redis_server.url(), prefix=prefix, one_process=True)
        stop_after.append(host)
        host.readers = [Reader(host.port)]
        hosts.append(host)
    for host in hosts:
        host.readers[0].send(f"?from {host.port}")
        host.readers[0].wait_for(1, "=")
        assert results(host.readers[0])[0].scope == "cluster"
    for host in hosts:
        assert host.readers[0].got("from") == [f"from {host.port}"]
    assert sorted(redis_server.client().keys("*")) == [
        f"{prefix}:<Location /chat>:{key}".encode() for prefix in ("fleet1", "fleet2")
        for key in ("history", "links", "order")]
