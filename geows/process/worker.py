"""A worker process: the master starts StartServers of them, and a new set on each reload.

A worker reads the config the master checked, opens its logs and TLS keys, drops to
User/Group when started as root, loads the plugins, says it is ready and, once the master
says so, serves on the listening sockets it inherited until the master ends it:
    SIGTERM   stop: every connection gets its close now (1001 / draft-76's 0xFF 0x00)
    SIGUSR1   finish: stop accepting, let the open connections go on until they end
              (the old generation, after a reload)
    SIGWINCH  the same for at most GracefulShutdownTimeout, then as SIGTERM (graceful-stop)
SIGINT and SIGHUP are the master's to act on: a terminal sends them to every process.
"""

from gevent import monkey

monkey.patch_all()

import grp  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import gevent  # noqa: E402
from gevent.event import AsyncResult, Event  # noqa: E402

import geows  # noqa: E402
from geows import limits  # noqa: E402
from geows.access.control import AccessControl  # noqa: E402
from geows.config import ProcessSettings  # noqa: E402
from geows.errors import ConfigError  # noqa: E402
from geows.plugin.loading import load_plugins  # noqa: E402
from geows.process.channel import Channel, Kind, json_body  # noqa: E402
from geows.process.master import Assignment  # noqa: E402
from geows.process.startup import read_config  # noqa: E402
from geows.runtime import log, tls  # noqa: E402
from geows.runtime.server import Server  # noqa: E402

logger = logging.getLogger("geows.main")


class Ending:
    """How this process is asked to end (see the module's doc). Listening from the start,
    so that a signal sent while the worker still loads its plugins is not lost."""

    def __init__(self) -> None:
        self.stop = Event()
        self.finish = AsyncResult()  # "reload": no limit; "graceful": GracefulShutdownTimeout
        gevent.signal_handler(signal.SIGTERM, self.stop.set)
        gevent.signal_handler(signal.SIGUSR1, self.finish.set, "reload")
        gevent.signal_handler(signal.SIGWINCH, self.finish.set, "graceful")


def main() -> int:
    ending = Ending()
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    assignment = Assignment.from_env()
    channel = Channel(socket.socket(fileno=assignment.channel))
    try:
        config = read_config(assignment.config, server_root=assignment.server_root,
                             defines=assignment.defines)
        access_logs = log.configure(config)  # with the master's piped loggers
        access = AccessControl(config)
        contexts = tls.listener_contexts(config)  # keys readable by root alone, as httpd's
        drop_privileges(config.process)  # the logs and the keys are open: now as User
        plugins = load_plugins(config)
    except (ConfigError, OSError) as exc:
        channel.send(Kind.FAILED, str(exc).encode())
        return 1
    sockets = {(host, port): socket.socket(fileno=fd) for host, port, fd in assignment.listeners}
    for sock in (*sockets.values(), channel.sock):
        sock.set_inheritable(False)  # a plugin's child processes must not hold the port
    missing = [listener for listener in config.listeners
               if (listener.host, listener.port) not in sockets]
    if missing:  # the files changed between the master's reading and ours
        channel.send(Kind.FAILED, f"{missing[0].file}:{missing[0].line}: this Listen was not "
                                  "there when the master read the config: reload".encode())
        return 1
    server = Server(config, plugins, access, relay=channel, generation=assignment.generation,
                    processes=config.process.workers, access_logs=access_logs)
    server.server_started = assignment.started
    channel.send(Kind.READY)
    gevent.spawn(_listen_to_master, server, channel, ending,
                 lambda: server.start(sockets, contexts))
    serve(server, ending)
    return 0


def serve(server: Server, ending: Ending) -> None:
    """Serve until `ending` says how to end; then stop, destroy the plugins and return."""
    grace = server.config.process.graceful_shutdown_timeout
    gevent.wait([ending.stop, ending.finish], count=1)
    if not ending.stop.is_set():
        limit = grace if ending.finish.get() == "graceful" else None
        server.stop_accepting()
        logger.info("finishing %d open connection(s)%s", len(server.connections),
                    "" if limit is None else f", for at most {limit:g} s")
        deadline = None if limit is None else time.monotonic() + limit
        while server.connections and not ending.stop.is_set() and (
                deadline is None or time.monotonic() < deadline):
            ending.stop.wait(limits.FINISH_POLL)
    server.stop(grace or limits.SHUTDOWN_TIMEOUT)


def _listen_to_master(server: Server, channel: Channel, ending: Ending,
                      start: Callable[[], None]) -> None:
    gevent.spawn(_report, server, channel)
    for kind, body in channel:
        if kind is Kind.GO:
            start()
        elif kind is Kind.BROADCAST:
            server.deliver_relayed(body)
        elif kind is Kind.VIEW:
            server.others = json.loads(body)
    if not ending.stop.is_set():
        logger.error("the master process is gone: stopping")
        ending.stop.set()


def _report(server: Server, channel: Channel) -> None:
    """Send the master this worker's figures now and then, for the others' status pages
    (when the config has one: they cost a walk over the open connections)."""
    while server.config.status_sections():
        try:
            channel.send(Kind.SNAPSHOT, json_body(server.snapshot()))
        except OSError:
            return  # the master is gone: _listen_to_master stops the worker
        gevent.sleep(limits.STATUS_INTERVAL)


def drop_privileges(process: ProcessSettings) -> None:
    """Run as Group and User from here on when started as root, as httpd's children do;
    the listening sockets, the logs and the TLS keys are open already. Without User, a
    worker started as root stays root (httpd would use #-1): the master warns."""
    if os.geteuid() != 0:
        return
    uid, name, own_gid = _user(process.user) if process.user is not None else (None, None, None)
    gid = _group_id(process.group) if process.group is not None else own_gid
    if gid is not None:
        if name is not None:
            os.initgroups(name, gid)
        else:
            os.setgroups([gid])
        os.setgid(gid)
    if uid is not None:
        os.setuid(uid)
        for module in (os, gevent, geows):  # what later imports (plugins' too) read
            where = os.path.dirname(module.__file__)
            if not os.access(where, os.R_OK | os.X_OK):
                raise ConfigError(f"User {process.user} cannot read {where}, where Python "
                                  "finds its modules: install Python and geows where it can")


def _user(value: str) -> tuple[int, str | None, int | None]:
    """User's uid, name and group; a #uid without a passwd entry has neither (httpd
    allows it): then the Group, if any, is its only group."""
    if value.startswith("#"):
        try:
            entry = pwd.getpwuid(int(value[1:]))
        except KeyError:
            return int(value[1:]), None, None
    else:
        entry = pwd.getpwnam(value)
    return entry.pw_uid, entry.pw_name, entry.pw_gid


def _group_id(value: str) -> int:
    return int(value[1:]) if value.startswith("#") else grp.getgrnam(value).gr_gid


if __name__ == "__main__":
    sys.exit(main())
