"""The directives geows understands, in one table, and the parsers of their arguments.

Parsers raise ConfigError without a location; the reader adds the directive's FILE:LINE.
Messages follow httpd's where httpd has one.
"""

from __future__ import annotations

import ipaddress
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from geows import limits
from geows.config.model import has_wildcard
from geows.config.paths import DEFAULT_UPGRADE
from geows.errors import ConfigError

# Where a directive may appear: the main server, a <VirtualHost>, or a directory-like
# section (<Location>, <Directory>, <Files>, <If>, ...).
SERVER, VHOST, DIR = "server", "vhost", "dir"
_SERVER_ONLY = frozenset({SERVER})
_SERVER_OR_VHOST = frozenset({SERVER, VHOST})
_DIR_ONLY = frozenset({DIR})  # mod_websocket's directives are OR_AUTHCFG
_ANYWHERE = frozenset({SERVER, VHOST, DIR})

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


DIRECTIVES = {spec.name.lower(): spec for spec in (
    Spec("ServerRoot", 1, 1, _SERVER_ONLY, "the directory other relative paths start from"),
    Spec("Listen", 1, 2, _SERVER_ONLY, "[address:]port and an optional protocol"),
    Spec("LoadModule", 2, 2, _SERVER_ONLY,
         "a module name and the name of a shared object file to load it from"),
    Spec("LogLevel", 1, None, _ANYWHERE, "a level, then optional module:level pairs"),
    Spec("Define", 1, 2, _ANYWHERE, "a variable name and an optional value"),
    Spec("UnDefine", 1, 1, _ANYWHERE, "the name of a variable to undefine"),
    Spec("Include", 1, 1, _ANYWHERE, "a config file, directory or wildcard pattern"),
    Spec("IncludeOptional", 1, 1, _ANYWHERE, "a config file, directory or wildcard pattern"),
    Spec("SetHandler", 1, 1, _ANYWHERE, "a handler name that overrides any other handler"),
    Spec("WebSocketHandler", 2, 2, _DIR_ONLY,
         "the plugin file followed by the name of its initialization function"),
    Spec("MaxMessageSize", 1, 1, _DIR_ONLY, "the largest message to accept, in bytes"),
    # A FLAG: httpd reads the first word and ignores any others.
    Spec("SupportDraft75", 0, None, _DIR_ONLY, "On or Off"),
    # geows' own: whether permessage-deflate (RFC 7692) is offered; a FLAG like the above.
    Spec("WebSocketDeflate", 0, None, _DIR_ONLY, "On or Off"),
    # geows' own: the browser origins allowed to open the location's WebSockets.
    Spec("WebSocketOrigin", 1, None, _DIR_ONLY,
         "the origins allowed (scheme://host[:port], or null)"),
    # geows' own: ping a silent client, and fail the connection when nothing answers.
    Spec("WebSocketPing", 1, 2, _DIR_ONLY,
         "the seconds of silence before a ping and the seconds to wait for any answer, or Off"),
    # geows' own: what one worker's incomplete messages may hold together, in bytes.
    Spec("WebSocketMessageMemory", 1, 1, _SERVER_ONLY,
         "the bytes one worker's incomplete messages may hold together"),
    Spec("RequestReadTimeout", 0, None, _SERVER_OR_VHOST, "key=value timeout parameters"),
    # The MPM's cap on simultaneous requests (MaxClients: its 2.2 name, which 2.4 takes):
    # in geows, on open connections (mod_websocket held a worker per WebSocket).
    Spec("MaxRequestWorkers", 1, 1, _SERVER_ONLY,
         "Maximum number of threads alive at the same time"),
    Spec("MaxClients", 1, 1, _SERVER_ONLY, "Maximum number of threads alive at the same time"),
    # The processes: how many workers, where the master's pid goes, whom workers run as,
    # and how long a graceful stop may take.
    Spec("StartServers", 1, 1, _SERVER_ONLY,
         "Number of child processes launched at server startup"),
    Spec("PidFile", 1, 1, _SERVER_ONLY, "A file for logging the server process ID"),
    Spec("User", 1, 1, _SERVER_ONLY, "Effective user id for this server"),
    Spec("Group", 1, 1, _SERVER_ONLY, "Effective group id for this server"),
    Spec("GracefulShutdownTimeout", 1, 1, _SERVER_ONLY,
         "Maximum time in seconds to wait for child processes to complete transactions "
         "during shutdown"),
    # core's request head limits; httpd spells the last one "LimitRequestFieldsize".
    Spec("LimitRequestLine", 1, 1, _SERVER_OR_VHOST,
         "Limit on maximum size of an HTTP request line"),
    Spec("LimitRequestFields", 1, 1, _SERVER_OR_VHOST,
         "Limit (0 = unlimited) on max number of header fields in a request message"),
    Spec("LimitRequestFieldsize", 1, 1, _SERVER_OR_VHOST,
         "Limit on maximum size of an HTTP request header field"),
    Spec("ServerName", 1, 1, _SERVER_OR_VHOST, "The hostname and port of the server"),
    Spec("ServerAlias", 0, None, _SERVER_OR_VHOST,
         "A name or names alternately used to access the server"),
    # What the access rules need to know: which file a URI maps to, and .htaccess files.
    Spec("DocumentRoot", 1, 1, _SERVER_OR_VHOST, "Root directory of the document tree"),
    Spec("Alias", 1, 2, _ANYWHERE, "a fakename and a realname, or a realname in a Location"),
    Spec("ScriptAlias", 1, 2, _ANYWHERE,
         "a fakename and a realname, or a realname in a Location"),
    Spec("AliasMatch", 2, 2, _SERVER_OR_VHOST, "a regular expression and a filename"),
    Spec("ScriptAliasMatch", 2, 2, _SERVER_OR_VHOST, "a regular expression and a filename"),
    Spec("AllowOverride", 1, None, _DIR_ONLY,
         "Controls what groups of directives can be configured by per-directory config files"),
    Spec("AllowOverrideList", 1, None, _DIR_ONLY,
         "Controls what individual directives can be configured by per-directory config "
         "files"),
    # mod_proxy's reverse proxy: where geows forwards what it does not serve itself.
    Spec("ProxyPass", 1, None, _ANYWHERE,
         "a URL-path, then a URL (or ! to exclude the path) and optional key=value parameters"),
    # mod_ssl: what makes a server's connections TLS, and how (geows.runtime.tls honours them).
    Spec("SSLEngine", 1, 1, _SERVER_OR_VHOST, "On or Off"),
    Spec("SSLCertificateFile", 1, 1, _SERVER_OR_VHOST, "a PEM certificate file"),
    Spec("SSLCertificateKeyFile", 1, 1, _SERVER_OR_VHOST, "a PEM private key file"),
    Spec("SSLCertificateChainFile", 1, 1, _SERVER_OR_VHOST, "a PEM file of CA certificates"),
    Spec("SSLProtocol", 1, None, _SERVER_OR_VHOST, "[+-]protocol words: all, TLSv1.2..."),
    Spec("SSLCipherSuite", 1, 2, _SERVER_OR_VHOST,
         "an optional protocol (SSL or TLSv1.3) and an OpenSSL cipher string"),
    Spec("SSLHonorCipherOrder", 1, 1, _SERVER_OR_VHOST, "On or Off"),
    Spec("SSLSessionTickets", 1, 1, _SERVER_OR_VHOST, "On or Off"),
    # mod_ssl settings that weaken or change TLS in ways Python's ssl cannot reproduce:
    # refused (see SSL_REFUSED) rather than served differently.
    Spec("SSLCompression", 1, 1, _SERVER_OR_VHOST, "On or Off"),
    Spec("SSLInsecureRenegotiation", 1, 1, _SERVER_OR_VHOST, "On or Off"),
    Spec("SSLStrictSNIVHostCheck", 1, 1, _SERVER_OR_VHOST, "On or Off"),
    Spec("SSLFIPS", 1, 1, _SERVER_ONLY, "On or Off"),
    Spec("SSLOpenSSLConfCmd", 2, 2, _SERVER_OR_VHOST, "an OpenSSL command and its value"),
    Spec("SSLSRPVerifierFile", 1, 1, _SERVER_OR_VHOST, "an SRP verifier file"),
    # core's error log and mod_log_config's access logs (geows.runtime.log writes them).
    Spec("ErrorLog", 1, 1, _SERVER_OR_VHOST,
         "a file name, a |piped logger or syslog[:facility]"),
    Spec("LogFormat", 1, 2, _SERVER_OR_VHOST,
         "a log format string (see docs) and an optional format name"),
    Spec("CustomLog", 2, 3, _SERVER_OR_VHOST,
         "a file name, a custom log format string or format name, and an optional "
         "\"env=\" or \"expr=\" clause (see docs)"),
    Spec("TransferLog", 1, 1, _SERVER_OR_VHOST,
         "the filename of the access log, or a |piped logger"),
    Spec("GlobalLog", 2, 3, _SERVER_ONLY,
         "a file name, a custom log format string or format name, and an optional "
         "\"env=\" or \"expr=\" clause (see docs)"),
)}

# Why geows refuses the mod_ssl directives it cannot honour: these flags when On...
# (SSLVerifyClient and SSLRequire* are access directives: geows.access refuses them.)
SSL_REFUSED_WHEN_ON = {
    "sslcompression": "TLS compression (CRIME) cannot be enabled with Python's ssl",
    "sslinsecurerenegotiation": "Python's ssl cannot allow insecure renegotiation",
    "sslstrictsnivhostcheck": "geows does not refuse clients without SNI",
    "sslfips": "geows does not switch OpenSSL into FIPS mode",
}
# ... and these whatever they say.
SSL_REFUSED = {
    "sslopensslconfcmd": "geows cannot hand OpenSSL configuration commands to Python's ssl",
    "sslsrpverifierfile": "Python's ssl has no SRP (password) authentication",
}

# Access directives httpd allows in directory-like sections (and .htaccess) only, never
# at the server or <VirtualHost> level (their modules' OR_AUTHCFG and OR_LIMIT), as
# `apache2 -t` says for each of Debian's access modules; the access directives it does
# allow there (SSLVerifyClient, AuthnCacheSOCache, AuthDigestShmemSize...) are not listed.
PER_DIRECTORY_ACCESS = frozenset({
    "require", "requireall", "requireany", "requirenone", "limit", "limitexcept",
    "authmerging", "authzsendforbiddenonfailure", "authgroupfile", "authdbmgroupfile",
    "authzdbmtype", "authzdbdlogintoreferer", "authzdbdquery", "authzdbdredirectquery",
    "authtype", "authname", "authuserfile", "authdbmuserfile", "authdbmtype",
    "authdbduserpwquery", "authdbduserrealmquery", "authncacheprovidefor",
    "authncachetimeout", "authncachecontext", "authbasicprovider", "authbasicauthoritative",
    "authbasicfake", "authbasicusedigestalgorithm", "authdigestprovider", "authdigestqop",
    "authdigestnoncelifetime", "authdigestnccheck", "authdigestalgorithm",
    "authdigestdomain", "authformprovider", "authformusername", "authformpassword",
    "authformlocation", "authformmethod", "authformmimetype", "authformbody",
    "authformsize", "authformloginrequiredlocation", "authformloginsuccesslocation",
    "authformlogoutlocation", "authformsitepassphrase", "authformauthoritative",
    "authformfakebasicauth", "authformdisablenostore", "order", "allow", "deny", "satisfy",
    "allowmethods", "sslrequiressl", "sslrequire", "authldapurl", "authldapbinddn",
    "authldapbindpassword", "authldapbindauthoritative", "authldapremoteuserisdn",
    "authldapremoteuserattribute", "authldapcomparednonserver",
    "authldapsubgroupattribute", "authldapsubgroupclass", "authldapmaxsubgroupdepth",
    "authldapgroupattribute", "authldapgroupattributeisdn", "authldapdereferencealiases",
    "authldapauthorizeprefix", "authldapinitialbindasuser", "authldapinitialbindpattern",
    "authldapsearchasuser", "authldapcompareasuser",
})
_OVERRIDES = frozenset({"none", "all", "authconfig", "fileinfo", "indexes", "limit", "options",
                        "nonfatal"})

# SSLProtocol's TLS versions, oldest first; mod_ssl's "all" is every one of them (Debian's
# OpenSSL has no SSLv3, so mod_ssl's "all" leaves it out there too).
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")

LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
              *(f"trace{n}" for n in range(1, 9)))

HTTPD_VERSION = (2, 4, 99)  # what geows answers to <IfVersion>
_COMPARE = {"=": operator.eq, "==": operator.eq, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}

_LISTEN = re.compile(r"(?:\[([^\]]*)\]|([^:\[\]]*)):([0-9]+)|([0-9]+)")
_TIMEOUT = re.compile(r"([0-9]+)(?:-([0-9]+))?(?:,minrate=([0-9]+))?", re.IGNORECASE)


def parse_ssl_engine(value: str) -> bool:
    """SSLEngine On or Off; mod_ssl's Optional (RFC 2817 upgrades) is not served."""
    if value.lower() == "optional":
        raise ConfigError("SSLEngine optional (TLS upgrade, RFC 2817) is not supported by "
                          "geows, which refuses to start rather than serve it as plain text")
    if value.lower() not in ("on", "off"):
        raise ConfigError("SSLEngine: geows takes On or Off (or refuses Optional), "
                          f"not '{value}'")
    return value.lower() == "on"


def parse_ssl_protocol(args: Sequence[str]) -> tuple[str, str]:
    """SSLProtocol's words as the (lowest, highest) TLS version to offer. As mod_ssl sets
    them: the highest enabled, then down while the next older one is enabled too (no holes;
    "TLSv1 +TLSv1.2" offers TLSv1.2 only). SSLv2/SSLv3 cannot be enabled."""
    enabled: set[str] = set()
    for word in args:
        action = word[0] if word.startswith(("+", "-")) else ""
        name = word[len(action):].lower()
        if name == "sslv2":
            raise ConfigError("SSLProtocol: SSLv2 is no longer supported")
        if name == "sslv3":
            if action != "-":
                raise ConfigError(f"SSLProtocol: '{word}': SSLv3 is insecure and Python's ssl "
                                  "cannot enable it; geows refuses rather than serve without it")
            continue  # never enabled: nothing to take away
        versions = set(TLS_VERSIONS) if name == "all" else \
            {version for version in TLS_VERSIONS if version.lower() == name}
        if not versions:
            raise ConfigError(f"SSLProtocol: Illegal protocol '{word}'")
        if action == "-":
            enabled -= versions
        elif action == "+":
            enabled |= versions
        else:
            enabled = versions
    if not enabled:
        raise ConfigError("SSLProtocol: no protocol left enabled")
    high = max(TLS_VERSIONS.index(version) for version in enabled)
    low = high
    while low > 0 and TLS_VERSIONS[low - 1] in enabled:
        low -= 1
    return TLS_VERSIONS[low], TLS_VERSIONS[high]


def parse_cipher_suite(args: Sequence[str]) -> tuple[bool, str]:
    """SSLCipherSuite [protocol] ciphers as (for TLS 1.3, cipher string)."""
    if len(args) == 1:
        return False, args[0]
    if args[0].lower() not in ("ssl", "tlsv1.3"):
        raise ConfigError(f"SSLCipherSuite: protocol '{args[0]}' not supported")
    return args[0].lower() == "tlsv1.3", args[1]


def check_overrides(key: str, args: Sequence[str]) -> None:
    """AllowOverride's words (Options= and Nonfatal= take values), or AllowOverrideList's
    None alone."""
    if key == "allowoverride":
        for word in args:
            if word.partition("=")[0].lower() not in _OVERRIDES:
                raise ConfigError(f"Illegal override option {word}")
    elif len(args) > 1 and any(word.lower() == "none" for word in args):
        raise ConfigError("'None' not allowed with other directives in AllowOverrideList")


def parse_listen(args: Sequence[str]) -> tuple[str | None, int, str]:
    """`[host:]port [protocol]` as (host or None for all addresses, port, protocol)."""
    m = _LISTEN.fullmatch(args[0])
    if not m or m[2] == "":
        raise ConfigError(f"Invalid address or port '{args[0]}': expected [address:]port, "
                          "with an IPv6 address in brackets as in [::1]:8080")
    if m[1] is not None:
        if "%" in m[1]:
            raise ConfigError("Scope id is not supported")
        try:
            ipaddress.IPv6Address(m[1])
        except ValueError:
            raise ConfigError(f"Invalid IPv6 address '{m[1]}'") from None
    port = int(m[3] or m[4])
    if not 1 <= port <= 65535:
        raise ConfigError(f"Port {port} is out of range 1-65535")
    protocol = args[1].lower() if len(args) == 2 else "http"  # httpd lowercases it
    if protocol not in ("http", "https"):
        raise ConfigError(f"Listen protocol '{args[1]}': geows serves http and https only")
    host = m[1] if m[1] is not None else m[2]
    return (None if host in (None, "*") else host), port, protocol


def module_short_name(name: str) -> str:
    """websocket_module, mod_websocket.c and websocket all name "websocket"."""
    if name.endswith(".c"):
        return name[:-2].removeprefix("mod_")
    return name.removesuffix("_module")


def module_names(identifier: str) -> set[str]:
    """The names <IfModule> knows a LoadModule'd module by: x_module and mod_x.c."""
    return {identifier, f"mod_{module_short_name(identifier)}.c"}


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


def parse_log_level(args: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """LogLevel's main level (None if not given) and its module:level pairs."""
    main = None
    modules = {}
    for arg in args:
        module, _, level = arg.rpartition(":")
        level = level.lower()
        if level not in LOG_LEVELS:
            raise ConfigError("LogLevel requires level keyword: one of "
                              f"{'/'.join(LOG_LEVELS)}, not '{arg}'")
        if module:
            modules[module_short_name(module)] = level
        else:
            main = level
    return main, modules


def parse_request_read_timeout(args: Sequence[str]) -> tuple[float, float, int] | None:
    """The header stage as (timeout, maximum, MinRate), None if not set; others checked only."""
    header = None
    for arg in args:
        key, equals, value = arg.partition("=")
        if not equals:
            raise ConfigError("Invalid RequestReadTimeout parameter. "
                              "Parameter must be in the form 'key=value'")
        if key.lower() not in ("handshake", "header", "body"):
            raise ConfigError(f"RequestReadTimeout: {arg}: Unknown RequestReadTimeout parameter")
        m = _TIMEOUT.fullmatch(value)
        if not m:
            raise ConfigError(f"RequestReadTimeout: {arg}: expected "
                              "seconds[-maxseconds][,MinRate=bytes-per-second]")
        timeout, maximum, rate = (int(group or 0) for group in m.groups())
        if maximum and m[3] is None:
            raise ConfigError(f"RequestReadTimeout: {arg}: "
                              "Must set MinRate option if using timeout range")
        if m[3] is not None and rate == 0:
            raise ConfigError(f"RequestReadTimeout: {arg}: Minimum data rate must be larger than 0")
        if maximum and timeout >= maximum:
            raise ConfigError(f"RequestReadTimeout: {arg}: "
                              "Maximum timeout must be larger than initial timeout")
        if key.lower() == "header":
            if timeout == 0:  # the server would time out at once; refuse rather than guess
                raise ConfigError(f"RequestReadTimeout: {arg}: turning the header timeout off "
                                  "is not supported by geows; give a number of seconds")
            cap = maximum or (math.inf if rate else timeout)
            header = (float(timeout), float(cap), rate)
    return header


_ATOI64 = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]*)")
_INT64_MAX = 2**63 - 1


def parse_size(value: str) -> int:
    """MaxMessageSize's value, read as the module does: apr_atoi64 (leading blanks, a sign,
    the digits up to the first other character, saturating) must give more than zero.
    So "10k" is 10 bytes, as in httpd; the reader warns about the ignored rest."""
    digits = _ATOI64.match(value)[1]  # type: ignore[index]  # the pattern always matches
    size = int(digits) if digits.lstrip("+-") else 0
    if size <= 0:
        raise ConfigError(f"Invalid maximum message size '{value}': expected a positive "
                          "number of bytes")
    return min(size, _INT64_MAX)


def parse_message_memory(value: str) -> int:
    """WebSocketMessageMemory's bytes: geows' own directive, so read strictly (digits only,
    more than zero): a typo must not become a cap of a few bytes, as "64M" would under atoi."""
    if not value.isascii() or not value.isdigit() or int(value) == 0:
        raise ConfigError(f"WebSocketMessageMemory '{value}': expected a positive number of "
                          "bytes (digits only)")
    return int(value)


def atoi(value: str) -> int:
    """C's atoi: leading blanks, a sign, then the digits up to the first other character."""
    digits = _ATOI64.match(value)[1]  # type: ignore[index]  # the pattern always matches
    return int(digits) if digits.lstrip("+-") else 0


def parse_request_limit(name: str, value: str) -> int:
    """LimitRequestLine, LimitRequestFields or LimitRequestFieldsize, read as core reads
    them: atoi (so "8k" is 8 and "x" is 0), refused only when negative. 0 is taken as it
    is: no request line or header field fits (httpd answers every request 414 or 400),
    except for LimitRequestFields, where 0 means no limit."""
    number = atoi(value)
    if number < 0:
        unlimited = " (0 = no limit)" if name.lower() == "limitrequestfields" else ""
        raise ConfigError(f'{name} "{value}" must be a non-negative integer{unlimited}')
    return number


_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s]+")


def parse_account(kind: str, value: str, lookup: Callable[[str], int]) -> str:
    """User or Group: a name, or #number as httpd allows; ConfigError for an unknown name,
    as httpd refuses one at start."""
    if value.startswith("#") and value[1:].isdigit():
        return value
    try:
        lookup(value)
    except KeyError:
        raise ConfigError(f"bad {kind} name {value}") from None
    return value


def parse_origins(args: Sequence[str]) -> tuple[str, ...]:
    """WebSocketOrigin's origins as browsers serialize them (RFC 6454 6.1): scheme://host
    with a port only when not the scheme's default, lowercased here to compare without case;
    "null" is the opaque origin browsers send from file:// and sandboxed pages."""
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


def _ping_seconds(name: str, value: str) -> float:
    seconds = float(value) if _SECONDS.fullmatch(value) else 0.0
    if not 0 < seconds <= _PING_MAX:
        raise ConfigError(f"WebSocketPing {name} '{value}': expected a number of seconds "
                          f"greater than 0 and at most {_PING_MAX}")
    return seconds


def parse_server_name(value: str) -> str:
    """ServerName [scheme://]host[:port] as the host httpd compares Host headers with."""
    if has_wildcard(value):
        raise ConfigError(f'Invalid ServerName "{value}" use ServerAlias to set multiple '
                          "server names.")
    host = value.split("://", 1)[1] if "://" in value else value
    host, colon, port = host.partition(":")  # httpd splits at the first ':' and atoi()s
    number = re.match(r"[ \t]*[+-]?[0-9]*", port)[0].strip()  # type: ignore[index]
    if colon and not 1 <= (int(number) if number.lstrip("+-") else 0) <= 65535:
        raise ConfigError(f'The port number "{value}" is outside the appropriate range '
                          "(i.e., 1..65535).")
    return host


def server_name_port(value: str) -> int | None:
    """ServerName's port, as parse_server_name reads it; None without one."""
    host = value.split("://", 1)[1] if "://" in value else value
    _, colon, port = host.partition(":")
    return atoi(port) if colon else None


def parse_log_condition(clause: str) -> str:
    """CustomLog's third argument, env=[!]VAR or expr=EXPRESSION, checked as mod_log_config
    checks it (geows evaluates neither: see the reader's warning)."""
    kind = clause[:clause.find("=") + 1].lower()
    if kind == "env=":
        if clause[4:] in ("", "!"):
            raise ConfigError("missing environment variable name")
    elif kind == "expr=":
        if not clause[5:]:
            raise ConfigError("missing condition")
    else:
        raise ConfigError("error in condition clause")
    return clause


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


def parse_flag(name: str, value: str) -> bool:
    """On or Off, in any case."""
    if value.lower() not in ("on", "off"):
        raise ConfigError(f"{name} must be On or Off")
    return value.lower() == "on"


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
