"""What a read of httpd.conf has set so far: the drafts of the servers, sections and logs
the directives fill in, the walk's Scope, and ReadState, the reader's state that the
modules' handlers (geows.config.modules) share. Pure data: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from geows import limits
from geows.cluster.url import RedisURL
from geows.config.access_lines import AccessContainer, AccessLine
from geows.config.directives import SERVER
from geows.config.logs import ServerLogs
from geows.config.model import ORIGIN_SAME, AccessSection, Listener
from geows.config.names import Names
from geows.config.paths import Alias, ProxyPass
from geows.config.tls_settings import Located, TlsSettings
from geows.config.tree import Node, Section
from geows.config.vhosts import VirtualHost, VirtualHostAddress
from geows.log_format import COMMON, LogFormat
from geows.messages import CLUSTER

# geows is mod_websocket, in both of its builds: loaded whether or not LoadModule says so.
ALWAYS_LOADED = frozenset({"mod_websocket.c", "websocket_module",
                           "mod_websocket_draft76.c", "websocket_draft76_module"})


@dataclass
class TlsDraft:
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

    def settings(self, main: TlsDraft) -> TlsSettings | None:
        """This server's TlsSettings, main's filling what it leaves unset; None without
        SSLEngine on. A certificate goes with its own server's keys, never the main's."""
        engine = self.engine or main.engine
        if engine is None or engine.value == "off":
            return None
        own = self.certificates or not main.certificates
        certificates, keys = (self.certificates, self.keys) if own else \
            (main.certificates, main.keys)
        return TlsSettings(
            engine=engine, certificates=tuple(certificates), keys=tuple(keys),
            chain=self.chain or main.chain, protocols=self.protocols or main.protocols,
            ciphers=self.ciphers or main.ciphers,
            tls13_ciphers=self.tls13_ciphers or main.tls13_ciphers,
            honor_cipher_order=_unless_none(self.honor_cipher_order, main.honor_cipher_order,
                                            False),
            session_tickets=_unless_none(self.session_tickets, main.session_tickets, True))


def _unless_none(*flags: bool | None) -> bool:
    """The first flag that is set."""
    return next(flag for flag in flags if flag is not None)  # type: ignore[misc]


@dataclass
class LogLine:
    """A CustomLog, TransferLog (no format: the server's default) or GlobalLog line."""

    node: Node
    target: str
    format: str | None  # a format string or a LogFormat nickname
    condition: str | None = None
    everywhere: bool = False  # GlobalLog: every vhost's too, even one with its own logs


@dataclass
class LogDraft:
    """A server's logging directives being read: mod_log_config opens its logs after the
    whole config is read, against the final ServerRoot and LogFormat nicknames."""

    error_log: tuple[Node, str] | None = None
    formats: dict[str, str] = field(default_factory=dict)  # LogFormat nicknames
    default_format: str | None = None  # the last LogFormat without a nickname
    lines: list[LogLine] = field(default_factory=list)
    port: int | None = None  # ServerName's, for %p

    def format(self, text: str | None, main: LogDraft | None) -> LogFormat:
        """A line's format: a nickname of this server's (or of the main server's), else
        the text itself; None: the last LogFormat without a nickname, else CLF."""
        formats = {**main.formats, **self.formats} if main is not None else self.formats
        if text is None:
            text = self.default_format or (main.default_format if main else None) or COMMON
        return LogFormat.parse(formats.get(text, text))


@dataclass
class VirtualHostDraft:
    """A <VirtualHost> being read; its names are final only after the whole config."""

    addresses: list[VirtualHostAddress]
    node: Node
    server_name: str | None = None
    aliases: list[str] | None = None
    document_root: tuple[Node, str] | None = None  # DocumentRoot and its path, resolved at the end
    path_aliases: list[Alias] = field(default_factory=list)
    remoteip_lines: list[AccessLine] = field(default_factory=list)
    proxy_passes: list[ProxyPass] = field(default_factory=list)
    tls: TlsDraft = field(default_factory=TlsDraft)
    request_limits: dict[str, int] = field(default_factory=dict)  # RequestLimits' fields set
    logs: LogDraft = field(default_factory=LogDraft)
    built: VirtualHost | None = None


class AccessDraft:
    """A config section's access directives being read (see model.AccessSection)."""

    __slots__ = ("kind", "pattern", "regex", "vhost", "file", "line", "lines", "nested", "built")

    def __init__(self, kind: str, pattern: str, regex: bool, vhost: VirtualHostDraft | None,
                 file: str, line: int):
        self.kind, self.pattern, self.regex, self.vhost = kind, pattern, regex, vhost
        self.file, self.line = file, line
        self.lines: list[AccessLine] = []
        self.nested: list[AccessDraft] = []  # a <Directory>'s <Files>, any section's <If>s
        self.built: AccessSection | None = None


@dataclass(slots=True)
class LocationDraft:
    """A <Location> being read: what its directives set so far."""

    node: Section
    pattern: str
    regex: bool
    access: AccessDraft  # its access directives
    vhost: VirtualHostDraft | None = None
    handler: str | None = None
    first_websocket: Node | None = None  # the first mod_websocket directive, for errors
    websocket_at: Node | None = None     # the WebSocketHandler directive
    plugin: str = ""
    init: str = ""
    max_message_size: int = limits.MAX_MESSAGE_SIZE
    support_draft75: bool = False
    deflate: bool = True
    origin_check: str = ORIGIN_SAME
    trusted_origins: tuple[str, ...] = ()
    allow_reserved_codes: bool = False
    ping: tuple[float, float] | None = None
    broadcast_scope: str = CLUSTER  # WebSocketBroadcastScope
    alias: tuple[str, str, int] | None = None  # an Alias in it: target, file, line


class Scope(NamedTuple):  # a NamedTuple: as immutable as a frozen dataclass, faster to make
    """Where the walk is: kind is the directive table's SERVER, VHOST or DIR."""

    kind: str
    section: str = ""            # the innermost non-conditional section, as written
    vhost: VirtualHostDraft | None = None  # anywhere inside a <VirtualHost>
    access: AccessDraft | None = None  # where access directives here go; None: nowhere
    containers: tuple[AccessContainer, ...] = ()  # enclosing <Limit>, <RequireAll>...
    location: LocationDraft | None = None  # the enclosing <Location>/<LocationMatch>



def not_allowed(name: str, scope: Scope) -> str:
    """httpd's message for a directive in a context its module does not allow."""
    if scope.kind == SERVER:
        return f"{name} not allowed here"
    return f"{name} not allowed in <{scope.section}> context"


class ReadState:
    """Everything a read has set so far. Each module's handler class (geows.config.modules)
    extends it and fills in its own part; the reader inherits them all and walks the tree."""

    def __init__(self, root: str, defines: Iterable[str], names: Names, guard: bool = True):
        self.root = root
        self.names = names
        self.guard = guard
        self.defines = set(defines)
        self.variables: dict[str, str] = {}
        self.modules = set(ALWAYS_LOADED)
        self.reading: list[str] = []  # files being read, to refuse include loops
        self.listeners: list[Listener] = []
        self.drafts: list[LocationDraft] = []
        self.vhosts: list[VirtualHostDraft] = []
        self.server_name: str | None = None
        self.log_level = "warn"
        self.module_log_levels: dict[str, str] = {}
        self.header = (limits.HEADER_TIMEOUT, limits.HEADER_TIMEOUT_MAX, limits.HEADER_MIN_RATE)
        self.tls = TlsDraft()  # the main server's mod_ssl directives
        self.request_limits: dict[str, int] = {}  # the main server's LimitRequest* set
        self.max_connections: int | None = None
        self.message_memory = limits.MESSAGE_MEMORY
        self.watchdog: float | None = limits.WATCHDOG
        # WebSocketBroadcast's URL and line (None: Off), WebSocketBroadcastPrefix and -History.
        self.broadcast: tuple[RedisURL, Node] | None = None
        self.broadcast_prefix = limits.BROADCAST_PREFIX
        self.broadcast_history = limits.BROADCAST_HISTORY
        self.process: dict[str, object] = {}  # ProcessSettings' fields the config sets
        self.plugins: dict[str, str] = {}  # WebSocketHandler's file -> its absolute path
        self.document_root: tuple[Node, str] | None = None  # the main server's DocumentRoot
        # The first UseCanonicalName On or UseCanonicalPhysicalPort On: they change the port
        # of the request's own origin (ap_get_server_port), which geows does not model.
        self.canonical_port: Node | None = None
        self.aliases: list[Alias] = []
        self.remoteip_lines: list[AccessLine] = []
        self.proxy_passes: list[ProxyPass] = []
        self.access: list[AccessDraft] = []  # top-level sections, in file order
        self.overrides: list[tuple[Node, Sequence[str], AccessDraft]] = []
        self.proxy_access: list[AccessDraft] = []  # <Proxy>/<ProxyMatch> sections' rules
        self.logs = LogDraft()  # the main server's
        self.main_logs = ServerLogs()  # the main server's, once read

    def _log_draft(self, scope: Scope) -> LogDraft:
        """The logs of the server the scope is in (ServerName's port goes there too)."""
        return scope.vhost.logs if scope.vhost is not None else self.logs
