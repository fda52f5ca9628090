"""check(): httpd's decision for a GET handshake, case by case.

The tables repeat what Debian's apache2 2.4.71 answered to the same sections
(/root/scratch/httpd-access-facts.md, sections (d) to (l), and runs of our own): 200
there is a grant (None) here. Clients: .1 = 127.0.0.1, .2 = 127.0.0.2, ::1.
"""

from __future__ import annotations

import base64
import subprocess

import pytest

from geows.access import check as check_module
from geows.access.check import _decode_basic, _escape_quotes, check
from tests.access.sections import merged

BASIC = "AuthType Basic\nAuthName \"Geows realm\"\nAuthUserFile users\nAuthGroupFile groups\n"
CHALLENGE = ("WWW-Authenticate", 'Basic realm="Geows realm"')


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A ServerRoot with users (bob: bcrypt, alice: MD5) and groups made by htpasswd."""
    path = tmp_path_factory.mktemp("root")
    subprocess.run(["htpasswd", "-cbB", "-C", "4", str(path / "users"), "bob", "bob-pw"],
                   check=True, capture_output=True)
    subprocess.run(["htpasswd", "-bm", str(path / "users"), "alice", "alice-pw"],
                   check=True, capture_output=True)
    (path / "groups").write_text("admins: bob\nstaff: alice bob\n")
    return str(path)


@pytest.fixture(autouse=True)
def hosts(monkeypatch):
    """Reverse DNS as this machine's /etc/hosts answers it: only 127.0.0.1 has a name."""
    names = {"127.0.0.1": "localhost"}
    monkeypatch.setattr(check_module, "double_reverse", names.get)


def credentials(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


BOB = credentials("bob", "bob-pw")


def decide(root, *sections, ip="127.0.0.1", auth=None, method="GET", local_ip=None):
    policy = merged(*sections, server_root=root)
    return check(policy, client_ip=ip, method=method, path="/ws", authorization=auth,
                 local_ip=local_ip, file_name="/var/www/html/ws")


def statuses(root, *sections, auth=None):
    """The status for .1, .2 and ::1."""
    return tuple(decide(root, *sections, ip=ip, auth=auth).status
                 for ip in ("127.0.0.1", "127.0.0.2", "::1"))


# --- providers -----------------------------------------------------------------------

@pytest.mark.parametrize("rule, expected", [
    ("Require all granted", (None, None, None)),
    ("Require all denied", (403, 403, 403)),
    ("Require local", (None, None, None)),
    ("Require host localhost", (None, 403, 403)),
    ("Require host LOCALHOST", (None, 403, 403)),
    ("Require host .localhost", (403, 403, 403)),
    ("Require host calhost", (403, 403, 403)),
    ("Require host localhost#a comment", (None, 403, 403)),
    ("Require host #only a comment", (403, 403, 403)),
    ("Require ip 127.0.0.0/8", (None, None, 403)),
    ("Require ip 127.0.0", (None, None, 403)),
    ("Require ip 127", (None, None, 403)),
    ("Require ip 127.0.0.0/255.255.255.254", (None, 403, 403)),
    ("Require ip ::1/128", (403, 403, None)),
    ("Require ip 127.0.0.2/32 ::1", (403, None, None)),
    ("Require method GET", (None, None, None)),
    ("Require method POST", (403, 403, 403)),
    ("<RequireAll>\nRequire all granted\nRequire not ip 127.0.0.2\n</RequireAll>",
     (None, 403, None)),
    ("<RequireAll>\nRequire all granted\n<RequireNone>\nRequire ip 127.0.0.2\n"
     "</RequireNone>\n</RequireAll>", (None, 403, None)),
])
def test_providers(root, rule, expected):
    assert statuses(root, rule) == expected


def test_v4_mapped_clients_match_ipv4_rules(root):
    assert decide(root, "Require ip 127.0.0.0/8", ip="::ffff:127.0.0.2").status is None
    assert decide(root, "Require ip ::/8", ip="::ffff:127.0.0.2").status == 403
    assert decide(root, "Require local", ip="::ffff:127.0.0.2").status is None


def test_local_is_also_the_connections_own_address(root):
    assert decide(root, "Require local", ip="192.0.2.7", local_ip="192.0.2.7").status is None
    assert decide(root, "Require local", ip="192.0.2.7", local_ip="192.0.2.8").status == 403
    assert decide(root, "Require local", ip="192.0.2.7").status == 403


def test_without_a_file_name_the_uri_is_named(root):
    policy = merged("Require all denied")
    decision = check(policy, client_ip="127.0.0.1", method="GET", path="/ws",
                     authorization=None)
    assert decision.log_message == "AH01630: client denied by server configuration: uri /ws"


def test_host_logs(root):
    denied = decide(root, "Require host example.com", ip="192.0.2.7")
    assert denied.log_notes == ("AH01753: access check of 'example.com' to /ws failed, "
                                "reason: unable to get the remote host name",)
    comment = decide(root, "Require host localhost#x")
    assert comment.log_notes == ("AH10121: authz_host authorize: ignoring comment in "
                                 "'Require host localhost#x'",)


# --- mod_access_compat, Satisfy ------------------------------------------------------

@pytest.mark.parametrize("sections, expected", [
    (("Order deny,allow\nDeny from all", ""), (403, 403, 403)),
    (("Order deny,allow\nDeny from all", "Require all granted"), (403, 403, 403)),
    (("Order deny,allow\nDeny from all", "Allow from 127.0.0.2"), (None, None, None)),
    (("Order allow,deny\nAllow from 127.0.0.1", "Allow from 127.0.0.2"), (None, None, None)),
    (("Order allow,deny\nAllow from 127.0.0.1", "Deny from 127.0.0.1"), (403, None, None)),
    (("Order allow,deny\nAllow from 127.0.0.1", "Order deny,allow"), (None, None, None)),
    (("Allow from 127.0.0.2", "Order allow,deny"), (403, 403, 403)),
    (("Order allow,deny",), (403, 403, 403)),
    (("Deny from 127.0.0.2",), (None, 403, None)),
    (("Order mutual-failure\nAllow from 127.0.0.0/8\nDeny from 127.0.0.2",), (None, 403, 403)),
    (("Order allow,deny\nAllow from all\nDeny from 127.0.0.2",), (None, 403, None)),
    (("Order deny,allow\nDeny from all\nAllow from 127.0.0.2 ::1",), (403, None, None)),
    (("Order deny,allow\nDeny from all\nAllow from localhost",), (None, 403, 403)),
    (("Require all granted\nDeny from all\nSatisfy Any",), (None, None, None)),
    (("Require all granted\nOrder deny,allow\nDeny from all\nAllow from 127.0.0.2",),
     (403, None, 403)),
    (("Require all denied\nOrder allow,deny\nAllow from all\nSatisfy Any",),
     (None, None, None)),
    (("Require all denied\nOrder allow,deny\nAllow from all",), (403, 403, 403)),
    (("Order deny,allow\nDeny from all\nSatisfy Any",), (None, None, None)),
    (("Require ip 127.0.0.2\nDeny from 127.0.0.1\nSatisfy Any",), (403, None, None)),
    (("Require ip 127.0.0.2\nDeny from 127.0.0.2\nSatisfy Any",), (None, None, None)),
    (("Satisfy Any", "Require all granted\nDeny from 127.0.0.2"), (None, 403, None)),
    (("Deny from 127.0.0.2", "Satisfy Any\nRequire all denied"), (None, None, None)),
    (("Satisfy Any\nDeny from 127.0.0.2", "Require ip 127.0.0.2"), (None, None, None)),
    (("Deny from all", "Satisfy Any"), (None, None, None)),
    (("Deny from all\nSatisfy any", "Require all denied"), (403, 403, 403)),
])
def test_access_compat(root, sections, expected):
    assert statuses(root, *sections) == expected


@pytest.mark.parametrize("text, without, with_bob", [
    (BASIC + "Require valid-user\nDeny from all\nAllow from 127.0.0.2\nSatisfy Any",
     (401, None, 401), None),
    (BASIC + "Require valid-user\nDeny from all\nAllow from 127.0.0.2",
     (403, 401, 403), 403),
    (BASIC + "Require valid-user\nSatisfy Any", (None, None, None), None),
    (BASIC + "Require valid-user\nDeny from all\nSatisfy Any", (401, 401, 401), None),
    (BASIC + "Require valid-user\nDeny from 127.0.0.2", (401, 403, 401), None),
])
def test_satisfy_with_authentication(root, text, without, with_bob):
    assert statuses(root, text) == without
    assert decide(root, text, auth=BOB).status == with_bob


def test_access_compat_log(root):
    denied = decide(root, "Deny from all")
    assert (denied.status, denied.log_message) == (
        403, "AH01797: client denied by server configuration: /var/www/html/ws")
    # httpd logs the host check's refusal even when Satisfy Any then lets the user in
    granted = decide(root, BASIC + "Require valid-user\nDeny from all\nSatisfy Any", auth=BOB)
    assert (granted.status, granted.user) == (None, "bob")
    assert granted.log_notes == (
        "AH01797: client denied by server configuration: /var/www/html/ws",)


# --- <Limit>, AllowMethods --------------------------------------------------------------

@pytest.mark.parametrize("sections, method, expected", [
    (("<Limit POST>\nRequire all denied\n</Limit>",), "GET", None),
    (("<Limit POST>\nRequire all denied\n</Limit>",), "POST", 403),
    (("<Limit GET>\nRequire all denied\n</Limit>",), "HEAD", 403),
    (("<Limit HEAD>\nRequire all denied\n</Limit>",), "GET", 403),
    (("<LimitExcept GET>\nRequire all denied\n</LimitExcept>",), "GET", None),
    (("<LimitExcept POST>\nRequire all denied\n</LimitExcept>",), "GET", 403),
    (("<Limit POST>\nDeny from all\n</Limit>",), "GET", None),
    (("<Limit GET>\nDeny from all\n</Limit>",), "GET", 403),
    (("<Limit GET>\nOrder allow,deny\n</Limit>",), "GET", 403),
    (("Require all denied", "<Limit POST>\nRequire all granted\n</Limit>"), "GET", None),
    (("Require all denied", "<Limit GET>\nRequire all granted\n</Limit>"), "GET", None),
    # a <RequireAny> whose every line is for other methods has no say in a <RequireAll>
    (("<RequireAll>\nRequire ip 127.0.0.1\n<RequireAny>\n<Limit POST>\n"
      "Require all denied\n</Limit>\n</RequireAny>\n</RequireAll>",), "GET", None),
])
def test_limit(root, sections, method, expected):
    assert decide(root, *sections, method=method).status == expected


def test_limit_beside_a_rule(root):
    assert statuses(root, "Require ip 127.0.0.2\n<Limit POST>\nRequire all denied\n</Limit>") \
        == (403, None, 403)


def test_allow_methods(root):
    refused = decide(root, "AllowMethods POST")
    assert (refused.status, refused.headers, refused.log_message) == (
        405, (("Allow", "TRACE"),),
        "AH01623: client method denied by server configuration: 'GET' to "
        "/var/www/html/ws")
    assert decide(root, "AllowMethods GET").status is None
    assert decide(root, "AllowMethods GET", method="HEAD").status is None
    assert decide(root, "AllowMethods POST", "AllowMethods reset").status is None
    # 405 comes before the host check
    assert decide(root, "AllowMethods POST\nDeny from all").status == 405


# --- AuthMerging ------------------------------------------------------------------------

PARENT = "Require ip 127.0.0.1 127.0.0.2"


@pytest.mark.parametrize("child, expected", [
    ("Require ip 127.0.0.2 ::1", (403, None, None)),
    ("AuthMerging Off\nRequire ip 127.0.0.2 ::1", (403, None, None)),
    ("AuthMerging And\nRequire ip 127.0.0.2 ::1", (403, None, 403)),
    ("AuthMerging Or\nRequire ip 127.0.0.2 ::1", (None, None, None)),
    ("", (None, None, 403)),
    ("AuthMerging Off", (None, None, None)),
    ("AuthMerging And", (None, None, 403)),
    ("AuthMerging Or", (None, None, 403)),
])
def test_auth_merging(root, child, expected):
    assert statuses(root, PARENT, child) == expected


def test_auth_merging_is_per_section(root):
    assert statuses(root, "Require all denied", "AuthMerging Or\nRequire ip ::1") == \
        (403, 403, None)
    assert statuses(root, PARENT, "AuthMerging And", "AuthMerging Or\nRequire ip ::1") == \
        (None, None, None)
    assert statuses(root, PARENT, "AuthMerging And", "Require ip 127.0.0.2 ::1") == \
        (403, None, None)


# --- authentication ---------------------------------------------------------------------

@pytest.mark.parametrize("text, without, with_bob", [
    (BASIC + "Require valid-user\nRequire ip 127.0.0.2", (401, None, 401), None),
    (BASIC + "<RequireAll>\nRequire valid-user\nRequire ip 127.0.0.2\n</RequireAll>",
     (403, 401, 403), 403),
    (BASIC + "<RequireAll>\nRequire not ip 127.0.0.2\nRequire valid-user\n</RequireAll>",
     (401, 403, 401), None),
    (BASIC + "Require all denied\nRequire valid-user", (401, 401, 401), None),
    (BASIC + "Require user bob", (401, 401, 401), None),
    (BASIC + "Require user alice", (401, 401, 401), 401),
    (BASIC + "Require group admins", (401, 401, 401), None),
    (BASIC + "Require group ADMINS", (401, 401, 401), None),
    (BASIC + "Require group nobody", (401, 401, 401), 401),
    (BASIC + "AuthzSendForbiddenOnFailure On\nRequire user alice", (401, 401, 401), 403),
])
def test_require_with_users(root, text, without, with_bob):
    assert statuses(root, text) == without
    decision = decide(root, text, auth=BOB)
    assert decision.status == with_bob
    assert decision.user == ("bob" if with_bob is None else None)


def test_granted_before_authentication_has_no_user(root):
    decision = decide(root, BASIC + "Require all granted", auth=BOB)
    assert (decision.status, decision.user) == (None, None)


def test_challenges(root):
    text = BASIC + "Require valid-user"
    for auth in (None, credentials("bob", "wrong"), credentials("eve", "x"),
                 "Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"bob").decode()):
        decision = decide(root, text, auth=auth)
        assert (decision.status, decision.headers) == (401, (CHALLENGE,)), auth
    assert decide(root, text, auth=BOB.replace("Basic", "basic")).status is None
    assert decide(root, text, auth=BOB.rstrip("=") + "!garbage").status is None
    assert decide(root, text, auth=credentials("alice", "alice-pw")).user == "alice"


def test_authentication_logs(root):
    text = BASIC + "Require user alice"
    assert decide(root, text, auth=credentials("bob", "wrong")).log_message == \
        'AH01617: user bob: authentication failure for "/ws": Password Mismatch'
    assert decide(root, text, auth=credentials("eve", "x")).log_message == \
        "AH01618: user eve not found: /ws"
    assert decide(root, text, auth="Bearer x").log_message == \
        "AH01614: client used wrong authentication scheme: /ws"
    refused = decide(root, text, auth=BOB)
    assert refused.log_notes == ("AH01663: access to /ws failed, reason: user 'bob' does not "
                                 "meet 'require'ments for user to be allowed access",)
    assert refused.log_message == 'AH01631: user bob: authorization failure for "/ws": '
    assert refused.headers == (CHALLENGE,)
    assert decide(root, BASIC + "Require group nobody", auth=BOB).log_notes == (
        "AH01667: Authorization of user bob to access /ws failed, reason: user is not part "
        "of the 'require'ed group(s).",)
    assert decide(root, BASIC + "Require group staff",
                  auth=credentials("alice", "alice-pw")).status is None


def test_realm_quotes_are_escaped(root):
    text = "AuthType Basic\nAuthName 'a \"q\" b'\nAuthUserFile users\nRequire valid-user"
    assert decide(root, text).headers == (("WWW-Authenticate", 'Basic realm="a \\"q\\" b"'),)


@pytest.mark.parametrize("sections, auth, status, message", [
    (("AuthType Basic\nAuthName r\nAuthUserFile users",), None, 500,
     "AH01627: AuthType configured with no corresponding authorization directives"),
    (("AuthType Basic\nAuthUserFile users\nRequire valid-user",), BOB, 500,
     "AH01615: need AuthName: /ws"),
    (("Require valid-user",), None, 500,
     "AH00027: No authentication done but request not allowed without authentication for "
     "/ws. Authentication not configured?"),
    ((BASIC + "Require valid-user", "AuthType None"), BOB, 500,
     "AH00027: No authentication done but request not allowed without authentication for "
     "/ws. Authentication not configured?"),
    (("AuthType Basic\nAuthName r\nRequire valid-user",), BOB, 500,
     "AH01619: AuthUserFile not specified in the configuration"),
    (("AuthType Basic\nAuthName r\nAuthUserFile missing\nRequire valid-user",), None, 401,
     None),
    (("AuthType Basic\nAuthName r\nAuthUserFile missing\nRequire valid-user",), BOB, 500,
     "(2)No such file or directory: AH01620: Could not open password file: {root}/missing"),
    ((BASIC + "AuthBasicAuthoritative Off\nRequire valid-user",), credentials("eve", "x"),
     500, "AH01796: AuthType Basic configured without corresponding module"),
    ((BASIC + "AuthBasicAuthoritative Off\nRequire valid-user",), credentials("bob", "x"),
     401, 'AH01617: user bob: authentication failure for "/ws": Password Mismatch'),
    (("AuthType Basic\nAuthName r\nAuthUserFile users\nRequire group admins",), BOB, 401,
     'AH01631: user bob: authorization failure for "/ws": '),
])
def test_incomplete_configurations(root, sections, auth, status, message):
    decision = decide(root, *sections, auth=auth)
    assert decision.status == status
    assert decision.log_message == (message and message.format(root=root))


def test_unreadable_group_file_denies(root):
    # apache2 2.4.71: AH01665, then AH01631 and 401 (not 500)
    decision = decide(root, "AuthType Basic\nAuthName r\nAuthUserFile users\n"
                            "AuthGroupFile missing\nRequire group admins", auth=BOB)
    assert decision.status == 401
    assert decision.log_notes == ("(2)No such file or directory: AH01665: Could not open "
                                  f"group file: {root}/missing",)
    assert decision.log_message == 'AH01631: user bob: authorization failure for "/ws": '


def test_no_group_file(root):
    decision = decide(root, "AuthType Basic\nAuthName r\nAuthUserFile users\n"
                            "Require group admins", auth=BOB)
    assert decision.log_notes == ("AH01664: No group file was specified in the "
                                  "configuration",)


def test_auth_settings_inherit_field_by_field(root):
    assert statuses(root, "Require ip 127.0.0.2", BASIC) == (403, None, 403)
    assert decide(root, BASIC, "Require valid-user").status == 401
    assert decide(root, BASIC, "Require valid-user", auth=BOB).status is None
    other = decide(root, BASIC + "Require valid-user", "AuthName Other")
    assert other.headers == (("WWW-Authenticate", 'Basic realm="Other"'),)


def test_unenforceable_policy_is_refused(root):
    decision = decide(root, "Require ldap-group cn=admins")
    assert decision.status == 500
    assert decision.log_message.startswith("geows cannot enforce: test.conf:1: Require "
                                           "ldap-group:")


def test_forbidden_on_failure_names_the_user_in_its_403(root):
    """Found by the mutation run: the 403 carries AH01631's line and no challenge."""
    decision = decide(root, BASIC + "AuthzSendForbiddenOnFailure On\nRequire user alice",
                      auth=BOB)
    assert (decision.status, decision.headers, decision.log_message) == (
        403, (), 'AH01631: user bob: authorization failure for "/ws": ')


# Found by the mutation run (tests/mutation.sh).

def test_basic_credentials_are_decoded_as_apr_does():
    def encoded(raw: bytes) -> str:
        return base64.b64encode(raw).decode()
    assert _decode_basic(encoded(b"bob:bob-pw12") + "Q") == "bob:bob-pw12"  # a lone char
    assert _decode_basic(encoded(b"bob:bob-pw1").rstrip("=")) == "bob:bob-pw1"   # unpadded
    assert _decode_basic(encoded(b"bob\0junk")) == "bob"             # cut at the NUL
    assert _decode_basic(encoded(b"\xff:pw")) == "\udcff:pw"          # bytes kept as sent


def test_realm_escapes_keep_what_a_backslash_escapes():
    assert _escape_quotes('a\\"b') == 'a\\"b'
    assert _escape_quotes('a"b') == 'a\\"b'
    assert _escape_quotes("a\\\nb") == "a\\\nb"      # any character, a newline too


def test_require_host_cuts_at_the_first_comment(root):
    empty = decide(root, "Require host #x localhost#y")
    assert (empty.status, empty.log_notes) == (403, (
        "AH10120: authz_host authorize: dubious empty 'Require host #x localhost#y' with "
        "only comment",))
    two = decide(root, "Require host example.com localhost#x")
    assert (two.status, two.log_notes) == (None, (
        "AH10121: authz_host authorize: ignoring comment in 'Require host example.com "
        "localhost#x'",))


def test_satisfy_any_without_authentication_is_ah00028(root):
    decision = decide(root, "Require valid-user\nDeny from all\nSatisfy Any")
    assert (decision.status, decision.log_message) == (
        500, "AH00028: No authentication done but request not allowed without "
             "authentication for /ws. Authentication not configured?")


def test_basic_credentials_are_read_after_the_first_space_alone(root):
    """mod_auth_basic: the scheme is the first word; whitespace as apr_isspace takes it
    (SP, HTAB, CR, LF, VT, FF) before the credentials is skipped, nothing else; what follows
    them is ignored (found by the mutation run)."""
    text = BASIC + "Require valid-user"
    assert decide(root, text, auth=BOB.replace(" ", " \t ")).user == "bob"
    assert decide(root, text, auth=BOB + " and more").user == "bob"
    assert decide(root, text, auth=BOB.replace(" ", " \x1c")).status == 401


def test_require_all_waits_for_a_user_after_a_grant(root):
    """Found by the mutation run: in <RequireAll>, "denied, but a user might change that"
    outranks a grant before it (mod_authz_core's AUTHZ_DENIED_NO_USER)."""
    text = BASIC + "<RequireAll>\nRequire ip 127.0.0.1\nRequire valid-user\n</RequireAll>"
    assert statuses(root, text) == (401, 403, 403)
    assert decide(root, text, auth=BOB).user == "bob"


def test_a_child_limited_to_other_methods_grants_in_a_require_all(root):
    """apply_authz_sections: a section limited to other methods counts as granted under
    AUTHZ_LOGIC_AND (neutral under OR), so a <RequireAll> whose other child is a negated
    denial (neutral) grants a GET; a POST meets the limited rule (found by the mutation
    run)."""
    text = ("<RequireAll>\n<Limit POST>\nRequire ip 10.0.0.1\n</Limit>\n"
            "Require not ip 10.9.9.9\n</RequireAll>")
    assert decide(root, text).status is None
    assert decide(root, text, method="POST").status == 403


def test_an_allow_limited_to_other_methods_leaves_the_next_one_its_say(root):
    text = ("Order deny,allow\nDeny from all\n<Limit POST>\nAllow from 10.0.0.1\n</Limit>\n"
            "Allow from 127.0.0.1")
    assert statuses(root, text) == (None, 403, 403)


def test_satisfy_in_a_limit_is_for_its_methods(root):
    text = (BASIC + "Require valid-user\nOrder deny,allow\nDeny from all\n"
            "Allow from 127.0.0.1\n<Limit GET>\nSatisfy Any\n</Limit>")
    assert decide(root, text).status is None
    assert decide(root, text, method="POST").status == 401


def test_a_password_may_hold_colons_and_a_user_may_be_in_no_group(root, tmp_path):
    """mod_auth_basic splits the credentials at the first ':' (found by the mutation run);
    mod_authz_groupfile's AH01666 names the group file a user is missing from."""
    users, groups = tmp_path / "users", tmp_path / "groups"
    subprocess.run(["htpasswd", "-cbB", "-C", "4", str(users), "carol", "c:a:rol"],
                   check=True, capture_output=True)
    groups.write_text("admins: bob\n")
    text = (f"AuthType Basic\nAuthName realm\nAuthUserFile {users}\nAuthGroupFile {groups}\n"
            "Require group admins")
    refused = decide(root, text, auth=credentials("carol", "c:a:rol"))
    assert (refused.status, refused.log_notes) == (401, (
        f"AH01666: Authorization of user carol to access /ws failed, reason: user doesn't "
        f"appear in group file ({groups}).",))
    assert decide(root, text.replace("group admins", "valid-user"),
                  auth=credentials("carol", "c:a:rol")).user == "carol"
