"""Whether httpd would let a request through, decided as server/request.c does.

The phases, in httpd's order:

1. access_checker: mod_allowmethods (405), then mod_access_compat's Order/Allow/Deny (403).
2. With `Satisfy Any`, passing step 1 lets the request through; otherwise a failure of
   step 1 is final (`Satisfy All`, the default).
3. access_checker_ex: mod_authz_core evaluates the Require tree without a user. Granted
   ends here; "denied, but a user might change that" goes on to 4; anything else is final.
4. check_user_id: mod_auth_basic reads the Authorization header and checks the password
   against the AuthUserFile (401 with WWW-Authenticate when it fails).
5. auth_checker: mod_authz_core evaluates the tree again, now with the user.

Every decision carries httpd's status, headers and error log lines for it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import gevent

from geows.access import passwords
from geows.access.hostnames import double_reverse, in_domain
from geows.access.ipsubnet import client_address, parse_rule
from geows.access.rules import HostRule, Require, RequireGroup, SectionAccess
from geows.config.lexer import SPACE

# mod_authz_core's results (the providers geows runs never report an error)
GRANTED, DENIED, DENIED_NO_USER, NEUTRAL = (
    "granted", "denied", "denied (no authenticated user yet)", "neutral")

# mod_authn_file's results
_AUTH_GRANTED, _AUTH_DENIED, _AUTH_USER_NOT_FOUND, _AUTH_ERROR = (
    "granted", "denied", "user not found", "error")

_LOCALHOST = (parse_rule("127.0.0.0/8"), parse_rule("::1"))
_BASE64 = re.compile(r"[A-Za-z0-9+/]*")


@dataclass(frozen=True)
class Decision:
    """status None: let the request through (as `user`, if one authenticated). Otherwise
    the status to answer with, its headers, and the error log line that explains it."""

    status: int | None
    user: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    log_message: str | None = None
    log_notes: tuple[str, ...] = ()   # lines httpd logs before that one (or when granting)


@dataclass
class _Request:
    """What the phases read and set; `notes` collects httpd's log lines on the way."""

    policy: SectionAccess
    client_ip: str
    local_ip: str | None
    method: str
    path: str
    file_name: str | None
    user: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        """How httpd's "client denied" lines name the request: its file, else its URI."""
        return self.file_name if self.file_name is not None else f"uri {self.path}"

    @cached_property
    def remote_host(self) -> str | None:
        """Looked up once a request, when a rule first needs it (as httpd does)."""
        return double_reverse(self.client_ip)

    def decide(self, status: int | None, message: str | None = None,
               headers: tuple[tuple[str, str], ...] = ()) -> Decision:
        return Decision(status, self.user if status is None else None, headers, message,
                        tuple(self.notes))

    @property
    def auth_type(self) -> str | None:
        setting = self.policy.authn.auth_type
        return setting.value if setting else None  # type: ignore[return-value]

    def challenge(self) -> tuple[tuple[str, str], ...]:
        """mod_auth_basic's note_auth_failure: only AuthType Basic sends one."""
        if (self.auth_type or "").lower() != "basic":
            return ()
        # Only reached once authentication ran, and it needs AuthName (AH01615).
        realm = self.policy.authn.auth_name.value  # type: ignore[union-attr]
        return (("WWW-Authenticate", f'Basic realm="{_escape_quotes(realm)}"'),)  # type: ignore[arg-type]


def check(policy: SectionAccess, *, client_ip: str, method: str, path: str,
          authorization: str | None, local_ip: str | None = None,
          file_name: str | None = None) -> Decision:
    """Decide a request as httpd 2.4 would under `policy` (the merged configuration of
    its sections). `client_ip` is the client as mod_remoteip leaves it, `local_ip` the
    address the connection came in on. The log lines name the URI `path`, and the
    "client denied" ones the file it maps to (r->filename), `file_name`, when given."""
    # By position: made for every request, and keywords would double its cost.
    r = _Request(policy, client_ip, local_ip, method, path, file_name)
    if policy.unenforceable:  # the server refuses such configs; never guess at one
        return r.decide(500, f"geows cannot enforce: {policy.unenforceable[0]}")
    satisfy_any = policy.compat is not None and policy.compat.satisfy(method) == "any"
    refused = _access_checker(r)
    if refused is None and satisfy_any:
        return r.decide(None)
    if refused is not None:
        if not satisfy_any:
            return refused
        r.notes.append(refused.log_message)  # type: ignore[arg-type]  # logged all the same
    decision = _authorize(r, after_authn=False)
    if decision is not None:
        return decision
    decision = _authenticate(r, authorization)
    if decision is not None:
        return decision
    if r.user is None:
        number = "AH00028" if satisfy_any else "AH00027"
        return r.decide(500, f"{number}: No authentication done but request not allowed "
                             f"without authentication for {path}. Authentication not "
                             "configured?")
    return _authorize(r, after_authn=True) or r.decide(None)


# --- access_checker: mod_allowmethods, mod_access_compat ------------------------------

def _access_checker(r: _Request) -> Decision | None:
    allowed = r.policy.allow_methods
    if allowed is not None and r.method not in allowed:
        # httpd's 405 page lists what the (absent) handler allowed: TRACE alone
        return r.decide(405, f"AH01623: client method denied by server configuration: "
                             f"'{r.method}' to {r.target}", (("Allow", "TRACE"),))
    compat = r.policy.compat
    if compat is None:
        return None
    if compat.order(r.method) == "deny,allow":
        passed = not _matches(r, compat.denies) or _matches(r, compat.allows)
    else:  # allow,deny and mutual-failure come to the same
        passed = _matches(r, compat.allows) and not _matches(r, compat.denies)
    if passed:
        return None
    return r.decide(403, f"AH01797: client denied by server configuration: {r.target}")


def _matches(r: _Request, rules: tuple[HostRule, ...]) -> bool:
    for rule in rules:
        if r.method not in rule.methods:
            continue
        if rule.kind == "all":
            return True
        if rule.kind == "ip" and r.client_ip in rule.value:  # type: ignore[operator]
            return True
        if rule.kind == "host":
            host = r.remote_host
            if host is not None and in_domain(rule.value, host):  # type: ignore[arg-type]
                return True
    return False


# --- mod_authz_core --------------------------------------------------------------------

def _authorize(r: _Request, *, after_authn: bool) -> Decision | None:
    """authorize_user_core: None when the request may go on (to authentication before
    `after_authn`, through after it), else the final decision."""
    authz = r.policy.authz
    if authz.root is None:
        if r.auth_type:
            return r.decide(500, "AH01627: AuthType configured with no corresponding "
                                 "authorization directives")
        return r.decide(None) if not after_authn else None
    result = _apply(r, authz.root, "all")
    if result == GRANTED:
        return r.decide(None) if not after_authn else None
    if result == DENIED_NO_USER:
        if not after_authn:
            return None
        headers = r.challenge() if r.user else ()
        return r.decide(401, "AH01629: authorization failure (no authenticated user): "
                             f"{r.path}", headers)
    if not after_authn or r.auth_type is None:
        return r.decide(403, f"AH01630: client denied by server configuration: {r.target}")
    message = f'AH01631: user {r.user}: authorization failure for "{r.path}": '
    if authz.forbidden_on_failure:
        return r.decide(403, message)
    return r.decide(401, message, r.challenge() if r.user else ())


def _apply(r: _Request, node: Require | RequireGroup, parent_op: str) -> str:
    """apply_authz_sections: one node's result in mod_authz_core's four-valued logic."""
    if r.method not in node.methods:  # limited to other methods: no say
        return GRANTED if parent_op == "all" else NEUTRAL
    if isinstance(node, Require):
        result = _PROVIDERS[node.provider](r, node)
    else:
        result = _combine(r, node)
    if node.negate:
        # Not being denied is no reason to grant: a negated denial is neutral.
        result = {GRANTED: DENIED, DENIED: NEUTRAL, DENIED_NO_USER: NEUTRAL}.get(result, result)
    return result


def _combine(r: _Request, group: RequireGroup) -> str:
    result = NEUTRAL
    for child in group.children:
        outcome = _apply(r, child, group.op)
        if outcome == NEUTRAL:
            continue
        decisive = DENIED if group.op == "all" else GRANTED
        if outcome == decisive:
            return outcome
        # DENIED_NO_USER outranks the other kind of result: a user might change it.
        other = GRANTED if group.op == "all" else DENIED
        if result == NEUTRAL or (outcome == DENIED_NO_USER and result == other):
            result = outcome
    return result


def _all(r: _Request, rule: Require) -> str:
    return GRANTED if rule.value else DENIED


def _ip(r: _Request, rule: Require) -> str:
    return GRANTED if any(r.client_ip in subnet for subnet in rule.value) else DENIED  # type: ignore[attr-defined]


def _local(r: _Request, rule: Require) -> str:
    client = client_address(r.client_ip)
    if any(r.client_ip in subnet for subnet in _LOCALHOST) or (
            r.local_ip is not None and client_address(r.local_ip) == client):
        return GRANTED
    return DENIED


def _host(r: _Request, rule: Require) -> str:
    line = " ".join(rule.args)
    host = r.remote_host
    if host is None:
        r.notes.append(f"AH01753: access check of '{line}' to {r.path} failed, reason: "
                       "unable to get the remote host name")
        return DENIED
    words = line.split()
    if "#" in line:  # httpd 2.4.71 drops a comment here, with a word about it
        words = line[:line.index("#")].split()
        if not words:
            r.notes.append(f"AH10120: authz_host authorize: dubious empty 'Require host "
                           f"{line}' with only comment")
            return DENIED
        r.notes.append(f"AH10121: authz_host authorize: ignoring comment in "
                       f"'Require host {line}'")
    return GRANTED if any(in_domain(word, host) for word in words) else DENIED


def _method(r: _Request, rule: Require) -> str:
    return GRANTED if r.method in rule.value else DENIED  # type: ignore[operator]


def _valid_user(r: _Request, rule: Require) -> str:
    return GRANTED if r.user is not None else DENIED_NO_USER


def _user(r: _Request, rule: Require) -> str:
    if r.user is None:
        return DENIED_NO_USER
    if r.user in rule.args:
        return GRANTED
    r.notes.append(f"AH01663: access to {r.path} failed, reason: user '{r.user}' does not "
                   "meet 'require'ments for user to be allowed access")
    return DENIED


def _group(r: _Request, rule: Require) -> str:
    if r.user is None:
        return DENIED_NO_USER
    path = r.policy.group_file
    if path is None:
        r.notes.append("AH01664: No group file was specified in the configuration")
        return DENIED
    try:
        groups = passwords.groups_of(path, r.user)
    except OSError as e:  # 2.4.71 then denies (401 again), it does not fail with 500
        r.notes.append(f"({e.errno}){e.strerror}: AH01665: Could not open group file: {path}")
        return DENIED
    if any(word.lower() in groups for word in rule.args):  # group names ignore case
        return GRANTED
    number, reason = (("AH01667", "user is not part of the 'require'ed group(s).") if groups
                      else ("AH01666", f"user doesn't appear in group file ({path})."))
    r.notes.append(f"{number}: Authorization of user {r.user} to access {r.path} failed, "
                   f"reason: {reason}")
    return DENIED


_PROVIDERS: dict[str, Callable[[_Request, Require], str]] = {
    "all": _all, "ip": _ip, "local": _local, "host": _host, "method": _method,
    "valid-user": _valid_user, "user": _user, "group": _group,
}


# --- check_user_id: mod_auth_basic with mod_authn_file --------------------------------

def _authenticate(r: _Request, authorization: str | None) -> Decision | None:
    """None when the request goes on (with r.user set if Basic authentication passed)."""
    if r.auth_type is None:
        return None  # mod_authn_core: no AuthType, nothing to do (and no user)
    if r.auth_type.lower() != "basic":
        return r.decide(500, f"AH01796: AuthType {r.auth_type} configured without "
                             "corresponding module")
    if r.policy.authn.auth_name is None:
        return r.decide(500, f"AH01615: need AuthName: {r.path}")
    if authorization is None:
        return r.decide(401, None, r.challenge())
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return r.decide(401, f"AH01614: client used wrong authentication scheme: {r.path}",
                        r.challenge())
    user, _, password = _decode_basic(credentials.lstrip(SPACE)).partition(":")
    r.user = user  # httpd names the user in its log lines before checking the password
    outcome, message = _check_password(r, user, password)
    if outcome == _AUTH_GRANTED:
        return None
    authoritative = r.policy.basic.authoritative
    if authoritative is not None and not authoritative.value and outcome != _AUTH_DENIED:
        # Not authoritative: httpd asks the next module, and only mod_authn_core is left.
        return r.decide(500, f"AH01796: AuthType {r.auth_type} configured without "
                             "corresponding module")
    if outcome == _AUTH_ERROR:
        return r.decide(500, message)
    return r.decide(401, message, r.challenge())


def _check_password(r: _Request, user: str, password: str) -> tuple[str, str]:
    """mod_authn_file's check_password: (result, the log line when it is not granted)."""
    path = r.policy.user_file
    if path is None:
        return _AUTH_ERROR, "AH01619: AuthUserFile not specified in the configuration"
    try:
        hashed = passwords.password_hash(path, user)
    except OSError as e:
        return _AUTH_ERROR, (f"({e.errno}){e.strerror}: AH01620: Could not open password "
                             f"file: {path}")
    if hashed is None:
        return _AUTH_USER_NOT_FOUND, f"AH01618: user {user} not found: {r.path}"
    # Hashing is slow by design; a pool thread keeps the other connections going.
    if gevent.get_hub().threadpool.apply(passwords.verify, (password, hashed)):
        return _AUTH_GRANTED, ""
    return _AUTH_DENIED, (f'AH01617: user {user}: authentication failure for "{r.path}": '
                          "Password Mismatch")


def _escape_quotes(text: str) -> str:
    """ap_escape_quotes: '"' becomes '\\"'; a backslash keeps the character after it."""
    return re.sub(r'\\(.)|"', lambda m: m[0] if m[1] is not None else '\\"', text,
                  flags=re.DOTALL)


def _decode_basic(text: str) -> str:
    """apr_base64_decode: the base64 characters up to the first other one, padding
    optional, then cut at a NUL as C strings are."""
    digits = _BASE64.match(text)[0]  # type: ignore[index]  # the pattern always matches
    if len(digits) % 4 == 1:
        digits = digits[:-1]  # a lone last character holds no whole byte: APR drops it
    raw = base64.b64decode(digits + "=" * (-len(digits) % 4))
    return raw.partition(b"\0")[0].decode("utf-8", "surrogateescape")
