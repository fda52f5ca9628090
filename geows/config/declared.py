"""Which module declares a directive, and whether the config loads it: httpd's "Invalid
command". The directives of every module httpd ships, which module declares each and
where it may appear are in httpd_directives.json (scripts/make_httpd_directives.py makes it
from httpd itself); a config may use those of the modules httpd and geows build in and of
those it loads.

httpd runs every LoadModule while it reads the files and every other directive after, so
a directive before its module's LoadModule is valid: a directive no module loaded so far
declares waits (`Declarations.pending`) for the end of the read (`Declarations.check`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

from geows.config.directives import DIR
from geows.config.drafts import ALWAYS_LOADED
from geows.config.tree import Node
from geows.errors import ConfigError

log = logging.getLogger("geows.config")

with open(os.path.join(os.path.dirname(__file__), "httpd_directives.json"), encoding="utf-8") as f:
    _TABLE = json.load(f)
STATIC: frozenset[str] = frozenset(_TABLE["static"])  # compiled into httpd
MPMS: frozenset[str] = frozenset(_TABLE["mpms"])
MODULES: dict[str, str | None] = _TABLE["modules"]  # identifier -> source file
# lowercased name -> (name, declaring module, "server" | "dir" | "anywhere", .htaccess
# AllowOverride classes) for each module that declares it
DIRECTIVES: dict[str, list[list[str]]] = _TABLE["directives"]

# The modules geows builds in, beside httpd's compiled-in ones and mod_websocket (geows
# is it): those whose directives it acts on without their LoadModule
# (docs/reference/configuration.md: "What geows reads" and "Access control"), so that
# their directives need none.
GEOWS_BUILT_IN = frozenset({
    "ssl_module", "proxy_module", "reqtimeout_module", "alias_module", "remoteip_module",
    "authz_core_module", "authz_host_module", "authz_user_module", "authz_groupfile_module",
    "authn_core_module", "authn_file_module", "auth_basic_module", "access_compat_module",
    "allowmethods_module",
})
BUILT_IN = STATIC | GEOWS_BUILT_IN | {
    name for name in ALWAYS_LOADED if name.endswith("_module")}


def unknown_module(identifier: str) -> bool:
    """Whether geows has no table of the module's directives (mod_php, a site's own)."""
    return identifier not in MODULES and identifier not in BUILT_IN


def invalid_command(name: str) -> str:
    return (f"Invalid command '{name}', perhaps misspelled or defined by a module not "
            "included in the server configuration")


@dataclass
class Declarations:
    """The modules a config loads, and the directives waiting for the end of the read."""

    loaded: set[str] = field(default_factory=set)  # LoadModule'd identifiers
    usable: set[str] = field(default_factory=lambda: set(BUILT_IN))  # and the built-in ones
    unknown: list[str] = field(default_factory=list)  # in no table: mod_php, a site's own...
    # name, key, the context to check ("": none), file, line
    pending: list[tuple[str, str, str, str, int]] = field(default_factory=list)

    def load(self, identifier: str) -> None:
        self.loaded.add(identifier)
        self.usable.add(identifier)
        if unknown_module(identifier) and identifier not in self.unknown:
            self.unknown.append(identifier)

    def directive(self, node: Node, context: str, *, section: bool = False,
                  check_context: bool = True) -> None:
        """A directive (or section) geows has no handler of: refused where it may not be,
        or left pending while no loaded module declares it."""
        name, key = (f"<{node.name}", f"<{node.key}") if section else (node.name, node.key)
        if not self._declared(key, mpm_loaded=True):
            self.pending.append((name, key, context if check_context else "", node.file,
                                 node.line))
        elif check_context:
            _check_context(name, key, context, self._modules())

    def check(self, plugin_modules: set[str] | frozenset[str] = frozenset()) -> None:
        """At the end of the read: the first directive no loaded module declares is refused,
        unless modules geows has no table of are loaded (then it may be theirs: a warning).
        With plugin modules loaded, a directive in no table is left to them (they evaluate
        it when loaded, and refuse it if none declares it: geows.plugin.modules)."""
        mpm_loaded = not self.loaded.isdisjoint(MPMS)
        for name, key, context, file, line in self.pending:
            if plugin_modules and key not in DIRECTIVES and not key.startswith("<"):
                continue
            if self._declared(key, mpm_loaded):
                if context:
                    try:
                        _check_context(name, key, context, self._modules(mpm_loaded))
                    except ConfigError as e:
                        raise ConfigError(e.message, file, line) from None
            elif self.unknown and key not in DIRECTIVES \
                    and not key.lstrip("<").startswith("websocket"):
                log.warning("%s:%d: %s is a directive of no module geows knows: accepted, as it "
                            "may be one of %s (loaded by LoadModule; geows cannot read what "
                            "they declare)", file, line, name, ", ".join(self.unknown))
            else:
                raise ConfigError(invalid_command(name), file, line)

    def _modules(self, mpm_loaded: bool = True) -> frozenset[str] | set[str]:
        """The modules whose directives the config may use; every MPM's while none is
        loaded (a config for geows alone loads none: geows is its MPM)."""
        return self.usable if mpm_loaded else self.usable | MPMS

    def _declared(self, key: str, mpm_loaded: bool) -> bool:
        modules = self._modules(mpm_loaded)
        return any(module in modules for _, module, _, _ in DIRECTIVES.get(key, ()))


def _check_context(name: str, key: str, context: str, modules: set[str] | frozenset[str]
                   ) -> None:
    """httpd's invoke_cmd: refuse a directive outside the places its module allows."""
    allowed = {where for _, module, where, _ in DIRECTIVES[key] if module in modules}
    if "anywhere" not in allowed and ("dir" if context == DIR else "server") not in allowed:
        raise ConfigError(f"{name} not allowed here")
