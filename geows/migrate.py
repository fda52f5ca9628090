"""`geows --apache-snippet`: what to paste where when Apache keeps the public port and
proxies the WebSocket locations to geows, instead of serving them with mod_websocket.

Three parts, plain text with `#` comments: the lines to add to Apache's config, the
mod_websocket lines to remove from it (FILE:LINE), and the lines geows' config needs.
With `--balancer`, Apache spreads the clients over several geows hosts (each a `--backend`)
with mod_proxy_balancer: one `<Proxy balancer://geows>` of BalancerMembers, and the
ProxyPass lines point at it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from geows.config import Config, LocationSection
from geows.config.lexer import directive_lines
from geows.config.tree import Node, Section, parse
from geows.config.vhosts import VirtualHost

# mod_proxy_http tunnels WebSocket itself from this version on (`upgrade=websocket`);
# before it, only mod_proxy_wstunnel's ws:// scheme does.
UPGRADE_VERSION = "2.4.47"
FORMS = ("auto", "ws", "upgrade")  # auto: both, picked by <IfVersion>
# The balancer's name, and how it picks a member: the one with the fewest connections open
# through it (a WebSocket holds its member for as long as it lasts, so counting requests,
# byrequests, spreads the opening handshakes but not the connections that stay).
BALANCER = "balancer://geows"
LBMETHOD = "bybusyness"
# mod_websocket's directives (and geows' WebSocketDeflate): Apache no longer needs them.
_WEBSOCKET_DIRECTIVES = frozenset({"websockethandler", "maxmessagesize", "supportdraft75",
                                   "websocketdeflate"})
_WEBSOCKET_MODULES = frozenset({"mod_websocket.c", "websocket_module",
                                "mod_websocket_draft76.c", "websocket_draft76_module"})


def backend_addresses(config: Config, backends: list[str]) -> list[tuple[str, int]]:
    """Where Apache reaches geows: each of `backends` (HOST:PORT, [IPv6]:PORT) or, without
    any, the first Listen; a Listen without an address is reached on loopback."""
    if backends:
        return [_host_port(backend) for backend in backends]
    listener = config.listeners[0]
    return [(listener.host or "127.0.0.1", listener.port)]


def _host_port(backend: str) -> tuple[str, int]:
    host, _, port = backend.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def apache_address(backend_host: str) -> str:
    """The address Apache connects from, when it reaches geows on loopback: the loopback
    of the same family. ValueError otherwise: only the user knows Apache's address."""
    try:
        if ipaddress.ip_address(backend_host).is_loopback:
            return "::1" if ":" in backend_host else "127.0.0.1"
    except ValueError:
        pass  # a host name
    raise ValueError(f"geows is reached at {backend_host}: say where Apache connects from "
                     "with --apache-address")


def snippet(config: Config, *, form: str = "auto", backends: list[str] = (),
            apache: str | None = None, balancer: bool = False) -> str:
    """The whole text `geows --apache-snippet` prints. ValueError: several backends
    without `balancer`."""
    addresses = backend_addresses(config, list(backends))
    if len(addresses) > 1 and not balancer:
        raise ValueError("several --backend: Apache reaches one geows without --balancer")
    host, port = addresses[0]
    url_host = _url_host(host)
    apache = apache or apache_address(host)
    sections = config.websocket_sections()
    modules = "proxy proxy_http proxy_wstunnel"
    if balancer:
        modules += f" proxy_balancer slotmem_shm lbmethod_{LBMETHOD}"
    out = [f"# Apache in front of geows, for {config.file}",
           "#",
           "# 1. Add to Apache's config (httpd 2.4). LoadModule paths are relative to",
           "#    ServerRoot, as httpd installs them; on Debian, this loads them instead:",
           f"#    a2enmod {modules}",
           *_modules(form)]
    if balancer:
        out += [line for name in ("slotmem_shm", "proxy_balancer", f"lbmethod_{LBMETHOD}")
                for line in _load(name)]
    out += ["# Pass the client's Host header on: WebSocketOriginCheck Same (the default)",
            "# compares the browser's Origin with it, and geows picks the <VirtualHost> by it.",
            "ProxyPreserveHost On"]
    backend = None if balancer else (url_host, port)
    if balancer:
        out += _balancer(form, addresses)
    out += _proxy_lines([s for s in sections if s.vhost is None], form, backend)
    for vhost in dict.fromkeys(s.vhost for s in sections if s.vhost is not None):
        out += ["", f"# Inside {_vhost_name(vhost)} ({vhost.file}:{vhost.line}):",
                *_proxy_lines([s for s in sections if s.vhost is vhost], form, backend)]
    out += ["", "# 2. Remove from Apache's config: mod_websocket's lines, now geows' job",
            "#    (and the LoadModule of mod_websocket):",
            *(f"#    {line}" for line in removals(sections))]
    out += ["", "# 3. Add to geows' config, so that its access rules, its access log and",
            "#    plugins (server.remote_addr) see the client, not Apache:",
            "RemoteIPHeader X-Forwarded-For",
            f"RemoteIPInternalProxy {apache}"]
    if balancer:
        out += ["# Each host's geows listens where its BalancerMember points:",
                *(f"#    Listen {_url_host(member)}:{member_port}"
                  for member, member_port in addresses),
                "# and all of them name the same Redis (WebSocketBroadcast redis://...), so",
                "# that a broadcast reaches the clients of every host."]
    elif all((listener.host or "127.0.0.1", listener.port) != (host, port)
             for listener in config.listeners):
        out += ["# and listen where Apache proxies to, in place of Apache's Listen lines:",
                f"Listen {url_host}:{port}"]
    if config.virtual_hosts:
        out += ["# geows picks a <VirtualHost> among those of the address:port Apache",
                f"# connects to: their addresses must name port {port} (or be *)."]
    return "\n".join(out) + "\n"


def _modules(form: str) -> list[str]:
    needed = {"ws": ["proxy", "proxy_wstunnel"], "upgrade": ["proxy", "proxy_http"],
              "auto": ["version", "proxy", "proxy_http"]}[form]
    lines = [line for name in needed for line in _load(name)]
    if form == "auto":  # mod_version must come first: the <IfVersion> below needs it
        lines += [f"<IfVersion < {UPGRADE_VERSION}>",
                  *(f"    {line}" for line in _load("proxy_wstunnel")), "</IfVersion>"]
    return lines


def _load(name: str) -> list[str]:
    """A LoadModule line that does nothing where the module is already loaded (a second
    LoadModule of it would only warn, but a static module has no .so to load)."""
    return [f"<IfModule !{name}_module>",
            f"    LoadModule {name}_module modules/mod_{name}.so", "</IfModule>"]


def _balancer(form: str, addresses: list[tuple[str, int]]) -> list[str]:
    """The balancer of the hosts: mod_proxy_wstunnel's ws:// members, or mod_proxy_http's
    with upgrade=websocket (a member's parameter, not the balancer's ProxyPass')."""
    def members(member_form: str) -> list[str]:
        scheme, options = ("ws", "") if member_form == "ws" else ("http", " upgrade=websocket")
        return [f"<Proxy {BALANCER}>",
                *(f"    BalancerMember {scheme}://{_url_host(host)}:{port}{options}"
                  for host, port in addresses),
                f"    ProxySet lbmethod={LBMETHOD}",
                "</Proxy>"]
    if form != "auto":
        return members(form)
    return [f"<IfVersion >= {UPGRADE_VERSION}>", *(f"    {line}" for line in members("upgrade")),
            "</IfVersion>", f"<IfVersion < {UPGRADE_VERSION}>",
            *(f"    {line}" for line in members("ws")), "</IfVersion>"]


def _proxy_lines(sections: list[LocationSection], form: str,
                 backend: tuple[str, int] | None) -> list[str]:
    """ProxyPass lines for these sections, to geows at `backend` (host for a URL, port) or,
    with None, to the balancer (whose members carry the form): plain paths longest first,
    since ProxyPass is first-match and a longer path may be one that an earlier section's
    prefix covers; regex sections after them, in file order. The whole request path is
    forwarded."""
    plain = sorted({s.pattern for s in sections if not s.regex}, key=len, reverse=True)
    regex = list(dict.fromkeys(s.pattern for s in sections if s.regex))
    if backend is None:
        return _proxy_passes(plain, regex, BALANCER, "")
    if form == "auto":
        return [f"<IfVersion >= {UPGRADE_VERSION}>",
                *(f"    {line}" for line in _proxy_lines(sections, "upgrade", backend)),
                "</IfVersion>", f"<IfVersion < {UPGRADE_VERSION}>",
                *(f"    {line}" for line in _proxy_lines(sections, "ws", backend)),
                "</IfVersion>"]
    host, port = backend
    scheme, options = ("ws", "") if form == "ws" else ("http", " upgrade=websocket")
    return _proxy_passes(plain, regex, f"{scheme}://{host}:{port}", options)


def _proxy_passes(plain: list[str], regex: list[str], target: str, options: str) -> list[str]:
    # ProxyPassMatch appends the whole request path to a target without $N.
    return ([f"ProxyPass {_quote(path)} {_quote(target + path)}{options}" for path in plain]
            + [f"ProxyPassMatch {_quote(pattern)} {target}{options}" for pattern in regex])


def _quote(word: str) -> str:
    """A word as httpd reads it back: quoted when it holds a blank, a quote or a double
    backslash (which httpd reads as one outside quotes too)."""
    if any(c in word for c in " \t\"'") or "\\\\" in word:
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def _vhost_name(vhost: VirtualHost) -> str:
    addresses = " ".join(map(str, vhost.addresses))
    name = f" ServerName {vhost.server_name}" if vhost.server_name else ""
    return f"<VirtualHost {addresses}>{name}"


def removals(sections: list[LocationSection]) -> list[str]:
    """`FILE:LINE  text` for every mod_websocket line of these sections, in file order,
    with `FILE:START-END` for a <Location> or an <IfModule mod_websocket.c> that is empty
    once they go."""
    wanted = {(s.file, s.line) for s in sections}
    found: list[tuple[str, int, int | None, str]] = []  # file, line, closing line, text
    for file in dict.fromkeys(s.file for s in sections):
        with open(file, encoding="utf-8", errors="surrogateescape") as handle:
            text = handle.read()
        ends = _section_ends(text)
        for node, ancestors in _walk(parse(text, file), ()):
            if isinstance(node, Section) and (file, node.line) in wanted:
                found += _section_removals(node, ancestors, ends)
    return [f"{file}:{line}{f'-{end}' if end else ''}  {text}"
            for file, line, end, text in sorted(set(found))]


def _section_removals(section: Section, ancestors: tuple[Section, ...],
                      ends: dict[int, int]) -> list[tuple[str, int, int | None, str]]:
    lines = [node for node in section.children if _is_websocket_line(node)]
    found: list[tuple[str, int, int | None, str]] = [
        (node.file, node.line, None, f"{node.name} {' '.join(node.args)}") for node in lines]
    if len(lines) == len(section.children):
        found.append((section.file, section.line, ends[section.line],
                      f"<{section.name} {section.raw}> ... </{section.name}>, then empty"))
        wrapper = ancestors[-1] if ancestors else None
        # The wrapper is empty once every section in it has gone too: those are all
        # WebSocket sections when each of its children is a section wholly removed.
        if (wrapper is not None and wrapper.key == "ifmodule"
                and wrapper.raw.lstrip("!") in _WEBSOCKET_MODULES
                and all(isinstance(child, Section)
                        and all(_is_websocket_line(n) for n in child.children)
                        for child in wrapper.children)):
            found.append((wrapper.file, wrapper.line, ends[wrapper.line],
                          f"<IfModule {wrapper.raw}> ... </IfModule>, then empty"))
    return found


def _is_websocket_line(node: Node) -> bool:
    if node.key == "sethandler":
        return [arg.lower() for arg in node.args] == ["websocket-handler"]
    return not isinstance(node, Section) and node.key in _WEBSOCKET_DIRECTIVES


def _walk(nodes: tuple[Node, ...], ancestors: tuple[Section, ...]
          ) -> Iterator[tuple[Node, tuple[Section, ...]]]:
    for node in nodes:
        yield node, ancestors
        if isinstance(node, Section):
            yield from _walk(node.children, (*ancestors, node))


def _section_ends(text: str) -> dict[int, int]:
    """The line of each section's closing tag, by the line of its opening one (the tree
    keeps only the opening)."""
    ends: dict[int, int] = {}
    opened: list[int] = []
    for line, word, _, _ in directive_lines(text):
        if word.startswith("</"):
            ends[opened.pop()] = line
        elif word.startswith("<"):
            opened.append(line)
    return ends
