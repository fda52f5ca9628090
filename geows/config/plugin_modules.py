"""Plugin modules: a `LoadModule name file` whose file a WebSocketHandler also names.

geows tells them from every other LoadModule by that file alone: a module mod_websocket
would hand connections to is one geows loads (geows.plugin.modules, when the plugins are
loaded: the master loads no plugin code); any other LoadModule is never loaded. The reader
cannot know a module's directives without loading it, so it keeps every directive of no
module it has a table of, where it stands, for the plugin modules to evaluate in file order
(httpd too runs every directive but LoadModule, Define and Include once the files are read).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from geows.config.directives import DIR
from geows.config.tree import Node


@dataclass(frozen=True)
class PluginModule:
    """One LoadModule line that loads a plugin module."""

    identifier: str  # the module's symbol: "foo_module"
    path: str        # the file, absolute
    file: str
    line: int


@dataclass(frozen=True)
class ModuleDirective:
    """A directive of no module geows has a table of, where it stands."""

    name: str
    args: str          # its argument text (${VAR} substituted), as invoke_cmd gets it
    file: str
    line: int
    section: str       # its innermost section as written ("Location"); "" at the top
    in_directory: bool  # in a directory section (<Location>, <Directory>, <Files>...)
    path: str | None   # that section's argument (cmd->path), None outside one
    location: int | None  # its <Location>'s index in Config.locations
    vhost: int | None     # its <VirtualHost>'s index in Config.virtual_hosts


@dataclass(frozen=True)
class PluginModules:
    """What the plugin loaders evaluate: the modules, then every directive in file order."""

    modules: tuple[PluginModule, ...]
    directives: tuple[ModuleDirective, ...]
    # The other LoadModule'd modules geows has no table of (mod_php...): a directive no
    # plugin module declares may be theirs (a warning), else it is httpd's Invalid command.
    others: tuple[str, ...] = ()


@dataclass
class PluginModuleDrafts:
    """The LoadModule lines and unknown directives met while reading."""

    loaded: list[tuple[str, str, Node]] = field(default_factory=list)
    # node, argument text, innermost section, in a directory section, its argument,
    # its LocationDraft, its VirtualHostDraft
    directives: list[tuple[Node, str, str, bool, str | None, Any, Any]] = field(
        default_factory=list)

    def load(self, identifier: str, path: str, node: Node) -> None:
        self.loaded.append((identifier, path, node))

    def directive(self, node: Node, args: str, kind: str, section: str, path: str | None,
                  location: Any, vhost: Any) -> None:
        self.directives.append((node, args, section, kind == DIR, path, location, vhost))

    def plugin_identifiers(self, plugin_paths: list[str]) -> set[str]:
        """The LoadModule'd identifiers whose file a WebSocketHandler names."""
        named = {os.path.realpath(path) for path in plugin_paths}
        return {identifier for identifier, path, _ in self.loaded
                if os.path.realpath(path) in named}

    def finish(self, plugin_paths: list[str], locations: list[Any], vhosts: list[Any],
               unknown: list[str]) -> PluginModules | None:
        """The plugin modules and the directives they are to evaluate (None: none loaded);
        `locations` and `vhosts` are the drafts in the order Config lists their sections."""
        identifiers = self.plugin_identifiers(plugin_paths)
        if not identifiers:
            return None
        modules = tuple(PluginModule(identifier, os.path.realpath(path), node.file, node.line)
                        for identifier, path, node in self.loaded if identifier in identifiers)
        location_index = {id(draft): n for n, draft in enumerate(locations)}
        vhost_index = {id(draft): n for n, draft in enumerate(vhosts)}
        directives = tuple(
            ModuleDirective(node.name, args, node.file, node.line, section, in_directory,
                            path, location_index.get(id(location)) if location else None,
                            vhost_index.get(id(vhost)) if vhost else None)
            for node, args, section, in_directory, path, location, vhost in self.directives)
        return PluginModules(modules, directives,
                             tuple(name for name in unknown if name not in identifiers))
