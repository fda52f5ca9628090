"""Password and group files: every format the real htpasswd writes, and httpd's reading."""

from __future__ import annotations

import os
import subprocess

import pytest

from geows.access.passwords import groups_of, password_hash, verify

# htpasswd's flags: bcrypt (cost 4 keeps the test fast), MD5, SHA1, crypt, SHA-256, SHA-512
FORMATS = [("-B", "$2y$"), ("-m", "$apr1$"), ("-s", "{SHA}"), ("-d", ""), ("-2", "$5$"),
           ("-5", "$6$")]


def htpasswd(path, flag: str, user: str, password: str) -> str:
    options = ["-C", "4"] if flag == "-B" else []
    create = [] if os.path.exists(path) else ["-c"]
    subprocess.run(["htpasswd", *create, "-b", flag, *options, str(path), user, password],
                   check=True, capture_output=True)
    return password_hash(str(path), user)


@pytest.mark.parametrize("flag, prefix", FORMATS)
def test_htpasswd_formats(tmp_path, flag, prefix):
    hashed = htpasswd(tmp_path / "users", flag, "bob", "pässwörd")
    assert hashed.startswith(prefix)
    assert verify("pässwörd", hashed)
    assert not verify("passwörd", hashed)
    assert not verify("", hashed)


def test_crypt_reads_eight_bytes(tmp_path):
    hashed = htpasswd(tmp_path / "users", "-d", "bob", "secretpass")
    assert len(hashed) == 13
    assert verify("secretpa", hashed) and verify("secretpaXXXX", hashed)
    assert not verify("secretp", hashed)


def test_bcrypt_reads_72_bytes(tmp_path):
    hashed = htpasswd(tmp_path / "users", "-B", "bob", "x" * 72)
    assert verify("x" * 72 + "ignored", hashed)


def test_plain_text_never_matches(tmp_path):
    # `htpasswd -p` stores the password; httpd hands it to crypt(), which never matches
    hashed = htpasswd(tmp_path / "users", "-p", "bob", "secret")
    assert hashed == "secret"
    assert not verify("secret", hashed)


@pytest.mark.parametrize("hashed", ["", "$2y$05$short", "$apr1$x", "{SHA}", "$y$j9T$abc",
                                    "*", "!locked", "$6$"])
def test_malformed_or_unknown_hashes_match_nothing(hashed):
    assert not verify("", hashed) and not verify("secret", hashed)


def test_password_file_reading(tmp_path):
    path = tmp_path / "users"
    path.write_text("# a comment\n\n  bob:first:extra field\nbob:second\n"
                    "carol::double-colon\r\nlong:ab\\\ncd\n")
    assert password_hash(str(path), "bob") == "first"      # the first line of a user wins
    assert password_hash(str(path), "carol") == "double-colon"
    assert password_hash(str(path), "long") == "abcd"      # a trailing backslash joins lines
    assert password_hash(str(path), "# a comment") is None
    assert password_hash(str(path), "eve") is None
    with pytest.raises(OSError):
        password_hash(str(tmp_path / "missing"), "bob")


def test_files_are_read_again_when_they_change(tmp_path):
    path = tmp_path / "users"
    path.write_text("bob:one\n")
    assert password_hash(str(path), "bob") == "one"
    path.write_text("bob:two\n")            # a different size
    assert password_hash(str(path), "bob") == "two"
    path.write_text("bob:333\n")            # the same size, a newer mtime
    os.utime(path, ns=(1, 10**18))
    assert password_hash(str(path), "bob") == "333"


def test_group_file_reading(tmp_path):
    path = tmp_path / "groups"
    path.write_text("Admins : bob \"carol x\"\nstaff:bob\n# ignored: eve\nempty:\n")
    assert groups_of(str(path), "bob") == {"admins", "staff"}
    assert groups_of(str(path), "carol x") == {"admins"}
    assert groups_of(str(path), "eve") == frozenset()
