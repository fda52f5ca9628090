"""What geows serves, as read from httpd.conf: listeners, locations and their settings, and
the route of a request through them (Config.route: vhost, sections, handler, ProxyPass)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial

from geows import limits
from geows.cluster.url import BroadcastSettings
from geows.config import paths
from geows.config.access_lines import ACCESS_CONTAINERS, AccessLine, is_access_directive
from geows.config.logs import LogTarget, ServerLogs
from geows.config.paths import DEFAULT_DOCUMENT_ROOT, Alias, ProxyPass, compile_pcre
from geows.config.plugin_modules import PluginModules
from geows.config.tls_settings import TlsSettings
from geows.config.vhosts import RequestLimits, VirtualHost, VirtualHostTable
from geows.errors import ConfigError
from geows.messages import CLUSTER
from geows.strings import shared

WEBSOCKET_HANDLER = "websocket-handler"
# geows' status page; Apache's mod_status is "server-status", so both pages can coexist.
STATUS_HANDLER = "geows-status"


@dataclass(frozen=True)
class Listener:
    """One `Listen` directive."""

    host: str | None  # None: all addresses; an IPv6 literal without brackets
    port: int
    file: str
    line: int
    protocol: str = "http"  # "https": TLS, whatever the servers on it say


def host_port(host: str | None, port: int) -> str:
    """An address as httpd writes it: IPv6 in brackets, * for all addresses."""
    host = host or "*"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class ProcessSettings:
    """How the processes run, from the MPM's and the main server's directives."""

    workers: int = limits.WORKERS  # StartServers: worker processes, a fixed number
    pid_file: str | None = None  # PidFile, absolute; None: none is written
    user: str | None = None   # User and Group (mod_unixd): what workers run as, under root
    group: str | None = None
    # GracefulShutdownTimeout: how long a graceful stop lets connections go on (None: no
    # limit, httpd's 0), and how long a stop waits for the closing handshakes.
    graceful_shutdown_timeout: float | None = None


# WebSocketOriginCheck's values, lowercased
ORIGIN_OFF, ORIGIN_SAME, ORIGIN_TRUSTED = "off", "same", "trusted"


@dataclass(frozen=True, kw_only=True)
class WebSocketSettings:
    """mod_websocket's per-directory config, from one section."""

    plugin: str  # absolute path
    init: str
    file: str    # where the WebSocketHandler directive is
    line: int
    max_message_size: int = limits.MAX_MESSAGE_SIZE
    support_draft75: bool = False
    deflate: bool = True  # geows' WebSocketDeflate: offer permessage-deflate (RFC 7692)
    # WebSocketOriginCheck: "same" (the default), "trusted" or "off"; and the
    # WebSocketTrustedOrigins (with geows' older WebSocketOrigin's), compared byte for byte.
    origin_check: str = ORIGIN_SAME
    trusted_origins: tuple[str, ...] = ()
    # WebSocketAllowReservedStatusCodes: a client's close with a reserved code is answered.
    allow_reserved_codes: bool = False
    # geows' WebSocketPing: (seconds of silence before a ping, seconds then to wait for any
    # byte before failing the connection); None: never (an open WebSocket never times out).
    ping: tuple[float, float] | None = None
    # WebSocketBroadcastScope: "cluster" (through Redis, when WebSocketBroadcast names it)
    # or "host" (this host's workers only).
    broadcast_scope: str = CLUSTER

    @property
    def c_plugin(self) -> bool:
        """A shared object (loaded by ctypes), not a Python file."""
        return self.plugin.endswith(".so")

    def origin_refusal(self, origin: str | None, own_origin: str) -> str | None:
        """Why the maintained mod_websocket refuses a handshake with this Origin, or None.
        A handshake without one always passes: it is not made by a browser on a user's
        behalf, and a client that leaves it out could as well send an allowed one."""
        if origin is None or self.origin_check == ORIGIN_OFF:
            return None
        if self.origin_check == ORIGIN_SAME:
            if origin != own_origin:
                return (f"Origin '{origin[:100]}' is not the request's own origin "
                        f"'{own_origin}' (WebSocketOriginCheck Same)")
        elif origin not in self.trusted_origins:
            return (f"Origin '{origin[:100]}' is not a WebSocketTrustedOrigin "
                    "(WebSocketOriginCheck Trusted)")
        return None


@dataclass(frozen=True, kw_only=True)
class LocationSection:
    """One <Location>, <Location ~ re> or <LocationMatch>, of the main server or a vhost."""

    pattern: str   # as written
    regex: bool
    handler: str | None  # SetHandler's value, lowercased ("none" included)
    websocket: WebSocketSettings | None  # set by WebSocketHandler
    file: str      # the section's opening line
    line: int
    vhost: VirtualHost | None = None  # None: the main server's, which every vhost inherits
    # Any of mod_websocket's directives here: the module has no merge function, so this
    # section's config (without a plugin if it has no WebSocketHandler) replaces an earlier's.
    websocket_config: bool = False
    # An Alias inside it (target as written, file, line): mod_alias maps every request it
    # matches to that file, before any other alias. The target is an ap_expr string.
    alias: tuple[str, str, int] | None = None
    # The same <Location>'s access directives, None if it holds none (not even in a nested
    # <If>): what a request's walk merges where the section matches.
    access: AccessSection | None = field(default=None, repr=False, compare=False)
    _match: Callable[[str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_match", location_matcher(self.pattern, self.regex))

    def matches(self, path: str) -> bool:
        """Whether httpd's location walk applies this section to `path` (decoded URI path)."""
        return self._match(path)

    @property
    def name(self) -> str:
        """The section as an operator knows it, the same in every worker and across reloads
        of an unchanged section: `<Location /echo>`, with its vhost's name if it has one."""
        kind = "LocationMatch" if self.regex else "Location"
        where = ""
        if self.vhost is not None:
            addresses = " ".join(map(str, self.vhost.addresses))
            where = f" in <VirtualHost {addresses}> {self.vhost.server_name or ''}".rstrip()
        return f"<{kind} {self.pattern}>{where}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a request path resolves to."""

    section: LocationSection  # the last matching section that set the websocket settings
    settings: WebSocketSettings


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    """What httpd decides for one request from its path, Host and local address (Config.route):
    made once per request and handed to the access check, the handler and the access log
    (slots: each idle connection keeps its own)."""

    vhost: VirtualHost | None  # None: the main server
    sections: tuple[LocationSection, ...]  # the <Location>s that apply, in merge order
    handler: str | None  # SetHandler's merged value (lowercased, "none" included)
    endpoint: Endpoint | None  # the WebSocket endpoint, if the merge makes one
    proxy_pass: ProxyPass | None  # the first ProxyPass line that applies
    file_name: str  # what translate_name maps the path to (Config.file_name)
    logs: ServerLogs  # the serving server's access logs

    @property
    def access_locations(self) -> list[AccessSection]:
        """The access sections of the <Location>s that apply, in merge order."""
        return [section.access for section in self.sections if section.access is not None]


@dataclass(frozen=True, kw_only=True)
class AccessSection:
    """The access directives of one config section, which httpd merges into a request's
    access configuration when the section applies to it (Config.access_sections).

    Sections without any (in them or in their nested sections) are not recorded: they
    change nothing in the access modules' merges. <Proxy>/<ProxyMatch> sections are not
    recorded either: they apply to proxied requests only, never to a WebSocket request.
    """

    kind: str      # "server", "vhost", "directory", "files", "location" or "if"
    pattern: str   # as written: path, glob or regex; <If>/<ElseIf>'s expression; "" otherwise
    regex: bool    # <DirectoryMatch>, <Directory ~>, <FilesMatch>, <Files ~>, <LocationMatch>...
    vhost: VirtualHost | None  # None: the main server's
    file: str      # the section's opening line ("server": the main config file, line 0)
    line: int
    lines: tuple[AccessLine, ...]
    files: tuple[AccessSection, ...] = ()  # a <Directory>'s nested <Files> sections
    ifs: tuple[AccessSection, ...] = ()    # nested <If>/<ElseIf>/<Else> sections
    # A plain <Directory>'s path as httpd compares it (canonical, trailing slash; a relative
    # one from /, httpd's working directory as a service) and its number of slashes, by
    # which httpd sorts them ("/": 0, it always applies).
    directory: str = field(init=False, repr=False, compare=False)
    depth: int = field(init=False, repr=False, compare=False)
    _match: Callable[[str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        directory, depth = "", 0
        if self.kind == "directory" and not self.regex:
            directory = paths.canonical(os.path.join("/", self.pattern)).rstrip("/") + "/"
            depth = 0 if directory == "/" else directory.count("/")
        object.__setattr__(self, "directory", directory)
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "_match", _section_matcher(self.kind, directory or self.pattern,
                                                            self.regex))

    def matches(self, text: str) -> bool:
        """Whether this section applies to `text`: the URI path (location), the file name's
        last component (files), the walked directory at this section's depth with a
        trailing slash (plain directory) or the whole file name (regex directory)."""
        return self._match(text)


def _section_matcher(kind: str, pattern: str, regex: bool) -> Callable[[str], bool]:
    if kind == "location" or regex:
        return location_matcher(pattern, regex)
    if kind in ("directory", "files"):  # apr_fnmatch with APR_FNM_PATHNAME, or strcmp
        if has_wildcard(pattern):
            return re.compile(_glob_regex(pattern)).fullmatch  # type: ignore[return-value]
        return pattern.__eq__
    return _always  # server, vhost: always; <If>: geows cannot evaluate it


def _always(text: str) -> bool:
    return True


@dataclass(frozen=True)
class Override:
    """An AllowOverride or AllowOverrideList line in a plain <Directory>: what .htaccess
    files in that directory and below may set. httpd reads .htaccess files while it walks
    the plain <Directory> sections only, so one in a regex section, <Files>, <Location> or
    <If> does nothing (httpd warns "Useless use of AllowOverride" for most)."""

    name: str         # as written: AllowOverride or AllowOverrideList
    args: tuple[str, ...]
    directory: AccessSection  # its <Directory> (kind "directory", perhaps without lines)
    file: str
    line: int

    @property
    def grants_access(self) -> bool:
        """Whether .htaccess files may then hold access directives, or directives that
        refuse or remap requests: AllowOverride's AuthConfig, Limit, FileInfo (RewriteRule,
        Redirect: httpd answers a 403, a redirect, or a 500 where their module is not
        loaded, never the handler) or All (the last None resets), or one of them listed in
        AllowOverrideList."""
        if self.name.lower() == "allowoverridelist":
            return any(is_access_directive(name.lower().lstrip("<"))
                       or name.lower().lstrip("<") in ACCESS_CONTAINERS for name in self.args)
        granted: set[str] = set()
        for word in self.args:
            word = word.partition("=")[0].lower()  # Options=...; httpd ignores any other value
            granted = set() if word == "none" else granted | {word}
        return bool(granted & {"authconfig", "limit", "fileinfo", "all"})


@dataclass(kw_only=True)
class Config:
    """The parts of an httpd.conf geows serves.

    header_timeout_max is infinite when MinRate extends the timeout without a cap, and
    equals header_timeout when it is not extended (header_min_rate 0).
    """

    file: str  # the main config file, absolute
    server_root: str
    listeners: list[Listener]
    log_level: str = "warn"
    module_log_levels: dict[str, str] = field(default_factory=dict)  # "websocket" -> "debug"
    locations: list[LocationSection] = field(default_factory=list)   # in file order
    header_timeout: float = limits.HEADER_TIMEOUT
    header_timeout_max: float = limits.HEADER_TIMEOUT_MAX
    header_min_rate: int = limits.HEADER_MIN_RATE
    modules: frozenset[str] = frozenset()  # both "x_module" and "mod_x.c" spellings
    virtual_hosts: list[VirtualHost] = field(default_factory=list)  # in file order
    # The main server's; a vhost's are on its VirtualHost.
    document_root: str = DEFAULT_DOCUMENT_ROOT  # absolute, canonical
    aliases: tuple[Alias, ...] = ()  # in file order, the order mod_alias tries them
    remoteip_lines: tuple[AccessLine, ...] = ()  # mod_remoteip's directives
    # Every recorded access section in file order, nested ones inside their parents; the
    # main server's and each vhost's own ("server"/"vhost": the directives outside any
    # section, the base of every merge) where they have access directives.
    access: list[AccessSection] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)  # in file order
    proxy_passes: tuple[ProxyPass, ...] = ()  # the main server's, in file order
    # The first access directive of each <Proxy>/<ProxyMatch> that has any: geows does
    # not walk those sections, so it must not forward where they exist.
    proxy_access: tuple[AccessLine, ...] = ()
    tls: TlsSettings | None = None  # the main server's, with SSLEngine on
    request_limits: RequestLimits = RequestLimits()  # the main server's
    max_connections: int | None = None  # MaxRequestWorkers; None: from RLIMIT_NOFILE (server)
    error_log: LogTarget | None = None  # the main server's ErrorLog; None: stderr
    logs: ServerLogs = ServerLogs()  # the main server's access logs; a vhost's are on it
    process: ProcessSettings = ProcessSettings()
    # WebSocketMessageMemory: the bytes each worker's incomplete messages may hold together.
    message_memory: int = limits.MESSAGE_MEMORY
    # WebSocketWatchdog: how long a worker's event loop may be held before it is reported;
    # None: Off.
    watchdog: float | None = limits.WATCHDOG
    broadcast: BroadcastSettings | None = None  # WebSocketBroadcast*; None: Off
    plugin_modules: PluginModules | None = None  # LoadModule'd plugin modules; None: none
    _vhost_table: VirtualHostTable | None = field(default=None, init=False, repr=False,
                                                  compare=False)
    _plans: dict[int, _Plan] = field(default_factory=dict, init=False, repr=False,
                                     compare=False)  # by id() of the vhost (or of None)

    def virtual_host(self, host: str | None, port: int,
                     local_ip: str | None = None) -> VirtualHost | None:
        """The <VirtualHost> httpd picks for a request with this Host header that came in
        on local_ip:port (the listening socket's address); None for the main server."""
        if not self.virtual_hosts:
            return None
        return self._vhosts().select(local_ip, port, host)

    def request_limits_for(self, port: int, local_ip: str | None = None) -> RequestLimits:
        """The head limits for a connection on local_ip:port: those of the server that
        answers there without a Host header (httpd reads the head with them, before it
        picks a vhost by name; checked against Debian's apache2)."""
        vhost = self._vhosts().default(local_ip, port)
        return self.request_limits if vhost is None else vhost.request_limits

    def servers_on(self, listener: Listener) -> list[VirtualHost | None]:
        """Every server that may answer on the listener: vhosts, and None for the main
        server when no vhost covers all the addresses it accepts on."""
        vhosts, main = self._vhosts().on_listener(listener.host, listener.port)
        return [*vhosts, None] if main else list(vhosts)

    def _vhosts(self) -> VirtualHostTable:
        if self._vhost_table is None:
            self._vhost_table = VirtualHostTable(self.virtual_hosts)
        return self._vhost_table

    def route(self, path: str, host: str | None = None, port: int | None = None,
              local_ip: str | None = None) -> Route:
        """The route of a request to `path` (decoded URI path) with this Host header that came
        in on local_ip:port, in one vhost selection and one pass over the <Location>s.

        The sections merge as httpd's location walk merges them: the main server's in file
        order, then the serving vhost's; the last SetHandler wins, and mod_websocket (no
        merge function) takes the last section with any of its directives whole. Without
        port, only the main server's sections and ProxyPass lines apply. mod_proxy merges a
        vhost's ProxyPass lines after the main server's (merge_proxy_config appends).
        """
        vhost = None if port is None else self.virtual_host(host, port, local_ip)
        sections = tuple(s for s in self._plan(vhost).locations if s.matches(path))
        handler = None
        chosen: LocationSection | None = None
        for section in sections:
            if section.handler is not None:
                handler = section.handler
            if section.websocket_config:
                chosen = section  # mod_websocket has no merge function: the last one wins whole
        endpoint = None
        if handler == WEBSOCKET_HANDLER and chosen is not None and chosen.websocket is not None:
            endpoint = Endpoint(chosen, chosen.websocket)
        lines = self.proxy_passes + (vhost.proxy_passes if vhost is not None else ())
        return Route(
            vhost=vhost, sections=sections, handler=handler, endpoint=endpoint,
            proxy_pass=next((line for line in lines if line.rewrite(path) is not None), None),
            # Shared: each idle connection keeps its route, and a location's are the same.
            file_name=shared(self._translate(path, vhost, sections)),
            logs=self.logs if vhost is None else vhost.logs)

    def websocket_sections(self) -> list[LocationSection]:
        """Sections that set the websocket-handler or mod_websocket settings."""
        return [section for section in self.locations
                if section.handler == WEBSOCKET_HANDLER or section.websocket_config]

    def status_sections(self) -> list[LocationSection]:
        """Sections that set the geows-status handler (the status page)."""
        return [section for section in self.locations if section.handler == STATUS_HANDLER]

    def served_sections(self) -> list[LocationSection]:
        """Every section whose requests geows answers itself: the guards against access
        rules geows cannot enforce look at these."""
        return self.websocket_sections() + self.status_sections()

    def location_names(self) -> dict[WebSocketSettings, str]:
        """Each WebSocketHandler's name (LocationSection.name of the section setting it):
        what a broadcast reaches across workers, and what the status page counts by."""
        names: dict[WebSocketSettings, str] = {}
        for section in self.locations:
            if section.websocket is not None:
                names.setdefault(section.websocket, section.name)
        return names

    def document_root_for(self, vhost: VirtualHost | None) -> str:
        """DocumentRoot of the vhost (None: main server), which inherits the main server's."""
        if vhost is not None and vhost.document_root is not None:
            return vhost.document_root
        return self.document_root

    def aliases_for(self, vhost: VirtualHost | None) -> tuple[Alias, ...]:
        """The aliases mod_alias tries for the vhost's requests, first match wins: the
        vhost's own, then the main server's."""
        return self.aliases if vhost is None else vhost.path_aliases + self.aliases

    def file_name(self, path: str, vhost: VirtualHost | None = None) -> str:
        """The file name httpd's translate_name gives the URI path (decoded): the Alias in
        the last matching <Location> that has one, else through the first matching alias,
        else under DocumentRoot; canonical, relative alias targets under ServerRoot.
        (mod_rewrite, mod_userdir and ProxyPass are not modelled.)"""
        return self._translate(path, vhost,
                               [s for s in self._plan(vhost).aliased if s.matches(path)])

    def _translate(self, path: str, vhost: VirtualHost | None,
                   sections: Sequence[LocationSection]) -> str:
        """file_name, given the <Location>s of the vhost that match `path`."""
        target = next((s.alias[0] for s in reversed(sections) if s.alias), None)
        if target is not None:
            return paths.canonical(os.path.join(self.server_root, target))
        for alias in self.aliases_for(vhost):
            found = alias.translate(path)
            if found is not None:
                return paths.canonical(os.path.join(self.server_root, found))
        return paths.canonical(f"{self.document_root_for(vhost)}/{path}")

    def access_sections(self, route: Route) -> list[AccessSection]:
        """The access sections httpd merges for a request on its route, in its merge order:
        the server's and the vhost's own directives; the <Directory> sections of the
        directories the walk reaches (plain ones by depth, main server's first at equal
        depth, then regex ones in file order); <Files> (top-level, then those nested in the
        matched directories) on the file name's last component; <Location> sections in file
        order, the main server's first; then <If> sections nested in all of those, each
        level of nesting after the one above it. The file system is looked at now, as httpd
        does per request (see paths.walk)."""
        plan = self._plan(route.vhost)
        levels, filename = paths.walk(route.file_name)
        directories = [section for section in plan.directories if section.depth == 0 or (
            section.depth <= len(levels) and section.matches(levels[section.depth - 1]))]
        directories += [section for section in plan.regex_directories
                        if section.matches(filename)]
        name = filename.rsplit("/", 1)[1]
        files = [section for section in (*plan.files, *(f for d in directories for f in d.files))
                 if section.matches(name)]
        return with_ifs([*plan.base, *directories, *files, *route.access_locations])

    def _plan(self, vhost: VirtualHost | None) -> _Plan:
        plan = self._plans.get(id(vhost))
        if plan is None:
            # The main server's sections before the vhost's, wherever they are in the files.
            plan = self._plans[id(vhost)] = _Plan(
                [s for s in self.access if s.vhost is None]
                + [s for s in self.access if vhost is not None and s.vhost is vhost],
                [s for s in self.locations if s.vhost is None]
                + [s for s in self.locations if vhost is not None and s.vhost is vhost])
        return plan

    def may_apply(self, section: AccessSection, websocket_section: LocationSection) -> bool:
        """Whether `section` may apply to some request that `websocket_section` serves: True
        unless provably not. Provably not: another vhost's; a plain <Location> unrelated to
        the WebSocket location's (neither a prefix of the other); a plain <Directory>
        unrelated (neither a prefix of the other) to every directory the location's requests
        can map to, on each server that serves it."""
        ws = websocket_section
        if section.vhost is not None and ws.vhost is not None and section.vhost is not ws.vhost:
            return False
        if section.kind == "location":
            return _related_locations(section, ws)
        if section.kind == "directory" and not section.regex:
            return any(mapped is None or any(_related(section.directory, d) for d in mapped)
                       for mapped in (self._mapped(ws, vhost)
                                      for vhost in self._servers(ws, section.vhost)))
        return True

    def _servers(self, ws: LocationSection,
                 vhost: VirtualHost | None = None) -> list[VirtualHost | None]:
        """The servers whose requests `ws` may serve (and that `vhost`'s sections see)."""
        if ws.vhost is not None or vhost is not None:
            return [ws.vhost or vhost]
        return [None, *self.virtual_hosts]  # the main server's sections are every vhost's

    def _mapped(self, ws: LocationSection, vhost: VirtualHost | None) -> list[str] | None:
        """The directories (canonical, trailing slash) at or below which the file names of
        `ws`'s requests on that server lie; None when unknown (a regex or glob location)."""
        if ws.regex or has_wildcard(ws.pattern):
            return None
        found = [self.file_name(ws.pattern, vhost)]
        for alias in self.aliases_for(vhost):
            if alias.regex:  # it may match some path below the location: its fixed part
                fixed = re.split(r"[$\\]", alias.real, maxsplit=1)[0]
                if not fixed:  # "$1": the match itself, which may be any absolute path
                    found.append("/")
                else:
                    found.append(fixed if fixed == alias.real else os.path.dirname(fixed))
            elif paths.alias_matches(alias.fake, ws.pattern):  # an alias below the location
                found.append(alias.real)
        found += [section.alias[0] for section in self._plan(vhost).aliased  # type: ignore[index]
                  if _related_locations(section, ws)]
        return [paths.canonical(os.path.join(self.server_root, f)).rstrip("/") + "/"
                for f in found]

    def check_alias_expressions(self) -> None:
        """ConfigError at an Alias inside a <Location> whose target is an expression geows
        cannot evaluate (%{...}), where it may map the requests of a location geows serves
        (WebSocket or status page): which <Directory> and <Files> sections apply to them
        would be unknown."""
        for section in self.locations:
            if section.alias is None or "%{" not in section.alias[0]:
                continue
            for ws in self.served_sections():
                if (section.vhost is None or ws.vhost is None or section.vhost is ws.vhost) \
                        and _related_locations(section, ws):
                    target, file, line = section.alias
                    raise ConfigError(
                        f"Alias {target}: geows cannot evaluate this expression, so it cannot "
                        f"tell which <Directory> sections apply to {_served(ws)} "
                        f"{ws.pattern} ({ws.file}:{ws.line}); it refuses to start rather than "
                        "serve it unguarded", file, line)

    def check_htaccess(self) -> None:
        """ConfigError at the AllowOverride (or AllowOverrideList) that lets httpd read
        access directives from .htaccess files on the paths of a location geows serves
        (WebSocket or status page): geows does not read them, so it would serve those paths
        unguarded."""
        if not any(override.grants_access for override in self.overrides):
            return  # the common case: .htaccess files hold no access directives anywhere
        for ws in self.served_sections():
            for vhost in self._servers(ws):
                mapped = self._mapped(ws, vhost)
                # httpd's walk order: by depth, the main server's first at equal depth.
                entries = sorted((o for o in self.overrides
                                  if o.directory.vhost is None or o.directory.vhost is vhost),
                                 key=lambda o: (o.directory.depth, o.directory.vhost is not None))
                for key in ("allowoverride", "allowoverridelist"):
                    found = _htaccess_grant([o for o in entries if o.name.lower() == key], mapped)
                    if found is not None:
                        override, where = found
                        raise ConfigError(
                            f"{override.name} {' '.join(override.args)} lets .htaccess "
                            f"files in {where} set access control or remap requests for "
                            f"{_served(ws)} "
                            f"{ws.pattern} ({ws.file}:{ws.line}); geows does not read .htaccess "
                            "files and refuses to start rather than serve it unguarded",
                            override.file, override.line)


class _Plan:
    """One server's access sections, grouped and ordered as httpd's walks try them, and
    its <Location> sections in merge order."""

    def __init__(self, sections: list[AccessSection], locations: list[LocationSection]):
        self.locations = locations
        self.aliased = [s for s in locations if s.alias]
        self.base = [s for s in sections if s.kind in ("server", "vhost")]
        plain = [s for s in sections if s.kind == "directory" and not s.regex]
        # ap_core_reorder_directories: plain ones by depth, in file order (main server's
        # first) at equal depth; regex ones after them, in file order.
        self.directories = sorted(plain, key=lambda s: s.depth)
        self.regex_directories = [s for s in sections if s.kind == "directory" and s.regex]
        self.files = [s for s in sections if s.kind == "files"]


def with_ifs(sections: list[AccessSection]) -> list[AccessSection]:
    """Sections and the <If>s nested in them, each level of nesting after the one above
    it, as httpd merges them."""
    merged, level = list(sections), [nested for s in sections for nested in s.ifs]
    while level:
        merged += level
        level = [nested for s in level for nested in s.ifs]
    return merged


def _served(section: LocationSection) -> str:
    """What a served section is, in an error message."""
    return "the status page" if section.handler == STATUS_HANDLER else "the WebSocket location"


def _related_locations(a: AccessSection | LocationSection, b: LocationSection) -> bool:
    """Whether two <Location> sections may match one request: a regex or a glob may, plain
    prefixes when one is a prefix of the other."""
    return (a.regex or b.regex or has_wildcard(a.pattern) or has_wildcard(b.pattern)
            or a.matches(b.pattern) or b.matches(a.pattern))


def _fixed(directory: str) -> str:
    """A plain <Directory> path up to its first segment with a wildcard."""
    if not has_wildcard(directory):
        return directory
    segments = directory.split("/")
    wild = next(i for i, segment in enumerate(segments) if has_wildcard(segment))
    return "/".join(segments[:wild]) + "/"


def _related(directory: str, mapped: str) -> bool:
    """Whether a plain <Directory> path and a directory may be one at or below the other."""
    directory = _fixed(directory)
    return mapped.startswith(directory) or directory.startswith(mapped)


def _htaccess_grant(entries: list[Override],
                    mapped: list[str] | None) -> tuple[Override, str] | None:
    """The first override (of one key, sorted as httpd's walk merges them) in effect at a
    directory the walk may reach that grants access directives, with that directory.

    The walk reads .htaccess in every directory from the root down, with the setting of
    the deepest <Directory> at or above it (the last at equal depth), so any directory
    above, at or below the mapped ones counts."""
    granting = [o for o in entries if o.grants_access]
    if not granting:
        return None
    if mapped is None:  # no knowing where the requests map to
        return granting[0], granting[0].directory.directory
    for directory in mapped:
        segments = directory.strip("/").split("/") if directory != "/" else []
        levels = ["/" + "".join(f"{s}/" for s in segments[:n]) for n in range(len(segments) + 1)]
        for n, level in enumerate(levels):
            effective = None
            for override in entries:
                depth = override.directory.depth
                if depth == 0 or (depth <= n + 1 and override.directory.matches(levels[depth - 1])):
                    effective = override
            if effective is not None and effective.grants_access:
                return effective, level
        for override in granting:  # below the mapped directory: some request may walk there
            below = override.directory.directory
            if below != directory and _fixed(below).startswith(directory):
                return override, below
    return None


def has_wildcard(pattern: str) -> bool:
    """apr_fnmatch_test: '*', '?', or a '[' closed by a ']'; a backslash escapes."""
    if "*" not in pattern and "?" not in pattern and "]" not in pattern:
        return False  # most paths: none of the characters that can make a wildcard
    chars = iter(pattern)
    bracket = False
    for c in chars:
        if c in "*?" or (c == "]" and bracket):
            return True
        if c == "\\":
            next(chars, None)
        bracket = bracket or c == "["
    return False


# Compiling regexes is most of the cost of loading a big config with many of them, and the
# reader compiles each where it reads it (a bad one is an error there, as in httpd), then
# builds the section at the end: compile each pattern once.
@lru_cache(maxsize=65536)
def location_matcher(pattern: str, regex: bool) -> Callable[[str], bool]:
    """Whether a path matches a section's pattern; re.error for a regex that does not compile.
    Picklable, as the whole Config is (the master hands workers the config it read)."""
    if regex:  # httpd uses PCRE, unanchored
        return partial(_found, compile_pcre(pattern).search)
    if has_wildcard(pattern):  # apr_fnmatch with APR_FNM_PATHNAME: the whole path
        return partial(_found, re.compile(_glob_regex(pattern)).fullmatch)
    return partial(_path_prefix, pattern)


def _found(match: Callable[[str], re.Match[str] | None], path: str) -> bool:
    return match(path) is not None


def _path_prefix(pattern: str, path: str) -> bool:
    """A prefix ending on a path segment boundary: /echo matches /echo/x, not /echoes."""
    return path.startswith(pattern) and (
        pattern.endswith("/") or len(path) == len(pattern) or path[len(pattern)] == "/")


def _glob_regex(pattern: str) -> str:
    """A regex for an fnmatch pattern in which no wildcard matches '/'."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i < len(pattern):
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "[" and (close := _set_end(pattern, i)):
            body = pattern[i:close - 1]
            negate = body[:1] in ("!", "^")
            members = "".join(ch if ch == "-" else re.escape(ch) for ch in body[negate:])
            out.append(f"[^/{members}]" if negate else f"(?!/)[{members}]")
            i = close
        else:
            out.append(re.escape(c))
    return "".join(out)


def _set_end(pattern: str, start: int) -> int:
    """The index after the ']' closing a set that starts at `start`, 0 if none."""
    if pattern[start:start + 1] in ("!", "^"):
        start += 1
    return pattern.find("]", start + 1) + 1  # a ']' first in the set is a member
