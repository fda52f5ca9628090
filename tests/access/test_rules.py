"""build(): what httpd refuses at startup, and what geows cannot enforce; merge()."""

from __future__ import annotations

import pytest

from geows.access.rules import EMPTY, Require, RequireGroup
from geows.errors import ConfigError
from tests.access.sections import merged, section


# Each message is the one `apache2 -t` prints for the line (2.4.71), checked by hand.
@pytest.mark.parametrize("text, message", [
    ("Require ip 10.1/16", "ip address '10.1/16' appears to be invalid: "
                           "The specified IP address is invalid."),
    ("Require ip 0.0.0.0/0", "ip address '0.0.0.0/0' appears to be invalid: "
                             "The specified network mask is invalid."),
    ("Require ip ::ffff:1.2.3.4", "ip address '::ffff:1.2.3.4' appears to be invalid: "
                                  "The specified IP address is invalid."),
    ("Require ip foo", "ip address 'foo' appears to be invalid"),
    ("Require ip", "'require ip' requires an argument"),
    ("Require not ip 1.2.3.4", "negative Require directive has no effect in <RequireAny> "
                               "directive"),
    ("Require ALL granted", None),  # an unknown provider: refused, see below
    ("Require", "Unknown Authz provider: "),
    ("Require not", "Unknown Authz provider: "),
    ("Require all foo", "Argument for 'Require all' must be 'granted' or 'denied'"),
    ("Require all granted denied", "Argument for 'Require all' must be 'granted' or 'denied'"),
    ("Require all", "Argument for 'Require all' must be 'granted' or 'denied'"),
    ("Require method FOO", "Invalid Method 'FOO'"),
    ("Require method get", "Invalid Method 'get'"),
    ("AllowMethods FOO", "AllowMethods: Invalid Method 'FOO'"),
    ("AllowMethods reset GET", "AllowMethods: Invalid Method 'reset'"),
    ("AllowMethods", "AllowMethods: No method or 'reset' keyword given"),
    ("Allow from", "allow requires at least two arguments, 'from' followed by hostnames or "
                   "IP-address wildcards"),
    ("Deny 1.2.3.4", "deny requires at least two arguments, 'from' followed by hostnames or "
                     "IP-address wildcards"),
    ("Allow to 1.2.3.4", "allow and deny must be followed by 'from'"),
    ("Allow from 1.2.3.4 #foo", "No comments are allowed here"),
    ("Allow from 10.1/8", "The specified IP address is invalid."),
    ("Allow from 1.2.3.4/33", "The specified network mask is invalid."),
    ("Allow from foo/8", "An IP address was expected"),
    ("Allow from 1.2.3.4.5", "The specified IP address is invalid."),
    ("Allow from 1.2.3.256", "The specified IP address is invalid."),
    ("Order foo", "unknown order"),
    ("Order allow, deny", "order takes one argument, 'allow,deny', 'deny,allow', or "
                          "'mutual-failure'"),
    ("Satisfy maybe", "Satisfy either 'any' or 'all'."),
    ("Satisfy", "Satisfy takes one argument, access policy if both allow and require used "
                "('all' or 'any')"),
    ("AuthMerging sometimes", "AuthMerging must be one of: Off | And | Or"),
    ("AuthType", 'AuthType takes one argument, an HTTP authorization type (e.g., "Basic")'),
    ("AuthType Basic Digest", 'AuthType takes one argument, an HTTP authorization type '
                              '(e.g., "Basic")'),
    ("AuthName", 'AuthName takes one argument, the authentication realm (e.g. "Members '
                 'Only")'),
    ("AuthUserFile a b", "AuthUserFile takes one argument, text file containing user IDs "
                         "and passwords"),
    ("AuthGroupFile", "AuthGroupFile takes one argument, text file containing group names "
                      "and member user IDs"),
    ("AuthBasicProvider", "AuthBasicProvider requires at least one argument, specify the "
                          "auth providers for a directory or location"),
    ("AuthBasicAuthoritative maybe", "AuthBasicAuthoritative must be On or Off"),
    ("AuthzSendForbiddenOnFailure", "AuthzSendForbiddenOnFailure must be On or Off"),
    ("<RequireNone>\nRequire ip 1.2.3.4\n</RequireNone>",
     "<RequireNone> directive has no effect in <RequireAny> directive"),
    ("<RequireAll>\n<RequireNone>\nRequire ip 1.2.3.4\n</RequireNone>\n</RequireAll>",
     "AH01624: <RequireAll> directive contains only negative authorization directives"),
    ("<RequireAll>\nRequire not ip 1.2.3.4\n</RequireAll>",
     "AH01624: <RequireAll> directive contains only negative authorization directives"),
    ("<RequireNone>\n<RequireNone>\nRequire ip 1.2.3.4\n</RequireNone>\n</RequireNone>",
     "<RequireNone> directive has no effect in <RequireNone> directive"),
    ("<Limit GET>\n<Limit POST>\nRequire all denied\n</Limit>\n</Limit>",
     "<Limit> directive excludes all methods"),
    ("<Limit TRACE>\nRequire all denied\n</Limit>",
     "TRACE cannot be controlled by <Limit>, see TraceEnable"),
])
def test_httpd_refuses(text, message):
    if message is None:
        assert section(text).unenforceable
        return
    with pytest.raises(ConfigError) as caught:
        section(text)
    assert caught.value.message == message
    assert caught.value.file == "test.conf" and caught.value.line is not None


@pytest.mark.parametrize("text", [
    "Require ip 010.1.1.1 10.1. 10. 10.1.2.3/255.255.0.0 fe80::/10 ::1",
    "<RequireAll>\n<RequireNone>\n<RequireAll>\nRequire ip 1.2.3.4\n</RequireAll>\n"
    "</RequireNone>\nRequire all granted\n</RequireAll>",
    "<RequireAll>\n<Limit GET>\nRequire all denied\n</Limit>\n</RequireAll>",
    "<Limit get>\nRequire all denied\n</Limit>",
    "Require method HEAD",
    "Require host example.com#foo", "Require user", "Require group", "Require valid-user foo",
    "Require local foo", "AuthBasicFake off", "AllowMethods reset",
    "Allow from 10.1 example.com .example.org all", "Order Mutual-Failure",
])
def test_httpd_accepts(text):
    assert not section(text).unenforceable


_REFUSE = "which refuses to start rather than serve this location unguarded"


@pytest.mark.parametrize("text, message", [
    ("Require ldap-group cn=x", "Require ldap-group: the ldap-group provider is not "
                                f"supported by geows, {_REFUSE}"),
    ("Require env FOO", "Require env: the env provider is not supported by geows, "
                        f"{_REFUSE}"),
    ("Require expr %{REMOTE_ADDR} == '1.2.3.4'", "Require expr: the expr provider is not "
                                                 f"supported by geows, {_REFUSE}"),
    ("Require user %{HTTP_X}", "Require user: expressions in its arguments are not "
                               f"supported by geows, {_REFUSE}"),
    ("AuthType Digest", f"AuthType Digest is not supported by geows (only Basic), {_REFUSE}"),
    ("AuthName %{HTTP_HOST}", f"AuthName with an expression is not supported by geows, "
                              f"{_REFUSE}"),
    ("AuthBasicProvider file ldap", "AuthBasicProvider ldap: the ldap provider is not "
                                    f"supported by geows, {_REFUSE}"),
    ("AuthBasicFake bob secret", f"AuthBasicFake is not supported by geows, {_REFUSE}"),
    ("Allow from env=LET_IN", "allow from env=LET_IN: environment variables are not "
                              f"supported by geows, {_REFUSE}"),
    ("SSLRequireSSL", f"SSLRequireSSL is not enforced by geows, {_REFUSE}"),
    ("AuthDigestProvider file", f"authdigestprovider is not supported by geows, {_REFUSE}"),
])
def test_unenforceable(text, message):
    policy = section(text)
    assert [e.message for e in policy.unenforceable] == [message]
    assert str(policy.unenforceable[0]) == f"test.conf:1: {message}"


def test_sslverifyclient_none_is_no_check():
    assert not section("SSLVerifyClient none").unenforceable


def test_other_modules_server_settings_check_nothing():
    assert not section("AuthnCacheSOCache shmcb\nAuthDigestShmemSize 1000\n"
                       "AuthLDAPCharsetConfig conf/charset.conv\n"
                       "AuthnzFcgiDefineProvider authn check fcgi://localhost:10102/").unenforceable
    assert section("AuthnzFcgiCheckAuthnProvider check").unenforceable


def test_tree_mirrors_the_sections():
    policy = section("""
        Require ip 10.0.0.0/8
        <RequireAll>
            Require user bob
            <RequireAll>
                Require valid-user
            </RequireAll>
            <RequireNone>
                Require ip 10.9.0.0/16
                Require user eve
            </RequireNone>
        </RequireAll>
    """)
    root = policy.authz.root
    assert root.op == "any" and not root.negate
    ip, everything = root.children
    assert isinstance(ip, Require) and ip.provider == "ip"
    assert isinstance(everything, RequireGroup) and everything.op == "all"
    # <RequireAll> in <RequireAll> melts into it; <RequireNone> in <RequireAll> becomes
    # its children, each negated (httpd's startup check does both).
    assert [(c.provider, c.negate) for c in everything.children] == [
        ("user", False), ("valid-user", False), ("ip", True), ("user", True)]


def test_relative_files_resolve_against_server_root():
    policy = section("AuthUserFile conf/users\nAuthGroupFile /etc/groups", "/srv/httpd")
    assert policy.user_file == "/srv/httpd/conf/users"
    assert policy.group_file == "/etc/groups"


def test_empty_section_is_empty():
    assert section("") == EMPTY
    assert not EMPTY.unenforceable


# --- merge ----------------------------------------------------------------------------

def _providers(policy):
    def walk(node):
        if isinstance(node, Require):
            return f"{'!' if node.negate else ''}{node.provider}"
        inner = " ".join(walk(c) for c in node.children)
        return f"{node.describe()}({inner})"
    return walk(policy.authz.root) if policy.authz.root else None


def test_require_replaces_by_default():
    assert _providers(merged("Require user a", "Require ip 1.2.3.4")) == "<RequireAny>(ip)"


def test_section_without_require_inherits():
    assert _providers(merged("Require user a", "AuthName x")) == "<RequireAny>(user)"


def test_authmerging_and_or_join():
    assert _providers(merged("Require user a", "AuthMerging And\nRequire ip 1.2.3.4")) == \
        "AuthMerging All(<RequireAny>(user) <RequireAny>(ip))"
    assert _providers(merged("Require user a", "AuthMerging Or\nRequire ip 1.2.3.4")) == \
        "AuthMerging Any(<RequireAny>(user) <RequireAny>(ip))"


def test_authmerging_and_without_require_keeps_the_inherited():
    assert _providers(merged("Require user a", "AuthMerging And")) == "<RequireAny>(user)"


def test_authmerging_off_alone_drops_the_inherited():
    # httpd 2.4.71: <Location /g> Require all denied + <Location /g/h> AuthMerging Off
    # serves /g/h (checked against apache2).
    assert merged("Require all denied", "AuthMerging Off").authz.root is None


def test_forbidden_on_failure_alone_keeps_the_tree():
    policy = merged("Require user a", "AuthzSendForbiddenOnFailure On")
    assert _providers(policy) == "<RequireAny>(user)"
    assert policy.authz.forbidden_on_failure is True
    assert merged("AuthzSendForbiddenOnFailure On", "Require user b") \
        .authz.forbidden_on_failure is True


def test_authn_fields_merge_one_by_one():
    policy = merged("AuthType Basic\nAuthName outer\nAuthUserFile a",
                    "AuthName inner\nAuthBasicAuthoritative Off", "AuthType None")
    assert policy.authn.auth_type.value is None
    assert policy.authn.auth_name.value == "inner"
    assert policy.basic.authoritative.value is False
    assert policy.user_file == "/srv/a"


def test_access_compat_is_replaced_whole():
    # No merge function in mod_access_compat: `Satisfy Any` alone drops the Deny.
    policy = merged("Order deny,allow\nDeny from all", "Satisfy Any")
    assert policy.compat.denies == () and policy.compat.order("GET") == "deny,allow"
    assert merged("Deny from all", "Require all granted").compat.denies != ()


def test_allow_methods_last_wins():
    assert "GET" not in merged("AllowMethods GET", "AllowMethods POST").allow_methods
    assert "GET" in merged("AllowMethods POST", "AllowMethods reset").allow_methods
    assert "GET" not in merged("AllowMethods POST", "Require all granted").allow_methods


def test_unenforceable_follows_what_is_in_force():
    assert not merged("Require ldap-group x", "Require all granted").unenforceable
    assert merged("Require ldap-group x", "AuthMerging Or\nRequire all granted").unenforceable
    assert not merged("AuthType Digest", "AuthType Basic").unenforceable
    assert not merged("Allow from env=X", "Satisfy Any").unenforceable
    assert merged("SSLRequireSSL", "Require all granted").unenforceable
