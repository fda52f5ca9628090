"""From a request's URI path to the file name httpd's sections are matched against.

What mod_alias's and the core's translate_name do with a URI, and what ap_directory_walk
finds on disk, as httpd 2.4 does them (server/request.c, modules/mappers/mod_alias.c).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field

DEFAULT_DOCUMENT_ROOT = "/var/www/html"  # Debian's apache2 built-in (`apache2 -S` without one)

# What a ProxyPass line without `upgrade=` lets a backend's 101 switch to: WebSocket, as
# mod_proxy_wstunnel's ws:// lines allow; geows allows it on http:// lines too (draft-76
# needs a proxy that passes its key bytes on before the 101).
DEFAULT_UPGRADE = ("websocket",)

# PCRE's (?<name>...) is Python's (?P<name>...); lookbehinds (?<= (?<! stay as they are.
_PCRE_NAMED_GROUP = re.compile(r"(?<!\\)\(\?<(?![=!])")
_DOLLAR_DIGIT_OR_ESCAPE = re.compile(r"\$([0-9])|\\(.)", re.DOTALL)


def compile_pcre(pattern: str) -> re.Pattern[str]:
    """A PCRE pattern as Python's re; re.error if it does not compile."""
    return re.compile(_PCRE_NAMED_GROUP.sub("(?P<", pattern))


@dataclass(frozen=True, kw_only=True)
class Alias:
    """One Alias, ScriptAlias, AliasMatch or ScriptAliasMatch of the main server or a vhost."""

    fake: str     # the URL-path, or AliasMatch's regex
    real: str     # the file path as written; AliasMatch's may hold $0-$9
    regex: bool
    file: str
    line: int
    _search: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_search", compile_pcre(self.fake) if self.regex else None)

    def translate(self, uri: str) -> str | None:
        """mod_alias's file name for `uri` (decoded path) if this alias applies, else None;
        still relative to ServerRoot if `real` is."""
        if self._search is not None:
            match = self._search.search(uri)
            return None if match is None else substitute(self.real, match)
        length = alias_matches(uri, self.fake)
        return self.real + uri[length:] if length else None


@dataclass(frozen=True, kw_only=True)
class ProxyPass:
    """One `ProxyPass path target` of the main server or a vhost: mod_proxy's reverse proxy,
    which geows follows for the requests no WebSocket location of its own serves."""

    prefix: str   # the URL-path, matched as mod_proxy's alias_match does
    backend: tuple[str, int] | None  # host, port; None: not forwarded (`!`, or not honoured)
    backend_path: str  # the target URL's path, which replaces the matched prefix
    file: str
    line: int
    # The protocols a backend's 101 may switch the connection to (`upgrade=`, lowercased;
    # "*" for ANY).
    upgrade: tuple[str, ...] = DEFAULT_UPGRADE

    def allows_upgrade(self, protocol: str) -> bool:
        """Whether a client's `Upgrade` value may become a tunnel through this line: httpd's
        ap_proxy_worker_can_upgrade, which compares the whole value, without case."""
        return "*" in self.upgrade or protocol.lower() in self.upgrade

    def rewrite(self, path: str) -> str | None:
        """The backend's path for the decoded request path `path`, None if this line does
        not apply to it."""
        length = alias_matches(path, self.prefix)
        if not length:
            return None
        rewritten = self.backend_path + path[length:]
        return rewritten if rewritten.startswith("/") else "/" + rewritten


def canonical(path: str) -> str:
    """apr_filepath_merge's canonical form of an absolute path: no empty, "." or ".."
    segments (".." stops at the root); a trailing slash is kept."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    trailing = "/" if path.endswith(("/", "/.", "/..")) and segments else ""
    return "/" + "/".join(segments) + trailing


def alias_matches(uri: str, fake: str) -> int:
    """mod_alias's alias_matches: how many characters of `uri` the Alias URL-path `fake`
    matches (0: none). A run of slashes in one matches a run in the other, and the match
    must end at a segment boundary unless `fake` ends with a slash."""
    u = a = 0
    while a < len(fake):
        if fake[a] == "/":
            if u >= len(uri) or uri[u] != "/":
                return 0
            while a < len(fake) and fake[a] == "/":
                a += 1
            while u < len(uri) and uri[u] == "/":
                u += 1
        elif u < len(uri) and uri[u] == fake[a]:
            u += 1
            a += 1
        else:
            return 0
    if fake and fake[-1] != "/" and u < len(uri) and uri[u] != "/":
        return 0
    return u


def substitute(template: str, match: re.Match[str]) -> str:
    """ap_pregsub: $0-$9 are the groups (empty when unset), a backslash escapes the next
    character."""
    def one(m: re.Match[str]) -> str:
        if m[1] is None:
            return m[2]
        number = int(m[1])
        return (match[number] or "") if number <= (match.re.groups or 0) else ""
    return _DOLLAR_DIGIT_OR_ESCAPE.sub(one, template)


def walk(filename: str) -> tuple[list[str], str]:
    """What ap_directory_walk finds for a canonical absolute file name: the directories it
    walks through, each with a trailing slash ("/" first), and the file name it leaves in
    r->filename, which <DirectoryMatch> and <Files> are matched against.

    When the whole name exists, httpd (with the default Options FollowSymLinks) takes
    every component for a directory without looking, a file's name too. Otherwise it
    stats one component at a time and stops at the first that is missing (which stays in
    the file name; the rest is path info) or is not a directory. Symbolic links are
    followed (their Options checks are not modelled), and the path stays as mapped.
    """
    parts = [part for part in filename.split("/") if part]
    levels = ["/"]
    try:
        os.stat(filename)
        exists = True
    except (OSError, ValueError):
        exists = False
    if exists:
        for part in parts:
            levels.append(f"{levels[-1]}{part}/")
        return levels, filename
    current = ""
    for part in parts:
        current = f"{current}/{part}"
        try:
            mode = os.stat(current).st_mode
        except (OSError, ValueError):
            return levels, current  # missing: the walk ends on it, the rest is path info
        if not stat.S_ISDIR(mode):
            return levels, current  # a file, the rest is path info
        levels.append(current + "/")
    return levels, filename
