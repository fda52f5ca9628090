"""draft-76 clients nobody here wrote: Perl's Protocol::WebSocket and Ruby's
websocket gem (Debian packages, installed by tests/run.sh)."""

from __future__ import annotations

import subprocess

import pytest

from tests.geows_process import ECHO_CONFIG, REPO, GeowsProcess

CLIENTS = {
    "perl": ["perl", str(REPO / "tests/clients/draft76_client.pl")],
    "ruby": ["ruby", str(REPO / "tests/clients/draft76_client.rb")],
}

@pytest.fixture(scope="module")
def geows():
    process = GeowsProcess(ECHO_CONFIG)
    yield process
    assert process.stop() == 0


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("protocol", [None, "chat"])
def test_third_party_draft76_client_echo(geows, client, protocol):
    command = CLIENTS[client] + [f"ws://127.0.0.1:{geows.port}/echo", "20"]
    if protocol:
        command.append(protocol)
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"msg-{i}" for i in range(20)]
