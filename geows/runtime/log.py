"""Logging in httpd's habits: an error log honouring LogLevel, and access logs with one
line per connection, where httpd.conf's ErrorLog and CustomLog say.

Error log lines look like httpd's:
    [Thu Nov 26 01:50:00.123456 2026] [server:info] [pid 4242] message

Without ErrorLog they go to stderr; without any CustomLog (or TransferLog, GlobalLog) each
connection's line goes to stdout in geows' own format (`AccessLogFormatter`).

Files are opened by `configure` itself, in append mode, and every line is one write():
the lines of several processes writing one file never interleave. A line a full disk
refuses is lost whole (never a part of it written) and counted, and the losses are said
at most once a second. Calling `configure` again (a reload) closes them and opens them
anew, which is how logs are rotated. It returns the access logs it opened (`AccessLogs`),
which the caller hands to the server that writes to them.

Piped loggers ("|command") are started once per distinct command, by the process that
configures without inheriting any (the master); it exports their pipes in PIPES_ENV and
hands `pipe_fds()` to the workers it spawns, whose `configure` writes to those pipes
rather than start loggers of their own, as httpd's children share its parent's loggers.
"""

from __future__ import annotations

import errno
import json
import logging
import logging.handlers
import math
import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gevent import monkey

from geows import limits
from geows.config.logs import LEVELS, NOTICE, TRACE, LogTarget
from geows.errors import ConfigError
from geows.log_format import Entry, escape

if TYPE_CHECKING:
    from geows.config import Config
    from geows.config.logs import ServerLogs

_NAMES = {logging.CRITICAL: "crit", logging.ERROR: "error", logging.WARNING: "warn",
          NOTICE: "notice", logging.INFO: "info", logging.DEBUG: "debug", TRACE: "trace1"}
_SYSLOG_PRIORITIES = {logging.CRITICAL: "crit", logging.ERROR: "err",
                      logging.WARNING: "warning", NOTICE: "notice", logging.INFO: "info"}

# The piped loggers' pipes a master hands to its workers: {"pid": the master's pid,
# "pipes": {LogTarget.where: write fd}}. A worker trusts it only from its parent.
PIPES_ENV = "GEOWS_LOG_PIPES"

log = logging.getLogger("geows.log")

# A real lock for each handler and log: monkeypatching makes logging's locks gevent's, and
# OS threads (run_in_thread, C plugins' threads) contending for those stall.
_os_rlock = monkey.get_original("_thread", "RLock")


class ErrorLogFormatter(logging.Formatter):
    """An error log line as httpd writes one. The whole message is escaped, as httpd's
    log_error_core escapes every message (ap_escape_errorlog_item): whatever a client
    sent, wherever a message quotes it, reaches no log and no terminal raw. A traceback
    (exc_info) or a stack (stack_info) keeps its lines, each escaped alike."""

    def __init__(self, stamp: bool = True):
        super().__init__()
        self.stamp = stamp  # syslog stamps lines itself

    def format(self, record: logging.LogRecord) -> str:
        text = ""
        if self.stamp:
            stamp = time.strftime("%a %b %d %H:%M:%S", time.localtime(record.created))
            micros = int(record.created % 1 * 1_000_000)
            year = time.localtime(record.created).tm_year
            text = f"[{stamp}.{micros:06d} {year}] "
        module = record.name.rsplit(".", 1)[-1]
        level = _NAMES.get(record.levelno, record.levelname.lower())
        text += f"[{module}:{level}] [pid {os.getpid()}] "
        text += escape(record.getMessage(), quote=False)
        trace = self.formatException(record.exc_info) if record.exc_info else record.stack_info
        if trace:
            for line in trace.split("\n"):  # \n alone
                text += "\n" + escape(line, quote=False)
        return text


class AccessLogFormatter(logging.Formatter):
    """geows' own access line, on stdout when the config names no access log."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(record.created))
        client, _, rest = record.getMessage().partition(" ")
        return f"{client} - - [{stamp}] {rest}"


class _Sink:
    """An open log file or pipe. Each line is one write() (a longer one than a pipe takes
    at once goes on in further writes, under the lock); closing waits for a write under
    way, so that no line ever goes to a descriptor number reused since.

    A write refused part way (a full disk) is taken back: a line is in the file whole or
    not at all, and the next one starts on a line of its own. The lines lost are counted
    and said at most once per limits.LOG_FAILURE_REPORT: when the writes begin to fail,
    while they go on failing, and when they succeed again, with how many were lost."""

    def __init__(self, fd: int, target: LogTarget, owned: bool = True):
        self.fd = fd
        self.target = target
        self.owned = owned  # False: a logger's pipe, closed by whoever started the logger
        self.regular = stat.S_ISREG(os.fstat(fd).st_mode)  # a file: a part can be taken back
        self.lock = _os_rlock()
        self.lost = 0          # lines lost since the writes began to fail
        self.failing = False   # that they fail was said, and that they succeed again not yet
        self.error: OSError | None = None  # the last write's error
        self.said = -math.inf  # when the last report was made (time.monotonic())

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.fd < 0:
                return  # closed by a reload while this line was on its way: it is lost
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self.fd, view):]
            except OSError as exc:
                self._take_back(len(data) - len(view))
                self._failed(data.count(b"\n"), exc)
            else:
                if self.lost:
                    self._succeeded()

    def close(self) -> None:
        with self.lock:
            if self.owned and self.fd >= 0:
                os.close(self.fd)
            self.fd = -1

    def _take_back(self, written: int) -> None:
        """Cut the part of a line a failed write left at the end of the file; unless
        another process wrote after it (a full disk fails their writes as well), which
        cutting would take too."""
        if not written or not self.regular:
            return  # nothing written, or a pipe: what a reader took cannot be taken back
        try:
            end = os.lseek(self.fd, 0, os.SEEK_CUR)  # O_APPEND: the end of our part
            if os.fstat(self.fd).st_size == end:
                os.ftruncate(self.fd, end - written)
        except OSError:
            pass  # the part stays; the report says lines were lost

    def _failed(self, lines: int, error: OSError) -> None:
        self.lost += lines
        self.error = error
        if self._due():
            if self.failing:
                self._say(f"still cannot write to {self._name()}: {error}; {self.lost} "
                          "line(s) lost so far")
            else:
                self.failing = True
                self._say(f"cannot write to {self._name()}: {error}; its lines are lost "
                          "until it can be written again")

    def _succeeded(self) -> None:
        if self._due():
            self._say(f"{self._name()} is written again: {self.lost} line(s) were lost "
                      f"({self.error})")
            self.lost = 0
            self.failing = False

    def _due(self) -> bool:
        now = time.monotonic()
        if now - self.said < limits.LOG_FAILURE_REPORT:
            return False
        self.said = now
        return True

    def _name(self) -> str:
        return f"{self.target.where} ({self.target.file}:{self.target.line})"

    def _say(self, message: str) -> None:
        """To the error log; the error log's own failures to stderr (geows runs in the
        foreground: a terminal, or the journal under systemd)."""
        if self is _error_sink:
            print(f"geows: {message}", file=sys.stderr)
        else:
            log.error("%s", message)


class _SinkHandler(logging.Handler):
    def __init__(self, sink: _Sink):
        super().__init__()
        self.sink = sink
        self.setFormatter(ErrorLogFormatter())
        self.lock = _os_rlock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.write((self.format(record) + "\n").encode("utf-8", "backslashreplace"))
        except Exception:
            self.handleError(record)


class _SyslogHandler(logging.handlers.SysLogHandler):
    """ErrorLog syslog[:facility]: lines without their time stamp, at httpd's priorities."""

    def __init__(self, facility: str):
        super().__init__("/dev/log", self.facility_names[facility])
        self.ident = f"geows[{os.getpid()}]: "
        self.setFormatter(ErrorLogFormatter(stamp=False))
        self.lock = _os_rlock()
        self.failed = False

    def mapPriority(self, levelName: str) -> str:  # noqa: N802 (logging's name)
        return _SYSLOG_PRIORITIES.get(logging.getLevelName(levelName), "debug")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        if not self.failed:  # no syslog daemon listening: say so once, as openlog does not
            self.failed = True
            print(f"geows: cannot write to syslog: {sys.exc_info()[1]}", file=sys.stderr)


def _handler(stream, formatter: logging.Formatter) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.lock = _os_rlock()
    return handler


class _PipedLogger:
    """A piped logger this process started: its command reads the other end of `fd`."""

    def __init__(self, target: LogTarget):
        self.target = target
        read, self.fd = os.pipe()
        try:
            self.process = subprocess.Popen(_logger_args(target), stdin=read, close_fds=True)
        except OSError as exc:
            os.close(self.fd)
            raise ConfigError(f"could not start the piped logger '{target.where[1:]}': "
                              f"{exc.strerror}", target.file, target.line) from None
        finally:
            os.close(read)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Close this process's write end: the logger reads to the end of what every
        process wrote and exits when the last one closes its end."""
        os.close(self.fd)


def _logger_args(target: LogTarget) -> list[str]:
    """httpd's piped logger commands: "|$command" through /bin/sh, "|command" run directly."""
    command = target.where[1:]
    if command.startswith("$"):
        return ["/bin/sh", "-c", command[1:]]
    args = shlex.split(command)
    if not args:
        raise ConfigError("a piped logger needs a command after '|'", target.file, target.line)
    return args


@dataclass(frozen=True)
class AccessLogs:
    """The access logs of a configuration, open: what `configure` returns, for the server
    that writes each connection's lines to them (the next `configure` closes them)."""

    sinks: dict[str, _Sink] = field(default_factory=dict)  # by LogTarget.where
    # Any CustomLog, TransferLog or GlobalLog in the config: then `write` writes each
    # connection's lines, and the stdout line (the "geows.access" logger) is not written.
    configured: bool = False
    letters: frozenset[str] = frozenset()  # the format items their formats use

    def uses(self, letter: str) -> bool:
        """Whether a format uses the item (e.g. "o": the response headers, which a
        connection keeps only then)."""
        return letter in self.letters

    def write(self, entry: Entry, logs: ServerLogs) -> None:
        """Write a connection's line to each access log of the server that answered it."""
        for access_log in logs.access_logs:
            sink = self.sinks[access_log.target.where]
            line = access_log.format.render(entry) + "\n"
            sink.write(line.encode("utf-8", "surrogateescape"))


def _inherited_pipes() -> dict[str, int] | None:
    """The pipes the master passed to this worker; None in a process that starts its own."""
    try:
        exported = json.loads(os.environ.get(PIPES_ENV, ""))
        if exported["pid"] != os.getppid():
            return None  # left in the environment of some other process's child
        pipes = {str(where): int(fd) for where, fd in exported["pipes"].items()}
        for fd in pipes.values():
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return None
            os.set_inheritable(fd, False)  # pass_fds made it so; no further child needs it
        return pipes
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return None


_INHERITED = _inherited_pipes()
_loggers: dict[str, _PipedLogger] = {}  # the piped loggers this process started
_access = AccessLogs()
_error_sink: _Sink | None = None


def pipe_fds() -> tuple[int, ...]:
    """The write ends of the piped loggers this process started: what a master passes to
    the workers it spawns (subprocess.Popen(pass_fds=...)), with PIPES_ENV naming them."""
    return tuple(logger.fd for logger in _loggers.values())


def configure(config: Config, dry_run: bool = False,
              end_removed_loggers: bool = True) -> AccessLogs:
    """Set up the error log (LogLevel, ErrorLog) and the access logs (CustomLog...) of
    `config`, closing those of an earlier call; returns the access logs, for the server.
    ConfigError at the directive of a log that cannot be opened or started, the earlier
    logs left as they were.

    end_removed_loggers=False (a master's reload, not taken yet): piped loggers that only
    the earlier config names keep running until end_removed_loggers(config) is called.

    dry_run (geows -t): check that every log could be opened, as httpd -t does, without
    creating a file or starting a logger; the error log then stays on stderr."""
    targets = _targets(config)
    for target in targets.values():
        _check(target)
    if dry_run:
        _set_error_log(config, _handler(sys.stderr, ErrorLogFormatter()), None)
        return AccessLogs()  # none opened
    sinks = _open(targets)
    error_log = config.error_log
    if error_log is None:
        handler: logging.Handler = _handler(sys.stderr, ErrorLogFormatter())
    elif error_log.syslog_facility is not None:
        handler = _SyslogHandler(error_log.syslog_facility)
    else:
        handler = _SinkHandler(sinks[error_log.where])
    global _access, _error_sink
    previous = [*_access.sinks.values(), *([_error_sink] if _error_sink else [])]
    access_logs = [access for logs in _all_server_logs(config) for access in logs.access_logs]
    _access = AccessLogs({access.target.where: sinks[access.target.where]
                           for access in access_logs}, bool(access_logs),
                          frozenset(letter for access in access_logs
                                    for letter in access.format.letters))
    _error_sink = sinks.get(error_log.where) if error_log is not None else None
    _set_error_log(config, handler, previous)
    if end_removed_loggers:
        _close_removed_loggers(targets)
    else:
        _export_loggers()
    return _access


def error_log_fd() -> int:
    """The descriptor the error log writes to (stderr's for syslog: a line written
    without logging, as a crash's is, cannot go there)."""
    return _error_sink.fd if _error_sink is not None else sys.stderr.fileno()


def end_removed_loggers(config: Config) -> None:
    """Close this process's end of the piped loggers `config` does not name (see configure)."""
    _close_removed_loggers(_targets(config))


def _set_error_log(config: Config, handler: logging.Handler,
                   previous: list[_Sink] | None) -> None:
    root = logging.getLogger()
    old = list(root.handlers)
    root.handlers[:] = [handler]
    for stale in old:
        if isinstance(stale, logging.handlers.SysLogHandler):
            stale.close()
    for sink in {id(sink): sink for sink in previous or ()}.values():
        sink.close()
    level = config.log_level
    root.setLevel(LEVELS[level])
    for module, module_level in config.module_log_levels.items():
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


def _all_server_logs(config: Config) -> list[ServerLogs]:
    return [config.logs, *(vhost.logs for vhost in config.virtual_hosts)]


def _targets(config: Config) -> dict[str, LogTarget]:
    """Every log target of the config, by where it writes (the first directive naming it)."""
    targets = [access.target for logs in _all_server_logs(config) for access in logs.access_logs]
    if config.error_log is not None and config.error_log.syslog_facility is None:
        targets.insert(0, config.error_log)
    found: dict[str, LogTarget] = {}
    for target in targets:
        found.setdefault(target.where, target)
    return found


def _check(target: LogTarget) -> None:
    """ConfigError if the target could not be opened (or its program not found), as httpd
    checks at start and with -t, without creating anything."""
    if target.pipe:
        args = _logger_args(target)
        if args[0] != "/bin/sh" and shutil.which(args[0]) is None:
            raise ConfigError(f"piped logger program '{args[0]}' not found", target.file,
                              target.line)
        return
    directory = os.path.dirname(target.where)
    error = None
    if not os.path.exists(directory):
        error = errno.ENOENT
    elif not os.path.isdir(directory):
        error = errno.ENOTDIR
    elif not os.access(directory, os.W_OK | os.X_OK):
        error = errno.EACCES
    if error is not None:
        raise ConfigError(f"Cannot access directory '{directory}/' for log file "
                          f"'{target.where}': {os.strerror(error)}", target.file, target.line)
    if os.path.isdir(target.where):
        error = errno.EISDIR
    elif os.path.exists(target.where) and not os.access(target.where, os.W_OK):
        error = errno.EACCES
    if error is not None:
        raise ConfigError(f"could not open log file '{target.where}': {os.strerror(error)}",
                          target.file, target.line)


def _open(targets: dict[str, LogTarget]) -> dict[str, _Sink]:
    """Open every file anew, and take the pipe of every piped logger; all or none."""
    sinks: dict[str, _Sink] = {}
    try:
        for where, target in targets.items():
            sinks[where] = _pipe_sink(target) if target.pipe else _file_sink(target)
    except ConfigError:
        for sink in sinks.values():
            sink.close()
        raise
    return sinks


def _file_sink(target: LogTarget) -> _Sink:
    try:
        fd = os.open(target.where, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise ConfigError(f"could not open log file '{target.where}': {exc.strerror}",
                          target.file, target.line) from None
    return _Sink(fd, target)


def _pipe_sink(target: LogTarget) -> _Sink:
    """The pipe to the target's logger: the master's, else this process's own (started
    now unless already running); a worker the master passed none starts its own."""
    if _INHERITED is not None and target.where in _INHERITED:
        return _Sink(_INHERITED[target.where], target, owned=False)
    logger = _loggers.get(target.where)
    if logger is None or not logger.alive:  # a reload also restarts a logger that died
        if logger is not None:
            logger.close()
        if _INHERITED is not None:
            log.warning("%s:%d: the master passed no pipe to the piped logger '%s': this "
                        "worker starts its own", target.file, target.line, target.where[1:])
        logger = _loggers[target.where] = _PipedLogger(target)
    return _Sink(logger.fd, target, owned=False)


def _close_removed_loggers(targets: dict[str, LogTarget]) -> None:
    """Close this process's end of the pipes no target names any more, and (in a master)
    export the others for the workers it will spawn."""
    for where in [where for where in _loggers if where not in targets]:
        _loggers.pop(where).close()
    _export_loggers()


def _export_loggers() -> None:
    if _INHERITED is None:
        os.environ[PIPES_ENV] = json.dumps({
            "pid": os.getpid(), "pipes": {where: logger.fd for where, logger in _loggers.items()}})
