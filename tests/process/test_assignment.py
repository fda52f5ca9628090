"""Assignment and Parsed: what the master hands a worker, through the worker's environment and
its channel."""

from __future__ import annotations

import os

from geows.access.control import AccessControl
from geows.config import load_config
from geows.process.assignment import ASSIGNMENT_ENV, Assignment, Parsed


def test_an_assignment_comes_out_of_the_environment_as_it_went_in(monkeypatch):
    sent = Assignment(generation=2, channel=5, listeners=[("127.0.0.1", 8080, 6), (None, 443, 7)],
                      open_connections=8, share=3, started=1700000000.5)
    monkeypatch.setenv(ASSIGNMENT_ENV, sent.to_env())
    assert Assignment.from_env() == sent
    assert ASSIGNMENT_ENV not in os.environ  # taken: what the worker starts does not get it


# What a worker must get whole from the master: every kind of section matcher (prefix,
# wildcard, regex), a compiled LogFormat, vhosts, ProxyPass, access rules.
RICH = """\
Listen 127.0.0.1:8080
ServerName main.test
LogFormat "%h %l %u %t \\"%r\\" %>s %b %D %{Referer}i" timed
CustomLog @DIR@/access.log timed
ProxyPass /app http://127.0.0.1:9000/app
ProxyPassMatch ^/re/(.*)$ http://127.0.0.1:9000/$1
<Location /ws>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/main.py main_init
  Require ip 127.0.0.1
</Location>
<LocationMatch "^/chat/(room|lobby)$">
  SetHandler websocket-handler
  WebSocketHandler @DIR@/main.py main_init
</LocationMatch>
<Location /wild/*/x>
  Require all denied
</Location>
<Directory /srv/*/www>
  Require all granted
</Directory>
<Files "*.txt">
  Require all denied
</Files>
<VirtualHost *:8080>
  ServerName two.test
</VirtualHost>
"""


def test_the_parsed_config_a_worker_gets_routes_as_the_masters(tmp_path):
    conf = tmp_path / "httpd.conf"
    conf.write_text(RICH.replace("@DIR@", str(tmp_path)))
    config = load_config(conf, server_root=tmp_path)
    sent = Parsed(config, {str(tmp_path / "main.py"): b"def main_init(): ...\n"})
    got = Parsed.from_bytes(sent.to_bytes())
    assert got.plugin_sources == sent.plugin_sources
    for path, host in (("/ws/x", "main.test"), ("/chat/room", "two.test"), ("/chat/rooms", None),
                       ("/wild/a/x", None), ("/app/1", None), ("/re/y", None), ("/a.txt", None)):
        mine, theirs = config.route(path, host, 8080, "127.0.0.1"), \
            got.config.route(path, host, 8080, "127.0.0.1")
        assert [s.pattern for s in theirs.sections] == [s.pattern for s in mine.sections]
        assert (theirs.handler, theirs.file_name) == (mine.handler, mine.file_name)
        assert repr(theirs.proxy_pass) == repr(mine.proxy_pass)
    format = got.config.logs.access_logs[0].format
    assert format.text == config.logs.access_logs[0].format.text
    AccessControl(got.config)  # its rules build in the worker
