"""mod_proxy's ProxyPass: where geows forwards what it does not serve itself."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from geows.config.directives import ANYWHERE, DIR, Spec, table
from geows.config.drafts import ReadState, Scope
from geows.config.paths import DEFAULT_UPGRADE, ProxyPass
from geows.config.tree import Node
from geows.errors import ConfigError

log = logging.getLogger("geows.config")

DIRECTIVES = table(
    Spec("ProxyPass", 1, None, ANYWHERE,
         "a URL-path, then a URL (or ! to exclude the path) and optional key=value parameters"),
)

# The ProxyPass targets geows forwards to: plain HTTP, and ws:// which mod_proxy_wstunnel
# reaches over plain HTTP too.
_PROXY_SCHEMES = {"http": 80, "ws": 80}


# mod_proxy keeps a worker's `upgrade=` in a char[PROXY_WORKER_MAX_SCHEME_SIZE] (16).
_UPGRADE_SIZE = 16


def parse_proxy_target(target: str, params: Sequence[str]
                       ) -> tuple[str, int, str, tuple[str, ...]] | str:
    """ProxyPass's URL as (host, port, path, upgrade protocols) geows can forward to, or why
    it cannot."""
    scheme, sep, _ = target.partition("://")
    if not sep and not target.lower().startswith("unix:"):
        raise ConfigError("ProxyPass URL must be absolute!")
    upgrade, others = proxy_upgrade(params)
    if others:
        return f"parameters ({' '.join(others)}) are not honoured by geows"
    if scheme.lower() not in _PROXY_SCHEMES:
        return f"geows forwards to http:// and ws:// only, not {target.split(':', 1)[0]}:"
    url = urlsplit(target)
    try:
        port = url.port or _PROXY_SCHEMES[scheme.lower()]
    except ValueError:
        raise ConfigError(f"ProxyPass URL {target}: invalid port") from None
    if not url.hostname:
        raise ConfigError(f"ProxyPass URL {target}: no host name")
    return url.hostname, port, url.path, upgrade


def proxy_upgrade(params: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """ProxyPass's `upgrade=` as mod_proxy's set_worker_param reads it (the last one wins,
    ANY is "*", empty is unset), as lowercased protocols; and the other parameters, which
    geows does not honour."""
    upgrade, others = DEFAULT_UPGRADE, []
    for param in params:
        key, equals, value = param.partition("=")
        if not equals or key.lower() != "upgrade":
            others.append(param)
            continue
        if len(value) >= _UPGRADE_SIZE:
            raise ConfigError(f"ProxyPass upgrade protocol length must be < {_UPGRADE_SIZE} "
                              "characters")
        protocols = tuple(token.lower() for token in re.split(r"[\s,]+", value) if token)
        upgrade = ("*",) if value.lower() == "any" else protocols or DEFAULT_UPGRADE
    return upgrade, others


class ProxyDirectives(ReadState):
    """mod_proxy's handler: each ProxyPass line of a server."""

    def _proxypass(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        if scope.kind == DIR:
            # mod_proxy takes `ProxyPass URL` inside a <Location>; geows reads only the
            # server's and the vhosts' lines, and says so rather than ignore it silently.
            log.warning("%s:%d: ProxyPass inside <%s> is not honoured by geows: requests it "
                        "would forward get 404 from geows", node.file, node.line, scope.section)
            return
        if len(args) < 2:
            raise ConfigError("ProxyPass needs a path when not defined in a location")
        prefix, target, params = args[0], args[1], args[2:]
        backend, backend_path, upgrade = None, "", DEFAULT_UPGRADE
        if target != "!":
            parsed = parse_proxy_target(target, params)
            if isinstance(parsed, str):
                log.warning("%s:%d: ProxyPass %s %s: %s; geows answers 404 for %s",
                            node.file, node.line, prefix, target, parsed, prefix)
            else:
                backend, backend_path, upgrade = parsed[:2], parsed[2], parsed[3]
        line = ProxyPass(prefix=prefix, backend=backend, backend_path=backend_path,
                         file=node.file, line=node.line, upgrade=upgrade)
        (scope.vhost.proxy_passes if scope.vhost else self.proxy_passes).append(line)

