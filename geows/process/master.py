"""The master process: httpd's parent, for geows.

It reads the config, binds every Listen (as root, when started so), writes the PidFile,
and starts StartServers workers (geows.process.worker), handing each the config it read
for their generation (assignment.Parsed): a replacement runs what its generation's first
workers ran, whatever the files on disk say since. Each worker has its slot: one listening
socket per Listen, bound with SO_REUSEPORT, so that the kernel spreads connections evenly
among the workers. A slot whose worker died stops listening (its waiting connections are
reset, new ones go to the other slots) until its replacement serves; a replacement that
cannot start is logged with its reason and tried again later and later
(limits.WORKER_RESTART_DELAY). The master relays each broadcast to the other workers,
dropping what a worker that takes nothing leaves past limits.RELAY_BACKLOG, and their
status figures with the totals of those that ended (geows.process.totals); it makes the
count of open connections every worker takes from (geows.process.shares) and gives back a
dead one's share; and it acts on signals:
    SIGTERM, SIGINT  stop: every worker closes its connections (1001) and exits
    SIGHUP, SIGUSR1  reload: re-read the config and start a new generation of workers;
                     once all of them serve, the old generation stops accepting and
                     finishes its open connections with the config they started with. A
                     config that does not load (FILE:LINE), or a worker that cannot start
                     on it, is refused and the old generation keeps serving.
    SIGWINCH         graceful-stop: stop accepting; open connections go on for at most
                     GracefulShutdownTimeout, then as SIGTERM
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from gevent.lock import Semaphore
from gevent.queue import Queue

from geows import __version__, limits
from geows.access.control import AccessControl
from geows.config import Config
from geows.config.model import host_port
from geows.errors import ConfigError
from geows.process import pidfile
from geows.process.assignment import ASSIGNMENT_ENV, Assignment, Parsed
from geows.process.channel import Channel, Kind, json_body
from geows.process.listeners import bind
from geows.process.shares import OpenConnections
from geows.process.startup import read_config, read_plugin_sources
from geows.process.systemd import notify
from geows.process.totals import add_ended, no_totals
from geows.runtime import log

logger = logging.getLogger("geows.main")
# What the master drops for a worker that takes nothing: a broadcast (that worker's clients
# miss it) and a status view (the next one replaces it); never its config or its GO.
DROPPABLE = (Kind.BROADCAST, Kind.VIEW)


class Worker:
    """One worker process, as the master sees it."""

    def __init__(self, process: subprocess.Popen, channel: Channel, parsed: bytes,
                 generation: int, slot: int):
        self.process = process
        self.pid = process.pid
        self.channel = channel
        self.parsed = parsed  # its generation's Parsed, pickled: what a replacement gets
        self.generation = generation
        self.slot = slot
        self.started = time.monotonic()
        self.ready = AsyncResult()  # None once it serves; else why it could not start
        self.finishing = False      # told to finish its connections (an old generation)
        self.outbox: Queue = Queue()  # what to send it, in order
        self.backlog = 0            # bytes in the outbox
        self.progress = time.monotonic()  # when it last took a message, or was given one idle
        self.dropped = 0            # broadcasts dropped for it, not logged yet
        self.dropped_logged = 0.0   # when that was last logged
        self.snapshot: dict | None = None  # its latest status figures
        self.share = -1             # its entry in the shared count of open connections
        self.listening: gevent.Greenlet | None = None  # reads its channel till it ends

    @property
    def started_well(self) -> bool:
        """It said READY (it may not accept yet, or be finishing)."""
        return self.ready.ready() and self.ready.value is None

    @property
    def serving(self) -> bool:
        return self.started_well and not self.finishing

    def post(self, kind: Kind, body: bytes) -> bool:
        """Queue a message for it; False when dropped: past limits.RELAY_BACKLOG waiting,
        a broadcast or a status view is dropped rather than held without bound (a dropped
        broadcast is counted and logged, at most once per RELAY_DROP_LOG_INTERVAL), and a
        worker that has taken nothing for limits.RELAY_STALL_TIMEOUT by then is ended."""
        now = time.monotonic()
        if not self.backlog:
            self.progress = now  # its wait starts now
        elif self.backlog + len(body) > limits.RELAY_BACKLOG and kind in DROPPABLE:
            if now - self.progress > limits.RELAY_STALL_TIMEOUT:
                logger.error("worker pid %d has taken nothing from its channel for %g s "
                             "(%d bytes waiting): ending it", self.pid,
                             limits.RELAY_STALL_TIMEOUT, self.backlog)
                _signal(self, signal.SIGKILL)
            elif kind is Kind.BROADCAST:
                self.dropped += 1
                if now - self.dropped_logged >= limits.RELAY_DROP_LOG_INTERVAL:
                    self._log_dropped(now)
            return False
        self.backlog += len(body)
        self.outbox.put((kind, body))
        return True

    def write_out(self) -> None:
        """Send what is posted, in order, until it exits."""
        for kind, body in self.outbox:
            try:
                self.channel.send(kind, body)
            except OSError:
                return  # it exited: the master's _wait_for handles that
            self.backlog -= len(body)
            self.progress = time.monotonic()
            if self.dropped and not self.backlog:  # caught up: the last drops' count
                self._log_dropped(self.progress, "caught up with its channel")

    def _log_dropped(self, now: float, state: str = "takes nothing from its channel") -> None:
        logger.error("worker pid %d (generation %d) %s (%d bytes waiting): %d broadcast(s) "
                     "dropped for it; its clients miss them", self.pid, self.generation, state,
                     self.backlog, self.dropped)
        self.dropped = 0
        self.dropped_logged = now


class Master:
    def __init__(self, config: Config, *, path: str, server_root: str | None,
                 defines: list[str]):
        """`config` as read from `path`, `server_root` and `defines` (-f, -d and -D as
        given): what a reload reads again, and each worker too."""
        self.config = config
        self.path = path
        self.server_root = server_root
        self.defines = defines
        self.generation = -1  # the first is 0, as httpd counts restarts
        self.started = time.time()
        # Each Listen's listening sockets, one per worker slot.
        self.listeners: dict[tuple[str | None, int], list[socket.socket]] = {}
        self.workers: dict[int, Worker] = {}
        # The serving generation's slots without a worker that serves: why, and since when
        # (Unix time); and each slot's workers that died young in a row (the backoff).
        self.empty_slots: dict[int, tuple[str, float]] = {}
        self.young_deaths: dict[int, int] = {}
        self.relay_dropped = 0  # broadcasts dropped for workers that took nothing
        self._stopping: int | None = None  # the signal the workers were sent to stop
        self._stop_time = 0.0
        self._stop_requested = Event()
        self._reloading = Semaphore()
        self._pid_file: str | None = None  # the PidFile this master wrote
        # Every worker's open connections, against MaxRequestWorkers (geows.process.shares).
        self.open_connections = OpenConnections.create()
        # The status figures: of the workers whose channel is open (their last ones come
        # before it ends), and the totals of those that ended (geows.process.totals).
        self.reporting: set[Worker] = set()
        self.totals = no_totals()

    def run(self) -> int:
        """Serve until stopped; 0 after a stop, 1 when it cannot start."""
        gevent.signal_handler(signal.SIGTERM, self.stop, signal.SIGTERM)
        gevent.signal_handler(signal.SIGINT, self.stop, signal.SIGTERM)
        gevent.signal_handler(signal.SIGWINCH, self.stop, signal.SIGWINCH)
        gevent.signal_handler(signal.SIGHUP, self.reload)
        gevent.signal_handler(signal.SIGUSR1, self.reload)
        try:
            self._bind(self.config)
        except ConfigError as exc:
            logger.error("could not bind a listener: %s", exc)
            return 1
        with self._reloading:  # a reload signalled now waits for the first generation
            workers, error = self._start_generation(self.config)
            if error is None:
                error = self._write_pid_file()
            if error is None:
                self._commit(workers)
        if error is not None and self._stopping is None:
            logger.error("%s", error)
            self._stopping = signal.SIGTERM  # no worker is replaced from here on
            self._stop_workers(signal.SIGTERM)
            self._wait_for_workers()
            return 1
        gevent.spawn(self._pass_snapshots_on)
        if os.geteuid() == 0 and self.config.process.user is None:
            logger.warning("the workers run as root: set User (and Group) to run them as "
                           "another user, as httpd's children run")
        logger.log(log.NOTICE, "geows/%s configured -- serving %d WebSocket location(s) on %s "
                   "with %d worker process(es)", __version__,
                   len(self.config.websocket_sections()), self._addresses(),
                   self.config.process.workers)
        notify("READY=1", f"STATUS=generation 0 serving on {self._addresses()}")
        self._stop_requested.wait()
        self._wait_for_workers()
        if self._pid_file is not None:
            pidfile.remove(self._pid_file)
        return 0

    def stop(self, worker_signal: int) -> None:
        """Stop (SIGTERM) or stop gracefully (SIGWINCH); a stop also cuts a graceful one short."""
        if self._stopping is not None and (self._stopping == signal.SIGTERM
                                           or worker_signal == signal.SIGWINCH):
            return
        logger.log(log.NOTICE, "caught %s, shutting down",
                   "a stop signal" if worker_signal == signal.SIGTERM else "SIGWINCH")
        self._stopping = worker_signal
        notify("STOPPING=1")
        self._stop_workers(worker_signal)
        # The workers close theirs: nothing is left waiting in a backlog no one takes.
        self._close([sock for slots in self.listeners.values() for sock in slots])
        self._stop_requested.set()

    def reload(self) -> None:
        """Re-read the config and move to a new generation of workers (see the module)."""
        with self._reloading:
            if self._stopping is not None:
                return
            logger.log(log.NOTICE, "reloading %s", self.config.file)
            try:
                config, _ = read_config(self.path, server_root=self.server_root,
                                        defines=self.defines)  # its TLS keys load: checked
                AccessControl(config)
                if self.open_connections.free() < config.process.workers:
                    raise ConfigError(f"{len(self.workers)} worker processes running, "
                                      "earlier generations' finishing: reload once they end")
                added = self._bind(config)
            except (ConfigError, OSError) as exc:
                logger.error("reload refused, generation %d keeps serving: %s",
                             self.generation, exc)
                return
            try:
                # Reopened (log rotation), and the new generation gets the piped loggers; the
                # loggers only the old config names run on until the reload is taken.
                log.configure(config, end_removed_loggers=False)
            except ConfigError as exc:
                error = str(exc)
            else:
                workers, error = self._start_generation(config)
            if error is not None:
                log.configure(self.config)  # the logs it had: they open, they did before
                logger.error("reload refused, generation %d keeps serving: %s",
                             self.generation, error)
                self._close(added)
                return
            self._commit(workers)
            log.end_removed_loggers(config)
            old = [worker for worker in self.workers.values()
                   if worker.generation != self.generation and not worker.finishing]
            for worker in old:
                worker.finishing = True
                _signal(worker, signal.SIGUSR1)
            self._close(self._unused(config))
            self.config = config
            logger.log(log.NOTICE, "generation %d serving on %s; %d worker(s) of earlier "
                       "generations finishing their connections", self.generation,
                       self._addresses(), len(old))
            notify(f"STATUS=generation {self.generation} serving on {self._addresses()}")

    def _bind(self, config: Config) -> list[socket.socket]:
        """Give every Listen a listening socket per worker slot, binding those missing;
        returns those bound here. ConfigError at the Listen that cannot bind, and then none
        is added."""
        added: list[socket.socket] = []
        try:
            for listener in config.listeners:
                slots = self.listeners.setdefault((listener.host, listener.port), [])
                if not slots:
                    # With SO_REUSEPORT alone, a server already listening there (as the same
                    # user) would share the port rather than refuse: bind once without it.
                    bind(listener, listen=False).close()
                while len(slots) < config.process.workers:
                    # Listening only once its worker is ready (_commit): till then the
                    # kernel gives new connections to the slots that have workers.
                    slots.append(bind(listener, reuse_port=True, listen=False))
                    added.append(slots[-1])
        except ConfigError:
            self._close(added)
            raise
        return added

    def _close(self, sockets: list[socket.socket]) -> None:
        """Close these listening sockets and forget them."""
        for address, slots in list(self.listeners.items()):
            slots[:] = [sock for sock in slots if sock not in sockets]
            if not slots:
                del self.listeners[address]
        for sock in sockets:
            sock.close()

    def _unused(self, config: Config) -> list[socket.socket]:
        """The listening sockets this config does not use: removed Listens, slots past
        StartServers."""
        wanted = {(listener.host, listener.port) for listener in config.listeners}
        return [sock for address, slots in self.listeners.items()
                for slot, sock in enumerate(slots)
                if address not in wanted or slot >= config.process.workers]

    def _start_generation(self, config: Config) -> tuple[list[Worker], str | None]:
        """Start the next generation's workers and wait until all of them are ready; they
        accept nothing before _commit. The error, if one could not start (then none of
        them is left running)."""
        generation = self.generation + 1
        parsed = Parsed(config, read_plugin_sources(config)).to_bytes()
        workers = [self._spawn(config, parsed, generation, slot)
                   for slot in range(config.process.workers)]
        deadline = time.monotonic() + limits.WORKER_START_TIMEOUT
        error = None
        for worker in workers:
            try:
                error = worker.ready.get(timeout=max(0.0, deadline - time.monotonic()))
            except gevent.Timeout:
                error = (f"worker pid {worker.pid} not ready within "
                         f"{limits.WORKER_START_TIMEOUT:g} s")
            if error is None and worker.pid not in self.workers:
                error = f"worker pid {worker.pid} exited after it was ready"
            if error is not None:
                for other in workers:
                    _signal(other, signal.SIGTERM)
                return workers, error
        return workers, None

    def _commit(self, workers: list[Worker]) -> None:
        """Make the started generation the current one: every slot listens, and its
        workers accept."""
        for slots in self.listeners.values():
            for sock in slots:
                sock.listen(limits.LISTEN_BACKLOG)  # again on one listening: no change
        self.generation = workers[0].generation
        self.empty_slots.clear()
        self.young_deaths.clear()
        self._note_empty_slots()
        for worker in workers:
            worker.post(Kind.GO, b"")

    def _spawn(self, config: Config, parsed: bytes, generation: int, slot: int) -> Worker:
        ours, theirs = socket.socketpair()
        listeners = [(listener.host, listener.port,
                      self.listeners[listener.host, listener.port][slot].fileno())
                     for listener in config.listeners]
        share = self.open_connections.assign()
        assignment = Assignment(generation=generation, channel=theirs.fileno(),
                                listeners=listeners, open_connections=self.open_connections.fd,
                                share=share, started=self.started)
        process = subprocess.Popen(
            # -P: nothing from the working directory, imported as root.
            [sys.executable, "-P", "-m", "geows.process.worker"],
            pass_fds=[theirs.fileno(), *(fd for *_, fd in listeners), *log.pipe_fds(),
                      self.open_connections.fd],
            env={**os.environ, ASSIGNMENT_ENV: assignment.to_env()})
        theirs.close()
        worker = Worker(process, Channel(ours), parsed, generation, slot)
        worker.share = share
        self.workers[worker.pid] = worker
        self.reporting.add(worker)
        worker.post(Kind.CONFIG, parsed)
        worker.listening = gevent.spawn(self._listen_to, worker)
        gevent.spawn(worker.write_out)
        gevent.spawn(self._wait_for, worker)
        return worker

    def _listen_to(self, worker: Worker) -> None:
        for kind, body in worker.channel:
            if kind is Kind.READY:
                worker.ready.set(None)
                # Before its GO: its first status page has the others' figures and totals.
                worker.post(Kind.VIEW, self._view_for(worker))
                if self._stopping is not None:  # sent while it started: it may have missed it
                    _signal(worker, self._stopping)
                elif worker.generation == self.generation:  # a replacement
                    self._listen_on_slot(worker.slot)
                    worker.post(Kind.GO, b"")
                    logger.log(log.NOTICE, "worker pid %d (generation %d) serves slot %d",
                               worker.pid, worker.generation, worker.slot)
            elif kind is Kind.FAILED:
                worker.ready.set(body.decode("utf-8", "replace"))
            elif kind is Kind.BROADCAST:
                for other in list(self.workers.values()):
                    if other is not worker and other.started_well:
                        if not other.post(kind, body):
                            self.relay_dropped += 1
            elif kind is Kind.SNAPSHOT:
                worker.snapshot = json.loads(body)
        # Its last figures move to the totals, with no yield between: the page never
        # shows them twice or not at all.
        self.reporting.discard(worker)
        if worker.snapshot is not None:
            add_ended(self.totals, worker.snapshot)

    def _pass_snapshots_on(self) -> None:
        """Give every serving worker the others' latest figures, for its status page."""
        while True:
            gevent.sleep(limits.STATUS_INTERVAL)
            if not any(w.snapshot is not None for w in self.reporting):
                continue  # no worker's config has a status page
            for worker in list(self.workers.values()):
                if worker.serving:
                    worker.post(Kind.VIEW, self._view_for(worker))

    def _view_for(self, worker: Worker) -> bytes:
        """For its status page: the others' latest figures, the totals of those that ended,
        the serving generation's empty slots and the broadcasts dropped for stalled ones."""
        others = [w.snapshot for w in self.reporting
                  if w is not worker and w.snapshot is not None]
        return json_body({"others": others, "ended": self.totals,
                          "empty_slots": self._empty_slots(),
                          "relay_dropped": self.relay_dropped})

    def _empty_slots(self) -> list[dict[str, Any]]:
        return [{"generation": self.generation, "slot": slot, "reason": reason,
                 "since": since, "young_deaths": self.young_deaths.get(slot, 0)}
                for slot, (reason, since) in sorted(self.empty_slots.items())]

    def _note_empty_slots(self) -> None:
        """For `geows -t` (a process of its own, with no channel to this one) to show."""
        if self._pid_file is not None:
            pidfile.note_empty_slots(self._pid_file, self._empty_slots())

    def _wait_for(self, worker: Worker) -> None:
        code = worker.process.wait()
        del self.workers[worker.pid]
        self.open_connections.release(worker.share)  # what it held, if it died
        worker.outbox.put(StopIteration)
        worker.listening.join(limits.CHANNEL_DRAIN)  # its last figures, sent as it exited
        worker.channel.close()
        ended = (f"killed by {signal.Signals(-code).name}" if code < 0
                 else f"exited with code {code}")
        if not worker.ready.ready():
            worker.ready.set(f"worker pid {worker.pid} {ended} before it was ready")
        if self._stopping is not None or worker.generation != self.generation \
                or worker.finishing:
            logger.info("worker pid %d (generation %d) %s", worker.pid, worker.generation,
                        ended)
            return
        self._replace(worker, ended)

    def _replace(self, worker: Worker, ended: str) -> None:
        """Start a new worker in the slot of one of the serving generation that died, on
        that generation's config. The slot stops listening until the new one serves; one
        that died young is replaced later each time in a row (a crash loop must not spin)."""
        slot = worker.slot
        self._stop_listening_on_slot(slot)
        # A reason from the worker names FILE:LINE where the config or a plugin says why.
        why = ended if worker.started_well else f"could not start: {worker.ready.value}"
        self.empty_slots[slot] = (why, self.empty_slots.get(slot, (why, time.time()))[1])
        self._note_empty_slots()
        if time.monotonic() - worker.started < limits.WORKER_YOUNG:
            self.young_deaths[slot] = deaths = self.young_deaths.get(slot, 0) + 1
            delay = min(limits.WORKER_RESTART_DELAY * 2 ** (deaths - 1),
                        limits.WORKER_RESTART_DELAY_MAX)
        else:
            self.young_deaths.pop(slot, None)
            delay = 0.0
        logger.error("worker pid %d (generation %d) %s; starting a new one%s (slot %d)",
                     worker.pid, worker.generation, why, f" in {delay:g} s" if delay else "",
                     slot)
        gevent.sleep(delay)
        if self._stopping is None and worker.generation == self.generation:
            self._spawn(self.config, worker.parsed, self.generation, slot)

    def _stop_listening_on_slot(self, slot: int) -> None:
        """A slot without a worker takes no connection: those waiting in its backlog are
        reset, new ones go to the other slots (refused if none listens). Its sockets stay
        bound, so that the port stays geows'."""
        for slots in self.listeners.values():
            if slot < len(slots):
                try:
                    slots[slot].shutdown(socket.SHUT_RD)  # Linux: no longer listening
                except OSError:
                    pass  # not listening yet

    def _listen_on_slot(self, slot: int) -> None:
        """The slot's new worker serves: the slot takes connections again."""
        self.empty_slots.pop(slot, None)
        self._note_empty_slots()
        for slots in self.listeners.values():
            if slot < len(slots):
                slots[slot].listen(limits.LISTEN_BACKLOG)

    def _stop_workers(self, worker_signal: int) -> None:
        self._stop_time = time.monotonic()
        for worker in list(self.workers.values()):
            _signal(worker, worker_signal)

    def _wait_for_workers(self) -> None:
        """Until every worker has exited; past the stop's bound (GracefulShutdownTimeout
        for a graceful stop, the close handshakes' for a stop, and the worker's own waits
        on top), the rest are killed."""
        while self.workers:
            grace = self.config.process.graceful_shutdown_timeout
            if self._stopping == signal.SIGWINCH:
                limit = None if grace is None else grace + limits.WORKER_EXIT_MARGIN
            else:
                limit = (grace or limits.SHUTDOWN_TIMEOUT) + limits.WORKER_EXIT_MARGIN
            if limit is not None and time.monotonic() - self._stop_time > limit:
                for worker in list(self.workers.values()):
                    logger.error("worker pid %d did not stop in %g s: killing it",
                                 worker.pid, limit)
                    _signal(worker, signal.SIGKILL)
                self._stop_time = time.monotonic()
            gevent.sleep(limits.FINISH_POLL)

    def _write_pid_file(self) -> str | None:
        path = self.config.process.pid_file
        if path is None:
            return None
        written, error = pidfile.write(path)
        if written:
            self._pid_file = path
        return error

    def _addresses(self) -> str:
        return ", ".join(host_port(host, port) for host, port in self.listeners)


def _signal(worker: Worker, signum: int) -> None:
    try:
        os.kill(worker.pid, signum)
    except ProcessLookupError:
        pass  # exited already: _wait_for handles that
