"""Turns by time for the loops that could run without end.

gevent's recv() returns at once while bytes wait, and sendall() while the kernel takes
them, so a greenlet whose client keeps it busy never blocks, and every other connection of
the worker waits for it (mod_websocket gave each connection a thread: the kernel shared
the CPU). The loops that read a client (server.Connection._pump, both directions of
forward._Relay) call `give_way()` between pieces of work; once the calling greenlet has
worked for limits.TURN without a break, it lets every other connection that is ready go
first, and goes on when none is left, or limits.TURN_WAIT later at the latest.
"""

from __future__ import annotations

import time

import gevent
from gevent import getcurrent

from geows import limits

# The greenlet that called last, the hub's loop iteration it called in, and when that
# greenlet's turn began. A greenlet runs without a break until it switches away, and the
# hub counts its polls (libev's ev_iteration), so the same caller in the same iteration
# as at its last call has worked all the time since; any other caller starts a turn.
_turn: list = [None, -1, 0.0]


def give_way() -> None:
    """Give way to the other connections if the calling greenlet has worked for longer
    than limits.TURN; return at once otherwise. From the hub's thread only."""
    hub = gevent.get_hub()
    current, iteration, now = getcurrent(), hub.loop.iteration, time.monotonic()
    if current is not _turn[0] or iteration != _turn[1]:
        _turn[:] = current, iteration, now
        return
    if now - _turn[2] <= limits.TURN:
        return
    # gevent.idle() returns once a pass of the hub's loop finds nothing else pending
    # (libev's idle watchers), so every connection whose socket is ready goes first; a
    # worker that never runs out of work is not waited for past TURN_WAIT. Not
    # gevent.sleep(0): it is a callback, which the hub runs before it polls the sockets,
    # in the same pass when called from a callback; nor a timer due at once, which runs
    # before the sockets that poll found ready (bench/RESULTS-fairness.md has the figures).
    with gevent.Timeout(limits.TURN_WAIT, False):
        gevent.idle()
    _turn[:] = current, hub.loop.iteration, time.monotonic()
