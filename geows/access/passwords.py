"""AuthUserFile and AuthGroupFile as mod_authn_file and mod_authz_groupfile read them,
and the password check of apr_password_validate.

Both files are read with httpd's config-line rules (blank and '#' lines skipped, a
trailing backslash joins lines, blanks stripped) and kept until their mtime, size or
inode changes. A password line is `user:hash[:anything]`, the first line of a user wins;
a group line is `group: member member ...` and group names compare case-insensitively.

The hash formats are those htpasswd writes (and APR checks): bcrypt ($2y$, also $2a$
and $2b$), Apache's MD5 ($apr1$), {SHA}, and what APR hands to crypt(): DES (13
characters), $1$, $5$ and $6$. Anything else (a plain text password, crypt() formats
such as yescrypt) never matches: httpd's crypt() would not match plain text either, and
geows denies rather than guess at the rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import bcrypt
from passlib import hash as passlib_hash

from geows.config.lexer import SPACE, logical_lines, split_words

T = TypeVar("T")

_BCRYPT_MAX = 72  # crypt_blowfish reads no further; the bcrypt package refuses longer


@dataclass(frozen=True)
class _Cached:
    stamp: tuple[int, int, int]
    value: Any


_cache: dict[tuple[str, str], _Cached] = {}  # (kind, path): read in the server's thread


def _load(path: str, kind: str, parse: Callable[[list[str]], T]) -> T:
    """The parsed file, re-read only when it changed; OSError when it cannot be read."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = _cache.get((kind, path))
        if cached is not None and cached.stamp == stamp:
            return cached.value
        text = f.read().decode("utf-8", "surrogateescape")
    value = parse([line for _, line in logical_lines(text)])
    _cache[kind, path] = _Cached(stamp, value)
    return value


def _parse_passwords(lines: list[str]) -> dict[str, str]:
    users: dict[str, str] = {}
    for line in lines:
        user, _, rest = line.partition(":")
        users.setdefault(user, rest.lstrip(":").partition(":")[0])
    return users


def _parse_groups(lines: list[str]) -> dict[str, frozenset[str]]:
    members: dict[str, set[str]] = {}
    for line in lines:
        group, _, rest = line.partition(":")
        for user in split_words(rest.lstrip(":")):
            members.setdefault(user, set()).add(group.rstrip(SPACE).lower())
    return {user: frozenset(groups) for user, groups in members.items()}


def password_hash(path: str, user: str) -> str | None:
    """The user's hash in an AuthUserFile, None if the user is not there (OSError if the
    file cannot be read)."""
    return _load(path, "passwords", _parse_passwords).get(user)


def groups_of(path: str, user: str) -> frozenset[str]:
    """The (lowercased) groups an AuthGroupFile lists the user in (OSError if unreadable)."""
    return _load(path, "groups", _parse_groups).get(user, frozenset())


def _bcrypt(password: bytes, hashed: str) -> bool:
    return bcrypt.checkpw(password[:_BCRYPT_MAX], hashed.encode("ascii"))


_SCHEMES: tuple[tuple[str, Callable[[bytes, str], bool]], ...] = (
    ("$2y$", _bcrypt), ("$2a$", _bcrypt), ("$2b$", _bcrypt),
    ("$apr1$", passlib_hash.apr_md5_crypt.verify),
    ("{SHA}", passlib_hash.ldap_sha1.verify),
    ("$1$", passlib_hash.md5_crypt.verify),
    ("$5$", passlib_hash.sha256_crypt.verify),
    ("$6$", passlib_hash.sha512_crypt.verify),
)


def verify(password: str, hashed: str) -> bool:
    """Whether `password` matches an htpasswd hash (each library compares in constant
    time)."""
    secret = password.encode("utf-8", "surrogateescape")
    scheme = next((check for prefix, check in _SCHEMES if hashed.startswith(prefix)), None)
    if scheme is None and len(hashed) == 13:
        scheme = passlib_hash.des_crypt.verify
    try:
        return scheme is not None and scheme(secret, hashed)
    except (ValueError, TypeError):  # a malformed hash matches nothing
        return False
