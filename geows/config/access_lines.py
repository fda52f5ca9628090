"""What the config reader hands geows.access: access directives as written, with where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccessContainer:
    """An enclosing <RequireAll>/<RequireAny>/<RequireNone>/<Limit>/<LimitExcept>."""

    key: str                 # lowercased: "requireall", "limit", ...
    args: tuple[str, ...]    # <Limit GET POST>: ("GET", "POST")
    file: str
    line: int


@dataclass(frozen=True)
class AccessLine:
    """One access directive inside one config section, after ${VAR} substitution."""

    key: str                 # lowercased directive name: "require", "authuserfile", ...
    args: tuple[str, ...]
    file: str
    line: int
    containers: tuple[AccessContainer, ...] = ()   # outermost first


# The sections that shape access directives inside a config section.
ACCESS_CONTAINERS = frozenset({"requireall", "requireany", "requirenone", "limit", "limitexcept"})

# Access directives outside the "auth"/"remoteip" families, and those of modules that
# refuse or remap requests before the handler (mod_rewrite's RewriteRule under RewriteEngine
# On, mod_alias's Redirect, mod_userdir, mod_vhost_alias): geows does not model those, so
# they must be seen to be refused where they may apply.
_ACCESS_KEYS = frozenset({"require", "order", "allow", "deny", "satisfy", "allowmethods",
                          "sslrequire", "sslrequiressl", "sslverifyclient",
                          "rewriteengine", "rewriterule",
                          "redirect", "redirectmatch", "redirectpermanent",
                          "redirecttemp", "userdir", "virtualdocumentroot",
                          "virtualdocumentrootip"})


def is_access_directive(key: str) -> bool:
    """Whether the reader hands this (lowercased) directive to the access rules:
    mod_authz_*, mod_authn_*, mod_auth_*, mod_access_compat, mod_allowmethods,
    mod_ssl's access checks, and the modules that refuse or remap requests."""
    return key in _ACCESS_KEYS or key.startswith("auth")


def is_remoteip_directive(key: str) -> bool:
    """mod_remoteip's directives (server and virtual host level)."""
    return key.startswith("remoteip")
