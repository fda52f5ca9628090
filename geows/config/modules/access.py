"""The access modules' directives (mod_authz_*, mod_auth*, mod_access_compat, mod_remoteip)
and core's AllowOverride: read as AccessLines, with the section they are in, for geows.access.
"""

from __future__ import annotations

from collections.abc import Sequence

from geows.config.access_lines import AccessLine, is_remoteip_directive
from geows.config.directives import DIR, DIR_ONLY, Spec, table
from geows.config.drafts import AccessDraft, ReadState, Scope, not_allowed
from geows.config.model import AccessSection
from geows.config.tree import Node
from geows.errors import ConfigError

DIRECTIVES = table(
    Spec("AllowOverride", 1, None, DIR_ONLY,
         "Controls what groups of directives can be configured by per-directory config files"),
    Spec("AllowOverrideList", 1, None, DIR_ONLY,
         "Controls what individual directives can be configured by per-directory config "
         "files"),
)

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


def check_overrides(key: str, args: Sequence[str]) -> None:
    """AllowOverride's words (Options= and Nonfatal= take values), or AllowOverrideList's
    None alone."""
    if key == "allowoverride":
        for word in args:
            if word.partition("=")[0].lower() not in _OVERRIDES:
                raise ConfigError(f"Illegal override option {word}")
    elif len(args) > 1 and any(word.lower() == "none" for word in args):
        raise ConfigError("'None' not allowed with other directives in AllowOverrideList")


class AccessDirectives(ReadState):
    """The access directives' handlers, and the AccessSections they make."""

    def _allowoverride(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        check_overrides(node.key, args)
        # httpd reads .htaccess files on its walk of the plain <Directory> sections only.
        if scope.access is not None and scope.access.kind == "directory" and not scope.access.regex:
            self.overrides.append((node, args, scope.access))

    _allowoverridelist = _allowoverride

    def _access_line(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        line = AccessLine(node.key, tuple(args), node.file, node.line, scope.containers)
        if is_remoteip_directive(node.key):  # server and vhost level only
            if scope.kind == DIR:
                raise ConfigError(not_allowed(node.name, scope))
            (scope.vhost.remoteip_lines if scope.vhost else self.remoteip_lines).append(line)
        elif scope.kind != DIR and node.key in PER_DIRECTORY_ACCESS:
            raise ConfigError(not_allowed(node.name, scope))
        elif scope.access is not None:
            scope.access.lines.append(line)

    def _finish_access(self, draft: AccessDraft, keep: bool = False) -> AccessSection | None:
        """The draft's section, None if neither it nor a nested section holds access
        directives (unless kept: an AllowOverride's <Directory>)."""
        if draft.built is None:
            nested = [section for section in map(self._finish_access, draft.nested) if section]
            if not (draft.lines or nested or keep):
                return None
            vhost = draft.vhost.built if draft.vhost is not None else None
            draft.built = AccessSection(
                kind=draft.kind, pattern=draft.pattern, regex=draft.regex, vhost=vhost,
                file=draft.file, line=draft.line, lines=tuple(draft.lines),
                files=tuple(s for s in nested if s.kind == "files"),
                ifs=tuple(s for s in nested if s.kind == "if"))
        return draft.built

