"""The process that serves sets Python's garbage collector for thousands of connections
(limits.GC_YOUNG_OBJECTS): its young generation collected after that many objects, and what
its start made frozen out of every collection. Asked of the real CLI, a worker and -X's one
process alike, by a plugin that reports what it sees."""

from __future__ import annotations

import pytest
from websockets.sync.client import connect

from geows import limits
from tests.geows_process import GeowsProcess

REPORT = '''
import gc
from geows.plugin import Plugin, TEXT

def report_init():
    def on_message(state, server, type, data):
        server.send(TEXT, f"{gc.get_threshold()[0]} {gc.get_freeze_count()}")
    return Plugin(on_message=on_message)
'''

CONFIG = """
Listen 127.0.0.1:@PORT@
<Location /report>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/report.py report_init
</Location>
"""


@pytest.mark.parametrize("arguments", [(), ("-X",)], ids=["worker", "-X"])
def test_the_serving_process_collects_young_objects_late_and_froze_its_start(arguments):
    process = GeowsProcess(CONFIG, extra_files={"report.py": REPORT}, extra_args=arguments)
    try:
        with connect(f"ws://127.0.0.1:{process.port}/report", open_timeout=10) as ws:
            ws.send("?")
            threshold, frozen = map(int, str(ws.recv(timeout=10)).split())
    finally:
        assert process.stop() == 0
    assert threshold == limits.GC_YOUNG_OBJECTS
    assert frozen > 10_000   # the modules, the config and the plugins it loaded
