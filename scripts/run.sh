#!/usr/bin/env bash
# Set up a virtual environment and run the main job: `gbcs-emu demo`, an emulated site on
# the embedded MQTT broker driven through a scripted end-to-end scenario (every response
# verified); then the bundled example messages are decoded, and the emulated devices are
# checked against DCC's Reference Test Data Set when GBCS_INTEROP_DIR names a directory
# with its public vectors (vectors.json and keys/; the project's CI lays it at
# ../shared/interop, the default).
# Installs the `all` extra: the embedded broker, the serial lines of `gbcs-emu hil`, the
# pytest plugin's dependencies and lxml for `gbcs-emu duis`, i.e. everything the README
# tour uses.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[all]'
.venv/bin/gbcs-emu demo
for f in examples/messages/*.hex; do
  echo "== $f"
  .venv/bin/gbcs-emu decode --file "$f" --keys examples/keys --acb "$(cat examples/acb-eui.txt)"
done
INTEROP=${GBCS_INTEROP_DIR:-../shared/interop}
if [ -f "$INTEROP/vectors.json" ]; then
  echo "== emulated devices against DCC RTDS 4.5.0"
  .venv/bin/gbcs-emu conformance --interop "$INTEROP"
else
  echo "(no vectors.json in $INTEROP: set GBCS_INTEROP_DIR to DCC's public RTDS vectors, or run"
  echo " gbcs-emu conformance --rtds DIR --keys DIR on the RTDS folder tree, to check conformance)"
fi
