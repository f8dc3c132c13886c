#!/usr/bin/env bash
# Set up a virtual environment and run the main job: for now, decode the bundled
# example messages with the bundled example keys (MAC, signature, decryption).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
for f in examples/messages/*.hex; do
  echo "== $f"
  .venv/bin/gbcs-emu decode --file "$f" --keys examples/keys --acb "$(cat examples/acb-eui.txt)"
done
