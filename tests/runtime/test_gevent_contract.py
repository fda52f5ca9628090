"""What geows.runtime.server's _Listening relies on in gevent's StreamServer beyond its
documented API (setup.cfg accepts gevent>=24.2,<27): the accept pause it starts after a failed
accept() must be gevent's own `_timer`, which close() cancels, restarted through
`_start_accepting_if_started`. Each test fails if the installed gevent changes that."""

import socket

import gevent
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
