"""The link's faults, against a real redis-server: killed and restarted mid-stream (with
and without its append-only file), stopped for 2 s, a client that never reads, a stalled
worker over Redis' pubsub output-buffer limit, publishes whose outcome is unknown, and
passwords kept out of logs.
Each checks what the results promise (tests.cluster.hosts.check_delivery): nothing twice,
one order, nothing lost that the results said went through Redis."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import time

import pytest
import websocket

from tests.cluster.hosts import check_delivery, results, send_all, start_host, wait_until
from tests.cluster.redis_server import Reader, RedisServer
from tests.cluster.test_link import hosts_with_readers, stop_after  # noqa: F401  # fixture


def senders_of(hosts: dict) -> dict:
    """The first reader of each host, which sends."""
    return {readers[0]: host for host, readers in hosts.items()}


def texts(reader_index: int, count: int, size: int = 0) -> list[str]:
    return [f"s:{reader_index}:{n}:" + "x" * size for n in range(count)]


@pytest.mark.parametrize("appendonly", [False, True], ids=["no-persistence", "appendonly"])
def test_redis_killed_and_restarted_mid_stream(stop_after, appendonly):  # noqa: F811
    redis_server = RedisServer(appendonly=appendonly)
    try:
        hosts = hosts_with_readers(redis_server.url(), stop_after, readers=2)
        senders = senders_of(hosts)
        first = next(iter(senders))
        restarted = []

        host_a = next(iter(hosts))
        bystander = hosts[host_a][1]  # a client of the sender's host that sends while down

        def kill_and_restart() -> None:
            first.wait_for(60, "=")
            redis_server.kill()
            wait_until(lambda: host_a.error_log.count("the link to Redis is lost") >= 2, 5,
                       lambda: host_a.error_log)
            bystander.send("?s:while down")
            bystander.wait_for(1, "=")
            redis_server.start()
            restarted.append(time.monotonic())

        send_all({reader: texts(index, 300) for index, reader in enumerate(senders)},
                 interval=0.01, during=kill_and_restart)
        by_text = check_delivery(hosts, {**senders, bystander: host_a}, "s:")
        # delivery went on on its host while Redis was away
        assert by_text["s:while down"].scope == "local"
        assert by_text["s:while down"].count >= 1  # its own worker's clients, itself included
        assert results(first)[-1].scope == "cluster"
        # across hosts again within 5 s of the restart
        back = [at for at, line in first.arrivals("=")
                if " cluster " in line and at > restarted[0]]
        assert back and back[0] - restarted[0] < 5
        assert len(by_text) == 601
        for host in hosts:
            log = host.error_log
            assert "the link to Redis is lost" in log
            assert "Redis began a new epoch of broadcasts" in log
    finally:
        redis_server.stop()


def test_redis_stopped_for_2_s_loses_nothing(stop_after):  # noqa: F811
    redis_server = RedisServer()
    try:
        hosts = hosts_with_readers(redis_server.url(), stop_after, readers=2)
        senders = senders_of(hosts)
        first = next(iter(senders))

        def stop_for_2_s() -> None:
            first.wait_for(60, "=")
            redis_server.pause()
            time.sleep(2)
            redis_server.resume()

        send_all({reader: texts(index, 300) for index, reader in enumerate(senders)},
                 interval=0.01, during=stop_for_2_s)
        by_text = check_delivery(hosts, senders, "s:")
        assert {result.scope for result in by_text.values()} == {"cluster"}
        assert sorted(result.seq for result in by_text.values()) == list(range(1, 601))
        for host in hosts:
            assert "the link to Redis is lost" not in host.error_log
            assert "are lost" not in host.error_log
    finally:
        redis_server.stop()


def test_a_client_that_never_reads_is_closed_1008_and_the_others_get_everything(
        redis_server, stop_after):  # noqa: F811
    """A client of host A that never reads (a 4 kB receive buffer) while 12.8 MB of
    broadcasts flow from both hosts: geows closes it (1008, past limits.SEND_BUFFER) as
    for any broadcast; every other client of both hosts gets every message once, in the
    one order, and the link to Redis never notices."""
    hosts = hosts_with_readers(redis_server.url(), stop_after, readers=2)
    host_a = next(iter(hosts))
    stalled = websocket.create_connection(
        f"ws://127.0.0.1:{host_a.port}/chat", origin=f"http://127.0.0.1:{host_a.port}",
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),), timeout=10)
    try:
        senders = senders_of(hosts)
        send_all({reader: texts(index, 100, 64_000) for index, reader in enumerate(senders)})
        by_text = check_delivery(hosts, senders, "s:")
        assert len(by_text) == 200
        assert {result.scope for result in by_text.values()} == {"cluster"}
        # its own access log line: closed as too slow (close(1008, ...)), and no other
        port = stalled.sock.getsockname()[1]
        log = host_a.wait_for_log("closed: too slow to read what it was sent")
        (line,) = [line for line in log.splitlines() if "too slow to read" in line]
        assert line.startswith(f"127.0.0.1:{port} ")
        assert all("too slow" not in host.access_log for host in hosts if host is not host_a)
        # what reached it before it was closed, in the order, then the end: the 1008 close
        # frame queues behind what it never took, so it sees the connection end instead
        # when geows ends it (limits.CLOSE_TIMEOUT after)
        order = hosts[host_a][1].got("s:")
        got: list[str] = []
        close_code = None
        for _ in range(len(order) + 1):
            try:
                opcode, data = stalled.recv_data(control_frame=True)
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                close_code = struct.unpack("!H", data[:2])[0]
                break
            got.append(data.decode())
        assert got == order[:len(got)]
        assert len(got) < len(order)
        assert close_code in (1008, None), close_code
    finally:
        stalled.close()
    for host in hosts:
        assert "the link to Redis is lost" not in host.error_log
        assert "are lost" not in host.error_log


def test_a_stalled_worker_dropped_by_the_output_buffer_limit_repairs(stop_after):  # noqa: F811
    redis_server = RedisServer()
    try:
        redis_server.client().config_set("client-output-buffer-limit", "pubsub 64kb 32kb 1")
        hosts = hosts_with_readers(redis_server.url(), stop_after, readers=2, workers=1)
        host_a, host_b = hosts
        (worker_b,) = host_b.workers()
        sender = hosts[host_a][0]
        os.kill(worker_b, signal.SIGSTOP)
        try:
            started = time.monotonic()
            # 15 MB: more than the kernel's socket buffers hold for the stalled worker
            send_all({sender: texts(0, 1500, size=10_000)})
            hosts[host_a][1].wait_for(1500, "s:")  # the other host is not held up
            took = time.monotonic() - started
        finally:
            os.kill(worker_b, signal.SIGCONT)
        assert took < 20
        by_text = check_delivery(hosts, {sender: host_a}, "s:")
        assert {result.scope for result in by_text.values()} == {"cluster"}
        wait_until(lambda: "the link to Redis is lost" in host_b.error_log, 10,
                   lambda: host_b.error_log)
        assert "are lost" not in host_b.error_log
    finally:
        redis_server.stop()


@pytest.mark.parametrize("ran", [True, False], ids=["published", "never-ran"])
def test_a_publish_cut_off_is_looked_up_not_retried_blindly(stop_after, ran):  # noqa: F811
    """Redis stopped past the link's timeout while a broadcast is published: its outcome is
    unknown. Resumed, Redis runs it (published: it arrives by catch-up); killed instead and
    restarted empty, it never ran (not in history: published again). Either way every
    client gets it once."""
    redis_server = RedisServer()
    try:
        hosts = hosts_with_readers(redis_server.url(), stop_after, readers=2)
        senders = senders_of(hosts)
        first = next(iter(senders))
        first.send("?s:before")
        first.wait_for(1, "=")
        redis_server.pause()
        first.send("?s:cut")
        time.sleep(4.5)  # past limits.BROADCAST_SOCKET_TIMEOUT
        if ran:
            redis_server.resume()
        else:
            redis_server.kill()
            redis_server.start()
        first.wait_for(2, "=", timeout=30)
        by_text = check_delivery(hosts, {first: next(iter(hosts))}, "s:")
        assert by_text["s:cut"].scope == "cluster"
        host = next(iter(hosts))
        assert "whether that broadcast was published is looked up" in host.error_log
        settled = ("had been published (it is in Redis' history): not published again" if ran
                   else "had not been published (it is not in Redis' history): published now")
        assert settled in host.error_log
    finally:
        redis_server.stop()


def test_no_password_in_any_log_line(stop_after):  # noqa: F811
    redis_server = RedisServer(password="s3cret-pw")
    try:
        right = start_host(redis_server.url())
        stop_after.append(right)
        wrong = start_host(redis_server.url(password="wrong-pw"), linked=False)
        stop_after.append(wrong)
        wait_until(lambda: "Redis cannot be reached" in wrong.error_log, 10,
                   lambda: wrong.error_log)
        reader = Reader(right.port)
        right.readers = [reader]
        redis_server.kill()
        reader.send("?while down")
        reader.wait_for(1, "=")
        wait_until(lambda: "the link to Redis is lost" in right.error_log, 10,
                   lambda: right.error_log)
        for host in (right, wrong):
            logs = host.error_log + host.access_log
            assert "s3cret-pw" not in logs and "wrong-pw" not in logs
            assert f"redis://:***@127.0.0.1:{redis_server.port}/0" in logs
    finally:
        redis_server.stop()


def test_what_history_no_longer_holds_is_reported_lost(stop_after):  # noqa: F811
    """WebSocketBroadcastHistory 100, and a worker stalled while 1,500 broadcasts pass: it
    repairs what history holds, and the error log names every lost range; its client gets
    the others once, in order."""
    redis_server = RedisServer()
    try:
        redis_server.client().config_set("client-output-buffer-limit", "pubsub 64kb 32kb 1")
        hosts = hosts_with_readers(redis_server.url(), stop_after, readers=1, workers=1,
                                   history=100)
        host_a, host_b = hosts
        (worker_b,) = host_b.workers()
        sender = hosts[host_a][0]
        os.kill(worker_b, signal.SIGSTOP)
        try:
            send_all({sender: texts(0, 1500, size=10_000)})
        finally:
            os.kill(worker_b, signal.SIGCONT)
        seq_of = {result.text: result.seq for result in results(sender)}
        wait_until(lambda: "are lost" in host_b.error_log, 20, lambda: host_b.error_log)
        lost = set()
        for first, last in re.findall(r"broadcasts (\d+) to (\d+) are lost", host_b.error_log):
            lost |= set(range(int(first), int(last) + 1))
        assert 0 < len(lost) < 1500 - 100
        reader = hosts[host_b][0]
        wait_until(lambda: seq_of[reader.got("s:")[-1]] == 1500 if reader.got("s:") else False,
                   20, lambda: reader.got("s:")[-1][:20])
        got = [seq_of[text] for text in reader.got("s:")]
        assert got == sorted(set(got))
        assert set(got) | lost == set(range(1, 1501)) and not set(got) & lost
    finally:
        redis_server.stop()


def test_a_cut_off_publish_history_no_longer_reaches_is_not_published_again(stop_after):  # noqa: F811
    """A publish cut off that Redis did run, then trimmed out of a short history by the
    other host's broadcasts before this host is back: whether it ran cannot be told, so it
    is not published again (at most once), and the error log says so."""
    redis_server = RedisServer()
    try:
        a = start_host(redis_server.url(), workers=1, history=5)
        b = start_host(redis_server.url(), workers=1, history=5)
        stop_after += [a, b]
        sender, other, listener = Reader(a.port), Reader(b.port), Reader(b.port)
        sender.send("?s:before")
        sender.wait_for(1, "=")
        redis_server.pause()
        [worker] = a.wait_for_workers(1)
        sender.send("?s:cut")
        wait_until(lambda: "whether that broadcast was published is looked up" in a.error_log,
                   10, lambda: f"the publish was not cut off:\n{a.error_log}")
        os.kill(worker, signal.SIGSTOP)  # a back only once history has moved on
        try:
            redis_server.resume()  # Redis runs the publish it had read
            for n in range(12):
                other.send(f"s:b:{n}")
            listener.wait_for(12, "s:b:")
            listener.wait_for(1, "s:cut")  # Redis did publish it
        finally:
            os.kill(worker, signal.SIGCONT)
        wait_until(lambda: "cannot be told" in a.error_log, 20,
                   lambda: f"no settlement said:\n{a.error_log}")
        time.sleep(1)  # what a publish made again would take to arrive
        assert listener.got("s:cut") == ["s:cut"]
        assert other.got("s:cut") == ["s:cut"]
        assert "published now" not in a.error_log
    finally:
        redis_server.stop()
