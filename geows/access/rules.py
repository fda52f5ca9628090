"""One config section's access directives, parsed; and httpd's merge of two sections.

Each httpd module keeps its own per-directory record and its own merge rule, and geows
keeps them apart the same way (SectionAccess has one field per module):

- mod_authz_core (Require, <RequireAll|Any|None>, AuthMerging,
  AuthzSendForbiddenOnFailure) merges with AuthMerging: a section's Require lines
  replace the inherited ones (Off, the default) or join them (And, Or).
- mod_authn_core (AuthType, AuthName) and mod_auth_basic (AuthBasicProvider,
  AuthBasicAuthoritative...) merge field by field: what a section sets wins.
- mod_access_compat (Order, Allow, Deny, Satisfy), mod_authn_file (AuthUserFile) and
  mod_authz_groupfile (AuthGroupFile) have no merge function: httpd creates a module's
  record only in sections that use one of its directives, and such a record replaces the
  inherited one whole. So `Satisfy Any` alone in a later section also drops the
  Allow/Deny/Order inherited from an earlier one.
- mod_allowmethods (AllowMethods) keeps the last section's list.

What geows cannot enforce is kept beside the rule it belongs to (the `refused` fields),
so a merge drops it exactly when httpd drops that rule; `unenforceable` lists what is
still in force.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from geows.access.ipsubnet import NotAnAddress, Subnet, parse_rule
from geows.access.methods import ALL, MethodSet, limit, parse_known
from geows.config.access_lines import AccessContainer, AccessLine
from geows.errors import ConfigError

_REFUSE = "which refuses to start rather than serve this location unguarded"

# container key: (op, negated)
_REQUIRE_SECTIONS = {"requireall": ("all", False), "requireany": ("any", False),
                     "requirenone": ("any", True)}


# --- mod_authz_core ----------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Require:
    """One `Require [not] provider args` line."""

    provider: str
    args: tuple[str, ...]
    value: object          # the parsed argument: see _PARSERS
    negate: bool
    methods: MethodSet     # the methods it applies to (<Limit>/<LimitExcept>)
    file: str
    line: int
    refused: ConfigError | None = None


@dataclass(frozen=True, kw_only=True)
class RequireGroup:
    """<RequireAll> ("all"), <RequireAny> ("any"), <RequireNone> ("any", negated), the
    implicit <RequireAny> of a section's top-level Require lines, or the node AuthMerging
    And/Or joins two sections with (`merged`)."""

    op: str
    negate: bool
    children: tuple[Require | RequireGroup, ...]
    methods: MethodSet     # the union of the children's
    merged: bool = False
    file: str | None = None
    line: int | None = None

    def describe(self) -> str:
        name = _GROUP_NAMES[self.op, self.negate]
        return f"AuthMerging {name}" if self.merged else f"<Require{name}>"


_GROUP_NAMES = {("all", False): "All", ("all", True): "NotAll",
                ("any", False): "Any", ("any", True): "None"}


@dataclass(frozen=True)
class Authz:
    root: RequireGroup | None = None
    merging: str | None = None            # AuthMerging: "off", "and", "or"; None: unset
    forbidden_on_failure: bool | None = None


# --- mod_authn_core, mod_auth_basic ---------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """A directive's value, or why geows cannot enforce it."""

    value: object
    refused: ConfigError | None = None


@dataclass(frozen=True)
class Authn:
    auth_type: Setting | None = None      # value: the type, None for "AuthType None"
    auth_name: Setting | None = None


@dataclass(frozen=True)
class Basic:
    providers: Setting | None = None      # value: tuple of provider names
    authoritative: Setting | None = None  # value: bool
    fake: Setting | None = None           # AuthBasicFake; value None when "off"
    digest_algorithm: Setting | None = None


# --- mod_access_compat ----------------------------------------------------------------

@dataclass(frozen=True)
class HostRule:
    """One word of `Allow from` / `Deny from`."""

    kind: str              # "all", "ip" (value: Subnet), "host" (value: domain), "env"
    value: object
    methods: MethodSet
    refused: ConfigError | None = None


@dataclass(frozen=True)
class Compat:
    orders: tuple[tuple[MethodSet, str], ...] = ()     # in file order: the last one wins
    satisfies: tuple[tuple[MethodSet, str], ...] = ()
    allows: tuple[HostRule, ...] = ()
    denies: tuple[HostRule, ...] = ()

    def order(self, method: str) -> str:
        return _last(self.orders, method, "deny,allow")

    def satisfy(self, method: str) -> str | None:
        return _last(self.satisfies, method, None)


def _last(settings: tuple[tuple[MethodSet, str], ...], method: str, default):
    for methods, value in reversed(settings):
        if method in methods:
            return value
    return default


# --- one section -------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class SectionAccess:
    """Everything one section's (or a merge of sections') access lines set."""

    authz: Authz = Authz()
    authn: Authn = Authn()
    basic: Basic = Basic()
    user_file: str | None = None          # AuthUserFile, absolute
    group_file: str | None = None         # AuthGroupFile, absolute
    compat: Compat | None = None          # None: no Order/Allow/Deny/Satisfy here
    allow_methods: MethodSet | None = None
    # Directives of modules geows does not model (mod_ssl, mod_auth_digest, LDAP...):
    # kept from every section, whatever follows.
    refused: tuple[ConfigError, ...] = ()

    @property
    def unenforceable(self) -> tuple[ConfigError, ...]:
        """What is in force here and geows cannot enforce, each at its FILE:LINE."""
        found = [*_tree_refusals(self.authz.root)]
        settings = (self.authn.auth_type, self.authn.auth_name, self.basic.providers,
                    self.basic.authoritative, self.basic.fake, self.basic.digest_algorithm)
        found += [s.refused for s in settings if s is not None and s.refused]
        if self.compat:
            found += [r.refused for r in self.compat.allows + self.compat.denies if r.refused]
        return (*found, *self.refused)


EMPTY = SectionAccess()


def _tree_refusals(node: Require | RequireGroup | None) -> Iterator[ConfigError]:
    if isinstance(node, RequireGroup):
        for child in node.children:
            yield from _tree_refusals(child)
    elif node is not None and node.refused:
        yield node.refused


# --- merge ---------------------------------------------------------------------------

def merge(base: SectionAccess, new: SectionAccess) -> SectionAccess:
    """The configuration of a request matched by `base`, then by `new`, as httpd's
    per-module merge functions combine them."""
    return SectionAccess(
        authz=_merge_authz(base.authz, new.authz),
        authn=Authn(auth_type=new.authn.auth_type or base.authn.auth_type,
                    auth_name=new.authn.auth_name or base.authn.auth_name),
        basic=Basic(**{name: getattr(new.basic, name) or getattr(base.basic, name)
                       for name in Basic.__dataclass_fields__}),
        user_file=new.user_file or base.user_file,
        group_file=new.group_file or base.group_file,
        compat=new.compat if new.compat is not None else base.compat,
        allow_methods=new.allow_methods if new.allow_methods is not None else base.allow_methods,
        refused=base.refused + new.refused,
    )


def _merge_authz(base: Authz, new: Authz) -> Authz:
    forbidden = (new.forbidden_on_failure if new.forbidden_on_failure is not None
                 else base.forbidden_on_failure)
    if new.merging is None and new.root is None:
        merged = base                      # `new` sets AuthzSendForbiddenOnFailure at most
    elif new.merging in (None, "off") or not (base.root or new.root):
        merged = new
    elif base.root and new.root:
        op = "all" if new.merging == "and" else "any"
        merged = Authz(RequireGroup(op=op, negate=False, children=(base.root, new.root),
                                    methods=base.root.methods | new.root.methods, merged=True),
                       new.merging)
    else:
        merged = Authz(base.root or new.root, new.merging)
    return replace(merged, forbidden_on_failure=forbidden)


# --- build ---------------------------------------------------------------------------

def build(lines: Sequence[AccessLine], server_root: str) -> SectionAccess:
    """Parse one section's access lines (in file order). Arguments httpd refuses raise
    ConfigError at their line; what geows cannot enforce lands in `unenforceable`."""
    builder = _Builder(server_root)
    for line in lines:
        try:
            builder.add(line)
        except ConfigError as e:
            if e.file is None:
                raise ConfigError(e.message, line.file, line.line) from None
            raise
    return builder.finish()


def _refusal(line: AccessLine, what: str, reason: str = "") -> ConfigError:
    """The error naming a directive (or provider) geows cannot enforce."""
    reason = reason or "is not supported by geows"
    return ConfigError(f"{what} {reason}, {_REFUSE}", line.file, line.line)


def _take1(line: AccessLine, name: str, usage: str) -> str:
    """The single argument of a TAKE1 directive (httpd reads "" as a missing word)."""
    if len(line.args) != 1 or not line.args[0]:
        raise ConfigError(f"{name} takes one argument, {usage}")
    return line.args[0]


def _flag(line: AccessLine, name: str) -> bool:
    if len(line.args) != 1 or line.args[0].lower() not in ("on", "off"):
        raise ConfigError(f"{name} must be On or Off")
    return line.args[0].lower() == "on"


def _is_expression(text: str) -> bool:
    """httpd reads these arguments as ap_expr strings; geows takes only plain text."""
    return "%{" in text


@dataclass
class _OpenGroup:
    container: AccessContainer | None      # None: the section's implicit <RequireAny>
    op: str
    negate: bool
    children: list[Require | RequireGroup] = field(default_factory=list)

    def describe(self) -> str:
        return f"<Require{_GROUP_NAMES[self.op, self.negate]}>"


class _Builder:
    """Collects one section's lines; mirrors how httpd's command handlers fill the
    modules' per-directory records."""

    def __init__(self, server_root: str):
        self.server_root = server_root
        self.stack = [_OpenGroup(None, "any", False)]
        self.merging: str | None = None
        self.forbidden: bool | None = None
        self.authn = Authn()
        self.basic = Basic()
        self.user_file: str | None = None
        self.group_file: str | None = None
        self.compat: Compat | None = None
        self.allow_methods: MethodSet | None = None
        self.refused: list[ConfigError] = []

    def add(self, line: AccessLine) -> None:
        handler = _HANDLERS.get(line.key)
        if handler is not None:
            handler(self, line)
        elif line.key not in _INERT:
            self.refused.append(_refusal(line, _display(line.key)))

    def finish(self) -> SectionAccess:
        while len(self.stack) > 1:
            self._close()
        root = self.stack[0]
        tree = _settle(_freeze(root), None) if root.children else None
        return SectionAccess(
            authz=Authz(tree, self.merging, self.forbidden), authn=self.authn,
            basic=self.basic, user_file=self.user_file, group_file=self.group_file,
            compat=self.compat, allow_methods=self.allow_methods,
            refused=tuple(self.refused))

    # mod_authz_core

    def require(self, line: AccessLine) -> None:
        path = [c for c in line.containers if c.key in _REQUIRE_SECTIONS]
        while [g.container for g in self.stack[1:]] != path[:len(self.stack) - 1]:
            self._close()
        for container in path[len(self.stack) - 1:]:
            op, negate = _REQUIRE_SECTIONS[container.key]
            self.stack.append(_OpenGroup(container, op, negate))
        leaf = _parse_require(line, _methods(line))
        if leaf.negate and self.stack[-1].op == "any":
            raise ConfigError("negative Require directive has no effect in "
                              f"{self.stack[-1].describe()} directive")
        self.stack[-1].children.append(leaf)

    def _close(self) -> None:
        group = self.stack.pop()
        parent = self.stack[-1]
        if group.negate and parent.op == "any":
            c = group.container
            raise ConfigError(f"{group.describe()} directive has no effect in "
                              f"{parent.describe()} directive", c.file, c.line)  # type: ignore[union-attr]
        if not group.negate and group.op == parent.op:
            parent.children.extend(group.children)   # httpd is associative here
        else:
            parent.children.append(_freeze(group))

    def auth_merging(self, line: AccessLine) -> None:
        value = _take1(line, "AuthMerging", "controls how a <Directory>, <Location>, or "
                       "similar directive's authorization directives are combined with those "
                       "of its predecessor").lower()
        if value not in ("off", "and", "or"):
            raise ConfigError("AuthMerging must be one of: Off | And | Or")
        self.merging = value

    def forbidden_on_failure(self, line: AccessLine) -> None:
        self.forbidden = _flag(line, "AuthzSendForbiddenOnFailure")

    # mod_authn_core

    def auth_type(self, line: AccessLine) -> None:
        value = _take1(line, "AuthType", 'an HTTP authorization type (e.g., "Basic")')
        refused = None
        if _is_expression(value):
            refused = _refusal(line, "AuthType", "with an expression is not supported by geows")
        elif value.lower() not in ("basic", "none"):
            refused = _refusal(line, f"AuthType {value}",
                              "is not supported by geows (only Basic)")
        self.authn = replace(self.authn, auth_type=Setting(
            None if value.lower() == "none" else value, refused))

    def auth_name(self, line: AccessLine) -> None:
        value = _take1(line, "AuthName", 'the authentication realm (e.g. "Members Only")')
        refused = _refusal(line, "AuthName", "with an expression is not supported by geows") \
            if _is_expression(value) else None
        self.authn = replace(self.authn, auth_name=Setting(value, refused))

    # mod_auth_basic, mod_authn_file, mod_authz_groupfile

    def basic_provider(self, line: AccessLine) -> None:
        if not line.args:
            raise ConfigError("AuthBasicProvider requires at least one argument, specify the "
                              "auth providers for a directory or location")
        old = self.basic.providers
        names = (old.value if old else ()) + line.args  # type: ignore[operator]
        refused = old.refused if old else None
        for name in line.args:
            if name != "file" and refused is None:
                refused = _refusal(line, f"AuthBasicProvider {name}:",
                                  f"the {name} provider is not supported by geows")
        self.basic = replace(self.basic, providers=Setting(names, refused))

    def basic_authoritative(self, line: AccessLine) -> None:
        value = _flag(line, "AuthBasicAuthoritative")
        self.basic = replace(self.basic, authoritative=Setting(value))

    def basic_fake(self, line: AccessLine) -> None:
        off = len(line.args) == 1 and line.args[0].lower() == "off"
        self.basic = replace(self.basic, fake=Setting(
            None if off else line.args, None if off else _refusal(line, "AuthBasicFake")))

    def basic_digest_algorithm(self, line: AccessLine) -> None:
        off = len(line.args) == 1 and line.args[0].lower() == "off"
        self.basic = replace(self.basic, digest_algorithm=Setting(
            None if off else line.args,
            None if off else _refusal(line, "AuthBasicUseDigestAlgorithm")))

    def auth_user_file(self, line: AccessLine) -> None:
        self.user_file = os.path.join(self.server_root, _take1(
            line, "AuthUserFile", "text file containing user IDs and passwords"))

    def auth_group_file(self, line: AccessLine) -> None:
        self.group_file = os.path.join(self.server_root, _take1(
            line, "AuthGroupFile", "text file containing group names and member user IDs"))

    # mod_access_compat

    def order(self, line: AccessLine) -> None:
        value = _take1(line, "order", "'allow,deny', 'deny,allow', or 'mutual-failure'").lower()
        if value not in ("allow,deny", "deny,allow", "mutual-failure"):
            raise ConfigError("unknown order")
        compat = self.compat or Compat()
        self.compat = replace(compat, orders=compat.orders + ((_methods(line), value),))

    def satisfy(self, line: AccessLine) -> None:
        value = _take1(line, "Satisfy",
                       "access policy if both allow and require used ('all' or 'any')").lower()
        if value not in ("all", "any"):
            raise ConfigError("Satisfy either 'any' or 'all'.")
        compat = self.compat or Compat()
        self.compat = replace(compat, satisfies=compat.satisfies + ((_methods(line), value),))

    def allow_deny(self, line: AccessLine) -> None:
        if len(line.args) < 2:
            raise ConfigError(f"{line.key} requires at least two arguments, 'from' followed "
                              "by hostnames or IP-address wildcards")
        if line.args[0].lower() != "from":
            raise ConfigError("allow and deny must be followed by 'from'")
        methods = _methods(line)
        rules = tuple(_host_rule(line, word, methods) for word in line.args[1:])
        compat = self.compat or Compat()
        if line.key == "allow":
            self.compat = replace(compat, allows=compat.allows + rules)
        else:
            self.compat = replace(compat, denies=compat.denies + rules)

    # mod_allowmethods

    def allowmethods(self, line: AccessLine) -> None:
        if not line.args:
            raise ConfigError("AllowMethods: No method or 'reset' keyword given")
        if line.args == ("reset",):
            self.allow_methods = ALL
        else:
            self.allow_methods = parse_known(line.args, "AllowMethods: ")

    # mod_ssl's per-request checks (client certificates, SSLRequire expressions): geows
    # serves TLS but checks none of them

    def ssl(self, line: AccessLine) -> None:
        if line.key == "sslverifyclient" and [a.lower() for a in line.args] == ["none"]:
            return
        self.refused.append(_refusal(line, _display(line.key),
                                    "is not enforced by geows"))

    # Modules that can refuse a request ([F], Redirect 403) or give it another file name
    # (and so other <Directory> rules): geows models neither.

    def remapping(self, line: AccessLine) -> None:
        words = [a.lower() for a in line.args]
        if line.key == "userdir" and words[:1] == ["disabled"] and len(words) == 1:
            return  # off: nothing is mapped
        self.refused.append(_refusal(
            line, _display(line.key), "refuses or remaps requests in ways geows does not model"))


_HANDLERS: dict[str, Callable[[_Builder, AccessLine], None]] = {
    "require": _Builder.require,
    "authmerging": _Builder.auth_merging,
    "authzsendforbiddenonfailure": _Builder.forbidden_on_failure,
    "authtype": _Builder.auth_type,
    "authname": _Builder.auth_name,
    "authbasicprovider": _Builder.basic_provider,
    "authbasicauthoritative": _Builder.basic_authoritative,
    "authbasicfake": _Builder.basic_fake,
    "authbasicusedigestalgorithm": _Builder.basic_digest_algorithm,
    "authuserfile": _Builder.auth_user_file,
    "authgroupfile": _Builder.auth_group_file,
    "order": _Builder.order,
    "satisfy": _Builder.satisfy,
    "allow": _Builder.allow_deny,
    "deny": _Builder.allow_deny,
    "allowmethods": _Builder.allowmethods,
    "sslrequire": _Builder.ssl,
    "sslrequiressl": _Builder.ssl,
    "sslverifyclient": _Builder.ssl,
    **dict.fromkeys(("rewriterule", "redirect", "redirectmatch", "redirectpermanent",
                     "redirecttemp", "userdir", "virtualdocumentroot", "virtualdocumentrootip"),
                    _Builder.remapping),
}

# Server-wide settings of other auth modules: they check no request by themselves (what
# would use them, a Require or AuthBasicProvider naming their provider, is refused); and
# RewriteEngine, which rewrites nothing without a RewriteRule (refused where it may apply).
_INERT = frozenset({"rewriteengine", "authncachesocache", "authncacheenable", "authncachecontext",
                    "authncachetimeout", "authncacheprovidefor", "authdigestshmemsize",
                    "authldapcharsetconfig", "authnzfcgidefineprovider"})

_DISPLAY = {"sslrequire": "SSLRequire", "sslrequiressl": "SSLRequireSSL",
            "sslverifyclient": "SSLVerifyClient", "rewriterule": "RewriteRule",
            "redirect": "Redirect",
            "redirectmatch": "RedirectMatch", "redirectpermanent": "RedirectPermanent",
            "redirecttemp": "RedirectTemp", "userdir": "UserDir",
            "virtualdocumentroot": "VirtualDocumentRoot",
            "virtualdocumentrootip": "VirtualDocumentRootIP"}


def _display(key: str) -> str:
    """A directive's name for messages (the reader hands keys over lowercased)."""
    return _DISPLAY.get(key, key)


def _methods(line: AccessLine) -> MethodSet:
    """The methods a line applies to: every enclosing <Limit>/<LimitExcept> narrows them."""
    methods = ALL
    for container in line.containers:
        if container.key in ("limit", "limitexcept"):
            try:
                narrowed = methods & limit(container.key, container.args)
            except ConfigError as e:
                raise ConfigError(e.message, container.file, container.line) from None
            if not narrowed:
                name = "<Limit>" if container.key == "limit" else "<LimitExcept>"
                raise ConfigError(f"{name} directive excludes all methods",
                                  container.file, container.line)
            methods = narrowed
    return methods


def _freeze(group: _OpenGroup) -> RequireGroup:
    methods = MethodSet()
    for child in group.children:
        methods = methods | child.methods
    where = group.container
    return RequireGroup(op=group.op, negate=group.negate, children=tuple(group.children),
                        methods=methods, file=where and where.file, line=where and where.line)


def _settle(group: RequireGroup, parent: RequireGroup | None) -> RequireGroup:
    """httpd's startup check of a section's tree: a negated group under a parent of the
    other kind dissolves into its children, each negated (De Morgan), and every group
    needs at least one positive child (AH01624)."""
    children: list[Require | RequireGroup] = []
    for child in group.children:
        if isinstance(child, RequireGroup):
            child = _settle(child, group)
            if child.negate and child.op != group.op:
                children.extend(replace(c, negate=not c.negate) for c in child.children)
                continue
        children.append(child)
    if all(child.negate for child in children):
        name = group.describe() if parent else "<Directory>, <Location>, or similar"
        raise ConfigError(f"AH01624: {name} directive contains only negative "
                          "authorization directives", group.file, group.line)
    return replace(group, children=tuple(children))


# --- Require providers ---------------------------------------------------------------

def _parse_require(line: AccessLine, methods: MethodSet) -> Require:
    args = line.args
    negate = bool(args) and args[0].lower() == "not"
    if negate:
        args = args[1:]
    provider, rest = (args[0], args[1:]) if args else ("", ())
    parser = _PARSERS.get(provider)
    refused = None
    value: object = None
    if parser is None:
        if not provider:
            raise ConfigError("Unknown Authz provider: ")
        refused = _refusal(line, f"Require {provider}:",
                          f"the {provider} provider is not supported by geows")
    elif provider in ("user", "group", "host") and any(map(_is_expression, rest)):
        refused = _refusal(line, f"Require {provider}:",
                          "expressions in its arguments are not supported by geows")
    else:
        value = parser(rest)
    return Require(provider=provider, args=rest, value=value, negate=negate, methods=methods,
                   file=line.file, line=line.line, refused=refused)


def _parse_all(args: tuple[str, ...]) -> bool:
    value = " ".join(args).lower()
    if value not in ("granted", "denied"):
        raise ConfigError("Argument for 'Require all' must be 'granted' or 'denied'")
    return value == "granted"


def _parse_ip(args: tuple[str, ...]) -> tuple[Subnet, ...]:
    if not args:
        raise ConfigError("'require ip' requires an argument")
    subnets = []
    for word in args:
        try:
            subnets.append(parse_rule(word))
        except NotAnAddress:
            raise ConfigError(f"ip address '{word}' appears to be invalid") from None
        except ValueError as e:
            raise ConfigError(f"ip address '{word}' appears to be invalid: {e}") from None
    return tuple(subnets)


def _nothing(args: tuple[str, ...]) -> None:
    return None  # `Require local` and `Require valid-user` ignore any arguments


_PARSERS: dict[str, Callable[[tuple[str, ...]], object]] = {
    "all": _parse_all,
    "ip": _parse_ip,
    "host": tuple,
    "local": _nothing,
    "user": tuple,
    "group": tuple,
    "valid-user": _nothing,
    "method": parse_known,
}


def _host_rule(line: AccessLine, word: str, methods: MethodSet) -> HostRule:
    """One `Allow from`/`Deny from` word, classified as mod_access_compat does."""
    if word.startswith("#"):
        raise ConfigError("No comments are allowed here")
    if word[:4].lower() == "env=":
        return HostRule("env", word[4:], methods,
                        _refusal(line, f"{line.key} from {word}:",
                                "environment variables are not supported by geows"))
    if word.lower() == "all":
        return HostRule("all", None, methods)
    try:
        return HostRule("ip", parse_rule(word), methods)
    except NotAnAddress:
        if "/" in word:
            raise ConfigError("An IP address was expected") from None
        return HostRule("host", word, methods)
    except ValueError as e:
        raise ConfigError(str(e)) from None
