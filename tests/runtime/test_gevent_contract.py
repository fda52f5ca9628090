"""What geows relies on in gevent beyond its documented API (setup.cfg accepts
gevent>=24.2,<27). geows.runtime.server's _Listening: the accept pause it starts after a
failed accept() must be gevent's own `_timer`, which close() cancels, restarted through
`_start_accepting_if_started`; its do_handle is called for each accepted connection.
geows.runtime.fairness: libev's `loop.pendingcnt` counts the watchers of a pass that have
not run yet, and a timer due at once at the lowest priority fires after every socket the
next poll finds ready. geows.runtime.session's _recv, which waits on a gevent socket's own
`_read_event` after a non-blocking recv on its `_sock`: bytes wake it, and a shutdown
(wake_reader) or a close from another greenlet ends it with gevent's cancel_wait_ex, an
OSError, as gevent's recv ends. Each test fails if the installed gevent changes that."""

import socket

import gevent
import gevent.socket
import pytest
from gevent.libev.corecext import MINPRI
from gevent.server import StreamServer

from geows.runtime.session import _recv


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


def test_do_handle_is_called_for_each_accepted_connection():
    handled = []

    class Handling(StreamServer):
        def do_handle(self, sock, address):
            handled.append(address)
            sock.close()

    server = Handling(("127.0.0.1", 0), lambda *_: None)
    server.start()
    try:
        with socket.create_connection(server.address, timeout=5):
            with gevent.Timeout(5):
                while not handled:
                    gevent.sleep(0.01)
        assert len(handled) == 1
    finally:
        server.close()


def reading() -> tuple[gevent.socket.socket, gevent.socket.socket, gevent.Greenlet]:
    """A socket pair, and a greenlet waiting in _recv on the first socket."""
    ours, theirs = gevent.socket.socketpair()
    reader = gevent.spawn(_recv, ours)
    gevent.sleep(0.05)
    assert not reader.ready(), "it returned with nothing to read"
    return ours, theirs, reader


def test_recv_returns_what_waits_and_waits_for_what_comes():
    ours, theirs, reader = reading()
    theirs.sendall(b"late")
    assert reader.get(timeout=5) == b"late"
    theirs.sendall(b"early")
    assert _recv(ours) == b"early"
    assert not ours._read_event.active  # the wait let its watcher go


@pytest.mark.parametrize("end", ["shutdown", "close"])
def test_recv_ends_with_an_oserror_when_another_greenlet_ends_the_socket(end):
    """As gevent's recv: the pump reads the OSError as the connection's end."""
    ours, _theirs, reader = reading()
    if end == "shutdown":
        ours.shutdown(socket.SHUT_RDWR)  # Session.wake_reader
    else:
        ours.close()
    with pytest.raises(OSError):
        reader.get(timeout=5)
    watcher = ours._read_event  # None once closed
    assert watcher is None or not watcher.active  # the wait let its watcher go
