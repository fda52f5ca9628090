#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run them all.
# Usage: bash tests/run.sh [pytest arguments] (without any: the suite, and a part of it again
# on the pure-Python frames)
set -euo pipefail
cd "$(dirname "$0")/.."

# Every tool a test uses, so that none is missing (a missing tool fails its tests):
# third-party draft-76 clients (Perl, Ruby) the tests drive against geows, the real httpd
# (with apxs, to build a stand-in module) for tests/httpd, httpd's and APR's headers
# (apache2-dev, libapr1-dev, libaprutil1-dev), which geows' httpd runtime for C plugins is
# built against (pip install below builds it), and the browser tests/browser
# drives with Node.js, ss (iproute2), which tests/test_ping reads sockets with, and
# redis-server and nftables, the broker and the partitions of the tests across hosts,
# curl, which the tutorial (docs/tutorial.md) reads the status page with, and systemd's
# systemd-analyze, which checks conf/systemd/geows.service (Autobahn's runner, kosoku, and
# the documentation's Sphinx come from PyPI below).
DEBIAN_PACKAGES=(libprotocol-websocket-perl ruby ruby-websocket chromium apache2 apache2-dev libapr1-dev libaprutil1-dev apache2-utils gcc libc6-dev openssl iproute2 redis-server nftables curl systemd)
# Debian's Node.js unless node and npm are on PATH already (NodeSource's nodejs, say, which
# carries its own npm and conflicts with Debian's).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    DEBIAN_PACKAGES+=(nodejs npm)
fi
if ! dpkg -s "${DEBIAN_PACKAGES[@]}" >/dev/null 2>&1; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${DEBIAN_PACKAGES[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,docs]'
# playwright-core for tests/browser, from its lock; only when node_modules is older than it.
if [ ! tests/browser/node_modules/.package-lock.json -nt tests/browser/package-lock.json ]; then
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null
fi
.venv/bin/ruff check geows plugins tests docs
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest "$@"
fi
# The whole suite, on the frames as built (in C: geows.protocols._frames), then the tests
# that cross the protocols and the session again on the pure-Python frames
# (docs/development.md, "The compiled frames", says why these).
PURE_PYTHON_TESTS=(tests/protocols tests/runtime tests/compliance tests/test_rfc6455_server.py
                   tests/test_draft76_server.py tests/test_early_sends.py tests/test_ping.py
                   tests/test_fairness.py tests/test_message_memory_server.py
                   tests/test_third_party_clients.py)
status=0
.venv/bin/python -m pytest || status=$?
GEOWS_PURE_PYTHON=1 .venv/bin/python -m pytest "${PURE_PYTHON_TESTS[@]}" || status=$?
exit "$status"
