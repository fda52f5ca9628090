"""Logging in httpd's habits: an error log honouring LogLevel, and an access
log with one line per connection.

Error log lines look like httpd's:
    [Thu Nov 26 01:50:00.123456 2026] [server:info] [pid 4242] message
"""

from __future__ import annotations

import logging
import os
import sys
import time

from gevent import monkey

NOTICE = 25
TRACE = 5
logging.addLevelName(NOTICE, "NOTICE")
logging.addLevelName(TRACE, "TRACE")

# httpd's LogLevel names, most to least severe.
LEVELS = {
    "emerg": logging.CRITICAL, "alert": logging.CRITICAL, "crit": logging.CRITICAL,
    "error": logging.ERROR, "warn": logging.WARNING, "notice": NOTICE,
    "info": logging.INFO, "debug": logging.DEBUG,
    **{f"trace{n}": TRACE for n in range(1, 9)},
}
_NAMES = {logging.CRITICAL: "crit", logging.ERROR: "error", logging.WARNING: "warn",
          NOTICE: "notice", logging.INFO: "info", logging.DEBUG: "debug", TRACE: "trace1"}


# A real lock for each handler: monkeypatching makes logging's locks gevent's,
# and OS threads (run_in_thread, C plugins' threads) contending for those stall.
_os_rlock = monkey.get_original("_thread", "RLock")


def _handler(stream, formatter: logging.Formatter) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.lock = _os_rlock()
    return handler


class ErrorLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%a %b %d %H:%M:%S", time.localtime(record.created))
        micros = int(record.created % 1 * 1_000_000)
        year = time.localtime(record.created).tm_year
        module = record.name.rsplit(".", 1)[-1]
        level = _NAMES.get(record.levelno, record.levelname.lower())
        text = f"[{stamp}.{micros:06d} {year}] [{module}:{level}] [pid {os.getpid()}] "
        text += record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class AccessLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(record.created))
        client, _, rest = record.getMessage().partition(" ")
        return f"{client} - - [{stamp}] {rest}"


def configure(level: str = "warn", module_levels: dict[str, str] | None = None) -> None:
    """Error log to stderr at `level`, access log to stdout."""
    root = logging.getLogger()
    root.handlers[:] = [_handler(sys.stderr, ErrorLogFormatter())]
    root.setLevel(LEVELS[level])
    for module, module_level in (module_levels or {}).items():
        logging.getLogger(f"geows.{module}").setLevel(LEVELS[module_level])
    # The RFC 6455 engine's own "connection open/closed" lines repeat the access
    # log; keep them for LogLevel debug.
    if LEVELS[level] > logging.DEBUG:
        logging.getLogger("geows.rfc6455").setLevel(logging.WARNING)
    # Start-up and shut-down notices always show, as httpd's do at any LogLevel.
    logging.getLogger("geows.main").setLevel(min(LEVELS[level], NOTICE))

    access = logging.getLogger("geows.access")
    access.handlers[:] = [_handler(sys.stdout, AccessLogFormatter())]
    access.setLevel(logging.INFO)
    access.propagate = False
