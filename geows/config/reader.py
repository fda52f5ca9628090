"""Read an httpd.conf as httpd does, into geows' Config.

One in-order pass over the tree: ServerRoot, LoadModule, Define, ${VAR}, Include and the
<If...> conditions take effect where they appear, like httpd's EXEC_ON_READ directives.
"""

from __future__ import annotations

import gc
import glob
import grp
import ipaddress
import logging
import os
import pwd
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from geows import limits
from geows.config import directives, paths
from geows.config.access_lines import (
    ACCESS_CONTAINERS,
    AccessContainer,
    AccessLine,
    is_access_directive,
    is_remoteip_directive,
)
from geows.config.directives import DIR, SERVER, VHOST
from geows.config.lexer import split_words
from geows.config.logs import (
    SYSLOG_FACILITIES,
    AccessLog,
    LogTarget,
    ServerLogs,
    log_target,
)
from geows.config.model import (
    STATUS_HANDLER,
    WEBSOCKET_HANDLER,
    AccessSection,
    Config,
    Listener,
    LocationSection,
    Override,
    ProcessSettings,
    WebSocketSettings,
    has_wildcard,
    location_matcher,
)
from geows.config.names import Names
from geows.config.paths import Alias, ProxyPass
from geows.config.tls_settings import Located, TlsSettings, check_tls
from geows.config.tree import Node, Section, parse
from geows.config.vhosts import ANY_PORT, RequestLimits, VirtualHost, VirtualHostAddress
from geows.errors import ConfigError
from geows.log_format import COMMON, LogFormat, ServerNames

log = logging.getLogger("geows.config")

# geows is mod_websocket, in both of its builds: loaded whether or not LoadModule says so.
ALWAYS_LOADED = frozenset({"mod_websocket.c", "websocket_module",
                           "mod_websocket_draft76.c", "websocket_draft76_module"})

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_CONDITIONS = frozenset({"ifmodule", "ifdefine", "ifversion", "iffile"})
_LOCATIONS = frozenset({"location", "locationmatch"})
_DIRECTORIES = frozenset({"directory", "directorymatch"})
_FILES = frozenset({"files", "filesmatch"})
_IFS = frozenset({"if", "elseif", "else"})
# Their directives configure an authn/authz provider, not a directory: the section's
# opening is handed over as one access line, its directives are not.
_PROVIDER_ALIASES = frozenset({"authnprovideralias", "authzprovideralias"})


def load_config(path: str | os.PathLike[str], *,
                server_root: str | os.PathLike[str] | None = None,
                defines: Iterable[str] = (), guard: bool = True,
                names: Names | None = None) -> Config:
    """Read the main config file (relative paths start at the server root) and its includes.

    server_root defaults to the current directory; a ServerRoot directive overrides it.
    defines are -D names, true for <IfDefine>. Raises ConfigError at the offending FILE:LINE.
    guard=False reads a config that has .htaccess rules geows does not enforce, for
    inspection only: never serve what it returns. names looks up the <VirtualHost> names
    (the system resolver, geows.dns, by default). The certificates are not loaded here:
    geows.process.startup.read_config checks them for a config to be served.
    """
    if names is None:
        from geows import dns  # here: `import geows.config` loads no socket (README, Layout)

        names = dns.SYSTEM
    root = os.path.abspath(server_root if server_root is not None else os.getcwd())
    # Reading makes no reference cycles, but it makes a great many objects, and the cyclic
    # collector would walk the growing tree again and again (a third of the time of loading
    # 10,000 sections): pause it while reading.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Reader(root, defines, names, guard).read(os.path.abspath(os.path.join(root, path)))
    finally:
        if collecting:
            gc.enable()


@dataclass
class _TlsDraft:
    """A server's mod_ssl directives being read; what a vhost leaves unset (None or empty)
    is the main server's, as mod_ssl merges them."""

    engine: Located | None = None  # SSLEngine, "on" or "off"
    certificates: list[Located] = field(default_factory=list)
    keys: list[Located] = field(default_factory=list)
    chain: Located | None = None
    protocols: tuple[str, str] | None = None
    ciphers: Located | None = None
    tls13_ciphers: Located | None = None
    honor_cipher_order: bool | None = None
    session_tickets: bool | None = None

    def settings(self, main: _TlsDraft) -> TlsSettings | None:
        """This server's TlsSettings, main's filling what it leaves unset; None without
        SSLEngine on. A certificate goes with its own server's keys, never the main's."""
        engine = self.engine or main.engine
        if engine is None or engine.value == "off":
            return None
        own = self.certificates or not main.certificates
        certificates, keys = (self.certificates, self.keys) if own else \
            (main.certificates, main.keys)
        return TlsSettings(
            engine, tuple(certificates), tuple(keys), self.chain or main.chain,
            self.protocols or main.protocols, self.ciphers or main.ciphers,
            self.tls13_ciphers or main.tls13_ciphers,
            _unless_none(self.honor_cipher_order, main.honor_cipher_order, False),
            _unless_none(self.session_tickets, main.session_tickets, True))


def _unless_none(*flags: bool | None) -> bool:
    """The first flag that is set."""
    return next(flag for flag in flags if flag is not None)  # type: ignore[misc]


@dataclass
class _LogLine:
    """A CustomLog, TransferLog (no format: the server's default) or GlobalLog line."""

    node: Node
    target: str
    format: str | None  # a format string or a LogFormat nickname
    condition: str | None = None
    everywhere: bool = False  # GlobalLog: every vhost's too, even one with its own logs


@dataclass
class _LogDraft:
    """A server's logging directives being read: mod_log_config opens its logs after the
    whole config is read, against the final ServerRoot and LogFormat nicknames."""

    error_log: tuple[Node, str] | None = None
    formats: dict[str, str] = field(default_factory=dict)  # LogFormat nicknames
    default_format: str | None = None  # the last LogFormat without a nickname
    lines: list[_LogLine] = field(default_factory=list)
    port: int | None = None  # ServerName's, for %p

    def format(self, text: str | None, main: _LogDraft | None) -> LogFormat:
        """A line's format: a nickname of this server's (or of the main server's), else
        the text itself; None: the last LogFormat without a nickname, else CLF."""
        formats = {**main.formats, **self.formats} if main is not None else self.formats
        if text is None:
            text = self.default_format or (main.default_format if main else None) or COMMON
        return LogFormat.parse(formats.get(text, text))


@dataclass
class _VirtualHostDraft:
    """A <VirtualHost> being read; its names are final only after the whole config."""

    addresses: list[VirtualHostAddress]
    node: Node
    server_name: str | None = None
    aliases: list[str] | None = None
    document_root: tuple[Node, str] | None = None  # DocumentRoot and its path, resolved at the end
    path_aliases: list[Alias] = field(default_factory=list)
    remoteip_lines: list[AccessLine] = field(default_factory=list)
    proxy_passes: list[ProxyPass] = field(default_factory=list)
    tls: _TlsDraft = field(default_factory=_TlsDraft)
    request_limits: dict[str, int] = field(default_factory=dict)  # RequestLimits' fields set
    logs: _LogDraft = field(default_factory=_LogDraft)
    built: VirtualHost | None = None


class _AccessDraft:
    """A config section's access directives being read (see model.AccessSection)."""

    __slots__ = ("kind", "pattern", "regex", "vhost", "file", "line", "lines", "nested", "built")

    def __init__(self, kind: str, pattern: str, regex: bool, vhost: _VirtualHostDraft | None,
                 file: str, line: int):
        self.kind, self.pattern, self.regex, self.vhost = kind, pattern, regex, vhost
        self.file, self.line = file, line
        self.lines: list[AccessLine] = []
        self.nested: list[_AccessDraft] = []  # a <Directory>'s <Files>, any section's <If>s
        self.built: AccessSection | None = None


@dataclass(slots=True)
class _Draft:
    """A <Location> being read: what its directives set so far."""

    node: Section
    pattern: str
    regex: bool
    access: _AccessDraft  # its access directives
    vhost: _VirtualHostDraft | None = None
    handler: str | None = None
    first_websocket: Node | None = None  # the first mod_websocket directive, for errors
    websocket_at: Node | None = None     # the WebSocketHandler directive
    plugin: str = ""
    init: str = ""
    max_message_size: int = limits.MAX_MESSAGE_SIZE
    support_draft75: bool = False
    deflate: bool = True
    origins: tuple[str, ...] = ()
    ping: tuple[float, float] | None = None
    alias: tuple[str, str, int] | None = None  # an Alias in it: target, file, line


class _Scope(NamedTuple):  # a NamedTuple: as immutable as a frozen dataclass, faster to make
    """Where the walk is: kind is the directive table's SERVER, VHOST or DIR."""

    kind: str
    section: str = ""            # the innermost non-conditional section, as written
    vhost: _VirtualHostDraft | None = None  # anywhere inside a <VirtualHost>
    draft: _Draft | None = None  # set directly inside a <Location>
    access: _AccessDraft | None = None  # where access directives here go; None: nowhere
    containers: tuple[AccessContainer, ...] = ()  # enclosing <Limit>, <RequireAll>...
    location: _Draft | None = None  # the enclosing <Location>/<LocationMatch>


_Handler = Callable[["_Reader", Node, Sequence[str], _Scope], None]


class _Reader:
    def __init__(self, root: str, defines: Iterable[str], names: Names, guard: bool = True):
        self.root = root
        self.names = names
        self.guard = guard
        self.defines = set(defines)
        self.variables: dict[str, str] = {}
        self.modules = set(ALWAYS_LOADED)
        self.reading: list[str] = []  # files being read, to refuse include loops
        self.listeners: list[Listener] = []
        self.drafts: list[_Draft] = []
        self.vhosts: list[_VirtualHostDraft] = []
        self.server_name: str | None = None
        self.log_level = "warn"
        self.module_log_levels: dict[str, str] = {}
        self.header = (limits.HEADER_TIMEOUT, limits.HEADER_TIMEOUT_MAX, limits.HEADER_MIN_RATE)
        self.tls = _TlsDraft()  # the main server's mod_ssl directives
        self.request_limits: dict[str, int] = {}  # the main server's LimitRequest* set
        self.max_connections: int | None = None
        self.message_memory = limits.MESSAGE_MEMORY
        self.process: dict[str, object] = {}  # ProcessSettings' fields the config sets
        self.plugins: dict[str, str] = {}  # WebSocketHandler's file -> its absolute path
        self.document_root: tuple[Node, str] | None = None  # the main server's DocumentRoot
        self.aliases: list[Alias] = []
        self.remoteip_lines: list[AccessLine] = []
        self.proxy_passes: list[ProxyPass] = []
        self.access: list[_AccessDraft] = []  # top-level sections, in file order
        self.overrides: list[tuple[Node, Sequence[str], _AccessDraft]] = []
        self.proxy_access: list[_AccessDraft] = []  # <Proxy>/<ProxyMatch> sections' rules
        self.logs = _LogDraft()  # the main server's
        self.main_logs = ServerLogs()  # the main server's, once read

    def read(self, file: str) -> Config:
        server = _AccessDraft("server", "", False, None, file, 0)
        self.access.append(server)
        self._walk_file(file, _Scope(SERVER, access=server))
        error_log = self._error_log(self.logs)
        self.main_logs = self._server_logs(self.logs, None, self.server_name)
        vhosts = [self._finish_vhost(vhost, error_log) for vhost in self.vhosts]
        access = [section for draft in self.access
                  if (draft.lines or draft.nested) and (section := self._finish_access(draft))]
        locations = [self._finish(draft) for draft in self.drafts]
        for section in locations:
            if section.websocket and section.websocket.max_message_size > self.message_memory:
                log.warning("%s:%d: MaxMessageSize %d is more than WebSocketMessageMemory (%d "
                            "bytes): a fragmented or compressed message larger than that is "
                            "refused (1009)", section.file, section.line,
                            section.websocket.max_message_size, self.message_memory)
        document_root = paths.DEFAULT_DOCUMENT_ROOT
        if self.document_root is not None:
            document_root = self._document_root(*self.document_root, virtual=False)
        overrides = [Override(node.name, tuple(args), self._finish_access(draft, keep=True),
                              node.file, node.line)  # type: ignore[arg-type]  # kept: built
                     for node, args, draft in self.overrides]
        header_timeout, header_timeout_max, header_min_rate = self.header
        config = Config(
            file=file, server_root=self.root, listeners=self.listeners,
            log_level=self.log_level, module_log_levels=self.module_log_levels,
            locations=locations, header_timeout=header_timeout,
            header_timeout_max=header_timeout_max, header_min_rate=header_min_rate,
            modules=frozenset(self.modules), virtual_hosts=vhosts, document_root=document_root,
            aliases=tuple(self.aliases), remoteip_lines=tuple(self.remoteip_lines),
            access=access, overrides=overrides, proxy_passes=tuple(self.proxy_passes),
            proxy_access=tuple(line for draft in self.proxy_access for line in draft.lines[:1]),
            tls=self.tls.settings(self.tls), request_limits=RequestLimits(**self.request_limits),
            max_connections=self.max_connections, error_log=error_log, logs=self.main_logs,
            process=ProcessSettings(**self.process), message_memory=self.message_memory)
        if self.guard:
            config.check_htaccess()
            config.check_alias_expressions()
        if not self.listeners:
            raise ConfigError("no Listen directive, so no listening sockets available", file)
        if self.guard:
            check_tls(config)
        return config

    def _finish_access(self, draft: _AccessDraft, keep: bool = False) -> AccessSection | None:
        """The draft's section, None if neither it nor a nested section holds access
        directives (unless kept: an AllowOverride's <Directory>)."""
        if draft.built is None:
            nested = [section for section in map(self._finish_access, draft.nested) if section]
            if not (draft.lines or nested or keep):
                return None
            vhost = draft.vhost.built if draft.vhost is not None else None
            draft.built = AccessSection(
                draft.kind, draft.pattern, draft.regex, vhost, draft.file, draft.line,
                tuple(draft.lines), tuple(s for s in nested if s.kind == "files"),
                tuple(s for s in nested if s.kind == "if"))
        return draft.built

    def _document_root(self, node: Node, arg: str, virtual: bool) -> str:
        """DocumentRoot against the final ServerRoot (httpd runs it after reading it all); the
        main server's must be a directory, a vhost's only gets a warning."""
        path = paths.canonical(os.path.join(self.root, arg)).rstrip("/") or "/"
        if not os.path.isdir(path):
            if not virtual:
                raise ConfigError(f"DocumentRoot '{os.path.join(self.root, arg)}' is not a "
                                  "directory, or is not readable", node.file, node.line)
            log.warning("%s:%d: Warning: DocumentRoot [%s] does not exist", node.file, node.line,
                        os.path.join(self.root, arg))
        return path

    def _finish(self, draft: _Draft) -> LocationSection:
        websocket = None
        if draft.websocket_at is not None:
            websocket = WebSocketSettings(self._plugin_path(draft.plugin), draft.init,
                                          draft.websocket_at.file, draft.websocket_at.line,
                                          draft.max_message_size, draft.support_draft75,
                                          draft.deflate, draft.origins, draft.ping)
        vhost = draft.vhost.built if draft.vhost is not None else None
        return LocationSection(draft.pattern, draft.regex, draft.handler, websocket,
                               draft.node.file, draft.node.line, vhost,
                               websocket_config=draft.first_websocket is not None,
                               alias=draft.alias,
                               access=draft.access.built)

    def _plugin_path(self, plugin: str) -> str:
        """Against the final ServerRoot: httpd runs WebSocketHandler after reading it all."""
        path = self.plugins.get(plugin)
        if path is None:
            path = self.plugins[plugin] = os.path.normpath(os.path.join(self.root, plugin))
        return path

    def _error_log(self, draft: _LogDraft) -> LogTarget | None:
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

    def _server_logs(self, draft: _LogDraft, main: _LogDraft | None,
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

    def _access_log(self, line: _LogLine, draft: _LogDraft, main: _LogDraft | None) -> AccessLog:
        node = line.node
        if line.condition is not None:
            log.warning("%s:%d: %s %s: geows sets no environment variables and does not "
                        "evaluate expressions, so every connection is logged there", node.file,
                        node.line, node.name, line.condition)
        return AccessLog(log_target(line.target, self.root, node.file, node.line),
                         draft.format(line.format, main), line.condition)

    def _finish_vhost(self, draft: _VirtualHostDraft,
                      main_error_log: LogTarget | None) -> VirtualHost:
        name = draft.server_name
        if name is None:  # as ap_fini_vhost_config names a vhost without ServerName
            if any(address.ip is None for address in draft.addresses):
                name = self.server_name
            elif draft.addresses and draft.addresses[0].ip is not None:
                name = self.names.reverse(draft.addresses[0].ip)
        root = draft.document_root
        document_root = None if root is None else self._document_root(*root, virtual=True)
        error_log = self._error_log(draft.logs)
        if error_log is not None and error_log.where != getattr(main_error_log, "where", None):
            log.warning("%s:%d: ErrorLog in <VirtualHost>: geows writes every error line to the "
                        "main server's error log (%s): they come from code every server shares "
                        "(start-up, plugins and their threads), most of which cannot tell the "
                        "server a line is about", error_log.file, error_log.line,
                        main_error_log.where if main_error_log else "stderr")
        draft.built = VirtualHost(tuple(draft.addresses), name, tuple(draft.aliases or ()),
                                  draft.node.file, draft.node.line, document_root,
                                  tuple(draft.path_aliases), tuple(draft.remoteip_lines),
                                  tuple(draft.proxy_passes), draft.tls.settings(self.tls),
                                  RequestLimits(**{**self.request_limits,
                                                   **draft.request_limits}),
                                  self._server_logs(draft.logs, self.logs, name))
        return draft.built

    def _walk_file(self, path: str, scope: _Scope) -> None:
        real = os.path.realpath(path)
        if real in self.reading:
            raise ConfigError(f"Include loop: {path} is already being read")
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            raise ConfigError(f"Could not open configuration file {path}: {e.strerror}") from None
        self.reading.append(real)
        self._walk(parse(text, path), scope)
        self.reading.pop()

    def _walk(self, nodes: Sequence[Node], scope: _Scope) -> None:
        for node in nodes:
            try:
                if isinstance(node, Section):
                    self._section(node, scope)
                else:
                    self._directive(node, scope)
            except ConfigError as e:
                if e.file is None:  # from a parser: it happened at this node
                    raise ConfigError(e.message, node.file, node.line) from None
                raise

    def _args(self, node: Node) -> Sequence[str]:
        """The node's arguments after ${VAR} substitution, which, as in httpd, may add words."""
        if "${" not in node.raw:
            return node.args
        return split_words(_VARIABLE.sub(lambda m: self._variable(m, node), node.raw))

    def _variable(self, match: re.Match[str], node: Node) -> str:
        name = match[1]
        value = self.variables[name] if name in self.variables else os.environ.get(name)
        if value is not None:
            return value
        if ":" not in name:  # httpd leaves ${a:b} to the modules that use that syntax
            log.warning("%s:%d: Config variable ${%s} is not defined", node.file, node.line, name)
        return match[0]

    def _section(self, node: Section, scope: _Scope) -> None:
        key = node.key
        args = self._args(node)
        if not args and (key in _CONDITIONS or key in _LOCATIONS or key == "virtualhost"):
            raise ConfigError(f"<{node.name}> directive requires additional arguments")
        if key in _CONDITIONS:
            if self._condition(node, args):
                self._walk(node.children, scope)
        elif key in _LOCATIONS or key == "virtualhost":
            if scope.kind == DIR or (key == "virtualhost" and scope.kind == VHOST):
                raise ConfigError(f"<{node.name}> cannot occur within <{scope.section}> section")
            if key == "virtualhost":
                vhost = _VirtualHostDraft(self._vhost_addresses(node, args), node)
                self.vhosts.append(vhost)
                access = _AccessDraft("vhost", "", False, vhost, node.file, node.line)
                self.access.append(access)
                self._walk(node.children, _Scope(VHOST, node.name, vhost=vhost, access=access))
            else:
                self._location(node, args, scope)
        elif key in _DIRECTORIES or key in _FILES or key in _IFS:
            self._access_section(node, args, scope)
        else:  # <Limit>, <RequireAll>, <Proxy>, ...: read for errors and access lines
            access, containers = scope.access, scope.containers
            if key in ACCESS_CONTAINERS:
                if scope.kind != DIR:
                    raise ConfigError(_not_allowed(f"<{node.name}", scope))
                containers += (AccessContainer(key, tuple(args), node.file, node.line),)
            elif key in _PROVIDER_ALIASES:
                if scope.kind != SERVER:
                    raise ConfigError(f"<{node.name}> cannot occur within <{scope.section}> "
                                      "section")
                scope.access.lines.append(AccessLine(key, tuple(args), node.file, node.line))
                access = None
            elif key in ("proxy", "proxymatch"):
                # They guard forwarded (ProxyPass) requests only: kept apart, so that geows
                # can refuse to forward where they hold rules (it does not walk them).
                access = _AccessDraft("proxy", args[0] if args else "", key == "proxymatch",
                                      scope.vhost, node.file, node.line)
                self.proxy_access.append(access)
            else:
                access = None
            self._walk(node.children, _Scope(DIR, node.name, scope.vhost, None, access,
                                             containers, scope.location))

    def _access_section(self, node: Section, args: Sequence[str], scope: _Scope) -> None:
        """<Directory>, <Files>, <If> and their variants: where their access directives go."""
        key = node.key
        parent = scope.access
        limited = any(c.key in ("limit", "limitexcept") for c in scope.containers)
        if key in _DIRECTORIES and scope.kind == DIR:
            raise ConfigError(_not_allowed(f"<{node.name}", scope))
        if key in _FILES and (scope.location is not None or limited):
            where = "<Limit> or <LimitExcept>"
            if scope.location is not None:
                where = f"<{scope.location.node.name}>"
            raise ConfigError(f"<{node.name}> cannot occur within {where} section")
        if key in _IFS:
            if limited:
                raise ConfigError(f"<{node.name}> cannot occur within <Limit> or <LimitExcept> "
                                  "section")
            if (key == "else") != (not args):
                raise ConfigError("<Else> does not take an argument" if args else
                                  f"<{node.name}> directive requires additional arguments")
            draft = _AccessDraft("if", args[0] if args else "", False, scope.vhost, node.file,
                                 node.line)
            if parent is not None:
                parent.nested.append(draft)
        else:
            if not args:
                raise ConfigError(f"<{node.name}> directive requires additional arguments")
            regex = key.endswith("match") or args[0] == "~"
            if args[0] == "~" and not key.endswith("match"):
                args = args[1:] or [""]
            if len(args) > 1:
                raise ConfigError(f"Multiple <{node.name}> arguments not (yet) supported.")
            if regex:
                try:
                    location_matcher(args[0], regex)
                except re.error as e:
                    raise ConfigError(f"Regex could not be compiled: {e}") from None
            kind = "directory" if key in _DIRECTORIES else "files"
            draft = _AccessDraft(kind, args[0], regex, scope.vhost, node.file, node.line)
            if scope.kind != DIR:
                self.access.append(draft)
            elif parent is not None and parent.kind == "directory":
                parent.nested.append(draft)
            # else: <Files> in <Files> or <If>: httpd's file walk never reaches it
        self._walk(node.children, _Scope(DIR, node.name, scope.vhost, None, draft, (),
                                         scope.location))

    def _resolve(self, host: str, node: Node) -> list[str | None]:
        """The IP addresses of a <VirtualHost> host (None: the wildcard), as httpd looks them
        up; a name that does not resolve is ignored with httpd's error."""
        if host == "*" or host.lower() == "_default_":
            return [None]
        try:
            ip = ipaddress.ip_address(host)
            return [None if ip.is_unspecified else str(ip)]
        except ValueError:
            pass
        try:
            found = self.names.addresses(host)
        except (OSError, UnicodeError) as e:
            log.error("%s:%d: Could not resolve host name %s -- ignoring! (%s)",
                      node.file, node.line, host, e)
            return []
        return [None if ipaddress.ip_address(ip).is_unspecified else ip
                for ip in dict.fromkeys(found)]

    def _vhost_addresses(self, node: Section, args: Sequence[str]) -> list[VirtualHostAddress]:
        addresses = []
        for word in args:
            parsed = directives.parse_vhost_address(word)
            if parsed is None:
                continue
            host, port = parsed
            for ip in self._resolve(host, node):
                addresses.append(VirtualHostAddress(ip, ANY_PORT if port is None else port,
                                                    host))
        return addresses

    def _condition(self, node: Section, args: Sequence[str]) -> bool:
        if node.key == "ifversion":
            return directives.if_version(args)
        if len(args) > 1:
            raise ConfigError(f"<{node.name}> takes one argument")
        name = args[0].removeprefix("!")
        if node.key == "ifmodule":
            found = name in self.modules
        elif node.key == "ifdefine":
            found = name in self.defines
        else:
            found = os.path.exists(os.path.join(self.root, name))
        return found != args[0].startswith("!")

    def _location(self, node: Section, args: Sequence[str], scope: _Scope) -> None:
        regex = node.key == "locationmatch" or args[0] == "~"
        if node.key == "location" and args[0] == "~":
            args = args[1:] or [""]
        if len(args) > 1:
            raise ConfigError(f"Multiple <{node.name}> arguments not (yet) supported.")
        try:
            location_matcher(args[0], regex)  # as httpd, refuse a bad regex where it is read
        except re.error as e:
            raise ConfigError(f"Regex could not be compiled: {e}") from None
        access = _AccessDraft("location", args[0], regex, scope.vhost, node.file, node.line)
        draft = _Draft(node, args[0], regex, access, scope.vhost)
        self.access.append(access)
        self._walk(node.children, _Scope(DIR, node.name, scope.vhost, draft, access, (), draft))
        first = draft.first_websocket
        if first is not None and draft.websocket_at is None:
            # httpd accepts this; the section's module config, without a plugin, replaces
            # any earlier one, so the paths it matches are not WebSocket endpoints.
            log.warning("%s:%d: %s without WebSocketHandler in the same section: mod_websocket "
                        "does not merge sections, so paths matched here have no plugin",
                        first.file, first.line, first.name)
        self.drafts.append(draft)

    def _directive(self, node: Node, scope: _Scope) -> None:
        args = self._args(node)
        spec = directives.DIRECTIVES.get(node.key)
        if spec is None and (is_access_directive(node.key) or is_remoteip_directive(node.key)):
            self._access_line(node, args, scope)
            return
        if spec is None:
            log.debug("%s:%d: %s is not used by geows", node.file, node.line, node.name)
            return
        spec.check(args, scope.kind)
        _HANDLERS[node.key](self, node, args, scope)  # one method per table entry, below

    def _access_line(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        line = AccessLine(node.key, tuple(args), node.file, node.line, scope.containers)
        if is_remoteip_directive(node.key):  # server and vhost level only
            if scope.kind == DIR:
                raise ConfigError(_not_allowed(node.name, scope))
            (scope.vhost.remoteip_lines if scope.vhost else self.remoteip_lines).append(line)
        elif scope.kind != DIR and node.key in directives.PER_DIRECTORY_ACCESS:
            raise ConfigError(_not_allowed(node.name, scope))
        elif scope.access is not None:
            scope.access.lines.append(line)

    def _route(self, scope: _Scope, handler: str = WEBSOCKET_HANDLER) -> _Draft:
        """The <Location> a route to a handler geows serves (WebSocket or status page) is set
        in; ConfigError where geows cannot serve it."""
        if scope.kind in (SERVER, VHOST):
            raise ConfigError(f"SetHandler {handler} outside <Location> is not served "
                              "by this version of geows")
        if scope.draft is None:
            what = "WebSocket handlers" if handler == WEBSOCKET_HANDLER else "Status pages"
            raise ConfigError(f"{what} inside <{scope.section}> are not served by this "
                              "version of geows")
        return scope.draft

    @staticmethod
    def _mark(draft: _Draft, node: Node) -> _Draft:
        draft.first_websocket = draft.first_websocket or node
        return draft

    def _serverroot(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        root = os.path.abspath(args[0])
        if not os.path.isdir(root):
            raise ConfigError("ServerRoot must be a valid directory")
        self.root = root

    def _listen(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        host, port, protocol = directives.parse_listen(args)
        if any((other.host, other.port) == (host, port) for other in self.listeners):
            raise ConfigError("Cannot define multiple Listeners on the same IP:port")
        self.listeners.append(Listener(host, port, node.file, node.line, protocol))

    def _loadmodule(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self.modules |= directives.module_names(args[0])

    def _loglevel(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        main, modules = directives.parse_log_level(args)
        if scope.kind == SERVER:  # per-vhost and per-directory levels have nothing to apply to
            self.log_level = main or self.log_level
            self.module_log_levels.update(modules)

    def _define(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        _check_variable_name(args[0])
        self.defines.add(args[0])
        if len(args) == 2:
            self.variables[args[0]] = args[1]

    def _undefine(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        _check_variable_name(args[0])
        self.defines.discard(args[0])
        self.variables.pop(args[0], None)

    def _include(self, node: Node, args: Sequence[str], scope: _Scope,
                 optional: bool = False) -> None:
        path = os.path.join(self.root, args[0])
        if has_wildcard(args[0]):
            found = glob.glob(os.path.join(glob.escape(self.root), args[0]))
            if not found and not optional:
                raise ConfigError(f"No matches for the wildcard '{os.path.basename(path)}' "
                                  f"in '{os.path.dirname(path)}', failing "
                                  "(use IncludeOptional if required)")
        else:
            found = [path] if os.path.exists(path) or not optional else []
        # httpd sorts each directory level by name.
        for match in sorted(found, key=lambda p: p.split(os.sep)):
            for file in _files_under(match):
                self._walk_file(file, scope)

    def _includeoptional(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self._include(node, args, scope, optional=True)

    def _sethandler(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        handler = args[0].lower()  # as httpd stores it
        served = handler in (WEBSOCKET_HANDLER, STATUS_HANDLER)
        draft = self._route(scope, handler) if served else scope.draft
        if draft is not None:
            draft.handler = handler

    def _websockethandler(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        draft = self._mark(self._route(scope), node)
        draft.websocket_at = node
        draft.plugin, draft.init = args

    def _maxmessagesize(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        size = directives.parse_size(args[0])
        if args[0].strip(" \t").lstrip("+") != str(size):  # "10k", or past 2**63-1
            log.warning("%s:%d: MaxMessageSize %s is read as %d bytes, as mod_websocket "
                        "reads it", node.file, node.line, args[0], size)
        if scope.draft is not None:
            self._mark(scope.draft, node).max_message_size = size

    def _supportdraft75(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        flag = directives.parse_flag("SupportDraft75", args[0] if args else "")
        if scope.draft is not None:
            self._mark(scope.draft, node).support_draft75 = flag

    def _websocketmessagememory(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self.message_memory = directives.parse_message_memory(args[0])

    def _websocketdeflate(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        flag = directives.parse_flag("WebSocketDeflate", args[0] if args else "")
        if scope.draft is not None:
            self._mark(scope.draft, node).deflate = flag

    def _websocketorigin(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        origins = directives.parse_origins(args)
        if scope.draft is not None:
            self._mark(scope.draft, node).origins = origins

    def _websocketping(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        ping = directives.parse_ping(args)
        if scope.draft is not None:
            self._mark(scope.draft, node).ping = ping

    def _servername(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        name = directives.parse_server_name(args[0])
        self._log_draft(scope).port = directives.server_name_port(args[0])
        if scope.vhost is not None:
            scope.vhost.server_name = name
        else:
            self.server_name = name

    def _serveralias(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        if scope.vhost is None:
            raise ConfigError("ServerAlias only used in <VirtualHost>")
        scope.vhost.aliases = [*(scope.vhost.aliases or ()), *args]

    def _requestreadtimeout(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        header = directives.parse_request_read_timeout(args)
        if header is not None and scope.kind == SERVER:
            self.header = header

    def _limitrequestline(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        # Named by RequestLimits' (and RequestParser's) arguments: limit_request_line...
        key = {"limitrequestline": "limit_request_line",
               "limitrequestfields": "limit_request_fields",
               "limitrequestfieldsize": "limit_request_field_size"}[node.key]
        value = directives.parse_request_limit(directives.DIRECTIVES[node.key].name, args[0])
        (scope.vhost.request_limits if scope.vhost else self.request_limits)[key] = value

    _limitrequestfields = _limitrequestfieldsize = _limitrequestline

    def _maxrequestworkers(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        # Read with atoi, as the MPM does; it raises a value under its minimum, warning.
        number = directives.atoi(args[0])
        if number < 1:
            log.warning("%s:%d: WARNING: MaxRequestWorkers of %s is less than 1, increasing "
                        "to 1", node.file, node.line, args[0])
        self.max_connections = max(number, 1)

    _maxclients = _maxrequestworkers

    def _startservers(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        number = directives.atoi(args[0])
        if number < 1:
            log.warning("%s:%d: WARNING: StartServers of %s is less than 1, increasing to 1",
                        node.file, node.line, args[0])
        elif number > limits.MAX_WORKERS:
            log.warning("%s:%d: WARNING: StartServers of %s exceeds ServerLimit of %d, "
                        "decreasing to match", node.file, node.line, args[0], limits.MAX_WORKERS)
        self.process["workers"] = min(max(number, 1), limits.MAX_WORKERS)

    def _pidfile(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self.process["pid_file"] = os.path.join(self.root, args[0])

    def _user(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self.process["user"] = directives.parse_account("user", args[0],
                                                        lambda name: pwd.getpwnam(name).pw_uid)

    def _group(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self.process["group"] = directives.parse_account("group", args[0],
                                                         lambda name: grp.getgrnam(name).gr_gid)

    def _gracefulshutdowntimeout(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        seconds = directives.atoi(args[0])  # as the MPM reads it; 0 (or less): no limit
        self.process["graceful_shutdown_timeout"] = float(seconds) if seconds > 0 else None

    def _documentroot(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        if scope.vhost is not None:
            scope.vhost.document_root = (node, args[0])
        else:
            self.document_root = (node, args[0])

    def _alias(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        if len(args) == 2:
            if scope.kind == DIR:
                raise ConfigError(f"{node.name} cannot occur within directory context")
            self._add_alias(Alias(args[0], args[1], False, node.file, node.line), scope)
        elif scope.kind != DIR:
            raise ConfigError(f"{node.name} must have two arguments when used globally")
        elif scope.location is None or scope.access is None or scope.access.kind == "if":
            raise ConfigError(f"{node.name} cannot occur within <{scope.section}> section")
        else:  # the file every request of the <Location> maps to (an ap_expr string)
            scope.location.alias = (args[0], node.file, node.line)

    _scriptalias = _alias

    def _aliasmatch(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        try:
            alias = Alias(args[0], args[1], True, node.file, node.line)
        except re.error:
            raise ConfigError("Regular expression could not be compiled.") from None
        self._add_alias(alias, scope)

    _scriptaliasmatch = _aliasmatch

    def _add_alias(self, alias: Alias, scope: _Scope) -> None:
        (scope.vhost.path_aliases if scope.vhost else self.aliases).append(alias)

    def _allowoverride(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        directives.check_overrides(node.key, args)
        # httpd reads .htaccess files on its walk of the plain <Directory> sections only.
        if scope.access is not None and scope.access.kind == "directory" and not scope.access.regex:
            self.overrides.append((node, args, scope.access))

    _allowoverridelist = _allowoverride


    def _proxypass(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        if scope.kind == DIR:
            # mod_proxy takes `ProxyPass URL` inside a <Location>; geows reads only the
            # server's and the vhosts' lines, and says so rather than ignore it silently.
            log.warning("%s:%d: ProxyPass inside <%s> is not honoured by geows: requests it "
                        "would forward get 404 from geows", node.file, node.line, scope.section)
            return
        if len(args) < 2:
            raise ConfigError("ProxyPass needs a path when not defined in a location")
        prefix, target, params = args[0], args[1], args[2:]
        backend, backend_path, upgrade = None, "", paths.DEFAULT_UPGRADE
        if target != "!":
            parsed = directives.parse_proxy_target(target, params)
            if isinstance(parsed, str):
                log.warning("%s:%d: ProxyPass %s %s: %s; geows answers 404 for %s",
                            node.file, node.line, prefix, target, parsed, prefix)
            else:
                backend, backend_path, upgrade = parsed[:2], parsed[2], parsed[3]
        line = ProxyPass(prefix, backend, backend_path, node.file, node.line, upgrade)
        (scope.vhost.proxy_passes if scope.vhost else self.proxy_passes).append(line)

    # core's ErrorLog and mod_log_config's directives: each sets the logs of its server.

    def _log_draft(self, scope: _Scope) -> _LogDraft:
        return scope.vhost.logs if scope.vhost is not None else self.logs

    def _errorlog(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self._log_draft(scope).error_log = (node, args[0])

    def _logformat(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        LogFormat.parse(args[0])  # refused here, as httpd refuses it
        if len(args) == 2:
            self._log_draft(scope).formats[args[1]] = args[0]
        else:
            self._log_draft(scope).default_format = args[0]

    def _customlog(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        condition = directives.parse_log_condition(args[2]) if len(args) == 3 else None
        LogFormat.parse(args[1])  # a nickname is text without items: it parses too
        self._log_draft(scope).lines.append(_LogLine(node, args[0], args[1], condition,
                                                     everywhere=node.key == "globallog"))

    _globallog = _customlog

    def _transferlog(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self._log_draft(scope).lines.append(_LogLine(node, args[0], None))

    # mod_ssl's directives: each sets the TLS draft of the server it is in.

    def _tls_draft(self, scope: _Scope) -> _TlsDraft:
        return scope.vhost.tls if scope.vhost is not None else self.tls

    def _sslengine(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        on = directives.parse_ssl_engine(args[0])
        self._tls_draft(scope).engine = Located("on" if on else "off", node.file, node.line)

    def _tls_file(self, node: Node, arg: str) -> Located:
        """A certificate or key file, ServerRoot-relative, checked where it is read as
        mod_ssl checks it (loading it is geows.runtime.tls's)."""
        path = os.path.join(self.root, arg)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise ConfigError(f"{node.name}: file '{path}' does not exist or is empty")
        return Located(path, node.file, node.line)

    def _sslcertificatefile(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self._tls_draft(scope).certificates.append(self._tls_file(node, args[0]))

    def _sslcertificatekeyfile(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self._tls_draft(scope).keys.append(self._tls_file(node, args[0]))

    def _sslcertificatechainfile(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self._tls_draft(scope).chain = self._tls_file(node, args[0])

    def _sslprotocol(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self._tls_draft(scope).protocols = directives.parse_ssl_protocol(args)

    def _sslciphersuite(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        tls13, ciphers = directives.parse_cipher_suite(args)
        located = Located(ciphers, node.file, node.line)
        if tls13:
            self._tls_draft(scope).tls13_ciphers = located
        else:
            self._tls_draft(scope).ciphers = located

    def _sslhonorcipherorder(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self._tls_draft(scope).honor_cipher_order = directives.parse_flag(node.name, args[0])

    def _sslsessiontickets(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        self._tls_draft(scope).session_tickets = directives.parse_flag(node.name, args[0])

    def _ssl_refused_when_on(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        if directives.parse_flag(node.name, args[0]):
            raise ConfigError(f"{node.name} {args[0]}: {directives.SSL_REFUSED_WHEN_ON[node.key]}"
                              "; geows refuses to start rather than serve TLS differently")

    _sslcompression = _sslinsecurerenegotiation = _ssl_refused_when_on
    _sslstrictsnivhostcheck = _sslfips = _ssl_refused_when_on

    def _ssl_refused(self, node: Node, args: Sequence[str], scope: _Scope) -> None:
        raise ConfigError(f"{node.name}: {directives.SSL_REFUSED[node.key]}; geows refuses to "
                          "start rather than serve TLS differently")

    _sslopensslconfcmd = _sslsrpverifierfile = _ssl_refused


def _not_allowed(name: str, scope: _Scope) -> str:
    """httpd's message for a directive in a context its module does not allow."""
    if scope.kind == SERVER:
        return f"{name} not allowed here"
    return f"{name} not allowed in <{scope.section}> context"


# Each entry of the directive table to its _Reader method: "listen" -> _Reader._listen.
_HANDLERS: dict[str, _Handler] = {key: getattr(_Reader, f"_{key}")
                                  for key in directives.DIRECTIVES}


def _check_variable_name(name: str) -> None:
    if ":" in name:
        raise ConfigError("Variable name must not contain ':'")


def _files_under(path: str) -> list[str]:
    """A file, or every file below a directory, each level in name order."""
    if not os.path.isdir(path):
        return [path]
    return [file for name in sorted(os.listdir(path))
            for file in _files_under(os.path.join(path, name))]
