"""mod_remoteip's walk, against what Debian's apache2 2.4.71 logged as %a for the same
header and peer (/root/scratch/httpd-access-facts.md (j), and runs of our own)."""

from __future__ import annotations

import pytest

from geows.access.remoteip import RemoteIP, build_remoteip, client_ip
from geows.errors import ConfigError
from geows.http import Headers
from tests.access.sections import lines


def config(text: str, main: str = "", server_root: str = "/srv"):
    return build_remoteip(lines(text), server_root, lines(main))


def walk(text: str, peer: str, *xff: str) -> RemoteIP:
    return client_ip(config("RemoteIPHeader X-Forwarded-For\n" + text), peer,
                     Headers([("X-Forwarded-For", value) for value in xff]))


@pytest.mark.parametrize("xff, client", [
    ("10.1.2.3", "127.0.0.2"),                      # private: refused from external proxies
    ("203.0.113.5", "203.0.113.5"),
    ("203.0.113.5, 10.1.2.3", "127.0.0.2"),          # the rightmost is private: stop
    ("10.1.2.3, 203.0.113.5", "203.0.113.5"),
    ("203.0.113.9, 203.0.113.5", "203.0.113.9"),     # everyone is a proxy: walk through
    ("203.0.113.9, 127.0.0.2", "127.0.0.2"),
    ("::1", "127.0.0.2"),
    ("fe80::1", "127.0.0.2"),
    ("fd00::1", "127.0.0.2"),
    ("2001:db8::5", "2001:db8::5"),
    ("::ffff:10.0.0.1", "127.0.0.2"),
    ("::ffff:203.0.113.5", "203.0.113.5"),
    ("100.64.0.1", "100.64.0.1"),                    # not in httpd's private list
    ("garbage.invalid", "127.0.0.2"),
    ("203.0.113.5:1234", "127.0.0.2"),
    ("[2001:db8::5]", "127.0.0.2"),
    ("127.1", "127.0.0.2"),                          # 127.0.0.1: private
    (" 203.0.113.5 ", "203.0.113.5"),
])
def test_no_proxy_directive_trusts_everyone(xff, client):
    assert walk("", "127.0.0.2", xff).client_ip == client


def test_header_fields_are_joined():
    result = walk("", "127.0.0.1", "8.8.8.8", "7.7.7.7")
    assert result == RemoteIP("8.8.8.8", "127.0.0.1, 7.7.7.7", None)


def test_trusted_proxy():
    assert walk("RemoteIPTrustedProxy 127.0.0.1", "127.0.0.2", "203.0.113.5").client_ip \
        == "127.0.0.2"
    assert walk("RemoteIPTrustedProxy 127.0.0.1", "127.0.0.1", "10.1.2.3").client_ip \
        == "127.0.0.1"
    # 203.0.113.5 is no proxy: the walk stops there; what is left stays in the header.
    assert walk("RemoteIPTrustedProxy 127.0.0.1", "127.0.0.1", "8.8.8.8, 9.9.9.9") == \
        RemoteIP("9.9.9.9", "127.0.0.1", "8.8.8.8")
    # a private address is refused even when it is itself a trusted proxy
    assert walk("RemoteIPTrustedProxy 127.0.0.1 10.0.0.0/8", "127.0.0.1",
                "203.0.113.5, 10.1.2.3").client_ip == "127.0.0.1"
    assert walk("RemoteIPTrustedProxy 127.0.0.1 10.0.0.0/8", "127.0.0.1",
                "10.1.2.3, 203.0.113.5").client_ip == "203.0.113.5"


@pytest.mark.parametrize("xff, client, left", [
    ("10.1.2.3", "10.1.2.3", None),
    ("127.0.0.2", "127.0.0.2", None),
    ("::1", "::1", None),
    ("::ffff:1.2.3.4", "1.2.3.4", None),
    ("203.0.113.5, 10.1.2.3", "10.1.2.3", "203.0.113.5"),   # 10.1.2.3 is no proxy
    ("192.168.1.1, 10.0.0.1", "10.0.0.1", "192.168.1.1"),
    ("010.1.1.1", "8.1.1.1", None),                          # getaddrinfo reads octal
    ("1.2.3", "1.2.0.3", None),
    ("localhost", "127.0.0.1", None),                        # host names are looked up
    ("1.2.3.4:80", "127.0.0.1", "1.2.3.4:80"),
    ("5.6.7.8 ,  9.9.9.9 ", "9.9.9.9", "5.6.7.8 "),
    ("5.6.7.8,,9.9.9.9", "9.9.9.9", "5.6.7.8,"),
    ("5.6.7.8,\t9.9.9.9", "127.0.0.1", "5.6.7.8,\t9.9.9.9"),  # a tab is not trimmed
])
def test_internal_proxy(xff, client, left):
    result = walk("RemoteIPInternalProxy 127.0.0.1", "127.0.0.1", xff)
    assert (result.client_ip, result.header, result.proxy_ips) == (client, left, None)


def test_external_after_internal():
    # The internal proxy hands over to a trusted one: from there on, private addresses
    # are refused (apache2 logged 127.0.0.2 and kept "8.8.8.8, 10.0.0.1").
    text = "RemoteIPInternalProxy 127.0.0.1\nRemoteIPTrustedProxy 127.0.0.2"
    assert walk(text, "127.0.0.1", "8.8.8.8, 10.0.0.1, 127.0.0.2") == \
        RemoteIP("127.0.0.2", None, "8.8.8.8, 10.0.0.1")
    assert walk(text, "127.0.0.1", "8.8.8.8, 127.0.0.2, 1.1.1.1") == \
        RemoteIP("1.1.1.1", None, "8.8.8.8, 127.0.0.2")


def test_nothing_happens():
    assert config("RemoteIPTrustedProxy 127.0.0.1") is None     # no header
    assert walk("", "127.0.0.1") == RemoteIP("127.0.0.1", None, None)
    assert walk("RemoteIPInternalProxy 127.0.0.1", "127.0.0.2", "8.8.8.8") == \
        RemoteIP("127.0.0.2", None, "8.8.8.8")


def test_vhost_joins_the_main_servers_proxies():
    # apache2 2.4.71: the vhost's entries are tried first, then the main server's.
    vhost = config("RemoteIPTrustedProxy 127.0.0.0/8",
                   "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1")
    headers = Headers([("X-Forwarded-For", "10.1.1.1")])
    assert client_ip(vhost, "127.0.0.1", headers).client_ip == "127.0.0.1"
    vhost = config("RemoteIPInternalProxy 127.0.0.0/8",
                   "RemoteIPHeader X-Forwarded-For\nRemoteIPTrustedProxy 127.0.0.1")
    assert client_ip(vhost, "127.0.0.1", headers).client_ip == "10.1.1.1"
    assert config("RemoteIPHeader X-Real-IP", "RemoteIPHeader X-Forwarded-For").header == \
        "X-Real-IP"


def test_proxy_list_file(tmp_path):
    (tmp_path / "proxies").write_text("# ours\n127.0.0.1 # the front\n10.0.0.0/8\n")
    result = client_ip(config("RemoteIPHeader X-Forwarded-For\n"
                              "RemoteIPInternalProxyList proxies", server_root=str(tmp_path)),
                       "127.0.0.1", Headers([("X-Forwarded-For", "10.1.1.1, 10.2.2.2")]))
    assert result.client_ip == "10.1.1.1"
    (tmp_path / "bad").write_text("127.0.0.1\n10.0.0.0/33\n")
    with pytest.raises(ConfigError) as caught:
        config("RemoteIPTrustedProxyList bad", server_root=str(tmp_path))
    assert caught.value.message == (
        "RemoteIP: Error parsing IP 10.0.0.0/33 (The specified network mask is invalid. "
        f"error) for RemoteIPTrustedProxyList at line 2 of {tmp_path}/bad")


@pytest.mark.parametrize("text, message", [
    ("RemoteIPHeader", "RemoteIPHeader takes one argument, Specifies a request header to "
                       "trust as the client IP, e.g. X-Forwarded-For"),
    ("RemoteIPHeader a b", "RemoteIPHeader takes one argument, Specifies a request header "
                           "to trust as the client IP, e.g. X-Forwarded-For"),
    ("RemoteIPTrustedProxy", "RemoteIPTrustedProxy requires at least one argument, "
                             "Specifies one or more proxies which are trusted to present "
                             "IP headers"),
    ("RemoteIPInternalProxyList /nonexistent", "RemoteIPInternalProxyList: Could not open "
                                               "file /nonexistent: No such file or directory"),
    ("RemoteIPTrustedProxy foo.invalid", "RemoteIP: Error parsing IP foo.invalid (Name or "
                                         "service not known error) for RemoteIPTrustedProxy"),
    ("RemoteIPTrustedProxy 10.0.0.0/33", "RemoteIP: Error parsing IP 10.0.0.0/33 (The "
                                         "specified network mask is invalid. error) for "
                                         "RemoteIPTrustedProxy"),
    ("RemoteIPTrustedProxy 10.1/8", "RemoteIP: Error parsing IP 10.1/8 (The specified IP "
                                    "address is invalid. error) for RemoteIPTrustedProxy"),
    ("RemoteIPTrustedProxy foo/8", "RemoteIP: Error parsing IP foo/8 the subnet /8 is "
                                   "invalid for RemoteIPTrustedProxy"),
    ("RemoteIPProxyProtocol On", "remoteipproxyprotocol: the PROXY protocol is not "
                                 "supported by geows, which refuses to start rather than "
                                 "take client addresses from it"),
])
def test_config_errors(text, message):
    with pytest.raises(ConfigError) as caught:
        config(text)
    assert caught.value.message == message
    assert (caught.value.file, caught.value.line) == ("test.conf", 1)


def test_accepted_forms():
    assert config("RemoteIPHeader X\nRemoteIPTrustedProxy 10.1 localhost\n"
                  "RemoteIPProxyProtocol Off") is not None
