"""examples/chat.html and examples/dumb_increment.html in headless Chromium, opened as
files, against geows serving the shipped chat and dumb_increment plugins.

tests/browser/example_pages.mjs drives both pages in one browser and prints one JSON
object, read here.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.browser import CHROMIUM, HERE, trusting_file_pages
from tests.geows_process import GeowsProcess
from tests.test_shipped_plugins import CONFIG, wait_for_lines

SCRIPT = HERE / "example_pages.mjs"


@pytest.fixture(scope="module")
def geows(node):
    process = GeowsProcess(trusting_file_pages(CONFIG))
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def pages(node, geows) -> dict:
    """Run both pages once against geows; the script's JSON result."""
    command = [node, str(SCRIPT), "--base", f"ws://127.0.0.1:{geows.port}",
               "--chromium", CHROMIUM, "--timeout", "20000"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL)
    try:
        result = json.loads(completed.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"example_pages.mjs exited {completed.returncode} without a result:\n"
                    f"stdout: {completed.stdout}\nstderr: {completed.stderr}")
    assert result["ok"], (
        f"page result: {json.dumps(result, indent=1, ensure_ascii=False)}\n"
        f"stderr: {completed.stderr[-2000:]}\ngeows access log:\n{geows.access_log}\n"
        f"geows error log (tail):\n" + "\n".join(geows.error_log.splitlines()[-20:]))
    return result


def test_chat_pages_talk_to_each_other(pages, geows):
    chat = pages["chat"]
    lines = ["ann: hello, bob", "bob: hi, ann \u00e9\u2713 <b>not bold</b>"]
    assert chat["annLog"] == lines and chat["bobLog"] == lines
    assert chat["markup"] == 0          # what others type is shown as text
    assert chat["messageLeft"] == ""    # the field empties once sent
    assert chat["defaultUrl"] == "ws://127.0.0.1:8080/chat"  # a file has no host
    assert all(re.fullmatch(r"Connection closed \(100[05]\)", s) for s in chat["closed"]), chat
    wait_for_lines(geows, r'"GET /chat HTTP/1\.1" 101 .* in=1 out=2 ', 2)


def test_dumb_increment_page_counts_and_resets(pages, geows):
    counter = pages["counter"]
    assert counter["protocol"] == "dumb-increment-protocol"
    assert counter["defaultUrl"] == "ws://127.0.0.1:8080/dumb-increment"
    first, later = counter["seen"]
    assert first >= 5 and later > first, counter
    assert counter["afterReset"] < later
    assert re.fullmatch(r"Connection closed \(100[05]\)", counter["closed"]), counter
    wait_for_lines(geows, r'"GET /dumb-increment HTTP/1\.1" 101 .* in=1 ', 1)
