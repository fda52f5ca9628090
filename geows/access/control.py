"""The access rules of one configuration, ready to decide handshakes.

Built once per configuration (so `geows -t` reports every error), then asked for
each request on its route (Config.route): who the client is (mod_remoteip), which
sections apply (the route's <Location>s and the config's walk, which looks at the disk
as httpd does per request), their merge, and the decision.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import NamedTuple

from geows.access import remoteip
from geows.access.check import Decision, check
from geows.access.rules import EMPTY, SectionAccess, build, merge
from geows.config import Config
from geows.config.model import AccessSection, LocationSection, Route, with_ifs
from geows.config.vhosts import VirtualHost
from geows.errors import ConfigError
from geows.http import Request

THROUGH = Decision(None)

# Merged policies kept per combination of sections; combinations are few, but bound
# them all the same against paths crafted to walk into many.
_MERGED_CACHE_SIZE = 4096


class Verdict(NamedTuple):
    client_ip: str       # the peer, or the client mod_remoteip found behind it
    decision: Decision
    file_name: str       # what httpd's log lines name: the path as mapped to the disk


class AccessControl:
    def __init__(self, config: Config):
        self.config = config
        self._built: dict[int, SectionAccess] = {}
        # Without RewriteEngine On anywhere no RewriteRule rewrites: none needs refusing.
        self._rewriting = any(
            line.key == "rewriteengine" and [a.lower() for a in line.args] == ["on"]
            for section, _ in _with_outermost(config.access) for line in section.lines)
        for section in config.access:
            self._build(section)
        self._refuse_unenforceable()
        main = remoteip.build_remoteip(config.remoteip_lines, config.server_root)
        self._remoteip: dict[int, remoteip.RemoteIPConfig | None] = {id(None): main}
        for vhost in config.virtual_hosts:
            self._remoteip[id(vhost)] = remoteip.build_remoteip(
                vhost.remoteip_lines, config.server_root, main=config.remoteip_lines)
        self._merged: dict[tuple[int, ...], SectionAccess] = {}

    def _build(self, section: AccessSection) -> None:
        lines = section.lines if self._rewriting else \
            [line for line in section.lines if line.key != "rewriterule"]
        built = build(lines, self.config.server_root)
        if section.kind == "if" and section.lines:
            # Never evaluated: a request that walks into it is refused (500), so that a
            # wrong "may not apply" below fails closed.
            built = replace(built, refused=(*built.refused, ConfigError(
                "an <If>, <ElseIf> or <Else> section holds access directives, and geows "
                "cannot evaluate expressions; it refuses to start rather than serve this "
                "location unguarded", section.file, section.line)))
        self._built[id(section)] = built
        for nested in (*section.files, *section.ifs):
            self._build(nested)

    def _refuse_unenforceable(self) -> None:
        """Refuse to start on a rule geows cannot enforce wherever it may guard what geows
        serves (a WebSocket location, the status page, or a path it forwards): serving it
        open would be worse than not serving."""
        forwarded = _forwarded(self.config)
        served = self.config.served_sections() + forwarded
        for section, outer in _with_outermost(self.config.access):
            problems = self._built[id(section)].unenforceable
            if problems and any(self.config.may_apply(outer, place) for place in served):
                raise problems[0]
        if self.config.proxy_access and forwarded:
            line = self.config.proxy_access[0]
            raise ConfigError(
                f"{line.key} in a <Proxy> section: geows forwards ProxyPass requests but does "
                "not apply <Proxy> sections' access rules; it refuses to start rather than "
                "forward them unguarded", line.file, line.line)

    def decide(self, request: Request, route: Route, peer_ip: str, local_ip: str,
               proxied: bool = False) -> Verdict:
        """Who the client is and whether httpd would let `request` (on its `route`, which
        came in on local_ip) through to the handler (or, `proxied`, to mod_proxy, which
        maps no file: only <Location> sections apply)."""
        client_ip = self._client_ip(route.vhost, peer_ip, request)
        file_name = route.file_name
        if not self.config.access:  # no access directive anywhere: nothing to decide
            return Verdict(client_ip, THROUGH, file_name)
        sections = (with_ifs(route.access_locations) if proxied
                    else self.config.access_sections(route))
        decision = check(self._policy(sections), client_ip=client_ip, method=request.method,
                         path=request.path, file_name=file_name, local_ip=local_ip,
                         authorization=request.headers.get("Authorization"))
        return Verdict(client_ip, decision, file_name)

    def _client_ip(self, vhost: VirtualHost | None, peer_ip: str, request: Request) -> str:
        config = self._remoteip[id(vhost)]
        if config is None:
            return peer_ip
        return remoteip.client_ip(config, peer_ip, request.headers).client_ip

    def _policy(self, sections: list[AccessSection]) -> SectionAccess:
        key = tuple(id(section) for section in sections)
        policy = self._merged.get(key)
        if policy is None:
            policy = EMPTY
            for section in sections:
                policy = merge(policy, self._built[id(section)])
            if len(self._merged) >= _MERGED_CACHE_SIZE:
                self._merged.clear()
            self._merged[key] = policy
        return policy


def _with_outermost(sections: tuple[AccessSection, ...] | list[AccessSection],
                    outer: AccessSection | None = None) -> Iterator[tuple[AccessSection,
                                                                          AccessSection]]:
    """Each section with the top-level section it sits in: a nested <Files> or <If>
    applies only where its enclosing section does."""
    for section in sections:
        top = outer or section
        yield section, top
        yield from _with_outermost((*section.files, *section.ifs), top)


def _forwarded(config: Config) -> list[LocationSection]:
    """The paths ProxyPass forwards, as the <Location>s they amount to for may_apply."""
    return [LocationSection(pattern=entry.prefix, regex=False, handler=None, websocket=None,
                            file=entry.file, line=entry.line, vhost=vhost)
            for vhost, entries in ((None, config.proxy_passes),
                                   *((v, v.proxy_passes) for v in config.virtual_hosts))
            for entry in entries if entry.backend is not None]
