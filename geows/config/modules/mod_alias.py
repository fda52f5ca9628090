"""mod_alias's directives: the URL-paths that map to other files (the access rules' files)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from geows.config.directives import ANYWHERE, DIR, SERVER_OR_VHOST, Spec, table
from geows.config.drafts import ReadState, Scope
from geows.config.paths import Alias
from geows.config.tree import Node
from geows.errors import ConfigError

DIRECTIVES = table(
    Spec("Alias", 1, 2, ANYWHERE, "a fakename and a realname, or a realname in a Location"),
    Spec("ScriptAlias", 1, 2, ANYWHERE,
         "a fakename and a realname, or a realname in a Location"),
    Spec("AliasMatch", 2, 2, SERVER_OR_VHOST, "a regular expression and a filename"),
    Spec("ScriptAliasMatch", 2, 2, SERVER_OR_VHOST, "a regular expression and a filename"),
)


class AliasDirectives(ReadState):
    """mod_alias's handlers: each adds an Alias to its server, or sets its <Location>'s."""

    def _alias(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        if len(args) == 2:
            if scope.kind == DIR:
                raise ConfigError(f"{node.name} cannot occur within directory context")
            alias = Alias(fake=args[0], real=args[1], regex=False, file=node.file, line=node.line)
            self._add_alias(alias, scope)
        elif scope.kind != DIR:
            raise ConfigError(f"{node.name} must have two arguments when used globally")
        elif scope.location is None or scope.access is None or scope.access.kind == "if":
            raise ConfigError(f"{node.name} cannot occur within <{scope.section}> section")
        else:  # the file every request of the <Location> maps to (an ap_expr string)
            scope.location.alias = (args[0], node.file, node.line)

    _scriptalias = _alias

    def _aliasmatch(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        try:
            alias = Alias(fake=args[0], real=args[1], regex=True, file=node.file, line=node.line)
        except re.error:
            raise ConfigError("Regular expression could not be compiled.") from None
        self._add_alias(alias, scope)

    _scriptaliasmatch = _aliasmatch

    def _add_alias(self, alias: Alias, scope: Scope) -> None:
        (scope.vhost.path_aliases if scope.vhost else self.aliases).append(alias)

