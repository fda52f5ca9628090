"""What every module's directive table is made of: Spec (httpd's command_rec: a directive's
arity, where it may appear, what it takes), the contexts, and the parsers several modules
share. Each module's table and handlers are in geows.config.modules; the reader puts the
tables together.

Parsers raise ConfigError without a location; the reader adds the directive's FILE:LINE.
Messages follow httpd's where httpd has one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from geows.errors import ConfigError

# Where a directive may appear: the main server, a <VirtualHost>, or a directory-like
# section (<Location>, <Directory>, <Files>, <If>, ...).
SERVER, VHOST, DIR = "server", "vhost", "dir"
SERVER_ONLY = frozenset({SERVER})
SERVER_OR_VHOST = frozenset({SERVER, VHOST})
DIR_ONLY = frozenset({DIR})  # mod_websocket's directives are OR_AUTHCFG
ANYWHERE = frozenset({SERVER, VHOST, DIR})

_ARITY = {(1, 1): "takes one argument", (2, 2): "takes two arguments",
          (1, 2): "takes 1-2 arguments", (2, 3): "takes two or three arguments",
          (1, None): "requires at least one argument"}


@dataclass(frozen=True)
class Spec:
    """One directive: its arity, where it may appear, and what it takes (for messages)."""

    name: str
    min_args: int
    max_args: int | None  # None: no limit
    contexts: frozenset[str]
    usage: str

    def check(self, args: Sequence[str], context: str) -> None:
        """Raise ConfigError if the directive may not appear here or has the wrong arity."""
        if context not in self.contexts:
            if context == VHOST:
                raise ConfigError(f"{self.name} cannot occur within <VirtualHost> section")
            raise ConfigError(f"{self.name} not allowed here")
        if len(args) < self.min_args or (self.max_args is not None and len(args) > self.max_args):
            raise ConfigError(f"{self.name} {_ARITY[self.min_args, self.max_args]}, {self.usage}")


def table(*specs: Spec) -> dict[str, Spec]:
    """A module's directive table, by lowercased name as the reader looks them up."""
    return {spec.name.lower(): spec for spec in specs}


_ATOI64 = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]*)")


def atoi(value: str) -> int:
    """C's atoi: leading blanks, a sign, then the digits up to the first other character."""
    digits = _ATOI64.match(value)[1]  # type: ignore[index]  # the pattern always matches
    return int(digits) if digits.lstrip("+-") else 0


def module_short_name(name: str) -> str:
    """websocket_module, mod_websocket.c and websocket all name "websocket"."""
    if name.endswith(".c"):
        return name[:-2].removeprefix("mod_")
    return name.removesuffix("_module")


def module_names(identifier: str) -> set[str]:
    """The names <IfModule> knows a LoadModule'd module by: x_module and mod_x.c."""
    return {identifier, f"mod_{module_short_name(identifier)}.c"}


def parse_flag(name: str, value: str) -> bool:
    """On or Off, in any case."""
    if value.lower() not in ("on", "off"):
        raise ConfigError(f"{name} must be On or Off")
    return value.lower() == "on"

