"""The watchdog (WebSocketWatchdog): says in the error log when a worker's event loop is held.

Every connection of a worker is served by one OS thread, gevent's hub: a plugin call that
computes in pure Python (or blocks inside C without gevent) holds every other connection
of the worker until it returns. A timer in the hub notes each turn of the loop; an OS
thread looks four times per WebSocketWatchdog period, and when the loop has not turned
for the period, logs once per stall the plugin call holding it (callback, plugin,
location, client) with the stack where it is, and when the loop turns again, how long it
was held. It reads the hub thread's frames (sys._current_frames) rather than have each
plugin call noted, so that the message path pays nothing for it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from types import FrameType
from typing import TYPE_CHECKING, Any

from gevent import monkey

from geows.runtime.handshake import Handshake
from geows.runtime.session import Session

if TYPE_CHECKING:
    from geows.runtime.server import Server

log = logging.getLogger("geows.watchdog")

_start_thread = monkey.get_original("_thread", "start_new_thread")
_os_sleep = monkey.get_original("time", "sleep")

# The frames that call a plugin back, and the callback each calls.
_CALLERS = {Handshake._upgrade.__code__: "on_connect",
            Session._dispatch.__code__: "on_message",
            Session.run.__code__: "on_disconnect"}
_RUNTIME = os.path.dirname(__file__) + os.sep  # geows' own frames, never a plugin's


class Watchdog:
    """Watches one server's hub from an OS thread, between start() and stop()."""

    def __init__(self, server: Server, seconds: float):
        self.server = server
        self.seconds = seconds
        self.period = seconds / 4
        self.turned = time.monotonic()  # when the hub last ran the timer
        # ref=False: the timer alone does not keep the loop running.
        self.timer = server.hub.loop.timer(self.period, self.period, ref=False)
        self.running = False

    def start(self) -> None:
        self.running = True
        self.timer.start(self._turn)
        _start_thread(self._watch, ())

    def stop(self) -> None:
        self.running = False  # the thread ends at its next look
        self.timer.close()

    def _turn(self) -> None:
        self.turned = time.monotonic()

    def _watch(self) -> None:
        reported: float | None = None  # the last turn before the stall reported
        while self.running:
            _os_sleep(self.period)
            turned = self.turned
            if reported is not None and turned != reported:
                log.warning("the event loop runs again, after %.1f s held", turned - reported)
                reported = None
            held = time.monotonic() - turned
            if reported is None and held > self.seconds and self.running:
                reported = turned
                self._report(held)

    def _report(self, held: float) -> None:
        frame = sys._current_frames().get(self.server.hub_thread)
        if frame is None:
            return  # the hub's thread has ended: the process is stopping
        stack = "".join(traceback.format_stack(frame)).rstrip("\n")
        call = _plugin_call(frame)
        if call is None:
            message = (f"the event loop has not run for {held:.1f} s, held by geows itself "
                       "(no plugin call); every connection of this process waits")
        else:
            callback, owner = call
            settings = owner.record.route.endpoint.settings
            message = (f"[client {owner.record.client}] the event loop has not run for "
                       f"{held:.1f} s: {callback} of the plugin {settings.plugin} "
                       f"({settings.init}, WebSocketHandler at {settings.file}:{settings.line}"
                       f", {self.server.location_names[settings]}) holds it, and "
                       "every other connection of this process waits; move CPU work off the "
                       "event loop (run_in_thread, a process pool)")
        # The stack as a traceback is written: its lines kept (ErrorLogFormatter).
        log.handle(log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s", (message,),
                                  None, sinfo=f"Where it is held:\n{stack}"))


def _plugin_call(frame: FrameType | None) -> tuple[str, Any] | None:
    """The plugin callback the stack is in (its name, and the Session or Handshake that
    called it), found outward from the innermost frame; None if in none."""
    inner = None
    while frame is not None:
        callback = _CALLERS.get(frame.f_code)
        if callback is not None and inner is not None and \
                not inner.f_code.co_filename.startswith(_RUNTIME):
            return callback, frame.f_locals["self"]
        inner, frame = frame, frame.f_back
    return None
