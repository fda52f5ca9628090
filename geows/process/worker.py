"""A worker process: the master starts StartServers of them, and a new set on each reload.

A worker reads the config the master checked, opens its logs and TLS keys, drops to
User/Group when started as root, loads the plugins, says it is ready and, once the master
says so, serves on the listening sockets it inherited until the master ends it, counting
its open connections in the count every worker shares (geows.process.shares), and tells
the master its last status figures as it exits:
    SIGTERM   stop: every connection gets its close now (1001 / draft-76's 0xFF 0x00)
    SIGUSR1   finish: stop accepting, let the open connections go on until they end
              (the old generation, after a reload)
    SIGWINCH  the same for at most GracefulShutdownTimeout, then as SIGTERM (graceful-stop)
SIGINT and SIGHUP are the master's to act on: a terminal sends them to every process.

The master runs it as `python -m geows.process.worker`: an entry point, it monkeypatches
before anything else loads, so that plugins' blocking calls cooperate.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402

import gevent  # noqa: E402

from geows import limits  # noqa: E402
from geows.errors import ConfigError  # noqa: E402
from geows.process.assignment import Assignment  # noqa: E402
from geows.process.channel import Channel, Kind, broadcast_body, json_body, parse_broadcast  # noqa: E402
from geows.process.shares import OpenConnections  # noqa: E402
from geows.process.startup import Ending, prepare, read_config, serve  # noqa: E402
from geows.runtime.server import Server  # noqa: E402

logger = logging.getLogger("geows.main")


def main() -> int:
    ending = Ending()
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    assignment = Assignment.from_env()
    channel = Channel(socket.socket(fileno=assignment.channel))
    inherited = {(host, port): socket.socket(fileno=fd)
                 for host, port, fd in assignment.listeners}
    try:
        config, contexts = read_config(assignment.config, server_root=assignment.server_root,
                                       defines=assignment.defines)
        prepared = prepare(config, inherited)
    except (ConfigError, OSError) as exc:
        channel.send(Kind.FAILED, str(exc).encode())
        return 1
    for sock in (*inherited.values(), channel.sock):
        sock.set_inheritable(False)  # a plugin's child processes must not hold the port
    os.set_inheritable(assignment.open_connections, False)
    missing = [listener for listener in config.listeners
               if (listener.host, listener.port) not in inherited]
    if missing:  # the files changed between the master's reading and ours
        channel.send(Kind.FAILED, f"{missing[0].file}:{missing[0].line}: this Listen was not "
                                  "there when the master read the config: reload".encode())
        return 1
    def relay(name: str, type: int, data: str | bytes) -> None:
        channel.send(Kind.BROADCAST, broadcast_body(name, type, data))

    count = OpenConnections(assignment.open_connections).share(assignment.share)
    server = Server(config, prepared.plugins, prepared.access, relay=relay,
                    generation=assignment.generation, access_logs=prepared.access_logs,
                    count=count)
    server.server_started = assignment.started
    channel.send(Kind.READY)
    gevent.spawn(_listen_to_master, server, channel, ending,
                 lambda: server.start(inherited, contexts))
    serve(server, ending)
    _report_last(server, channel)
    return 0


def _listen_to_master(server: Server, channel: Channel, ending: Ending,
                      start: Callable[[], None]) -> None:
    gevent.spawn(_report, server, channel)
    for kind, body in channel:
        if kind is Kind.GO:
            start()
        elif kind is Kind.BROADCAST:
            server.deliver_relayed(*parse_broadcast(body))
        elif kind is Kind.VIEW:
            view = json.loads(body)
            server.others, server.ended = view["others"], view["ended"]
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


def _report_last(server: Server, channel: Channel) -> None:
    """The figures this worker ends with, which the master adds to the totals the status
    page shows (geows.process.totals): sent whether or not the config has a page, which a
    later one's may show."""
    try:
        channel.send(Kind.SNAPSHOT, json_body(server.snapshot()))
    except OSError:
        pass  # the master is gone, and its totals with it


if __name__ == "__main__":
    sys.exit(main())
