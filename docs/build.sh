#!/usr/bin/env bash
# Build the documentation into docs/_build/html, warnings as errors, every cross-reference
# checked. Usage: bash docs/build.sh [sphinx-build arguments]  (after bash tests/run.sh,
# which installs the `docs` extra into .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
exec "$PYTHON" -m sphinx -W -n --keep-going -b html "$@" docs docs/_build/html
