"""Route once: one handshake (and each request of a forwarded connection) selects its vhost
by name once and walks the <Location>s at most once, from the head to the access log line.

Counted by wrapping the methods that do the work (counting, then delegating) around a real
Server in a fresh interpreter: the access logs (CustomLog) are process-wide state.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.geows_process import REPO

# 51 <Location>s (24 of the main server's, 13 and 14 of two name-based vhosts'), access rules
# on the served path, a CustomLog, a ProxyPass to a backend in the same process, which is
# monkeypatched as a worker is.
MEASURE = r'''
from gevent import monkey
monkey.patch_all()  # as a worker does: forward.py connects with the socket module
import json, os, sys, tempfile
from collections import Counter
import gevent
from gevent import socket
from geows.access.control import AccessControl
from geows.config import load_config, model, vhosts
from geows.runtime import log as geows_log
from geows.runtime.server import Server

counts = Counter()
for cls, name in ((vhosts.VirtualHostTable, "select"), (vhosts.VirtualHostTable, "default"),
                  (model.LocationSection, "matches"), (model.AccessSection, "matches")):
    def counting(*args, _original=getattr(cls, name), _key=f"{cls.__name__}.{name}", **kw):
        counts[_key] += 1
        return _original(*args, **kw)
    setattr(cls, name, counting)

backend = socket.socket()
backend.bind(("127.0.0.1", 0))
backend.listen()

def answer_all():
    conn, _ = backend.accept()
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
        while b"\r\n\r\n" in data:
            _, data = data.split(b"\r\n\r\n", 1)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
gevent.spawn(answer_all)

root = tempfile.mkdtemp()
main = "".join(f"<Location /main{i}>\n  SetHandler none\n</Location>\n" for i in range(22))
one = "".join(f"<Location /one{i}>\n  SetHandler none\n</Location>\n" for i in range(13))
two = "".join(f"<Location /two{i}>\n  SetHandler none\n</Location>\n" for i in range(13))
with open(os.path.join(root, "httpd.conf"), "w") as conf:
    conf.write(f"""Listen 127.0.0.1:8080
CustomLog access.log "%v %r %>s"
ProxyPass /app http://127.0.0.1:{backend.getsockname()[1]}/app
{main}<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler echo.py echo_init
  Require all granted
</Location>
<Location /app>
  Require all granted
</Location>
<VirtualHost *>
  ServerName one.test
{one}</VirtualHost>
<VirtualHost *>
  ServerName two.test
{two}<Location /echo/x>
  Require ip 127.0.0.1
</Location>
</VirtualHost>
""")
config = load_config("httpd.conf", server_root=root)
assert len(config.locations) == 51 and len(config.virtual_hosts) == 2
access_logs = geows_log.configure(config)
settings = next(s.websocket for s in config.locations if s.websocket)
server = Server(config, {settings: object()}, AccessControl(config), access_logs=access_logs)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
server.start({("127.0.0.1", 8080): listener}, {config.listeners[0]: None})

def exchange(*requests):
    counts.clear()
    client = socket.create_connection(listener.getsockname())
    answers = []
    for request in requests:
        client.sendall(request)
        answers.append(client.recv(65536).split(b"\r\n")[0].decode())
    client.close()
    while server.connections:
        gevent.sleep(0.01)
    return {"answers": answers, "counts": dict(counts)}

handshake = exchange(b"GET /echo/x HTTP/1.1\r\nHost: two.test\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
forwarded = exchange(b"GET /app/a HTTP/1.1\r\nHost: one.test\r\n\r\n",
                     b"GET /app/b HTTP/1.1\r\nHost: one.test\r\n\r\n")
server.stop()
with open(os.path.join(root, "access.log")) as log:
    lines = log.read().splitlines()
print(json.dumps({"handshake": handshake, "forwarded": forwarded, "log": lines}))
'''


def measure() -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE], cwd=REPO, env={"PYTHONPATH": REPO},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_one_handshake_routes_once():
    found = measure()
    handshake, forwarded = found["handshake"], found["forwarded"]
    assert found["log"] == ["two.test GET /echo/x HTTP/1.1 101",
                            "one.test GET /app/a HTTP/1.1 200"]
    assert handshake["answers"] == ["HTTP/1.1 101 Switching Protocols"]
    # One selection by the local address (the head's LimitRequest*, before the Host is
    # known), one by name (the route), one pass over the main server's 24 <Location>s and
    # two.test's 14; the access check and the log line reuse the route.
    assert handshake["counts"] == {"VirtualHostTable.default": 1, "VirtualHostTable.select": 1,
                                   "LocationSection.matches": 24 + 14}
    # A forwarded connection: the same for each of its requests, the limits read once.
    assert forwarded["answers"] == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]
    assert forwarded["counts"] == {"VirtualHostTable.default": 1, "VirtualHostTable.select": 2,
                                   "LocationSection.matches": 2 * (24 + 13)}
