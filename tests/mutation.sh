#!/usr/bin/env bash
# Mutation testing: mutmut (settings in setup.cfg's [mutmut]) changes the modules that guard
# bytes and access one small edit at a time and runs the fast tests that reach each edit;
# tests/mutation/score.py then counts, per module, the mutants caught and lists the survivors
# that tests/mutation/equivalent.txt does not explain.
# Usage: bash tests/mutation.sh [--again] [--changed BASE] [MODULE.py ...]
#   no module: every module setup.cfg lists, one after the other;
#   --changed BASE: only the listed modules that `git diff BASE` touches;
#   --again: only the mutants the last run left (survivors, and those it had no time for),
#   after new tests or new entries in tests/mutation/equivalent.txt.
# Each module's run stops after MUTATION_TIMEOUT seconds (default 1800); its mutants not yet
# tried are then counted "not checked". MUTATION_CHILDREN mutants run at once (default: one
# per core). Every process of the run gets at most MUTATION_MEMORY_KB KB of address space
# (default 4000000, ulimit -v): a mutant that allocates without bound then fails its tests
# with a MemoryError instead of taking the machine's memory. Needs `bash tests/run.sh` to
# have made .venv (or VENV=path/to/venv). Exits non-zero when a module scores under 95%.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TIMEOUT=${MUTATION_TIMEOUT:-1800}
CHILDREN=${MUTATION_CHILDREN:-$(nproc)}
MEMORY_KB=${MUTATION_MEMORY_KB:-4000000}
again=false
if [ "${1:-}" = --again ]; then
    again=true
    shift
fi

configured=$("$VENV/bin/python" -c '
import configparser
parser = configparser.ConfigParser()
parser.read("setup.cfg")
print(" ".join(parser["mutmut"]["only_mutate"].split()))')
if [ "${1:-}" = --changed ]; then
    changed=$(git diff --name-only "$2" --)
    shift 2
    modules=()
    for module in $configured; do
        if grep -qx "$module" <<<"$changed"; then modules+=("$module"); fi
    done
elif [ $# -gt 0 ]; then
    modules=("$@")
else
    read -ra modules <<<"$configured"
fi

if [ ${#modules[@]} = 0 ]; then
    echo "no module that setup.cfg's [mutmut] lists was changed"
    exit 0
fi
for module in "${modules[@]}"; do
    if [[ " $configured " != *" $module "* ]]; then
        echo "$module: not one of setup.cfg's [mutmut] only_mutate: $configured" >&2
        exit 2
    fi
    if $again; then
        mapfile -t names < <("$VENV/bin/python" tests/mutation/score.py --left "$module")
    else
        # geows/protocols/rfc6455.py -> mutants named geows.protocols.rfc6455.*
        names=("$(sed 's/\.py$//; s|/|.|g' <<<"$module").*")
    fi
    echo "== $module ($(date -u +%FT%TZ), ${#names[@]} name(s), at most ${TIMEOUT}s)"
    if [ ${#names[@]} -gt 0 ]; then
        (ulimit -v "$MEMORY_KB" && timeout "$TIMEOUT" "$VENV/bin/mutmut" run \
            --max-children "$CHILDREN" "${names[@]}" >/dev/null) || echo "   mutmut stopped: $?"
    fi
done
exec "$VENV/bin/python" tests/mutation/score.py "${modules[@]}"
