"""Where geows' logs go, as ErrorLog, LogFormat, CustomLog and TransferLog say (geows.runtime.log
opens them)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from geows.log_format import LogFormat, ServerNames

NOTICE = 25
TRACE = 5
logging.addLevelName(NOTICE, "NOTICE")
logging.addLevelName(TRACE, "TRACE")

# httpd's LogLevel names, most to least severe, as Python's logging levels.
LEVELS = {
    "emerg": logging.CRITICAL, "alert": logging.CRITICAL, "crit": logging.CRITICAL,
    "error": logging.ERROR, "warn": logging.WARNING, "notice": NOTICE,
    "info": logging.INFO, "debug": logging.DEBUG,
    **{f"trace{n}": TRACE for n in range(1, 9)},
}

# syslog facilities httpd's ErrorLog syslog:FACILITY knows; local7 when none is given.
SYSLOG_FACILITIES = ("auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail",
                     "news", "syslog", "user", "uucp", *(f"local{n}" for n in range(8)))
DEFAULT_SYSLOG_FACILITY = "local7"


@dataclass(frozen=True)
class LogTarget:
    """A log's destination, as one directive names it.

    `where` is an absolute file name; "|command" for a piped logger run directly (httpd's
    "|" and "||"), "|$command" for one run by /bin/sh; or "syslog:FACILITY" (ErrorLog only).
    """

    where: str
    file: str  # the directive naming it
    line: int

    @property
    def pipe(self) -> bool:
        return self.where.startswith("|")

    @property
    def syslog_facility(self) -> str | None:
        return self.where.partition(":")[2] if self.where.startswith("syslog:") else None


def log_target(arg: str, server_root: str, file: str, line: int,
               error_log: bool = False) -> LogTarget:
    """A directive's target: a pipe, syslog (ErrorLog's only) or a file under ServerRoot."""
    if arg.startswith("||"):
        arg = arg[1:]  # httpd 2.2's spelling of "run it directly", kept by 2.4
    if arg.startswith("|"):
        return LogTarget(arg, file, line)
    name, _, facility = arg.partition(":")
    if error_log and name.lower() == "syslog":
        return LogTarget(f"syslog:{facility.lower() or DEFAULT_SYSLOG_FACILITY}", file, line)
    return LogTarget(os.path.normpath(os.path.join(server_root, arg)), file, line)


@dataclass(frozen=True)
class AccessLog:
    """One CustomLog, TransferLog or GlobalLog line."""

    target: LogTarget
    format: LogFormat
    condition: str | None = None  # env=... or expr=..., as written: geows logs every line


@dataclass(frozen=True)
class ServerLogs:
    """A server's (the main one's or a <VirtualHost>'s) access logs and the names its lines
    give it: its own CustomLogs, or the main server's when it has none (with the main
    server's GlobalLogs in both cases), as mod_log_config merges them."""

    access_logs: tuple[AccessLog, ...] = ()
    names: ServerNames = ServerNames("localhost")
