"""A worker process: the master starts StartServers of them, and a new set on each reload.

A worker reads the config the master checked, opens its logs, drops to User/Group when
started as root, loads the plugins and serves on the listening sockets it inherited until
the master ends it:
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

import gevent  # noqa: E402
from gevent.event import AsyncResult, Event  # noqa: E402

import geows  # noqa: E402
from geows import limits, log  # noqa: E402
from geows.access.control import AccessControl  # noqa: E402
from geows.channel import Channel, Kind, json_body  # noqa: E402
from geows.config import ProcessSettings, load_config  # noqa: E402
from geows.errors import ConfigError  # noqa: E402
from geows.master import Assignment  # noqa: E402
from geows.plugin import load_plugins  # noqa: E402
from geows.server import Server  # noqa: E402

logger = logging.getLogger("geows.main")


def main() -> int:
    assignment = Assignment.from_env()
    channel = Channel(socket.socket(fileno=assignment.channel))
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    try:
        config = load_config(assignment.config, server_root=assignment.server_root,
                             defines=assignment.defines)
        log.configure(config)  # with the master's piped loggers, before dropping privileges
        access = AccessControl(config)
        drop_privileges(config.process)
        plugins = load_plugins(config)
        sockets = {(host, port): socket.socket(fileno=fd)
                   for host, port, fd in assignment.listeners}
        server = Server(config, plugins, access, relay=channel,
                        generation=assignment.generation)
        server.server_started = assignment.started
        server.start(sockets)
    except (ConfigError, OSError) as exc:
        channel.send(Kind.FAILED, str(exc).encode())
        return 1
    except KeyError as exc:  # the files changed between the master's reading and ours
        channel.send(Kind.FAILED, f"Listen {exc} was not there when the master read the "
                                  "config: reload to bind it".encode())
        return 1
    channel.send(Kind.READY)
    serve(server, channel)
    return 0


def serve(server: Server, channel: Channel | None = None) -> None:
    """Serve until a signal ends it (see the module's doc); then stop, destroy the plugins
    and return. Without a channel (one process, -X), SIGINT stops too."""
    stop = Event()
    finish = AsyncResult()  # set to how long open connections may go on; None: no limit
    grace = server.config.process.graceful_shutdown_timeout
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGUSR1, finish.set, None)
    gevent.signal_handler(signal.SIGWINCH, finish.set, grace)
    if channel is None:
        gevent.signal_handler(signal.SIGINT, stop.set)
    else:
        gevent.spawn(_listen_to_master, server, channel, stop)
    gevent.wait([stop, finish], count=1)
    if not stop.is_set():
        limit = finish.get()
        server.stop_accepting()
        logger.info("finishing %d open connection(s)%s", len(server.connections),
                    "" if limit is None else f", for at most {limit:g} s")
        deadline = None if limit is None else time.monotonic() + limit
        while server.connections and not stop.is_set() and (
                deadline is None or time.monotonic() < deadline):
            stop.wait(limits.FINISH_POLL)
    server.stop(grace or limits.SHUTDOWN_TIMEOUT)


def _listen_to_master(server: Server, channel: Channel, stop: Event) -> None:
    if server.config.status_sections():
        gevent.spawn(_report, server, channel)
    for kind, body in channel:
        if kind is Kind.BROADCAST:
            server.deliver_relayed(body)
        elif kind is Kind.VIEW:
            server.others = json.loads(body)
    if not stop.is_set():
        logger.error("the master process is gone: stopping")
        stop.set()


def _report(server: Server, channel: Channel) -> None:
    """Send the master this worker's figures now and then, for the others' status pages."""
    while True:
        try:
            channel.send(Kind.SNAPSHOT, json_body(server.snapshot()))
        except OSError:
            return  # the master is gone: _listen_to_master stops the worker
        gevent.sleep(limits.STATUS_INTERVAL)


def drop_privileges(process: ProcessSettings) -> None:
    """Run as Group and User from here on when started as root, as httpd's children do;
    the listening sockets and the logs are open already. Without User, a worker started
    as root stays root (httpd would use #-1): the master warns."""
    if os.geteuid() != 0:
        return
    user = _user(process.user) if process.user is not None else None
    gid = _group_id(process.group) if process.group is not None else None
    if gid is None and user is not None:
        gid = user.pw_gid  # httpd's default Group is #-1; the user's own is kinder
    if gid is not None:
        if user is not None:
            os.initgroups(user.pw_name, gid)
        else:
            os.setgroups([gid])
        os.setgid(gid)
    if user is not None:
        os.setuid(user.pw_uid)
        for module in (os, gevent, geows):  # what later imports (plugins' too) read
            where = os.path.dirname(module.__file__)
            if not os.access(where, os.R_OK | os.X_OK):
                raise ConfigError(f"User {process.user} cannot read {where}, where Python "
                                  "finds its modules: install Python and geows where it can")


def _user(value: str) -> pwd.struct_passwd:
    return pwd.getpwuid(int(value[1:])) if value.startswith("#") else pwd.getpwnam(value)


def _group_id(value: str) -> int:
    return int(value[1:]) if value.startswith("#") else grp.getgrnam(value).gr_gid


if __name__ == "__main__":
    sys.exit(main())
