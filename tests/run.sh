#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run them all.
# Usage: bash tests/run.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# Third-party draft-76 clients (Perl, Ruby) the tests drive against geows, and
# the real httpd (with apxs, to build a stand-in module) for tests/httpd.
DEBIAN_PACKAGES=(libprotocol-websocket-perl ruby ruby-websocket apache2 apache2-dev)
if ! dpkg -s "${DEBIAN_PACKAGES[@]}" >/dev/null 2>&1; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${DEBIAN_PACKAGES[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/ruff check geows plugins tests
exec .venv/bin/python -m pytest "$@"
