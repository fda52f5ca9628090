"""mod_ssl's directives: what makes a server's connections TLS, and how.

Each sets the TLS draft of the server it is in; config/tls_settings.check_tls checks the
result, geows.runtime.tls serves it. No file is loaded here, only checked to exist.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from geows.config import directives
from geows.config.directives import SERVER_ONLY, SERVER_OR_VHOST, Spec, table
from geows.config.drafts import ReadState, Scope, TlsDraft
from geows.config.tls_settings import Located
from geows.config.tree import Node
from geows.errors import ConfigError

DIRECTIVES = table(
    Spec("SSLEngine", 1, 1, SERVER_OR_VHOST, "On or Off"),
    Spec("SSLCertificateFile", 1, 1, SERVER_OR_VHOST, "a PEM certificate file"),
    Spec("SSLCertificateKeyFile", 1, 1, SERVER_OR_VHOST, "a PEM private key file"),
    Spec("SSLCertificateChainFile", 1, 1, SERVER_OR_VHOST, "a PEM file of CA certificates"),
    Spec("SSLProtocol", 1, None, SERVER_OR_VHOST, "[+-]protocol words: all, TLSv1.2..."),
    Spec("SSLCipherSuite", 1, 2, SERVER_OR_VHOST,
         "an optional protocol (SSL or TLSv1.3) and an OpenSSL cipher string"),
    Spec("SSLHonorCipherOrder", 1, 1, SERVER_OR_VHOST, "On or Off"),
    Spec("SSLSessionTickets", 1, 1, SERVER_OR_VHOST, "On or Off"),
    # mod_ssl settings that weaken or change TLS in ways Python's ssl cannot reproduce:
    # refused (see SSL_REFUSED) rather than served differently.
    Spec("SSLCompression", 1, 1, SERVER_OR_VHOST, "On or Off"),
    Spec("SSLInsecureRenegotiation", 1, 1, SERVER_OR_VHOST, "On or Off"),
    Spec("SSLStrictSNIVHostCheck", 1, 1, SERVER_OR_VHOST, "On or Off"),
    Spec("SSLFIPS", 1, 1, SERVER_ONLY, "On or Off"),
    Spec("SSLOpenSSLConfCmd", 2, 2, SERVER_OR_VHOST, "an OpenSSL command and its value"),
    Spec("SSLSRPVerifierFile", 1, 1, SERVER_OR_VHOST, "an SRP verifier file"),
)

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

# SSLProtocol's TLS versions, oldest first; mod_ssl's "all" is every one of them (Debian's
# OpenSSL has no SSLv3, so mod_ssl's "all" leaves it out there too).
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


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


class SslDirectives(ReadState):
    """mod_ssl's handlers: each sets the TLS draft of the server it is in."""

    def _tls_draft(self, scope: Scope) -> TlsDraft:
        return scope.vhost.tls if scope.vhost is not None else self.tls

    def _sslengine(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        on = parse_ssl_engine(args[0])
        self._tls_draft(scope).engine = Located("on" if on else "off", node.file, node.line)

    def _tls_file(self, node: Node, arg: str) -> Located:
        """A certificate or key file, ServerRoot-relative, checked where it is read as
        mod_ssl checks it (loading it is geows.runtime.tls's)."""
        path = os.path.join(self.root, arg)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise ConfigError(f"{node.name}: file '{path}' does not exist or is empty")
        return Located(path, node.file, node.line)

    def _sslcertificatefile(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._tls_draft(scope).certificates.append(self._tls_file(node, args[0]))

    def _sslcertificatekeyfile(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._tls_draft(scope).keys.append(self._tls_file(node, args[0]))

    def _sslcertificatechainfile(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._tls_draft(scope).chain = self._tls_file(node, args[0])

    def _sslprotocol(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._tls_draft(scope).protocols = parse_ssl_protocol(args)

    def _sslciphersuite(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        tls13, ciphers = parse_cipher_suite(args)
        located = Located(ciphers, node.file, node.line)
        if tls13:
            self._tls_draft(scope).tls13_ciphers = located
        else:
            self._tls_draft(scope).ciphers = located

    def _sslhonorcipherorder(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._tls_draft(scope).honor_cipher_order = directives.parse_flag(node.name, args[0])

    def _sslsessiontickets(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self._tls_draft(scope).session_tickets = directives.parse_flag(node.name, args[0])

    def _ssl_refused_when_on(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        if directives.parse_flag(node.name, args[0]):
            raise ConfigError(f"{node.name} {args[0]}: {SSL_REFUSED_WHEN_ON[node.key]}"
                              "; geows refuses to start rather than serve TLS differently")

    _sslcompression = _sslinsecurerenegotiation = _ssl_refused_when_on
    _sslstrictsnivhostcheck = _sslfips = _ssl_refused_when_on

    def _ssl_refused(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        raise ConfigError(f"{node.name}: {SSL_REFUSED[node.key]}; geows refuses to "
                          "start rather than serve TLS differently")

    _sslopensslconfcmd = _sslsrpverifierfile = _ssl_refused
