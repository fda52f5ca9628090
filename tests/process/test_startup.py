"""startup: serve()'s three ends, and User/Group as httpd reads them."""

from __future__ import annotations

import pwd
import time
from types import SimpleNamespace

import gevent
from gevent.event import AsyncResult, Event

from geows import limits
from geows.process import startup


class FakeServer:
    """What serve() asks of a server: its config's grace, its connections, and its stops."""

    def __init__(self, grace: float | None, connections: int = 0):
        self.config = SimpleNamespace(
            process=SimpleNamespace(graceful_shutdown_timeout=grace))
        self.connections = set(range(connections))
        self.calls: list[tuple] = []

    def stop_accepting(self) -> None:
        self.calls.append(("stop_accepting",))

    def stop(self, timeout: float) -> None:
        self.calls.append(("stop", timeout))


def ending() -> SimpleNamespace:
    """An Ending without its signal handlers, which would outlive the test."""
    return SimpleNamespace(stop=Event(), finish=AsyncResult())


def test_a_stop_stops_at_once_and_gives_the_closes_the_grace():
    server, end = FakeServer(grace=3, connections=1), ending()
    end.stop.set()
    startup.serve(server, end)
    assert server.calls == [("stop", 3)]


def test_a_stop_without_graceful_shutdown_timeout_gives_the_closes_the_default():
    server, end = FakeServer(grace=None), ending()
    end.stop.set()
    startup.serve(server, end)
    assert server.calls == [("stop", limits.SHUTDOWN_TIMEOUT)]


def test_a_reload_lets_the_open_connections_end_first():
    server, end = FakeServer(grace=0.1, connections=1), ending()
    end.finish.set("reload")
    gevent.spawn_later(0.5, server.connections.clear)  # past the grace: a reload has none
    began = time.monotonic()
    startup.serve(server, end)
    assert time.monotonic() - began >= 0.5
    assert server.calls == [("stop_accepting",), ("stop", 0.1)]


def test_a_graceful_stop_waits_at_most_graceful_shutdown_timeout():
    server, end = FakeServer(grace=0.3, connections=1), ending()
    end.finish.set("graceful")
    began = time.monotonic()
    startup.serve(server, end)
    assert 0.3 <= time.monotonic() - began < 0.3 + 2 * limits.FINISH_POLL
    assert server.calls == [("stop_accepting",), ("stop", 0.3)]


def test_a_stop_cuts_a_graceful_stop_short():
    server, end = FakeServer(grace=None, connections=1), ending()  # None: no limit
    end.finish.set("graceful")
    gevent.spawn_later(0.1, end.stop.set)
    startup.serve(server, end)
    assert server.calls == [("stop_accepting",), ("stop", limits.SHUTDOWN_TIMEOUT)]


def test_a_numeric_user_without_a_passwd_entry_has_no_name_and_no_group():
    unused = next(uid for uid in range(54321, 65000) if not _has_entry(uid))
    assert startup._user(f"#{unused}") == (unused, None, None)
    assert startup._user("#0") == (0, "root", 0)
    assert startup._group_id("#4321") == 4321


def _has_entry(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True
