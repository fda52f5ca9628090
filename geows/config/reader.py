"""Read an httpd.conf as httpd does, into geows' Config.

One in-order pass over the tree: ServerRoot, LoadModule, Define, ${VAR}, Include and the
<If...> conditions take effect where they appear, like httpd's EXEC_ON_READ directives.
The walk is here, with those directives and the sections; every other directive is
handled by the httpd module that declares it, one file each in geows.config.modules
(its directive table and its handlers), which the reader inherits.
"""

from __future__ import annotations

import gc
import glob
import ipaddress
import logging
import operator
import os
import re
from collections.abc import Callable, Iterable, Sequence

from geows.config import directives, paths
from geows.config.access_lines import (
    ACCESS_CONTAINERS,
    AccessContainer,
    AccessLine,
    is_access_directive,
    is_remoteip_directive,
)
from geows.config.declared import DIRECTIVES as DECLARED
from geows.config.declared import Declarations, unknown_module
from geows.config.directives import ANYWHERE, DIR, SERVER, SERVER_ONLY, VHOST, Spec, table
from geows.config.drafts import AccessDraft, LocationDraft, Scope, VirtualHostDraft, not_allowed
from geows.config.lexer import split_words
from geows.config.logs import LogTarget
from geows.config.model import Config, Override, ProcessSettings, has_wildcard, location_matcher
from geows.config.modules import (
    access,
    core,
    mod_alias,
    mod_log_config,
    mod_proxy,
    mod_ssl,
    mod_websocket,
    mpm,
)
from geows.config.names import Names
from geows.config.plugin_modules import PluginModuleDrafts
from geows.config.tls_settings import check_tls
from geows.config.tree import Node, Section, parse
from geows.config.vhosts import ANY_PORT, RequestLimits, VirtualHost, VirtualHostAddress
from geows.errors import ConfigError

log = logging.getLogger("geows.config")

# core's directives that act while the config is read, handled by the walk itself.
WALK_DIRECTIVES = table(
    Spec("ServerRoot", 1, 1, SERVER_ONLY, "the directory other relative paths start from"),
    Spec("LoadModule", 2, 2, SERVER_ONLY,
         "a module name and the name of a shared object file to load it from"),
    Spec("Define", 1, 2, ANYWHERE, "a variable name and an optional value"),
    Spec("UnDefine", 1, 1, ANYWHERE, "the name of a variable to undefine"),
    Spec("Include", 1, 1, ANYWHERE, "a config file, directory or wildcard pattern"),
    Spec("IncludeOptional", 1, 1, ANYWHERE, "a config file, directory or wildcard pattern"),
)

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
        # here: `import geows.config` loads no socket (docs/explanation/layout.md)
        from geows import dns

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


_Handler = Callable[["_Reader", Node, Sequence[str], Scope], None]


class _Reader(core.CoreDirectives, mpm.MpmDirectives, mod_alias.AliasDirectives,
              mod_proxy.ProxyDirectives, mod_log_config.LogDirectives, mod_ssl.SslDirectives,
              mod_websocket.WebSocketDirectives, access.AccessDirectives):
    """The walk of the tree; the handlers of the directives are its modules' (base classes)."""

    def read(self, file: str) -> Config:
        server = AccessDraft("server", "", False, None, file, 0)
        self.access.append(server)
        self.declared = Declarations()
        self.plugin_modules = PluginModuleDrafts()
        self._walk_file(file, Scope(SERVER, access=server))
        plugin_paths = [self._plugin_path(draft.plugin) for draft in self.drafts
                        if draft.websocket_at is not None]
        self.declared.check(self.plugin_modules.plugin_identifiers(plugin_paths))
        error_log = self._error_log(self.logs)
        self.main_logs = self._server_logs(self.logs, None, self.server_name)
        vhosts = [self._finish_vhost(vhost, error_log) for vhost in self.vhosts]
        # before the locations: each carries its own <Location>'s access section
        access = [section for draft in self.access
                  if (draft.lines or draft.nested) and (section := self._finish_access(draft))]
        locations = self._finish_locations()
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
            process=ProcessSettings(**self.process), message_memory=self.message_memory,
            watchdog=self.watchdog, broadcast=self._broadcast_settings(),
            plugin_modules=self.plugin_modules.finish(plugin_paths, self.drafts, self.vhosts,
                                                      self.declared.unknown))
        if self.guard:
            config.check_htaccess()
            config.check_alias_expressions()
        if not self.listeners:
            raise ConfigError("no Listen directive, so no listening sockets available", file)
        if self.guard:
            check_tls(config)
        return config

    def _finish_vhost(self, draft: VirtualHostDraft,
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
        draft.built = VirtualHost(
            addresses=tuple(draft.addresses), server_name=name,
            aliases=tuple(draft.aliases or ()), file=draft.node.file, line=draft.node.line,
            document_root=document_root, path_aliases=tuple(draft.path_aliases),
            remoteip_lines=tuple(draft.remoteip_lines), proxy_passes=tuple(draft.proxy_passes),
            tls=draft.tls.settings(self.tls),
            request_limits=RequestLimits(**{**self.request_limits, **draft.request_limits}),
            logs=self._server_logs(draft.logs, self.logs, name))
        return draft.built

    def _walk_file(self, path: str, scope: Scope) -> None:
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

    def _walk(self, nodes: Sequence[Node], scope: Scope) -> None:
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
        return split_words(self._arg_text(node))

    def _arg_text(self, node: Node) -> str:
        """The node's argument text after ${VAR} substitution."""
        if "${" not in node.raw:
            return node.raw
        return _VARIABLE.sub(lambda m: self._variable(m, node), node.raw)

    def _variable(self, match: re.Match[str], node: Node) -> str:
        name = match[1]
        value = self.variables[name] if name in self.variables else os.environ.get(name)
        if value is not None:
            return value
        if ":" not in name:  # httpd leaves ${a:b} to the modules that use that syntax
            log.warning("%s:%d: Config variable ${%s} is not defined", node.file, node.line, name)
        return match[0]

    def _section(self, node: Section, scope: Scope) -> None:
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
                vhost = VirtualHostDraft(self._vhost_addresses(node, args), node)
                self.vhosts.append(vhost)
                access = AccessDraft("vhost", "", False, vhost, node.file, node.line)
                self.access.append(access)
                self._walk(node.children, Scope(VHOST, node.name, vhost=vhost, access=access))
            else:
                self._location(node, args, scope)
        elif key in _DIRECTORIES or key in _FILES or key in _IFS:
            self._access_section(node, args, scope)
        else:  # <Limit>, <RequireAll>, <Proxy>, ...: read for errors and access lines
            access, containers = scope.access, scope.containers
            if key in ACCESS_CONTAINERS:
                if scope.kind != DIR:
                    raise ConfigError(not_allowed(f"<{node.name}", scope))
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
                access = AccessDraft("proxy", args[0] if args else "", key == "proxymatch",
                                     scope.vhost, node.file, node.line)
                self.proxy_access.append(access)
            else:
                access = None
            self.declared.directive(node, scope.kind, section=True, check_context=False)
            self._walk(node.children, Scope(DIR, node.name, vhost=scope.vhost, access=access,
                                            containers=containers, location=scope.location))

    def _access_section(self, node: Section, args: Sequence[str], scope: Scope) -> None:
        """<Directory>, <Files>, <If> and their variants: where their access directives go."""
        key = node.key
        parent = scope.access
        limited = any(c.key in ("limit", "limitexcept") for c in scope.containers)
        if key in _DIRECTORIES and scope.kind == DIR:
            raise ConfigError(not_allowed(f"<{node.name}", scope))
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
            draft = AccessDraft("if", args[0] if args else "", False, scope.vhost, node.file,
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
            draft = AccessDraft(kind, args[0], regex, scope.vhost, node.file, node.line)
            if scope.kind != DIR:
                self.access.append(draft)
            elif parent is not None and parent.kind == "directory":
                parent.nested.append(draft)
            # else: <Files> in <Files> or <If>: httpd's file walk never reaches it
        self._walk(node.children, Scope(DIR, node.name, vhost=scope.vhost, access=draft,
                                        location=scope.location))

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
            parsed = parse_vhost_address(word)
            if parsed is None:
                continue
            host, port = parsed
            for ip in self._resolve(host, node):
                addresses.append(VirtualHostAddress(ip, ANY_PORT if port is None else port,
                                                    host))
        return addresses

    def _condition(self, node: Section, args: Sequence[str]) -> bool:
        if node.key == "ifversion":
            return if_version(args)
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

    def _location(self, node: Section, args: Sequence[str], scope: Scope) -> None:
        regex = node.key == "locationmatch" or args[0] == "~"
        if node.key == "location" and args[0] == "~":
            args = args[1:] or [""]
        if len(args) > 1:
            raise ConfigError(f"Multiple <{node.name}> arguments not (yet) supported.")
        try:
            location_matcher(args[0], regex)  # as httpd, refuse a bad regex where it is read
        except re.error as e:
            raise ConfigError(f"Regex could not be compiled: {e}") from None
        access = AccessDraft("location", args[0], regex, scope.vhost, node.file, node.line)
        draft = LocationDraft(node, args[0], regex, access, scope.vhost)
        self.access.append(access)
        self._walk(node.children, Scope(DIR, node.name, vhost=scope.vhost, access=access,
                                        location=draft))
        first = draft.first_websocket
        if first is not None and draft.websocket_at is None:
            # httpd accepts this; the section's module config, without a plugin, replaces
            # any earlier one, so the paths it matches are not WebSocket endpoints.
            log.warning("%s:%d: %s without WebSocketHandler in the same section: mod_websocket "
                        "does not merge sections, so paths matched here have no plugin",
                        first.file, first.line, first.name)
        self.drafts.append(draft)

    def _directive(self, node: Node, scope: Scope) -> None:
        args = self._args(node)
        spec = DIRECTIVES.get(node.key)
        if spec is None and (is_access_directive(node.key) or is_remoteip_directive(node.key)):
            self.declared.directive(node, scope.kind, check_context=False)  # access checks it
            self._access_line(node, args, scope)
            return
        if spec is None:
            self.declared.directive(node, scope.kind)
            if node.key not in DECLARED:  # perhaps a plugin module's (plugin_modules)
                location = scope.location
                self.plugin_modules.directive(
                    node, self._arg_text(node), scope.kind, scope.section,
                    location.pattern if location is not None else None, location, scope.vhost)
            log.debug("%s:%d: %s is not used by geows", node.file, node.line, node.name)
            return
        spec.check(args, scope.kind)
        _HANDLERS[node.key](self, node, args, scope)  # one method per table entry

    def _serverroot(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        root = os.path.abspath(args[0])
        if not os.path.isdir(root):
            raise ConfigError("ServerRoot must be a valid directory")
        self.root = root

    def _loadmodule(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        path = os.path.join(self.root, args[1])
        if unknown_module(args[0]) and "/" in args[1] and not os.path.exists(path):
            # A module in no table lets unknown directives through: not if httpd would not
            # load it (a name without "/" it looks for on dlopen's search path: not checked).
            raise ConfigError(f"Cannot load {args[1]} into server: {path}: cannot open shared "
                              "object file: No such file or directory")
        self.modules |= directives.module_names(args[0])
        self.declared.load(args[0])
        self.plugin_modules.load(args[0], path, node)

    def _define(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        _check_variable_name(args[0])
        self.defines.add(args[0])
        if len(args) == 2:
            self.variables[args[0]] = args[1]

    def _undefine(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        _check_variable_name(args[0])
        self.defines.discard(args[0])
        self.variables.pop(args[0], None)

    def _include(self, node: Node, args: Sequence[str], scope: Scope,
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

    def _includeoptional(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._include(node, args, scope, optional=True)


# Every directive geows reads, by lowercased name: the walk's own and each module's table.
DIRECTIVES = {**WALK_DIRECTIVES, **core.DIRECTIVES, **mpm.DIRECTIVES, **mod_alias.DIRECTIVES,
              **mod_proxy.DIRECTIVES, **mod_log_config.DIRECTIVES, **mod_ssl.DIRECTIVES,
              **mod_websocket.DIRECTIVES, **access.DIRECTIVES}

# Each entry of the directive table to its handler, a method of _Reader or of the module
# that declares it: "listen" -> mpm.MpmDirectives._listen.
_HANDLERS: dict[str, _Handler] = {key: getattr(_Reader, f"_{key}") for key in DIRECTIVES}


def _check_variable_name(name: str) -> None:
    if ":" in name:
        raise ConfigError("Variable name must not contain ':'")


def _files_under(path: str) -> list[str]:
    """A file, or every file below a directory, each level in name order."""
    if not os.path.isdir(path):
        return [path]
    return [file for name in sorted(os.listdir(path))
            for file in _files_under(os.path.join(path, name))]


HTTPD_VERSION = (2, 4, 99)  # what geows answers to <IfVersion>
_COMPARE = {"=": operator.eq, "==": operator.eq, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}
_VHOST_ADDRESS = re.compile(r"(.*?)(?::([0-9]+))?", re.DOTALL)


def parse_vhost_address(word: str) -> tuple[str, int | None] | None:
    """A <VirtualHost> address as (host as written, port or None for any); None for an
    empty word. As get_addresses and apr_parse_addr_port read it: ":port" counts only when
    it is all digits, otherwise the whole word is a host name (which then fails to resolve
    and is ignored, as httpd does)."""
    if not word:
        return None
    wild_port = word == "*" or word.endswith(":*")
    text = word[:-2] if wild_port and word != "*" else word
    m = _VHOST_ADDRESS.fullmatch(text)
    host, port = m[1], m[2]  # type: ignore[index]  # the pattern always matches
    if text.isdigit():  # "80": apr reads a port and no address
        if not 1 <= int(text) <= 65535:
            raise ConfigError("The address or port is invalid")
        raise ConfigError("Missing address for VirtualHost")
    if host == "" or (port is not None and not 1 <= int(port) <= 65535):
        raise ConfigError("The address or port is invalid")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ConfigError("The address or port is invalid")
        host = host[1:-1]
    return host, (None if wild_port or port is None else int(port))


def if_version(args: Sequence[str]) -> bool:
    """Evaluate <IfVersion [[!]operator] version> for HTTPD_VERSION, as mod_version does."""
    if len(args) > 2:
        raise ConfigError("<IfVersion> takes one or two arguments")
    op, wanted = ("=", args[0]) if len(args) == 1 else args
    negate = op.startswith("!") and len(op) > 1
    op = op[1:] if negate else op
    if op in ("=", "==") and wanted.startswith("/"):
        if len(wanted) < 2 or not wanted.endswith("/"):
            raise ConfigError("Missing delimiting / of regular expression.")
        op, wanted = "~", wanted[1:-1]
    if op == "~":
        try:
            found = re.search(wanted, ".".join(map(str, HTTPD_VERSION))) is not None
        except re.error as e:
            raise ConfigError(f"Regex could not be compiled: {e}") from None
    elif op in _COMPARE:
        m = re.fullmatch(r"([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?", wanted)
        if not m:
            raise ConfigError("Version appears to be invalid. It must have the format "
                              "major[.minor[.patch]] where major, minor and patch are numbers.")
        found = _COMPARE[op](HTTPD_VERSION, tuple(int(part or 0) for part in m.groups()))
    else:
        raise ConfigError(f"unrecognized operator '{args[0]}'")
    return found != negate
