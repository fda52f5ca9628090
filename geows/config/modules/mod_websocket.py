"""mod_websocket's directives, and core's SetHandler where it names a handler geows serves:
what makes a <Location> a WebSocket endpoint (or the status page), and its settings.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence

from geows import limits
from geows.cluster.url import BroadcastSettings, parse_redis_url
from geows.config import directives
from geows.config.directives import ANYWHERE, DIR_ONLY, SERVER, SERVER_ONLY, VHOST, Spec, table
from geows.config.drafts import LocationDraft, ReadState, Scope
from geows.config.model import (
    ORIGIN_OFF,
    ORIGIN_SAME,
    ORIGIN_TRUSTED,
    STATUS_HANDLER,
    WEBSOCKET_HANDLER,
    LocationSection,
    WebSocketSettings,
)
from geows.config.tree import Node
from geows.errors import ConfigError
from geows.messages import CLUSTER, HOST

log = logging.getLogger("geows.config")

DIRECTIVES = table(
    Spec("SetHandler", 1, 1, ANYWHERE, "a handler name that overrides any other handler"),
    Spec("WebSocketHandler", 2, 2, DIR_ONLY,
         "the plugin file followed by the name of its initialization function"),
    Spec("WebSocketMaxMessageSize", 1, 1, DIR_ONLY, "the largest message to accept, in bytes"),
    Spec("MaxMessageSize", 1, 1, DIR_ONLY, "the largest message to accept, in bytes"),
    Spec("WebSocketOriginCheck", 1, 1, DIR_ONLY, "Off, Same or Trusted"),
    Spec("WebSocketTrustedOrigin", 1, None, DIR_ONLY,
         "one or more origins that WebSocketOriginCheck Trusted lets through"),
    # A FLAG, read as the module's AP_INIT_FLAG reads it.
    Spec("WebSocketAllowReservedStatusCodes", 0, None, DIR_ONLY, "On or Off"),
    # A FLAG: httpd reads the first word and ignores any others.
    Spec("SupportDraft75", 0, None, DIR_ONLY, "On or Off"),
    # geows' own: whether permessage-deflate (RFC 7692) is offered; a FLAG like the above.
    Spec("WebSocketDeflate", 0, None, DIR_ONLY, "On or Off"),
    # geows' own, older than WebSocketOriginCheck: WebSocketOriginCheck Trusted with these
    # WebSocketTrustedOrigins.
    Spec("WebSocketOrigin", 1, None, DIR_ONLY,
         "the origins allowed (scheme://host[:port], or null)"),
    # geows' own: ping a silent client, and fail the connection when nothing answers.
    Spec("WebSocketPing", 1, 2, DIR_ONLY,
         "the seconds of silence before a ping and the seconds to wait for any answer, or Off"),
    # geows' own: what one worker's incomplete messages may hold together, in bytes.
    Spec("WebSocketMessageMemory", 1, 1, SERVER_ONLY,
         "the bytes one worker's incomplete messages may hold together"),
    # geows' own: how long a worker's event loop may be held before the error log says
    # which plugin call holds it.
    Spec("WebSocketWatchdog", 1, 1, SERVER_ONLY,
         "the seconds a worker's event loop may be held before it is reported, or Off"),
    # geows' own: broadcasts across hosts through Redis (geows.cluster).
    Spec("WebSocketBroadcast", 1, 1, SERVER_ONLY,
         "a redis://, rediss:// or unix:// URL, or Off"),
    Spec("WebSocketBroadcastPrefix", 1, 1, SERVER_ONLY,
         "the prefix of the keys and channels geows uses in Redis"),
    Spec("WebSocketBroadcastHistory", 1, 1, SERVER_ONLY,
         "the messages per location Redis keeps to repair gaps from"),
    Spec("WebSocketBroadcastScope", 1, 1, DIR_ONLY, "cluster or host"),
)

_INT64_MAX = 2**63 - 1


def parse_size(value: str) -> int:
    """MaxMessageSize's value, read as the module does: apr_atoi64 (leading blanks, a sign,
    the digits up to the first other character, saturating) must give more than zero.
    So "10k" is 10 bytes, as in httpd; _maxmessagesize warns about the ignored rest."""
    size = directives.atoi(value)
    if size <= 0:
        raise ConfigError(f"Invalid maximum message size '{value}': expected a positive "
                          "number of bytes")
    return min(size, _INT64_MAX)


def parse_message_memory(value: str) -> int:
    """WebSocketMessageMemory's bytes."""
    return _positive_count("WebSocketMessageMemory", value, "bytes")


def parse_broadcast_history(value: str) -> int:
    """WebSocketBroadcastHistory's messages."""
    return _positive_count("WebSocketBroadcastHistory", value, "messages")


def _positive_count(directive: str, value: str, unit: str) -> int:
    """A count for one of geows' own directives, read strictly (digits only, more than
    zero): a typo must not become a cap of a few, as "64M" would under atoi."""
    if not value.isascii() or not value.isdigit() or int(value) == 0:
        raise ConfigError(f"{directive} '{value}': expected a positive number of {unit} "
                          "(digits only)")
    return int(value)


_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s]+")
_ORIGIN_CHECKS = {"off": ORIGIN_OFF, "same": ORIGIN_SAME, "trusted": ORIGIN_TRUSTED}


def parse_origin_check(value: str) -> str:
    """WebSocketOriginCheck's mode, in any case, as the module reads it."""
    mode = _ORIGIN_CHECKS.get(value.lower())
    if mode is None:
        raise ConfigError("WebSocketOriginCheck must be Off, Same, or Trusted")
    return mode


def parse_origins(args: Sequence[str]) -> tuple[str, ...]:
    """geows' WebSocketOrigin's origins as browsers serialize them (RFC 6454 6.1):
    scheme://host with a port only when not the scheme's default, lowercased as browsers
    send them; "null" is the opaque origin browsers send from file:// and sandboxed pages.
    (WebSocketTrustedOrigin takes its origins as written, as the module does.)"""
    origins = tuple(arg.lower() for arg in args)
    for origin in origins:
        if origin != "null" and not _ORIGIN.fullmatch(origin):
            raise ConfigError(f"WebSocketOrigin: '{origin}' is not an origin: expected "
                              "scheme://host[:port] without a path, or null")
    return origins


_SECONDS = re.compile(r"[0-9]*\.?[0-9]+")
# Linux's bound on TCP_KEEPIDLE and TCP_KEEPINTVL, which a draft-76 connection's pings use.
_PING_MAX = 32767


def parse_ping(args: Sequence[str]) -> tuple[float, float] | None:
    """WebSocketPing's interval and timeout in seconds (the timeout defaulting to
    limits.PING_TIMEOUT), or None for Off."""
    if args[0].lower() == "off":
        if len(args) > 1:
            raise ConfigError("WebSocketPing Off takes no timeout")
        return None
    interval = _ping_seconds("interval", args[0])
    timeout = _ping_seconds("timeout", args[1]) if len(args) == 2 else limits.PING_TIMEOUT
    return interval, timeout


def parse_watchdog(value: str) -> float | None:
    """WebSocketWatchdog's seconds (decimals allowed), or None for Off."""
    if value.lower() == "off":
        return None
    seconds = float(value) if _SECONDS.fullmatch(value) else 0.0
    if not seconds > 0:
        raise ConfigError(f"WebSocketWatchdog '{value}': expected a number of seconds greater "
                          "than 0, or Off")
    return seconds


def parse_broadcast_prefix(value: str) -> str:
    """WebSocketBroadcastPrefix's prefix: printable, without blanks or a ':' (geows puts
    one between the prefix and a location's name)."""
    if not value.isprintable() or any(c.isspace() or c == ":" for c in value):
        raise ConfigError(f"WebSocketBroadcastPrefix '{value}': expected a prefix without "
                          "blanks or ':'")
    return value


def parse_broadcast_scope(value: str) -> str:
    """WebSocketBroadcastScope's value, in any case."""
    if value.lower() not in (CLUSTER, HOST):
        raise ConfigError("WebSocketBroadcastScope must be cluster or host")
    return value.lower()


def _ping_seconds(name: str, value: str) -> float:
    seconds = float(value) if _SECONDS.fullmatch(value) else 0.0
    if not 0 < seconds <= _PING_MAX:
        raise ConfigError(f"WebSocketPing {name} '{value}': expected a number of seconds "
                          f"greater than 0 and at most {_PING_MAX}")
    return seconds


def _in_if(scope: Scope) -> bool:
    """Whether the walk is inside an <If>, <ElseIf> or <Else> (or a <Limit> within one)."""
    return scope.access is not None and scope.access.kind == "if"


def _unconditional(scope: Scope) -> LocationDraft | None:
    """The <Location> whose config a directive here sets for every request: the one it is
    in, directly or within <Limit>, <LimitExcept> or <Require*> (httpd applies their other
    directives to the enclosing section); None inside <If> (only where its expression
    matches) and outside any <Location> (a <Directory>'s config the <Location>'s replaces)."""
    return None if _in_if(scope) else scope.location


class WebSocketDirectives(ReadState):
    """mod_websocket's handlers, and what they make of each <Location>."""

    def _sethandler(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        handler = args[0].lower()  # as httpd stores it
        served = handler in (WEBSOCKET_HANDLER, STATUS_HANDLER)
        draft = self._route(scope, handler) if served else _unconditional(scope)
        if draft is not None:
            draft.handler = handler

    def _websockethandler(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._location_of(node, scope)  # inside <If>: refused with why
        draft = self._mark(self._route(scope), node)
        draft.websocket_at = node
        draft.plugin, draft.init = args

    def _websocketmaxmessagesize(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        size = parse_size(args[0])
        if args[0].strip(" \t").lstrip("+") != str(size):  # "10k", or past 2**63-1
            log.warning("%s:%d: %s %s is read as %d bytes, as mod_websocket reads it",
                        node.file, node.line, node.name, args[0], size)
        if (draft := self._location_of(node, scope)) is not None:
            self._mark(draft, node).max_message_size = size

    _maxmessagesize = _websocketmaxmessagesize  # the module's older name for it

    def _websocketorigincheck(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        mode = parse_origin_check(args[0])
        if (draft := self._location_of(node, scope)) is not None:
            self._mark(draft, node).origin_check = mode

    def _websockettrustedorigin(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        if (draft := self._location_of(node, scope)) is not None:
            self._mark(draft, node)
            draft.trusted_origins = (*draft.trusted_origins, *args)

    def _websocketallowreservedstatuscodes(self, node: Node, args: Sequence[str],
                                           scope: Scope) -> None:
        flag = directives.parse_flag(node.name, args[0] if args else "")
        if (draft := self._location_of(node, scope)) is not None:
            self._mark(draft, node).allow_reserved_codes = flag

    def _supportdraft75(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        flag = directives.parse_flag("SupportDraft75", args[0] if args else "")
        if (draft := self._location_of(node, scope)) is not None:
            self._mark(draft, node).support_draft75 = flag

    def _websocketmessagememory(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self.message_memory = parse_message_memory(args[0])

    def _websocketwatchdog(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self.watchdog = parse_watchdog(args[0])

    def _websocketbroadcast(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        off = args[0].lower() == "off"
        self.broadcast = None if off else (parse_redis_url(args[0], self.root), node)

    def _websocketbroadcastprefix(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self.broadcast_prefix = parse_broadcast_prefix(args[0])

    def _websocketbroadcasthistory(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self.broadcast_history = parse_broadcast_history(args[0])

    def _websocketbroadcastscope(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        value = parse_broadcast_scope(args[0])
        if (draft := self._location_of(node, scope)) is not None:
            self._mark(draft, node).broadcast_scope = value

    def _broadcast_settings(self) -> BroadcastSettings | None:
        """WebSocketBroadcast's settings once the whole config is read; None when Off."""
        if self.broadcast is None:
            return None
        url, node = self.broadcast
        return BroadcastSettings(url, self.broadcast_prefix, self.broadcast_history,
                                 node.file, node.line)

    def _websocketdeflate(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        flag = directives.parse_flag("WebSocketDeflate", args[0] if args else "")
        if (draft := self._location_of(node, scope)) is not None:
            self._mark(draft, node).deflate = flag

    def _websocketorigin(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        origins = parse_origins(args)
        if (draft := self._location_of(node, scope)) is not None:
            self._mark(draft, node)
            draft.origin_check = ORIGIN_TRUSTED
            draft.trusted_origins = (*draft.trusted_origins, *origins)

    def _websocketping(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        ping = parse_ping(args)
        if (draft := self._location_of(node, scope)) is not None:
            self._mark(draft, node).ping = ping

    def _route(self, scope: Scope, handler: str = WEBSOCKET_HANDLER) -> LocationDraft:
        """The <Location> a route to a handler geows serves (WebSocket or status page) is set
        in; ConfigError where geows cannot serve it."""
        if scope.kind in (SERVER, VHOST):
            raise ConfigError(f"SetHandler {handler} outside <Location> is not served "
                              "by this version of geows")
        draft = _unconditional(scope)
        if draft is None:
            what = "WebSocket handlers" if handler == WEBSOCKET_HANDLER else "Status pages"
            raise ConfigError(f"{what} inside <{scope.section}> are not served by this "
                              "version of geows")
        return draft

    @staticmethod
    def _location_of(node: Node, scope: Scope) -> LocationDraft | None:
        """The <Location> a mod_websocket directive here sets (see _unconditional); refused
        inside <If>, <ElseIf> or <Else>, where httpd would use the section's config."""
        if _in_if(scope):
            raise ConfigError(
                f"{node.name} inside <If>, <ElseIf> or <Else> is not served by this version "
                "of geows: where the expression matches, httpd uses that section's "
                "mod_websocket config in place of the <Location>'s (the module does not merge "
                "sections; without a WebSocketHandler there, a 500), and geows does not "
                "evaluate <If> expressions")
        return scope.location

    @staticmethod
    def _mark(draft: LocationDraft, node: Node) -> LocationDraft:
        draft.first_websocket = draft.first_websocket or node
        return draft

    def _finish_locations(self) -> list[LocationSection]:
        """The <Location>s read, in file order, once the whole config is read."""
        locations = [self._finish(draft) for draft in self.drafts]
        for section in locations:
            settings = section.websocket
            if settings and settings.origin_check == ORIGIN_SAME and self.canonical_port:
                at = self.canonical_port
                raise ConfigError(
                    f"{at.name} On is not served by this version of geows beside "
                    f"WebSocketOriginCheck Same (the location at {section.file}:{section.line}): "
                    "it changes the port of the request's own origin that the check compares "
                    "(ServerName's or the connection's, not the Host's), which geows does not "
                    "model. Set WebSocketOriginCheck Trusted with the origins to allow (or "
                    f"Off) on the location, or {at.name} Off", at.file, at.line)
            if settings and settings.trusted_origins and settings.origin_check != ORIGIN_TRUSTED:
                log.warning("%s:%d: WebSocketTrustedOrigin is not used: the location's "
                            "WebSocketOriginCheck is %s, not Trusted", section.file,
                            section.line, settings.origin_check.capitalize())
            if settings and settings.max_message_size > self.message_memory:
                log.warning("%s:%d: MaxMessageSize %d is more than WebSocketMessageMemory (%d "
                            "bytes): a fragmented or compressed message larger than that is "
                            "refused (1009)", section.file, section.line,
                            section.websocket.max_message_size, self.message_memory)
        return locations

    def _finish(self, draft: LocationDraft) -> LocationSection:
        websocket = None
        if draft.websocket_at is not None:
            websocket = WebSocketSettings(
                plugin=self._plugin_path(draft.plugin), init=draft.init,
                file=draft.websocket_at.file, line=draft.websocket_at.line,
                max_message_size=draft.max_message_size, support_draft75=draft.support_draft75,
                deflate=draft.deflate, origin_check=draft.origin_check,
                trusted_origins=draft.trusted_origins,
                allow_reserved_codes=draft.allow_reserved_codes, ping=draft.ping,
                broadcast_scope=draft.broadcast_scope)
        vhost = draft.vhost.built if draft.vhost is not None else None
        return LocationSection(pattern=draft.pattern, regex=draft.regex, handler=draft.handler,
                               websocket=websocket, file=draft.node.file, line=draft.node.line,
                               vhost=vhost, websocket_config=draft.first_websocket is not None,
                               alias=draft.alias, access=draft.access.built)

    def _plugin_path(self, plugin: str) -> str:
        """Against the final ServerRoot: httpd runs WebSocketHandler after reading it all."""
        path = self.plugins.get(plugin)
        if path is None:
            path = self.plugins[plugin] = os.path.normpath(os.path.join(self.root, plugin))
        return path

