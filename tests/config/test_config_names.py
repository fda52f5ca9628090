"""The names a config needs looked up are asked of the Names the reader is given: the
<VirtualHost> addresses, an IP-based vhost's name by its reverse lookup, and the machine's
name for a main server without ServerName, as httpd finds them."""

from __future__ import annotations


class Table:
    """Names from a table, and a record of what was asked."""

    def __init__(self, addresses: dict[str, list[str]], reverse: dict[str, str]):
        self.table, self.reversed, self.asked = addresses, reverse, []

    def addresses(self, host: str) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"no such name {host}")
        return self.table[host]

    def reverse(self, ip: str) -> str | None:
        self.asked.append(ip)
        return self.reversed.get(ip)

    def hostname(self) -> str:
        return "machine.test"


CONF = """Listen 127.0.0.1:8080
<VirtualHost chat.test:8080>
</VirtualHost>
<VirtualHost 127.0.0.9:8080>
</VirtualHost>
<VirtualHost nowhere.test:8080>
</VirtualHost>
"""


def test_vhost_names_are_looked_up_by_the_names_given(root):
    names = Table({"chat.test": ["127.0.0.7", "::1", "127.0.0.7"]},
                  {"127.0.0.7": "chat.reverse.test", "127.0.0.9": "nine.test"})
    config = root.load(CONF, names=names)
    chat, nine, nowhere = config.virtual_hosts
    assert [address.ip for address in chat.addresses] == ["127.0.0.7", "::1"]  # each once
    assert chat.server_name == "chat.reverse.test"  # no ServerName: its first address' name
    assert nine.server_name == "nine.test"
    assert nowhere.addresses == ()  # does not resolve: ignored, as httpd ignores it
    assert names.asked == ["chat.test", "nowhere.test", "127.0.0.7", "127.0.0.9"]  # no IP
    assert config.logs.names.name == "machine.test"  # %v of the main server
