"""The `geows` command, in httpd's habits (-f, -d, -D, -t, -S).

Its entry point, geows/__main__.py, monkeypatches before importing this.
"""

import argparse
import json
import logging
import os
import signal
import sys
import time
from typing import Any

import gevent

from geows import __version__, migrate
from geows.access.control import AccessControl
from geows.config import Config
from geows.config.model import host_port
from geows.config.vhosts import VirtualHost
from geows.errors import ConfigError
from geows.process.master import Master
from geows.process.pidfile import empty_slots_of, is_geows
from geows.process.startup import (
    Ending,
    collect_for_many_connections,
    prepare,
    read_config,
    serve,
    start_link,
)
from geows.runtime import log

DEFAULT_CONFIG = "conf/httpd.conf"
# -k's commands and the signal each sends the master (geows.process.master says what each does).
COMMANDS = {"stop": signal.SIGTERM, "restart": signal.SIGHUP, "graceful": signal.SIGUSR1,
            "graceful-stop": signal.SIGWINCH}
logger = logging.getLogger("geows.main")


def build_parser() -> argparse.ArgumentParser:
    """The command's options (docs/reference/cli.md is made from them)."""
    parser = argparse.ArgumentParser(
        prog="geows", description="Serve mod_websocket locations from an Apache httpd.conf.")
    parser.add_argument("-f", dest="config", default=DEFAULT_CONFIG, metavar="FILE",
                        help=f"the server configuration file (default {DEFAULT_CONFIG})")
    parser.add_argument("-d", dest="server_root", metavar="SERVERROOT",
                        help="the initial ServerRoot (default: the current directory)")
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME",
                        help="define a name for <IfDefine> (repeatable)")
    parser.add_argument("-t", dest="test", action="store_true",
                        help="check the configuration and load every plugin, then exit")
    parser.add_argument("-S", dest="show", action="store_true",
                        help="show the listeners and WebSocket locations, then exit")
    parser.add_argument("-k", dest="command", choices=sorted(COMMANDS),
                        help="as apachectl: signal the running master (found by PidFile) to "
                             "stop, reload gracefully, or stop gracefully")
    parser.add_argument("-X", dest="one_process", action="store_true",
                        help="serve in this one process, without a master or workers "
                             "(httpd's debug mode: for a debugger or a profiler)")
    parser.add_argument("--json", action="store_true", help="with -S: print JSON")
    # A long option: httpd's one-letter flags mean other things (-L, -M, -V...), and this
    # one has no httpd counterpart.
    parser.add_argument("--apache-snippet", action="store_true",
                        help="print what to paste into Apache's config to proxy the WebSocket "
                             "locations to geows, the mod_websocket lines to remove from it, "
                             "and the lines geows' config needs, then exit")
    parser.add_argument("--proxy-form", choices=migrate.FORMS, default="auto",
                        help="with --apache-snippet: ws (mod_proxy_wstunnel, httpd before "
                             f"{migrate.UPGRADE_VERSION}), upgrade (mod_proxy_http's "
                             "upgrade=websocket, since then) or auto (both, by <IfVersion>; "
                             "the default)")
    parser.add_argument("--backend", metavar="HOST:PORT", action="append", default=[],
                        help="with --apache-snippet: where Apache reaches geows "
                             "(default: the first Listen); with --balancer, once per host")
    parser.add_argument("--balancer", action="store_true",
                        help="with --apache-snippet: spread the clients over the --backend "
                             "hosts with mod_proxy_balancer")
    parser.add_argument("--apache-address", metavar="ADDR",
                        help="with --apache-snippet: the address Apache connects to geows "
                             "from (default: loopback, when geows is reached on loopback)")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the version, and whether the frames are cut in C "
                             "(geows.protocols._frames) or in pure Python, then exit")
    return parser


class _Version(argparse.Action):
    """--version: the version, and which of geows.protocols.frames' flavours runs."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        # Here only: the master's process loads no protocol (docs/explanation/layout.md).
        from geows.protocols.frames import FLAVOUR

        print(f"geows/{__version__}\nframes: {FLAVOUR}")
        parser.exit()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def describe(config: Config) -> dict[str, Any]:
    """The listeners, WebSocket locations and status pages, as -S shows them."""
    return {
        "config": config.file,
        "server_root": config.server_root,
        "listeners": [
            {"host": listener.host, "port": listener.port,
             "file": listener.file, "line": listener.line}
            for listener in config.listeners
        ],
        "routes": [
            {
                "name": section.name,
                "location": section.pattern,
                "regex": section.regex,
                "handler": section.handler,
                "plugin": section.websocket.plugin if section.websocket else None,
                "init": section.websocket.init if section.websocket else None,
                "max_message_size": (section.websocket.max_message_size
                                     if section.websocket else None),
                "vhost": describe_vhost(section.vhost),
                "file": section.file,
                "line": section.line,
            }
            for section in config.websocket_sections()
        ],
        "status_pages": [
            {"name": section.name, "location": section.pattern, "regex": section.regex,
             "vhost": describe_vhost(section.vhost), "file": section.file, "line": section.line}
            for section in config.status_sections()
        ],
    }


def describe_vhost(vhost: VirtualHost | None) -> dict[str, Any] | None:
    if vhost is None:
        return None
    return {"addresses": [str(a) for a in vhost.addresses],
            "server_name": vhost.server_name, "aliases": list(vhost.aliases),
            "file": vhost.file, "line": vhost.line}


def print_summary(summary: dict[str, Any]) -> None:
    print(f"ServerRoot: \"{summary['server_root']}\"")
    print(f"Config: {summary['config']}")
    for listener in summary["listeners"]:
        print(f"Listen {host_port(listener['host'], listener['port'])} "
              f"({listener['file']}:{listener['line']})")
    print("WebSocket locations:")
    for route in summary["routes"]:
        target = f"{route['plugin']} {route['init']}" if route["plugin"] else "(no plugin)"
        print(f"  {route['name']} handler={route['handler']} -> {target} "
              f"({route['file']}:{route['line']})")
    if summary["status_pages"]:
        print("Status pages:")
    for page in summary["status_pages"]:
        print(f"  {page['name']} ({page['file']}:{page['line']})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config, contexts = read_config(args.config, server_root=args.server_root,
                                       defines=args.defines)
        if args.show:
            summary = describe(config)
            if args.json:
                print(json.dumps(summary, indent=2))
            else:
                print_summary(summary)
            return 0
        if args.apache_snippet:
            print(migrate.snippet(config, form=args.proxy_form, backends=args.backend,
                                  apache=args.apache_address, balancer=args.balancer), end="")
            return 0
        if args.command is not None:
            return signal_master(config, args.command)
        if args.test or not args.one_process:
            log.configure(config, dry_run=args.test)
            AccessControl(config)  # refused here, before any worker starts on it
            if args.test:
                from geows.plugin.c_runtime import report_crashes  # here, as load_plugins

                # An init's crash too; fd 2, the process's own: a signal handler writes the
                # line, below whatever sys.stderr is (a caller may have redirected it).
                report_crashes(config, 2, "geows -t ends")
                show_empty_slots(config)
                # Imported here, as Server for -X below: the master's process (this one)
                # loads no plugin loader and no runtime (docs/explanation/layout.md).
                from geows.plugin.loading import load_plugins

                load_plugins(config, test=True)
                print("Syntax OK", file=sys.stderr)
                return 0
            return Master(config, path=args.config, server_root=args.server_root,
                          defines=args.defines).run()  # the workers load the plugins
        # One process: a worker's life, without a master (so SIGINT stops it too).
        ending = Ending()
        gevent.signal_handler(signal.SIGINT, ending.stop.set)
        prepared = prepare(config)
    except (ConfigError, ValueError) as exc:  # ValueError: a bad --backend/--apache-address
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:  # a Listen that cannot bind is a ConfigError, with its line
        logger.error("could not start: %s", exc)
        return 1
    from geows.runtime.server import Server

    server = Server(config, prepared.plugins, prepared.access,
                    access_logs=prepared.access_logs)
    start_link(server)
    server.start(prepared.sockets, contexts)
    logger.log(log.NOTICE, "geows/%s configured -- serving %d WebSocket location(s) on %s "
               "in one process", __version__, len(config.websocket_sections()),
               ", ".join(host_port(host, port) for host, port in prepared.sockets))
    collect_for_many_connections()
    serve(server, ending)
    return 0


def show_empty_slots(config: Config) -> None:
    """-t: the running geows' (named by PidFile) worker slots that cannot start, if any."""
    if config.process.pid_file is None:
        return
    pid, empty = empty_slots_of(config.process.pid_file)
    for slot in empty:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(slot["since"]))
        print(f"geows pid {pid}, generation {slot['generation']}: slot {slot['slot']} has no "
              f"worker since {since} ({slot['young_deaths']} failure(s) in a row): "
              f"{slot['reason']}", file=sys.stderr)


def signal_master(config: Config, command: str) -> int:
    """-k: send the master named by PidFile the command's signal, as apachectl does."""
    path = config.process.pid_file
    if path is None:
        print(f"geows -k {command}: the config has no PidFile, by which -k finds the master",
              file=sys.stderr)
        return 1
    try:
        with open(path) as file:
            pid = int(file.read().strip())
        if not is_geows(pid):  # Apache's, on a config both read
            print(f"geows -k {command}: PidFile {path} names pid {pid}, which is not geows: "
                  "not signalling it", file=sys.stderr)
            return 1
        os.kill(pid, COMMANDS[command])
    except (OSError, ValueError):
        print(f"geows (pid file {path}) not running", file=sys.stderr)
        return 1
    return 0
