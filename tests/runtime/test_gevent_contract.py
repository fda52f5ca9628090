"""What geows relies on in gevent beyond its documented API (setup.cfg accepts
gevent>=24.2,<27). geows.runtime.server's _Listening: the accept pause it starts after a
failed accept() must be gevent's own `_timer`, which close() cancels, restarted through
`_start_accepting_if_started`. geows.runtime.fairness: libev's `loop.pendingcnt` counts the
watchers of a pass that have not run yet, and a timer due at once at the lowest priority
fires after every socket the next poll finds ready. Each test fails if the installed
gevent changes that."""

import socket

import gevent
import gevent.socket
from gevent.libev.corecext import MINPRI
from gevent.server import StreamServer


def listening() -> StreamServer:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = StreamServer(sock, lambda *_: None)
    server.start()
    return server


def test_close_cancels_the_accept_pause():
    server = listening()
    fired = []
    server.stop_accepting()
    server._timer = server.loop.timer(0.05)
    server._timer.start(fired.append, "restarted")
    server.close()
    gevent.sleep(0.15)
    assert fired == []


def test_the_pause_restarts_accepting_and_its_bounds_are_gevents():
    server = listening()
    try:
        server.stop_accepting()
        assert server._watcher is None  # the io watcher that accepts
        server._start_accepting_if_started()
        assert server._watcher is not None and server._watcher.active
        assert 0 < server.min_delay < server.max_delay
        assert server.is_fatal_error(OSError(9, "EBADF"))
        assert not server.is_fatal_error(OSError(24, "EMFILE"))
    finally:
        server.close()


def test_a_lowest_priority_timer_due_at_once_fires_after_the_ready_sockets():
    order = []
    pairs = [gevent.socket.socketpair() for _ in range(5)]

    def reader(i: int, sock: socket.socket) -> None:
        sock.recv(1)
        order.append((f"read {i}", gevent.get_hub().loop.pendingcnt))

    def gives_way() -> None:
        gevent.get_hub().wait(gevent.get_hub().loop.timer(0, priority=MINPRI))
        order.append(("resumed", None))

    try:
        readers = [gevent.spawn(reader, i, b) for i, (_, b) in enumerate(pairs)]
        gevent.sleep(0.05)  # they wait in recv()
        for a, _ in pairs:
            a.send(b"x")
        waiting = gevent.spawn(gives_way)  # starts before the poll that finds them
        assert gevent.joinall([*readers, waiting], timeout=10) is not None
    finally:
        for a, b in pairs:
            a.close()
            b.close()
    assert [name for name, _ in order][-1] == "resumed"
    assert sorted(name for name, _ in order[:-1]) == [f"read {i}" for i in range(5)]
    # each reader, woken by the one poll, saw as pending the readers not run yet and the
    # timer (pending from that pass on, at the lowest priority, so run last)
    assert sorted(pending for _, pending in order[:-1]) == [1, 2, 3, 4, 5]
