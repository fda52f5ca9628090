"""What every process does with a config before serving it, and how a serving process
ends, written once for the CLI (-t, -X), the master and its workers.

Nothing here monkeypatches: the entry points do (geows/__main__.py, the `geows` command,
and geows/process/worker.py), before they import this. The master reads configs with it
and loads no plugin: the plugin loaders are imported where the plugins are loaded."""

from __future__ import annotations

import gc
import grp
import logging
import os
import pwd
import signal
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import AsyncResult, Event

import geows
from geows import dns, limits
from geows.access.control import AccessControl
from geows.config import Config, Listener, ProcessSettings, WebSocketSettings, load_config
from geows.errors import ConfigError
from geows.messages import CLUSTER
from geows.process.listeners import Sockets, bind_all
from geows.runtime import log, tls

if TYPE_CHECKING:
    from geows.runtime.log import AccessLogs
    from geows.runtime.server import Server

# Each Listen's TLS context, None for plain text (tls.listener_contexts).
Contexts = dict[Listener, ssl.SSLContext | None]
logger = logging.getLogger("geows.main")


def read_config(path: str | os.PathLike[str], *,
                server_root: str | os.PathLike[str] | None = None,
                defines: Iterable[str] = ()) -> tuple[Config, Contexts]:
    """The config to be served, read with the system's resolver, and its listeners' TLS
    contexts, loaded now: the keys may be readable by root alone, as httpd's. ConfigError
    when a certificate, key or cipher list it names does not load, as mod_ssl refuses it."""
    config = load_config(path, server_root=server_root, defines=defines, names=dns.SYSTEM)
    return config, tls.listener_contexts(config)


@dataclass(frozen=True)
class Prepared:
    """What a serving process has once prepared: its Server's makings."""

    access: AccessControl
    access_logs: AccessLogs
    sockets: Sockets
    plugins: dict[WebSocketSettings, Any]


def prepare(config: Config, inherited: Sockets | None = None,
            plugin_sources: dict[str, bytes] | None = None) -> Prepared:
    """Before serving `config` (read by read_config): have gevent keep no spawning tree per
    greenlet, open the logs, build the access rules, bind the listening sockets unless
    `inherited` (a worker's, bound by the master), drop to User/Group now that the logs, the
    sockets and the TLS keys are open, have a C plugin's crash said in the error log
    (c_runtime.report_crashes: before they load, so an init function's too), then load the
    plugins (Python ones from `plugin_sources` where given: read_plugin_sources). ConfigError
    or OSError (a Listen that cannot bind) when one cannot be done."""
    # A greenlet per connection: gevent's record of what spawned each (a weak reference and
    # the spawning stack's frames, about 0.4 KB) is nothing geows reads.
    gevent.config.track_greenlet_tree = False
    access_logs = log.configure(config)  # a worker's: with the master's piped loggers
    access = AccessControl(config)
    sockets = bind_all(config) if inherited is None else inherited
    drop_privileges(config.process)
    # Here: the master loads no plugin code.
    from geows.plugin.c_runtime import report_crashes
    from geows.plugin.loading import load_plugins

    report_crashes(config, log.error_log_fd(),
                   "the worker process ends, and the master starts another"
                   if inherited is not None else "geows -X ends: one process, no master to "
                   "start another")
    return Prepared(access, access_logs, sockets, load_plugins(config, plugin_sources))


def start_link(server: Server) -> None:
    """With WebSocketBroadcast, link the server's locations of scope cluster to Redis: it
    connects in a greenlet of its own, and the server serves meanwhile (and while Redis
    is away: its broadcasts then reach this host only)."""
    names = [name for location, name in server.location_names.items()
             if location.broadcast_scope == CLUSTER]
    settings = server.config.broadcast
    if settings is None or not names:
        return
    from geows.cluster.link import Link  # here: the master loads no redis
    server.link = Link(settings, names, server)
    server.link.start()


def read_plugin_sources(config: Config) -> dict[str, bytes]:
    """Each Python plugin file's text, by path, read now: the master's, for every worker of
    the generation it reads them for. One that cannot be read is left out: the workers'
    loader reports it at its WebSocketHandler line."""
    sources: dict[str, bytes] = {}
    for settings in (section.websocket for section in config.locations):
        if settings is not None and not settings.c_plugin and settings.plugin not in sources:
            try:
                with open(settings.plugin, "rb") as file:
                    sources[settings.plugin] = file.read()
            except OSError:
                pass
    return sources


class Ending:
    """How a serving process is asked to end (geows.process.worker's doc says what each
    signal does). Listening from the start, so that a signal sent while the process still
    loads its plugins is not lost."""

    def __init__(self) -> None:
        self.stop = Event()
        self.finish = AsyncResult()  # "reload": no limit; "graceful": GracefulShutdownTimeout
        gevent.signal_handler(signal.SIGTERM, self.stop.set)
        gevent.signal_handler(signal.SIGUSR1, self.finish.set, "reload")
        gevent.signal_handler(signal.SIGWINCH, self.finish.set, "graceful")


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


def collect_for_many_connections() -> None:
    """Set Python's garbage collector for a process about to hold thousands of connections
    (limits.GC_YOUNG_OBJECTS says why): what its start made (the config, the plugins, the
    modules) lives as long as the process, and no collection scans it again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(limits.GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])


def drop_privileges(process: ProcessSettings) -> None:
    """Run as Group and User from here on when started as root, as httpd's children do;
    the listening sockets, the logs and the TLS keys are open already. Without User, a
    process started as root stays root (httpd would use #-1): the master warns."""
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
