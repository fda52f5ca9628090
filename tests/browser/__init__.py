"""Headless Chromium against geows; conftest.py's `node` fixture fails without the tools."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CLIENT_PAGE = HERE / "client_page.mjs"


def trusting_file_pages(config: str) -> str:
    """`config` with each WebSocket location trusting the Origin a page opened as a file
    sends, null, as conf/httpd.conf does (WebSocketOriginCheck Same would refuse it)."""
    return re.sub(r"(\n([ \t]*)WebSocketHandler [^\n]*)",
                  r"\1\n\2WebSocketOriginCheck Trusted\n\2WebSocketTrustedOrigin null", config)


def run_client_page(node: str, url: str, message: str, page: str | None = None,
                    expect: str | None = None) -> tuple[dict, str]:
    """client_page.mjs: examples/client.html (or the page at `page`, an http URL) sends
    `message` to `url` and reads the echo (or the answer `expect`); (its JSON result, its
    stderr)."""
    command = [node, str(CLIENT_PAGE), "--url", url, "--message", message,
               "--chromium", CHROMIUM, "--timeout", "20000", *(("--page", page) if page else ()),
               *(("--expect", expect) if expect else ())]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL)
    try:
        return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stderr
    except (IndexError, ValueError):
        pytest.fail(f"client_page.mjs exited {completed.returncode} without a result:\n"
                    f"stdout: {completed.stdout}\nstderr: {completed.stderr}")


def assert_echoed_and_logged_once(result: dict, stderr: str, geows, message: str) -> None:
    """The page got its echo and closed with a close handshake (1005: a close frame without
    a code, echoed; 1006 would mean the connection ended without one), and geows logged the
    connection once, as RFC 6455 ("rfc6455", or "+permessage-deflate"), one message each way."""
    assert result["ok"] and result["received"] == [message], explain(result, stderr, geows)
    assert result["status"] == "Connected"
    assert result["closeCode"] in (1000, 1005), explain(result, stderr, geows)
    log = geows.wait_for_log('"GET /echo HTTP/1.1" 101 ')
    lines = [line for line in log.splitlines() if '"GET /echo HTTP/1.1" 101 ' in line]
    assert len(lines) == 1, log
    assert re.search(r'" 101 rfc6455(\+\S+)? ', lines[0]), f"not logged as rfc6455: {lines[0]}"
    assert re.search(r"\bin=1 out=1\b", lines[0]), lines[0]


def explain(result: dict, stderr: str, geows) -> str:
    """What a failed assertion shows: the page's result, its stderr, geows' logs."""
    return (f"page result: {json.dumps(result, indent=1, ensure_ascii=False)}\n"
            f"stderr: {stderr[-2000:]}\ngeows access log:\n{geows.access_log}\n"
            f"geows error log (tail):\n" + "\n".join(geows.error_log.splitlines()[-20:]))
