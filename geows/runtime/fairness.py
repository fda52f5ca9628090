"""Turns for the loops that could run without end.

gevent's recv() returns at once while bytes wait, and sendall() while the kernel takes
them, so a greenlet whose client keeps it busy never blocks, and every other connection of
the worker waits for it (mod_websocket gave each connection a thread: the kernel shared
the CPU). The loops that read a client call `give_way()` between pieces of work: both
directions of forward._Relay, and session.Session._pump between the parses of one read and
before a read on TLS (on a plain socket its read waits on the socket's watcher first, which
is its turn: session._recv). A greenlet that goes on working
in the same pass of the hub's loop gives way at once while other connections wait for
their turn, those that pass's poll found ready and those that gave way before (a
saturated worker: each gets a piece or two per pass), and after limits.TURN when none do
(a client flooding an otherwise quiet worker); it goes on after every connection the next
poll finds ready.
"""

from __future__ import annotations

import time

import gevent
from gevent import getcurrent
from gevent.libev.corecext import MINPRI

from geows import limits

# The greenlet that called last, the hub's loop iteration it called in, and when that
# greenlet's turn began. A greenlet runs without a break until it switches away, and the
# hub counts its polls (libev's ev_iteration), so the same caller in the same iteration
# as at its last call has worked all the time since; any other caller starts a turn.
_turn: list = [None, -1, 0.0]
# How many greenlets gave way and wait for the next poll.
_waiting = [0]


def give_way() -> None:
    """Give way to the other connections if the calling greenlet has worked since its
    last call while others wait, or for longer than limits.TURN; return at once
    otherwise. From the hub's thread only."""
    hub = gevent.get_hub()
    loop = hub.loop
    current, iteration = getcurrent(), loop.iteration
    if current is not _turn[0] or iteration != _turn[1]:
        _turn[:] = current, iteration, time.monotonic()
        return
    # loop.pendingcnt: the watchers this pass's poll found ready that have not run yet,
    # the other connections whose bytes wait while this one goes on.
    if not loop.pendingcnt and not _waiting[0] and time.monotonic() - _turn[2] <= limits.TURN:
        return
    # A timer due at once at libev's lowest priority fires after the next poll, and libev
    # runs every pending watcher of a higher priority first: the connections still
    # waiting in this pass and those the next poll finds ready. Not gevent.sleep(0): a
    # callback, run before the poll, in the same pass when called from a callback; nor a
    # timer at the default priority, which libev runs before the sockets of that poll
    # (it runs the pending watchers of one priority last-queued first); nor
    # gevent.idle(), which a saturated worker never reaches (bench/RESULTS-fairness.md).
    _waiting[0] += 1
    try:
        hub.wait(loop.timer(0, priority=MINPRI))
    finally:
        _waiting[0] -= 1
    _turn[:] = current, loop.iteration, time.monotonic()
