"""Turns by time for the loops that could run without end.

gevent's recv() returns at once while bytes wait, and sendall() while the kernel takes
them, so a greenlet whose client keeps it busy never blocks, and every other connection of
the worker waits for it (mod_websocket gave each connection a thread: the kernel shared
the CPU). The loops that read a client (server.Connection._pump, both directions of
forward._Relay) call `give_way()` between pieces of work; once the calling greenlet has
worked for limits.TURN without a break, it waits for the hub's next poll, and takes its
next piece in the same round as every connection whose socket became ready meanwhile.
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
    """Wait for the hub's next poll if the calling greenlet has worked for longer than
    limits.TURN; return at once otherwise. From the hub's thread only."""
    hub = gevent.get_hub()
    current, iteration, now = getcurrent(), hub.loop.iteration, time.monotonic()
    if current is not _turn[0] or iteration != _turn[1]:
        _turn[:] = current, iteration, now
        return
    if now - _turn[2] <= limits.TURN:
        return
    # A timer due at once fires only after the loop's next poll (libev's ev_run polls,
    # then makes due timers pending). gevent.sleep(0) is a callback, which the hub runs
    # before it polls, even in the same pass, and gevent.idle() waits for a pass with
    # nothing else pending, which a busy worker may never have (bench/RESULTS-fairness.md).
    with hub.loop.timer(0) as timer:
        hub.wait(timer)
    _turn[:] = current, hub.loop.iteration, time.monotonic()
