"""core's ErrorLog and mod_log_config's directives: each sets the logs of its server,
which are opened (geows.runtime.log) after the whole config is read, as httpd opens them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from geows.config.directives import SERVER_ONLY, SERVER_OR_VHOST, Spec, table
from geows.config.drafts import LogDraft, LogLine, ReadState, Scope
from geows.config.logs import SYSLOG_FACILITIES, AccessLog, LogTarget, ServerLogs, log_target
from geows.config.tree import Node
from geows.errors import ConfigError
from geows.log_format import LogFormat, ServerNames

log = logging.getLogger("geows.config")

DIRECTIVES = table(
    Spec("ErrorLog", 1, 1, SERVER_OR_VHOST,
         "a file name, a |piped logger or syslog[:facility]"),
    Spec("LogFormat", 1, 2, SERVER_OR_VHOST,
         "a log format string (see docs) and an optional format name"),
    Spec("CustomLog", 2, 3, SERVER_OR_VHOST,
         "a file name, a custom log format string or format name, and an optional "
         "\"env=\" or \"expr=\" clause (see docs)"),
    Spec("TransferLog", 1, 1, SERVER_OR_VHOST,
         "the filename of the access log, or a |piped logger"),
    Spec("GlobalLog", 2, 3, SERVER_ONLY,
         "a file name, a custom log format string or format name, and an optional "
         "\"env=\" or \"expr=\" clause (see docs)"),
)


def parse_log_condition(clause: str) -> str:
    """CustomLog's third argument, env=[!]VAR or expr=EXPRESSION, checked as mod_log_config
    checks it (geows evaluates neither: see _access_log's warning)."""
    kind = clause[:clause.find("=") + 1].lower()
    if kind == "env=":
        if clause[4:] in ("", "!"):
            raise ConfigError("missing environment variable name")
    elif kind == "expr=":
        if not clause[5:]:
            raise ConfigError("missing condition")
    else:
        raise ConfigError("error in condition clause")
    return clause


class LogDirectives(ReadState):
    """The logging directives' handlers, and the logs each server gets once read."""

    def _errorlog(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._log_draft(scope).error_log = (node, args[0])

    def _logformat(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        LogFormat.parse(args[0])  # refused here, as httpd refuses it
        if len(args) == 2:
            self._log_draft(scope).formats[args[1]] = args[0]
        else:
            self._log_draft(scope).default_format = args[0]

    def _customlog(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        condition = parse_log_condition(args[2]) if len(args) == 3 else None
        LogFormat.parse(args[1])  # a nickname is text without items: it parses too
        self._log_draft(scope).lines.append(LogLine(node, args[0], args[1], condition,
                                                    everywhere=node.key == "globallog"))

    _globallog = _customlog

    def _transferlog(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._log_draft(scope).lines.append(LogLine(node, args[0], None))

    def _error_log(self, draft: LogDraft) -> LogTarget | None:
        if draft.error_log is None:
            return None
        node, arg = draft.error_log
        target = log_target(arg, self.root, node.file, node.line, error_log=True)
        facility = target.syslog_facility
        if facility is not None and facility not in SYSLOG_FACILITIES:
            log.warning("%s:%d: ErrorLog %s: unknown syslog facility; lines go to facility "
                        "user, as httpd's do", node.file, node.line, arg)
            target = LogTarget("syslog:user", node.file, node.line)
        return target

    def _server_logs(self, draft: LogDraft, main: LogDraft | None,
                     name: str | None) -> ServerLogs:
        """A server's access logs, with mod_log_config's inheritance (see ServerLogs)."""
        own = tuple(self._access_log(line, draft, main) for line in draft.lines)
        if main is not None:
            inherited = self.main_logs.access_logs
            everywhere = tuple(access for access, line in zip(inherited, main.lines, strict=True)
                               if line.everywhere)
            own = own + everywhere if own else inherited
            name = name or self.main_logs.names.name
        port = draft.port if draft.port is not None or main is None else main.port
        return ServerLogs(own, ServerNames(name or self.names.hostname(), port))

    def _access_log(self, line: LogLine, draft: LogDraft, main: LogDraft | None) -> AccessLog:
        node = line.node
        if line.condition is not None:
            log.warning("%s:%d: %s %s: geows sets no environment variables and does not "
                        "evaluate expressions, so every connection is logged there", node.file,
                        node.line, node.name, line.condition)
        return AccessLog(log_target(line.target, self.root, node.file, node.line),
                         draft.format(line.format, main), line.condition)
