#!/usr/bin/env bash
# Set up a virtual environment with the dev extras and run the full test suite.
# Usage: ./scripts/test.sh [pytest args...]
# Tests marked `interop` read DCC's public RTDS vectors from GBCS_INTEROP_DIR (default
# ../shared/interop): without them they skip with a reason, unless GBCS_REQUIRE_INTEROP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
INTEROP=${GBCS_INTEROP_DIR:-../shared/interop}
if [ ! -f "$INTEROP/vectors.json" ] && [ "${GBCS_REQUIRE_INTEROP:-0}" != 1 ]; then
  echo "note: no vectors.json in $INTEROP: the interop tests will skip (set GBCS_INTEROP_DIR)" >&2
fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
