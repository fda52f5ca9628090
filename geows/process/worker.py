"""A worker process: the master starts StartServers of them, and a new set on each reload.

A worker takes the config the master read for its generation (assignment.Parsed, over its
channel: the files on disk are not read again), opens its logs and TLS keys, drops to
User/Group when started as root, loads the plugins (Python ones from the text the master
read), links to Redis when WebSocketBroadcast names it (geows.cluster.link), says it
is ready and, once the master says so, serves on the listening sockets it inherited
until the master ends it, counting its open connections in the count every
worker shares (geows.process.shares), and tells the master its last status figures as it
exits:
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
from collections.abc import Callable, Iterator  # noqa: E402

import gevent  # noqa: E402

from geows import limits  # noqa: E402
from geows.errors import ConfigError  # noqa: E402
from geows.process.assignment import Assignment, Parsed  # noqa: E402
from geows.process.channel import Channel, Kind, broadcast_body, json_body, parse_broadcast  # noqa: E402
from geows.process.shares import OpenConnections  # noqa: E402
from geows.process.startup import (  # noqa: E402
    Ending,
    collect_for_many_connections,
    prepare,
    serve,
    start_link,
)
from geows.runtime import tls  # noqa: E402
from geows.runtime.server import Server  # noqa: E402

logger = logging.getLogger("geows.main")


def main() -> int:
    ending = Ending()
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    assignment = Assignment.from_env()
    channel = Channel(socket.socket(fileno=assignment.channel))
    messages = iter(channel)
    inherited = {(host, port): socket.socket(fileno=fd)
                 for host, port, fd in assignment.listeners}
    kind, body = next(messages, (None, b""))
    if kind is not Kind.CONFIG:
        return 1  # the master is gone
    parsed = Parsed.from_bytes(body)
    config = parsed.config
    try:
        contexts = tls.listener_contexts(config)  # the TLS keys: read as root, if started so
        prepared = prepare(config, inherited, parsed.plugin_sources)
    except (ConfigError, OSError) as exc:
        channel.send(Kind.FAILED, str(exc).encode())
        return 1
    for sock in (*inherited.values(), channel.sock):
        sock.set_inheritable(False)  # a plugin's child processes must not hold the port
    os.set_inheritable(assignment.open_connections, False)

    def relay(name: str, type: int, data: str | bytes, room: str | None) -> None:
        channel.send(Kind.BROADCAST, broadcast_body(name, type, data, room))

    count = OpenConnections(assignment.open_connections).share(assignment.share)
    server = Server(config, prepared.plugins, prepared.access, relay=relay,
                    generation=assignment.generation, access_logs=prepared.access_logs,
                    count=count)
    server.server_started = assignment.started
    start_link(server)
    channel.send(Kind.READY)
    gevent.spawn(_listen_to_master, server, channel, messages, ending,
                 lambda: server.start(inherited, contexts))
    collect_for_many_connections()
    serve(server, ending)
    _report_last(server, channel)
    return 0


def _listen_to_master(server: Server, channel: Channel,
                      messages: Iterator[tuple[Kind, bytes]], ending: Ending,
                      start: Callable[[], None]) -> None:
    gevent.spawn(_report, server, channel)
    for kind, body in messages:
        if kind is Kind.GO:
            start()
        elif kind is Kind.BROADCAST:
            server.deliver_relayed(*parse_broadcast(body))
        elif kind is Kind.VIEW:
            view = json.loads(body)
            server.others = view.pop("others")
            server.master_figures = view
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
